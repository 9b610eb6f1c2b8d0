"""Attention transfer (spec §7): Zagoruyko & Komodakis, "Paying More Attention to Attention", ICLR 2017.

For a pair (source tap m, target tap n), with the source map resized bilinearly to the target's
H x W first (spec §3.1, via `matching.resize_to`; the target is never resized):

    Q(A) = vec(mean_c A^2) / ||vec(mean_c A^2)||_2          per sample, (B, H*W)
    L_at = (beta / 2) * sum_pairs mean_{b, hw} (Q(S~) - Q(T))^2

No regressor: Q is channel-free, so source and target widths may differ.

Which mean, and why: the AT paper writes the pair term as the p=2 norm ||Q_S - Q_T||, but its
reference code (szagoruyko/attention-transfer, `at_loss`) takes `(at(x) - at(y)).pow(2).mean()`,
the mean of squares over batch *and* spatial positions, and the paper states that beta = 1e3 is
meant "divided by the number of elements in the attention map and batch size for each layer".
Spec §7's formula, "(beta_AT/2) * sum_pairs mean (Q_S - Q_T)^2", is that code, so the mean runs over
b and the H*W positions (not over pairs). The channel mean (vs. the paper's channel sum) does not
matter after L2 normalisation. beta = 1e3 is the AT paper's value; the L2T-ww paper's is unknown.
The source is resized as a feature map (spec §7: "source resized bilinearly first"), then Q is taken.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..models import NetOutput
from .matching import resize_to
from .transfer_method import MethodSpec, NetShapes, TransferMethod


def attention_map(features: torch.Tensor) -> torch.Tensor:
    """Q = L2-normalised vec(mean_c A^2): (B, C, H, W) -> (B, H*W)."""
    return F.normalize(features.float().pow(2).mean(dim=1).flatten(1), dim=1)


def attention_distance(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """mean_{b, hw} (Q(S~) - Q(T))^2 for one pair; the source is resized to the target's size."""
    s = resize_to(source, target.shape[-2:])
    return (attention_map(s) - attention_map(target)).pow(2).mean()


class AttentionTransfer(TransferMethod):
    def __init__(self, spec: MethodSpec, shapes: NetShapes):
        super().__init__(spec, shapes)
        if not spec.pairs:
            raise ValueError(f"methods.{spec.name}: attention transfer needs pairs")
        self.beta = float(spec.hparams["beta"])

    def extra_loss(
        self, x: torch.Tensor, target_out: NetOutput, source_outs: list[NetOutput]
    ) -> dict[str, torch.Tensor]:
        loss = sum(
            attention_distance(source_outs[p.source].features[p.source_layer], target_out.features[p.target_layer])
            for p in self.spec.pairs
        )
        return {"at": 0.5 * self.beta * loss}
