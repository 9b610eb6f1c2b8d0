"""Released source weights (spec §1-2): the authors' TinyImageNet ResNet32 and torchvision's ResNet34.

- `official_checkpoint`: the `torch.save`d dict of github.com/alinlab/L2T-ww (`state_dict`,
  `num_classes`, `epoch`, `best`, `test_prec`). Saved from CUDA tensors with Python numbers beside
  them: map_location="cpu" and weights_only=True read it (tensors, ints and floats are all it
  holds), so no file configured here can run code, with or without a sha256; a configured sha256
  is checked before loading. Names map 1:1 onto CifarResNet.
- `torchvision`: ImageNet weights for TorchvisionResNet.net. `path` (a local file) if it exists,
  else the file of `url` (default: torchvision's IMAGENET1K_V1 file, `resnet34-b627a593.pth`) in
  the cache folder, checked against the sha256 prefix torchvision publishes in the file name (the
  check torch.hub does; a local file named that way is checked the same) and the full sha256 in
  the lock file. Loading never downloads: the workflow's fetch rules do, before any training job
  (stages/fetch_weights.py), so a job on a node without internet needs no network. Both ResNet34
  files load (RESNET34_FILES): the authors' code loads the legacy `resnet34-333f7ec4.pth`, saved
  before PyTorch 0.4.1 added BatchNorm's `num_batches_tracked` counters; missing counters are
  filled in (eval-mode sources never read them).
  `python -m l2tww.training.weights_diff A B` compares the two files' tensors.
- `state_dict`: your own checkpoint of a supported architecture (cifar_resnet, vgg_bn, resnet_tv):
  `torch.save(model.state_dict(), path)` of the source's arch, or a dict holding it under
  `state_dict` (Lightning, the official code) or `target` (an l2tww run's or source's model.pt);
  `module.` prefixes (DataParallel) are dropped, and a resnet_tv file may hold torchvision's names
  (`conv1.weight`) or this package's (`net.conv1.weight`). Loaded with weights_only=True (tensors
  only, nothing executed); `sha256`, when given, is checked first. Every tensor name and shape is
  compared with the arch's, and the first mismatch named in one line, at `l2tww check` and at load.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..data.download import lock_path, read_lock, verify
from ..io import load_torch
from ..stages.fetch_weights import HASH_IN_NAME, TORCHVISION_URLS, released_file

# The ImageNet ResNet34 files in use (spec §2): the same tensors is believed, not verified here.
RESNET34_FILES = {
    "resnet34-333f7ec4.pth": "the authors' (legacy torchvision, loaded by the official code)",
    "resnet34-b627a593.pth": "torchvision IMAGENET1K_V1 (current)",
}
# What to do with a foreign weight file that does not load: it is not the project's to re-make.
FOREIGN = "check where the file came from and download it again from its publisher"
# BatchNorm step counters added in PyTorch 0.4.1: absent from older files, unused by eval-mode sources.
COUNTER = "num_batches_tracked"


def _check_shapes(model: torch.nn.Module, state: dict, origin: str, prefix: str = "") -> None:
    """One-line errors for a checkpoint that does not fit, instead of load_state_dict's list."""
    own = model.state_dict()
    missing = [k for k in own if k not in state and not k.endswith(COUNTER)]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        what = f"missing {prefix}{missing[0]}" if missing else f"unexpected {prefix}{unexpected[0]}"
        raise ValueError(
            f"{origin}: does not fit the configured architecture ({len(missing)} missing, {len(unexpected)} unexpected "
            f"tensors; {what})"
        )
    for k, v in state.items():
        if tuple(v.shape) != tuple(own[k].shape):
            raise ValueError(
                f"{origin}: tensor {prefix}{k} has shape {tuple(v.shape)}, the configured architecture expects "
                f"{tuple(own[k].shape)}"
            )


def _local(cfg: dict, key: str) -> Path:
    if "path" not in cfg:
        raise ValueError(f"{key}.path: a local checkpoint file is required for format {cfg['format']!r}")
    path = Path(cfg["path"])
    if not path.is_file():
        raise FileNotFoundError(f"{path}: {key}.path not found (the authors' release: github.com/alinlab/L2T-ww)")
    return path


def load_official_checkpoint(model: torch.nn.Module, cfg: dict, cache_dir: Path) -> dict:
    from ..models.cifar_resnet import CifarResNet

    if not isinstance(model, CifarResNet):
        raise ValueError(
            f"weights.format: official_checkpoint holds a CIFAR ResNet; the source arch builds {type(model).__name__}"
        )
    if "path" in cfg or "url" not in cfg:
        path = _local(cfg, "weights")
    else:
        path = _fetched(cfg, cache_dir, None)
    if cfg.get("sha256"):
        verify(path, cfg["sha256"], quarantine=False)
    ckpt = load_torch(path, "weights.path (official_checkpoint)", remedy=FOREIGN)
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise ValueError(
            f"{path}: not an official L2T-ww checkpoint (expected a dict with 'state_dict' and 'num_classes')"
        )
    state = {k.removeprefix("module."): v for k, v in ckpt["state_dict"].items()}  # DataParallel-saved files
    classes = ckpt.get("num_classes", state["fc.weight"].shape[0] if "fc.weight" in state else None)
    if classes != model.fc.out_features:
        raise ValueError(f"{path}: num_classes {classes}, but the source's dataset has {model.fc.out_features} classes")
    _check_shapes(model, state, str(path))
    model.load_state_dict(with_counters(model, state))
    return {"path": str(path), "epoch": ckpt.get("epoch"), "best_val": ckpt.get("best"), "test": ckpt.get("test_prec")}


def torchvision_url(depth: int) -> str:
    return TORCHVISION_URLS[depth]


def _fetched(cfg: dict, cache_dir: Path, depth: int | None) -> Path:
    """The released file the fetch rule wrote; a training job never downloads it itself."""
    path = released_file(cfg, cache_dir, depth)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: released weights not fetched; run the workflow's fetch rule where the network is "
            "(snakemake ... all runs it first; or python -m l2tww.stages.fetch_weights --params PARAMS SOURCE)"
        )
    return path


def load_torchvision(model: torch.nn.Module, cfg: dict, cache_dir: Path) -> dict:
    from ..models.tv_resnet import TorchvisionResNet

    if not isinstance(model, TorchvisionResNet):
        raise ValueError(
            f"weights.format: torchvision holds a torchvision ResNet; the source arch builds {type(model).__name__}"
        )
    if cfg.get("path") and Path(cfg["path"]).is_file():
        path = Path(cfg["path"])
        if cfg.get("sha256"):
            verify(path, cfg["sha256"], quarantine=False)
        verify_name_prefix(path)
    else:
        path = _fetched(cfg, cache_dir, 34 if len(model.net.layer3) == 6 else 18)
        # the full sha256 the fetch rule checked (configured, else the lock file's), checked again
        expected = cfg.get("sha256") or read_lock(lock_path(path)).get(f"weights/{path.name}", {}).get("sha256")
        if expected:
            verify(path, expected, quarantine=False)
        verify_name_prefix(path)
    state = load_torch(path, "torchvision weights", remedy=FOREIGN)
    if not isinstance(state, dict):
        raise ValueError(f"{path}: expected a state_dict, got {type(state).__name__}")
    _check_shapes(model.net, state, str(path), prefix="net.")
    model.net.load_state_dict(with_counters(model.net, state))
    return {"path": str(path)}


def load_state_dict_file(model: torch.nn.Module, cfg: dict, cache_dir: Path) -> dict:
    from ..models.tv_resnet import TorchvisionResNet

    path = Path(cfg["path"])
    if not path.is_file():
        raise FileNotFoundError(f"{path}: weights.path not found (your state_dict file for format state_dict)")
    if cfg.get("sha256"):
        verify(path, cfg["sha256"], quarantine=False)
    state = load_torch(path, "weights.path (state_dict)", remedy="save one with torch.save(model.state_dict(), path)")
    for key in ("state_dict", "target"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
            break
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path}: expected a state_dict (tensor name -> tensor), got {type(state).__name__}")
    state = {k.removeprefix("module."): v for k, v in state.items()}
    module = model
    if isinstance(model, TorchvisionResNet) and not any(k.startswith("net.") for k in state):
        module = model.net  # torchvision's own names
    _check_shapes(module, state, str(path))
    module.load_state_dict(with_counters(module, state))
    return {"path": str(path)}


def with_counters(model: torch.nn.Module, state: dict) -> dict:
    """`state` plus the model's own BatchNorm counters where a pre-0.4.1 file has none."""
    own = model.state_dict()
    return {**state, **{k: own[k] for k in own if k.endswith(COUNTER) and k not in state}}


def verify_name_prefix(path: Path) -> None:
    """A file named <name>-<sha256 prefix>.pth must hash to that prefix (torch.hub's check)."""
    prefix = HASH_IN_NAME.search(path.name)
    if prefix:
        verify(path, sha256_prefix=prefix.group(1), quarantine=False)


def load_weights(model: torch.nn.Module, cfg: dict, cache_dir: Path) -> dict:
    """Load `cfg` (a source's `weights` entry) into `model` in place; returns what was loaded."""
    loaders = {
        "official_checkpoint": load_official_checkpoint,
        "torchvision": load_torchvision,
        "state_dict": load_state_dict_file,
    }
    if cfg["format"] not in loaders:
        raise ValueError(f"weights.format: unknown format {cfg['format']!r}; expected one of {sorted(loaders)}")
    return loaders[cfg["format"]](model, cfg, Path(cache_dir))
