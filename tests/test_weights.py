"""Source weights: the authors' released TinyImageNet ResNet32 (the real file, when ../shared is
beside the clone) and torchvision-format files, downloaded from 127.0.0.1 or given locally."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
import torch

from l2tww.models import feature_shapes
from l2tww.models.cifar_resnet import CifarResNet
from l2tww.models.tv_resnet import TorchvisionResNet
from l2tww.stages.fetch_weights import TORCHVISION_URLS, fetch_released
from l2tww.training.weights import load_weights

from .test_download import serve

OFFICIAL_SHA256 = "049f81f8bea8504e90818d6c614f15c485ac2d891348330b433110e161f66d68"


def _official_dir() -> Path | None:
    for base in (Path(__file__).resolve().parents[2] / "shared", Path("/work/shared")):
        if (base / "official" / "tinyimagenet-200-resnet32.pth.tar").is_file():
            return base / "official"
    return None


OFFICIAL = _official_dir()


@pytest.mark.skipif(OFFICIAL is None, reason="the authors' checkpoint (../shared/official) is not beside this clone")
def test_official_checkpoint_loads_into_resnet32(tmp_path):
    model = CifarResNet(32, 200)
    info = load_weights(
        model,
        {
            "format": "official_checkpoint",
            "path": str(OFFICIAL / "tinyimagenet-200-resnet32.pth.tar"),
            "sha256": OFFICIAL_SHA256,
        },
        tmp_path,
    )
    assert info["epoch"] == 104 and info["best_val"] == pytest.approx(49.27)
    model.eval()
    shapes = feature_shapes(model, (3, 32, 32))
    assert len(shapes) == 15 and shapes[4] == (16, 32, 32) and shapes[9] == (32, 16, 16) and shapes[14] == (64, 8, 8)
    torch.manual_seed(0)
    with torch.no_grad():
        out = model(torch.randn(8, 3, 32, 32))  # roughly ImageNet-normalised inputs
    probs = out.logits.softmax(1)
    assert out.logits.shape == (8, 200) and torch.isfinite(out.logits).all()
    assert 1.0 < out.logits.std() < 100.0  # trained logits: spread, not the near-constant ones of a fresh init
    assert probs.max(1).values.min() < 0.999  # and not saturated garbage
    fresh = CifarResNet(32, 200).eval()
    assert not torch.allclose(fresh(torch.zeros(1, 3, 32, 32)).logits, model(torch.zeros(1, 3, 32, 32)).logits)


def test_official_format_mismatches_are_one_line(tmp_path):
    path = tmp_path / "ckpt.pth.tar"
    torch.save({"state_dict": CifarResNet(32, 10).state_dict(), "num_classes": 10, "epoch": 1}, path)
    with pytest.raises(ValueError, match="num_classes 10, but the source's dataset has 200"):
        load_weights(CifarResNet(32, 200), {"format": "official_checkpoint", "path": str(path)}, tmp_path)
    torch.save(
        {
            "state_dict": {"module." + k: v for k, v in CifarResNet(32, 200, width=8).state_dict().items()},
            "num_classes": 200,
        },
        path,
    )
    with pytest.raises(
        ValueError, match=r"tensor conv1.weight has shape \(8, 3, 3, 3\).*expects \(16, 3, 3, 3\)"
    ) as err:
        load_weights(CifarResNet(32, 200), {"format": "official_checkpoint", "path": str(path)}, tmp_path)
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="expected sha256 " + "0" * 64):
        load_weights(
            CifarResNet(32, 200), {"format": "official_checkpoint", "path": str(path), "sha256": "0" * 64}, tmp_path
        )
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        load_weights(
            CifarResNet(32, 200), {"format": "official_checkpoint", "path": str(tmp_path / "nope.pth")}, tmp_path
        )


def _tv_file(tmp_path: Path) -> tuple[str, bytes, dict]:
    """A torchvision-format ResNet18 state_dict, named <name>-<sha256 prefix>.pth like torchvision's."""
    torch.manual_seed(1)
    state = TorchvisionResNet(18, 1000).net.state_dict()
    path = tmp_path / "w.pth"
    torch.save(state, path)
    blob = path.read_bytes()
    return f"resnet18-{hashlib.sha256(blob).hexdigest()[:8]}.pth", blob, state


def test_torchvision_download_is_hash_checked_and_loads(tmp_path, monkeypatch):
    """The fetch rule's download (stages.fetch_weights) checks the name's hash; loading reads the file."""
    name, blob, state = _tv_file(tmp_path)
    monkeypatch.setenv("L2TWW_CHECKSUMS", str(tmp_path / "lock.json"))
    cfg = {"format": "torchvision"}
    with serve({f"/models/{name}": blob, "/models/resnet18-deadbeef.pth": blob}) as (url, _):
        cfg["url"] = f"{url}/models/{name}"
        model = TorchvisionResNet(18, 1000)
        assert fetch_released(cfg, tmp_path / "cache", 18) == tmp_path / "cache" / name
        with pytest.raises(ValueError, match="expected sha256 prefix deadbeef"):
            fetch_released(
                {"format": "torchvision", "url": f"{url}/models/resnet18-deadbeef.pth"}, tmp_path / "cache", 18
            )
    info = load_weights(model, cfg, tmp_path / "cache")  # the server is gone: loading needs no network
    assert Path(info["path"]) == tmp_path / "cache" / name
    assert all(torch.equal(model.net.state_dict()[k], v) for k, v in state.items())
    (tmp_path / "cache" / name).write_bytes(blob[:-1] + b"x")  # the file changed after the fetch checked it
    with pytest.raises(ValueError, match="checksum mismatch"):
        load_weights(TorchvisionResNet(18, 1000), cfg, tmp_path / "cache")
    local = tmp_path / "local.pth"
    local.write_bytes(blob)
    model = TorchvisionResNet(18, 1000)
    load_weights(model, {"format": "torchvision", "path": str(local)}, tmp_path / "unused")
    assert torch.equal(model.net.conv1.weight, state["conv1.weight"]) and not (tmp_path / "unused").exists()
    with pytest.raises(ValueError, match=r"tensor net.fc.weight has shape \(1000, 512\)"):
        load_weights(TorchvisionResNet(18, 200), {"format": "torchvision", "path": str(local)}, tmp_path)
    with pytest.raises(ValueError, match="official_checkpoint holds a CIFAR ResNet"):
        load_weights(TorchvisionResNet(18, 1000), {"format": "official_checkpoint", "path": str(local)}, tmp_path)
    assert os.environ["L2TWW_CHECKSUMS"].endswith("lock.json")


def _legacy(state: dict) -> dict:
    """A state_dict as PyTorch < 0.4.1 saved it (the authors' resnet34-333f7ec4.pth): no BatchNorm counters."""
    return {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}


def _named(tmp_path: Path, stem: str, state: dict, legacy_format: bool = False) -> Path:
    """Saved, then renamed <stem>-<sha256 prefix>.pth as torchvision names its files."""
    tmp = tmp_path / "unnamed.pth"
    torch.save(state, tmp, _use_new_zipfile_serialization=not legacy_format)
    path = tmp_path / f"{stem}-{hashlib.sha256(tmp.read_bytes()).hexdigest()[:8]}.pth"
    tmp.replace(path)
    return path


def test_a_legacy_file_without_batchnorm_counters_loads_and_its_name_hash_is_checked(tmp_path):
    """The authors' ResNet34 file predates num_batches_tracked; the loader must accept it (issue 14)."""
    torch.manual_seed(2)
    state = TorchvisionResNet(18, 1000).net.state_dict()
    path = _named(tmp_path, "resnet18", _legacy(state), legacy_format=True)
    model = TorchvisionResNet(18, 1000)
    load_weights(model, {"format": "torchvision", "path": str(path)}, tmp_path / "unused")
    loaded = model.net.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in _legacy(state).items())
    assert int(loaded["bn1.num_batches_tracked"]) == 0
    wrong = tmp_path / "resnet18-00000000.pth"
    wrong.write_bytes(path.read_bytes())
    with pytest.raises(ValueError, match="checksum mismatch: expected sha256 prefix 00000000, got "):
        load_weights(TorchvisionResNet(18, 1000), {"format": "torchvision", "path": str(wrong)}, tmp_path)
    # Any other missing tensor is still an error.
    partial = _legacy(state)
    del partial["layer1.0.conv1.weight"]
    torch.save(partial, tmp_path / "partial.pth")
    with pytest.raises(ValueError, match="1 missing.*missing net.layer1.0.conv1.weight"):
        load_weights(
            TorchvisionResNet(18, 1000), {"format": "torchvision", "path": str(tmp_path / "partial.pth")}, tmp_path
        )


def _small_state(seed: int = 0) -> dict:
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Linear(4, 2))
    return net.state_dict()


def test_weights_compare_reports_the_max_difference_and_exits_by_verdict(tmp_path, capsys):
    from l2tww.cli import main as cli

    def main(args):  # the user's path: `l2tww weights compare A B [--atol X]`
        return cli(["weights", "compare", *args])

    state = _small_state()
    new = _named(tmp_path, "net", state)
    old = _named(tmp_path, "net", _legacy(state), legacy_format=True)  # same tensors, old container, no counters
    assert main([str(old), str(new)]) == 0
    out = capsys.readouterr().out
    assert "max |A - B| over shared tensors: 0\n" in out and "verdict: the same tensors (exact)" in out
    assert "BatchNorm counters in one file only (pre-0.4.1 save; ignored): 1" in out

    changed = {k: v.clone() for k, v in state.items()}
    changed["2.weight"][1, 3] += 0.25
    path = tmp_path / "changed.pth"
    torch.save(
        {"state_dict": {"module." + k: v for k, v in changed.items()}, "epoch": 3}, path
    )  # checkpoint-style dict
    assert main([str(new), str(path)]) == 1
    out = capsys.readouterr().out
    assert "max |A - B| over shared tensors: 0.25 (at 2.weight)" in out and "verdict: different" in out
    assert main([str(new), str(path), "--atol", "0.3"]) == 0
    capsys.readouterr()

    extra = {**state, "3.weight": torch.zeros(1)}
    torch.save(extra, tmp_path / "extra.pth")
    assert main([str(new), str(tmp_path / "extra.pth")]) == 1
    assert "only in B: 3.weight" in capsys.readouterr().out

    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    assert main([str(new), str(tmp_path / "junk.pth")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "junk.pth: cannot be read as a weights_only state_dict" in err


# -- your own state_dict --------------------------------------------------------------------------
def _state_dict_cfg(path: Path, **extra) -> dict:
    return {"format": "state_dict", "path": str(path), **extra}


@pytest.mark.parametrize(
    "wrap",
    [lambda s: s, lambda s: {"state_dict": s, "epoch": 3}, lambda s: {"target": s, "best_epoch": 1}],
    ids=["plain", "under state_dict", "an l2tww model.pt"],
)
def test_a_state_dict_of_the_arch_loads_every_tensor(tmp_path, wrap):
    torch.manual_seed(1)
    saved = CifarResNet(8, 3, 4)
    state = {f"module.{k}": v for k, v in saved.state_dict().items()}  # DataParallel's prefix is dropped
    path = tmp_path / "mine.pt"
    torch.save(wrap(state), path)
    model = CifarResNet(8, 3, 4)
    load_weights(model, _state_dict_cfg(path, sha256=hashlib.sha256(path.read_bytes()).hexdigest()), tmp_path)
    for key, value in saved.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key


@pytest.mark.parametrize("names", ["torchvision", "l2tww"])
def test_a_resnet_tv_state_dict_loads_with_torchvisions_or_this_packages_names(tmp_path, names):
    torch.manual_seed(2)
    saved = TorchvisionResNet(18, 5)
    state = saved.net.state_dict() if names == "torchvision" else saved.state_dict()
    torch.save(state, tmp_path / "r18.pt")
    model = TorchvisionResNet(18, 5)
    load_weights(model, _state_dict_cfg(tmp_path / "r18.pt"), tmp_path)
    assert torch.equal(model.net.conv1.weight, saved.net.conv1.weight) and torch.equal(
        model.net.fc.bias, saved.net.fc.bias
    )


def test_a_state_dict_of_another_arch_is_refused_in_one_line_naming_the_key(tmp_path):
    torch.save(CifarResNet(14, 3, 4).state_dict(), tmp_path / "deeper.pt")
    with pytest.raises(ValueError) as info:
        load_weights(CifarResNet(8, 3, 4), _state_dict_cfg(tmp_path / "deeper.pt"), tmp_path)
    assert "36 unexpected tensors; unexpected blocks2.0.conv1.weight" in str(info.value) and "\n" not in str(info.value)
    torch.save(CifarResNet(8, 10, 4).state_dict(), tmp_path / "ten.pt")  # another class count
    with pytest.raises(ValueError, match=r"tensor fc.weight has shape \(10, 16\).*expects \(3, 16\)"):
        load_weights(CifarResNet(8, 3, 4), _state_dict_cfg(tmp_path / "ten.pt"), tmp_path)
    with pytest.raises(ValueError, match="checksum mismatch"):
        load_weights(CifarResNet(8, 10, 4), _state_dict_cfg(tmp_path / "ten.pt", sha256="0" * 64), tmp_path)
    assert (tmp_path / "ten.pt").exists()  # your own file is never moved aside
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match=r"junk.pt: weights.path \(state_dict\) is corrupt or truncated"):
        load_weights(CifarResNet(8, 3, 4), _state_dict_cfg(tmp_path / "junk.pt"), tmp_path)


def test_loading_never_downloads_and_names_the_fetch_rule(tmp_path, monkeypatch):
    """A training job on a node without internet: an unfetched file is refused in one line, and no
    socket is opened (the download moved to the fetch rules, workflow/rules/weights.smk)."""
    import socket

    def no_network(*args, **kwargs):
        raise AssertionError(f"a training job opened a connection: {args}")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    for cfg, model in (
        ({"format": "torchvision"}, TorchvisionResNet(18, 1000)),
        (
            {"format": "torchvision", "url": "https://example.org/models/resnet18-0123abcd.pth"},
            TorchvisionResNet(18, 1000),
        ),
        ({"format": "official_checkpoint", "url": "https://example.org/r32.pth.tar"}, CifarResNet(32, 200)),
    ):
        with pytest.raises(FileNotFoundError, match="released weights not fetched; run the workflow's fetch rule"):
            load_weights(model, cfg, tmp_path / "cache")


def test_planning_knows_torchvisions_urls_without_importing_it():
    torchvision = pytest.importorskip("torchvision")
    assert TORCHVISION_URLS == {
        d: getattr(torchvision.models, f"ResNet{d}_Weights").IMAGENET1K_V1.url for d in TORCHVISION_URLS
    }


def test_the_released_resnet32_is_copied_from_the_weights_dir_and_checked(tmp_path, monkeypatch):
    blob = b"not the release"
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "r32.pth.tar").write_bytes(blob)
    cfg = {"format": "official_checkpoint", "path": str(tmp_path / "raw" / "r32.pth.tar")}
    monkeypatch.setenv("L2TWW_WEIGHTS_DIR", str(tmp_path / "none"))
    with pytest.raises(FileNotFoundError, match=r"r32.pth.tar: weights.path not found, nor in L2TWW_WEIGHTS_DIR"):
        fetch_released(cfg, tmp_path, None)
    monkeypatch.setenv("L2TWW_WEIGHTS_DIR", f"{tmp_path / 'none'}:{tmp_path / 'elsewhere'}")
    with pytest.raises(ValueError, match="checksum mismatch"):
        fetch_released({**cfg, "sha256": "0" * 64}, tmp_path, None)
    assert not (tmp_path / "raw" / "r32.pth.tar").exists()
    assert fetch_released({**cfg, "sha256": hashlib.sha256(blob).hexdigest()}, tmp_path, None).read_bytes() == blob
