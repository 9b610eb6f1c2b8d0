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
from l2tww.weights import load_weights

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
    info = load_weights(model, {"format": "official_checkpoint", "path": str(OFFICIAL / "tinyimagenet-200-resnet32.pth.tar"), "sha256": OFFICIAL_SHA256}, tmp_path)
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
    torch.save({"state_dict": {"module." + k: v for k, v in CifarResNet(32, 200, width=8).state_dict().items()}, "num_classes": 200}, path)
    with pytest.raises(ValueError, match=r"tensor conv1.weight has shape \(8, 3, 3, 3\).*expects \(16, 3, 3, 3\)") as err:
        load_weights(CifarResNet(32, 200), {"format": "official_checkpoint", "path": str(path)}, tmp_path)
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="expected sha256 " + "0" * 64):
        load_weights(CifarResNet(32, 200), {"format": "official_checkpoint", "path": str(path), "sha256": "0" * 64}, tmp_path)
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        load_weights(CifarResNet(32, 200), {"format": "official_checkpoint", "path": str(tmp_path / "nope.pth")}, tmp_path)


def _tv_file(tmp_path: Path) -> tuple[str, bytes, dict]:
    """A torchvision-format ResNet18 state_dict, named <name>-<sha256 prefix>.pth like torchvision's."""
    torch.manual_seed(1)
    state = TorchvisionResNet(18, 1000).net.state_dict()
    path = tmp_path / "w.pth"
    torch.save(state, path)
    blob = path.read_bytes()
    return f"resnet18-{hashlib.sha256(blob).hexdigest()[:8]}.pth", blob, state


def test_torchvision_download_is_hash_checked_and_loads(tmp_path, monkeypatch):
    name, blob, state = _tv_file(tmp_path)
    monkeypatch.setenv("L2TWW_CHECKSUMS", str(tmp_path / "lock.json"))
    with serve({f"/models/{name}": blob, "/models/resnet18-deadbeef.pth": blob}) as (url, _):
        model = TorchvisionResNet(18, 1000)
        info = load_weights(model, {"format": "torchvision", "url": f"{url}/models/{name}"}, tmp_path / "cache")
        assert Path(info["path"]) == tmp_path / "cache" / name
        assert all(torch.equal(model.net.state_dict()[k], v) for k, v in state.items())
        with pytest.raises(ValueError, match="expected sha256 prefix deadbeef"):
            load_weights(TorchvisionResNet(18, 1000), {"format": "torchvision", "url": f"{url}/models/resnet18-deadbeef.pth"}, tmp_path / "cache")
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
