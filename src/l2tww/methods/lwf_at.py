"""LwF + AT (spec §7): the sum of the LwF term (Li & Hoiem 2016) and the attention-transfer term
(Zagoruyko & Komodakis 2017), each exactly as in `lwf.py` and `at.py`; this file only composes them.
"""

from __future__ import annotations

import torch
from torch import nn

from ..models import NetOutput
from .at import AttentionTransfer
from .lwf import LwF
from .transfer_method import MethodSpec, NetShapes, TransferMethod


class LwFAT(TransferMethod):
    def __init__(self, spec: MethodSpec, shapes: NetShapes):
        super().__init__(spec, shapes)
        hp = spec.hparams
        lwf = MethodSpec(name=spec.name, kind="lwf", hparams={"temperature": hp["temperature"], "weight": hp["weight"]})
        at = MethodSpec(name=spec.name, kind="at", pairs=spec.pairs, hparams={"beta": hp["beta"]})
        self.lwf = LwF(lwf, shapes)
        self.at = AttentionTransfer(at, shapes)

    def student_parameters(self) -> list[nn.Parameter]:
        return self.lwf.student_parameters() + self.at.student_parameters()

    def extra_loss(
        self, x: torch.Tensor, target_out: NetOutput, source_outs: list[NetOutput]
    ) -> dict[str, torch.Tensor]:
        return {**self.lwf.extra_loss(x, target_out, source_outs), **self.at.extra_loss(x, target_out, source_outs)}
