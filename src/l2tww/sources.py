"""Frozen source networks: pretrained here (`l2tww pretrain`) or loaded from released weights."""
from __future__ import annotations

import torch

from .config import Params
from .data.registry import BUILDERS
from .io import load_torch
from .models import FeatureNet, build_model
from .paths import Layout


def freeze(model: FeatureNet) -> FeatureNet:
    """Sources stay in eval mode (BN running stats) with no gradients (spec §1)."""
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def load_source(params: Params, name: str, device: torch.device) -> FeatureNet:
    cfg = params["sources"][name]
    ds = params["datasets"][cfg["dataset"]]
    info = BUILDERS[ds["builder"]]
    model = build_model(cfg["arch"], info.num_classes, info.channels)
    if "weights" in cfg:
        from .weights import load_weights  # released checkpoints / torchvision files

        load_weights(model, cfg["weights"], Layout.of(params).raw(f"weights-{name}"))
    else:
        path = Layout.of(params).source_dir(name) / "model.pt"
        state = load_torch(path, f"source {name!r} weights (run `l2tww pretrain {name}`)")
        try:
            model.load_state_dict(state["target"])
        except (RuntimeError, KeyError) as exc:
            raise ValueError(f"{path}: does not fit sources.{name}.arch {cfg['arch']} ({str(exc).splitlines()[0]})") from None
    return freeze(model.to(device))
