"""The meta-networks of L2T-ww (spec §3.4-3.5): one what-net and one where-net per pair.

Both read p = global average pool of the un-resized source tap, shape (B, C_m).
- what-net: Linear(C_m, C_m), weight and bias zero-initialised, softmax over channels, so the
  channel weights start uniform (1/C_m); the maintainer confirmed the zero init is intended.
- where-net: Linear(C_m, 1), default weight init U(±1/sqrt(C_m)), bias 1.0, then ReLU6 (the
  official default; `relu` is the other option). lambda >= 0 per sample; its initial value depends
  on the magnitude of p.
Disabled parts return None: the loss then uses uniform weights 1/C (what) or lambda = 1 (where).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .transfer_method import NetShapes, Pair


class MetaNets(nn.Module):
    def __init__(
        self,
        pairs: tuple[Pair, ...],
        shapes: NetShapes,
        what: bool,
        where: bool,
        where_activation: str = "relu6",
        where_bias_init: float = 1.0,
    ):
        super().__init__()
        channels = [shapes.sources[p.source][p.source_layer][0] for p in pairs]
        self.what = nn.ModuleList(self._zero(nn.Linear(c, c)) for c in channels) if what else None
        self.where = nn.ModuleList(self._bias(nn.Linear(c, 1), where_bias_init) for c in channels) if where else None
        self.activation = F.relu6 if where_activation == "relu6" else F.relu

    @staticmethod
    def _zero(layer: nn.Linear) -> nn.Linear:
        nn.init.zeros_(layer.weight)
        nn.init.zeros_(layer.bias)
        return layer

    @staticmethod
    def _bias(layer: nn.Linear, value: float) -> nn.Linear:
        nn.init.constant_(layer.bias, value)
        return layer

    def forward(self, pooled: list[torch.Tensor]) -> tuple[list[torch.Tensor] | None, list[torch.Tensor] | None]:
        """pooled[i]: (B, C_i) -> channel weights [(B, C_i)] and pair weights [(B,)], or None."""
        weights = None if self.what is None else [F.softmax(net(p), dim=1) for net, p in zip(self.what, pooled)]
        lambdas = (
            None if self.where is None else [self.activation(net(p)).squeeze(1) for net, p in zip(self.where, pooled)]
        )
        return weights, lambdas


def weighted_matching_loss(
    distances: list[torch.Tensor],
    weights: list[torch.Tensor] | None,
    lambdas: list[torch.Tensor] | None,
    beta: float,
) -> torch.Tensor:
    """L_wfm = sum_i beta (1/B) sum_b lambda_ib sum_c w_ibc d_ibc (spec §3.6-3.7).

    Without what-nets w = 1/C (a channel mean); without where-nets lambda = 1.
    """
    total = distances[0].new_zeros(())
    for i, d in enumerate(distances):  # d: (B, C)
        per_sample = (d * weights[i]).sum(dim=1) if weights is not None else d.mean(dim=1)  # (B,)
        if lambdas is not None:
            per_sample = lambdas[i] * per_sample
        total = total + beta * per_sample.mean()
    return total


def channel_entropy(weights: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of -sum_c w log w: (B, C) -> scalar; log C when uniform."""
    return -(weights * weights.clamp_min(1e-12).log()).sum(dim=1).mean()
