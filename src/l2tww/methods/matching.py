"""Feature matching pieces shared by FM, AT and L2T (spec §3): source resize, regressors, distances.

For a pair i = (m, n): S = source tap m (a constant), T = target tap n.
- The *source* is resized bilinearly (align_corners=False, no antialias) to the target's H x W;
  the target is never resized.
- Regressor r_i: Conv2d(C_n -> C_m, 1x1, bias), default init, no BN, no activation; trained with theta.
- d_{b,c} = mean_{h,w} (S~ - r_i(T))^2 on raw post-ReLU features (no normalisation).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .transfer_method import NetShapes, Pair


def resize_to(source: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of a source map (B, C, H_s, W_s) to (B, C, *size); identity when equal."""
    if tuple(source.shape[-2:]) == tuple(size):
        return source
    return F.interpolate(source, size=size, mode="bilinear", align_corners=False)


def build_regressors(pairs: tuple[Pair, ...], shapes: NetShapes) -> nn.ModuleList:
    """One 1x1 conv per pair mapping target channels C_n to source channels C_m."""
    return nn.ModuleList(
        nn.Conv2d(
            shapes.target[p.target_layer][0], shapes.sources[p.source][p.source_layer][0], kernel_size=1, bias=True
        )
        for p in pairs
    )


def channel_distance(source: torch.Tensor, regressed: torch.Tensor) -> torch.Tensor:
    """d_{b,c} = mean_{h,w} (S~ - r(T))^2: (B, C, H, W) x2 -> (B, C). `source` already resized.

    mse_loss's fused kernels instead of sub + pow: the same value up to float rounding, and the
    look-ahead's double backward through them costs ~7% less of an exact 32px meta-step."""
    return F.mse_loss(regressed, source, reduction="none").mean(dim=(2, 3))


def pair_distances(
    pairs: tuple[Pair, ...],
    regressors: nn.ModuleList,
    target_features: list[torch.Tensor],
    source_features: list[list[torch.Tensor]],
) -> list[torch.Tensor]:
    """d_{b,c} for every pair, in pair order: a list of (B, C_m) tensors."""
    distances = []
    for pair, regressor in zip(pairs, regressors):
        t = target_features[pair.target_layer]
        s = resize_to(source_features[pair.source][pair.source_layer], t.shape[-2:])
        distances.append(channel_distance(s, regressor(t)))
    return distances


def pooled_source(pairs: tuple[Pair, ...], source_features: list[list[torch.Tensor]]) -> list[torch.Tensor]:
    """Global average pool of the un-resized source tap of every pair: the meta-nets' input p, (B, C_m)."""
    return [source_features[p.source][p.source_layer].mean(dim=(2, 3)) for p in pairs]
