"""Feature matching, FitNets-style (spec §7): Romero et al., "FitNets: Hints for Thin Deep Nets", ICLR 2015.

The unweighted special case of L2T-ww's loss (spec §3, variant "without w and lambda"): uniform
channel weights 1/C_m, lambda = 1, no meta-networks, trained jointly with CE (the default
`train_step`, one SGD step on CE + L_fm):

    L_fm = beta * sum_pairs mean_{b, c} d_{b, c},   d_{b, c} = mean_{h, w} (S~ - r(T))^2

i.e. beta * sum_pairs mean_{b, c, h, w} (S~ - r(T))^2 on raw post-ReLU features. S~ is the source
resized bilinearly to the target's size; r is the pair's 1x1-conv regressor (spec §3.2), a student
parameter. Resize, regressors and d come from `matching.py`, shared with L2T. Unlike FitNets'
two-stage recipe (hint pretraining, then KD) the matching and CE losses train together, as in the
L2T-ww paper's FM rows. beta = 0.5 is L2T-ww's official per-pair beta (assumed for FM, spec §7).
"""

from __future__ import annotations

import torch
from torch import nn

from ..models import NetOutput
from .matching import build_regressors, pair_distances
from .transfer_method import MethodSpec, NetShapes, TransferMethod


class FeatureMatching(TransferMethod):
    def __init__(self, spec: MethodSpec, shapes: NetShapes):
        super().__init__(spec, shapes)
        if not spec.pairs:
            raise ValueError(f"methods.{spec.name}: feature matching needs pairs")
        self.beta = float(spec.hparams["beta"])
        self.regressors = build_regressors(spec.pairs, shapes)

    def student_parameters(self) -> list[nn.Parameter]:
        return list(self.regressors.parameters())

    def extra_loss(
        self, x: torch.Tensor, target_out: NetOutput, source_outs: list[NetOutput]
    ) -> dict[str, torch.Tensor]:
        distances = pair_distances(
            self.spec.pairs, self.regressors, target_out.features, [s.features for s in source_outs]
        )
        return {"fm": self.beta * sum(d.mean() for d in distances)}  # each d: (B, C_m)
