"""The contract every architecture follows: logits, named feature taps and a pooled embedding.

Transfer methods read `features` (post-ReLU maps at documented points, spec §1) and
`embedding` (the pooled penultimate vector the LwF head reads); they never reach into a model.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from ..catalog import NetShapes


class NetOutput(NamedTuple):
    logits: torch.Tensor  # (B, K)
    features: list[torch.Tensor]  # each (B, C_i, H_i, W_i), tap order = index used by pair sets
    embedding: torch.Tensor  # (B, D), input of the classifier


class FeatureNet(nn.Module):
    """Base class: subclasses implement `forward(x) -> NetOutput` and set `embedding_dim`."""

    embedding_dim: int

    def forward(self, x: torch.Tensor) -> NetOutput:  # pragma: no cover - abstract
        raise NotImplementedError


@torch.no_grad()
def feature_shapes(model: FeatureNet, input_shape: tuple[int, int, int]) -> list[tuple[int, int, int]]:
    """(C, H, W) of every tap, read from a dummy forward (spec §1: never hard-code channel lists)."""
    was_training = model.training
    model.eval()
    param = next(model.parameters())
    out = model(torch.zeros(1, *input_shape, device=param.device, dtype=param.dtype))
    model.train(was_training)
    return [tuple(f.shape[1:]) for f in out.features]


def net_shapes(target: FeatureNet, sources: list[FeatureNet], input_shape: tuple[int, int, int]) -> NetShapes:
    """Channel lists and sizes of the target and every source, from dummy forwards (spec §1)."""
    source_classes = []
    for s in sources:
        with torch.no_grad():
            param = next(s.parameters())
            source_classes.append(
                s(torch.zeros(1, *input_shape, device=param.device, dtype=param.dtype)).logits.shape[1]
            )
    return NetShapes(
        target=feature_shapes(target, input_shape),
        sources=[feature_shapes(s, input_shape) for s in sources],
        target_embedding=target.embedding_dim,
        source_classes=source_classes,
    )
