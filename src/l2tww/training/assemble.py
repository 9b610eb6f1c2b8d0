"""A run's networks from its plain description (stages.inputs.run_inputs): what training builds
before its first step and what the report rebuilds around a finished run's weights, in one place."""

from __future__ import annotations

from typing import Callable

import torch

from ..methods import MethodSpec, TransferMethod, build_method
from ..models import FeatureNet, build_model, net_shapes
from .runtime import seed_everything
from .sources import load_source


def build_run(
    inputs: dict,
    num_classes: int,
    image_shape: tuple[int, int, int],
    device: torch.device,
    seed: int | None = None,
    place: Callable[[FeatureNet], FeatureNet] | None = None,
) -> tuple[FeatureNet, TransferMethod, list[FeatureNet]]:
    """The frozen sources, the target and the method of the run `inputs` describes, on `device`.
    `seed`: seeds every generator before the target is built (training: its init depends on the
    seed alone; the report loads trained weights over it and seeds nothing). `place`: puts the
    target and the sources on the device (training's memory format); default `.to(device)`."""
    sources = [load_source(s, device) for s in inputs["sources"]]
    if place is not None:
        sources = [place(s) for s in sources]
    if seed is not None:
        seed_everything(seed)
    target = build_model(inputs["arch"], num_classes, image_shape[0])
    target = place(target) if place is not None else target.to(device)
    method = build_method(MethodSpec.from_dict(inputs["spec"]), net_shapes(target, sources, image_shape)).to(device)
    return target, method, sources
