"""Frozen source networks: pretrained here (`l2tww pretrain`) or loaded from released weights."""

from __future__ import annotations

from pathlib import Path

import torch

from ..io import load_torch
from ..models import FeatureNet, build_model


def freeze(model: FeatureNet) -> FeatureNet:
    """Sources stay in eval mode (BN running stats) with no gradients (spec §1)."""
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def load_source(source: dict, device: torch.device) -> FeatureNet:
    """`source`: {name, arch, num_classes, channels} and either `weights` (a released checkpoint's
    params entry, cached under `weights_cache`) or `model` (a model.pt written by pretraining)."""
    model = build_model(source["arch"], source["num_classes"], source["channels"])
    if source.get("weights"):
        from .weights import load_weights  # released checkpoints / torchvision files

        load_weights(model, source["weights"], Path(source["weights_cache"]))
    else:
        path = Path(source["model"])
        state = load_torch(path, f"source {source['name']!r} weights (run `l2tww pretrain {source['name']}`)")
        try:
            model.load_state_dict(state["target"])
        except (RuntimeError, KeyError) as exc:
            raise ValueError(
                f"{path}: does not fit sources.{source['name']}.arch {source['arch']} ({str(exc).splitlines()[0]})"
            ) from None
    return freeze(model.to(device))
