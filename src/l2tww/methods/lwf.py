"""LwF, heterogeneous variant (spec §7): Li & Hoiem, "Learning without Forgetting", ECCV 2016 / TPAMI 2017.

The target gets one extra head per source, Linear(target_embedding, K_src), on its pooled
penultimate features; each head is distilled from that frozen source's logits on the same batch:

    L_lwf = weight * sum_sources mean_b H(softmax(s / tau), softmax(h / tau))

with H(p, q) = -sum_k p_k log q_k (soft cross-entropy), s = source logits (a constant), h = head
logits. The head is a student parameter: the target's SGD trains it jointly with the CE loss.

Choices (spec §7 leaves the paper's values open):
- tau = 2, weight (Li & Hoiem's lambda_o) = 1: Li & Hoiem's defaults. Their loss is the soft
  cross-entropy above with *no* tau^2 factor; Hinton et al.'s KD multiplies by tau^2 to keep gradient
  magnitudes independent of tau. With tau = 2 that factor would be 4x; we follow Li & Hoiem.
- H(p, q) includes the constant entropy H(p) of the source's softened distribution, so the loss is
  not zero when the head matches the source; its gradient equals that of KL(p || q).
- The head uses PyTorch's default Linear init: it cannot copy the source's classifier (as LwF does
  in the homogeneous case) because the embedding widths differ. LwF's warm-up (head alone first)
  is not part of spec §7 and is omitted: the head trains from step 0 with everything else.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..models import NetOutput
from .transfer_method import MethodSpec, NetShapes, TransferMethod


def soft_cross_entropy(teacher_logits: torch.Tensor, student_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """mean_b H(softmax(s/tau), softmax(h/tau)): (B, K) x2 -> scalar. The teacher is detached."""
    p = F.softmax(teacher_logits.detach().float() / temperature, dim=1)  # (B, K)
    log_q = F.log_softmax(student_logits.float() / temperature, dim=1)  # (B, K)
    return -(p * log_q).sum(dim=1).mean()


class LwF(TransferMethod):
    def __init__(self, spec: MethodSpec, shapes: NetShapes):
        super().__init__(spec, shapes)
        self.temperature = float(spec.hparams["temperature"])
        self.weight = float(spec.hparams["weight"])
        # One head per source (multi-source: sum of the per-source terms).
        self.heads = nn.ModuleList(nn.Linear(shapes.target_embedding, k) for k in shapes.source_classes)

    def student_parameters(self) -> list[nn.Parameter]:
        return list(self.heads.parameters())

    def extra_loss(
        self, x: torch.Tensor, target_out: NetOutput, source_outs: list[NetOutput]
    ) -> dict[str, torch.Tensor]:
        loss = sum(
            soft_cross_entropy(src.logits, head(target_out.embedding), self.temperature)
            for head, src in zip(self.heads, source_outs, strict=True)
        )
        return {"lwf": self.weight * loss}
