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


def nhwc(x: torch.Tensor) -> bool:
    """Whether a map is stored channels_last and not also plain NCHW (a map of 1 x 1 positions or 1
    channel is both: it takes the NCHW path). Taps are NHWC with runtime.channels_last, and also
    without it when the images have one channel (the embedded default's): oneDNN then picks NHWC
    for the first convolution's output and every later layer follows."""
    return x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()


def regress(regressor: nn.Conv2d, features: torch.Tensor) -> torch.Tensor:
    """r(T): a pair's 1x1-conv regressor on a target tap (B, C_n, H, W) -> (B, C_m, H, W).

    On an NHWC tap the same affine map runs as one matrix product over the tap's (B H W, C_n) rows
    (F.linear on the NHWC view, no copy); oneDNN's 1x1 convolution and its backward cost 1.3-2.5x
    more at the embedded taps in that layout (a pair's upsampled 32 px output is the largest
    tensor of a step). On an NCHW tap (the paper presets' RGB nets without runtime.channels_last)
    the module's own convolution, as before."""
    if not nhwc(features):
        return regressor(features)
    weight = regressor.weight
    rows = F.linear(features.permute(0, 2, 3, 1), weight.view(weight.shape[0], weight.shape[1]), regressor.bias)
    return rows.permute(0, 3, 1, 2)  # (B, C_m, H, W), channels_last like the tap


def channel_distance(source: torch.Tensor, regressed: torch.Tensor) -> torch.Tensor:
    """d_{b,c} = mean_{h,w} (S~ - r(T))^2: (B, C, H, W) x2 -> (B, C). `source` already resized.

    mse_loss's fused kernels instead of sub + pow: the same value up to float rounding, and the
    look-ahead's double backward through them costs ~7% less of an exact 32px meta-step. NHWC maps
    are reduced as the (B, H, W, C) tensors they are stored as, summed over (h, w) and divided by
    H W: mean's backward writes a full map of 1 / HW, sum's is a broadcast view (~25% of
    the distance's cost at the widest embedded pair)."""
    if nhwc(regressed):
        h, w = regressed.shape[-2:]
        squares = F.mse_loss(regressed.permute(0, 2, 3, 1), source.permute(0, 2, 3, 1), reduction="none")
        return squares.sum(dim=(1, 2)) / (h * w)
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
        distances.append(channel_distance(s, regress(regressor, t)))
    return distances


def pooled_source(pairs: tuple[Pair, ...], source_features: list[list[torch.Tensor]]) -> list[torch.Tensor]:
    """Global average pool of the un-resized source tap of every pair: the meta-nets' input p, (B, C_m)."""
    return [source_features[p.source][p.source_layer].mean(dim=(2, 3)) for p in pairs]
