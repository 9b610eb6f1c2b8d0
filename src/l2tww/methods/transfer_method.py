"""The shared interface of transfer methods.

A method owns its extra modules and its loss terms; the trainer knows no method by name. It calls:
- `student_parameters()`: extra parameters trained jointly with the target by the target's SGD
  (regressors, the LwF head); part of theta in spec §4.
- `train_step(...)`: one minibatch update. The default is a plain SGD step on CE + `extra_loss`;
  meta-learning methods (L2T) override it.
- `observe(...)`: per-batch statistics on the val set (e.g. learned lambda per pair), averaged by
  the trainer and logged each epoch. It is `observe_summary(target_out, observed_sources(...))`:
  the part that reads the sources depends on the frozen sources and the batch alone, so evaluation
  computes it once per val batch and reuses it every epoch (the sources' forwards on val, once).
- `epoch_statistics()`: what the method counted over the epoch's training steps (e.g. which way its
  meta-steps pointed lambda), read and reset once per epoch and logged beside `observe`'s statistics.
- `extra_state()` / `load_extra_state()`: optimizer state the method owns (e.g. Adam on phi), for resume.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..catalog import MethodSpec, NetShapes, Pair
from ..models import FeatureNet, NetOutput

__all__ = ["MethodSpec", "NetShapes", "Pair", "TransferMethod"]


class TransferMethod(nn.Module):
    needs_sources = True

    def __init__(self, spec: MethodSpec, shapes: NetShapes):
        super().__init__()
        self.spec = spec
        self.shapes = shapes

    def student_parameters(self) -> list[nn.Parameter]:
        return []

    def extra_loss(
        self, x: torch.Tensor, target_out: NetOutput, source_outs: list[NetOutput]
    ) -> dict[str, torch.Tensor]:
        return {}

    def train_step(
        self,
        target: FeatureNet,
        x: torch.Tensor,
        y: torch.Tensor,
        source_outs: list[NetOutput],
        optimizer: torch.optim.SGD,
    ) -> dict[str, torch.Tensor]:
        out = target(x)
        ce = F.cross_entropy(out.logits, y)
        terms = self.extra_loss(x, out, source_outs)
        loss = ce + sum(terms.values()) if terms else ce
        # Zero tensors, not None (spec §4): keeps PyTorch 1.x semantics, where a parameter whose
        # gradient was ever computed keeps moving under momentum and weight decay.
        optimizer.zero_grad(set_to_none=False)
        loss.backward()
        optimizer.step()
        return {"loss": loss.detach(), "ce": ce.detach(), **{k: v.detach() for k, v in terms.items()}}

    @property
    def observes(self) -> bool:
        """Whether this method logs statistics of its own (it overrides `observe`)."""
        return type(self).observe is not TransferMethod.observe

    def initialize(self, target: FeatureNet, sources: list[FeatureNet]) -> None:
        """Called once on the freshly initialised target, before training (fine-tuning copies the
        source's weights here); transfer methods that only add loss terms leave it alone."""

    @torch.no_grad()
    def observe(self, target_out: NetOutput, source_outs: list[NetOutput]) -> dict[str, torch.Tensor]:
        return {}

    def observed_sources(self, source_outs: list[NetOutput]) -> Any:
        """What `observe` reads of the sources' outputs (all of them unless a method says less)."""
        return source_outs

    def observe_summary(self, target_out: NetOutput, observed: Any) -> dict[str, torch.Tensor]:
        """`observe` from `observed_sources(source_outs)` instead of the outputs themselves."""
        return self.observe(target_out, observed)

    def epoch_statistics(self) -> dict[str, Any]:
        return {}

    def extra_state(self) -> dict[str, Any]:
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        pass
