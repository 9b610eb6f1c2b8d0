"""L2T-ww: learning what and where to transfer (Jang, Lee, Hwang, Shin, ICML 2019).

Loss (spec §3): L_total = CE + L_wfm, with L_wfm = sum over pairs of
beta (1/B) sum_b lambda_b sum_c w_bc d_bc, where d_bc = mean_hw (S~ - r(T))^2 (matching.py),
w = what-net softmax and lambda = where-net ReLU6 (meta_nets.py).
Meta-step per minibatch (spec §4): one real SGD step on L_total with phi held constant, then the
hypergradient of CE after a look-ahead of T L_wfm steps + 1 CE step (lookahead.py), then Adam on
phi (lr 1e-4, L2 weight decay 1e-4, not AdamW). Variants by params: L2T-w (`where: false`, lambda
= 1) and the pair sets single / one-to-one / all-to-all; several sources give pairs from each.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..models import FeatureNet, NetOutput
from .base import MethodSpec, NetShapes, TransferMethod
from .lookahead import BufferPolicy, exact_hypergradient, first_order_hypergradient, sgd_hyper, student_forward, velocities
from .matching import build_regressors, channel_distance, pooled_source, resize_to
from .meta_nets import MetaNets, channel_entropy, weighted_matching_loss


class Student(nn.Module):
    """theta of spec §4: the target and the regressors, as one module for functional calls.

    Returns the logits and d_{b,c} per pair against the (constant, pre-resized) source maps.
    """

    def __init__(self, target: FeatureNet, regressors: nn.ModuleList, pairs, sources_resized: list[torch.Tensor]):
        super().__init__()
        self.target, self.regressors = target, regressors
        self.pairs, self.sources_resized = pairs, sources_resized

    def forward(self, x: torch.Tensor, distances: bool = True) -> tuple[torch.Tensor, list[torch.Tensor] | None]:
        out = self.target(x)
        if not distances:
            return out.logits, None
        distances = [
            channel_distance(s, reg(out.features[p.target_layer]))
            for p, reg, s in zip(self.pairs, self.regressors, self.sources_resized)
        ]
        return out.logits, distances


class L2T(TransferMethod):
    def __init__(self, spec: MethodSpec, shapes: NetShapes):
        super().__init__(spec, shapes)
        hp = spec.hparams
        self.beta, self.lookahead, self.meta_every = hp["beta"], hp["lookahead"], hp["meta_every"]
        self.fast, self.bn_replay_update = hp["hypergradient"] == "fast", hp["bn_replay_update"]
        self.regressors = build_regressors(spec.pairs, shapes)
        self.meta = MetaNets(spec.pairs, shapes, hp["what"], hp["where"], hp["where_activation"], hp["where_bias_init"])
        phi = self.meta_parameters()
        self.meta_optimizer = torch.optim.Adam(phi, lr=hp["meta_lr"], weight_decay=hp["meta_weight_decay"]) if phi else None
        self.steps_done = 0

    def student_parameters(self) -> list[nn.Parameter]:
        return list(self.regressors.parameters())

    def meta_parameters(self) -> list[nn.Parameter]:
        return list(self.meta.parameters())

    # -- pieces ------------------------------------------------------------------------------
    def _sources_resized(self, source_outs: list[NetOutput]) -> list[torch.Tensor]:
        return [
            resize_to(source_outs[p.source].features[p.source_layer], self.shapes.target[p.target_layer][1:])
            for p in self.spec.pairs
        ]

    def _wfm(self, weights, lambdas):
        return lambda distances: weighted_matching_loss(distances, weights, lambdas, self.beta)

    @staticmethod
    def _detach(values):
        return None if values is None else [v.detach() for v in values]

    # -- the meta-step ---------------------------------------------------------------------------
    def train_step(self, target, x, y, source_outs, optimizer) -> dict[str, torch.Tensor]:
        student = Student(target, self.regressors, self.spec.pairs, self._sources_resized(source_outs))
        weights, lambdas = self.meta(pooled_source(self.spec.pairs, [s.features for s in source_outs]))

        # 1. Real step on CE + L_wfm with phi constant (its gradient here is discarded, spec §4.2).
        logits, distances = student(x)
        ce = F.cross_entropy(logits, y)
        wfm = weighted_matching_loss(distances, self._detach(weights), self._detach(lambdas), self.beta)
        optimizer.zero_grad(set_to_none=False)  # zeros, not None: PyTorch 1.x semantics (spec §4)
        (ce + wfm).backward()
        optimizer.step()

        # 2. Look-ahead from the post-step (theta_0, v_0), hypergradient, Adam step on phi.
        if self.meta_optimizer is not None and self.steps_done % self.meta_every == 0:
            self._meta_step(student, x, y, optimizer, weights, lambdas)
        self.steps_done += 1
        return {"loss": (ce + wfm).detach(), "ce": ce.detach(), "wfm": wfm.detach()}

    def hypergradient(self, student: Student, x, y, optimizer, weights, lambdas) -> list[torch.Tensor]:
        names, theta0 = zip(*student.named_parameters())
        hyper = first_order_hypergradient if self.fast else exact_hypergradient
        return hyper(
            student_forward(student, x), list(names), list(theta0), velocities(optimizer, list(theta0)),
            self._wfm(weights, lambdas), lambda logits: F.cross_entropy(logits, y), self.meta_parameters(),
            sgd_hyper(optimizer), self.lookahead, BufferPolicy(dict(student.named_buffers()), self.bn_replay_update),
        )

    def _meta_step(self, student, x, y, optimizer, weights, lambdas) -> None:
        grads = self.hypergradient(student, x, y, optimizer, weights, lambdas)
        for p, g in zip(self.meta_parameters(), grads):
            p.grad = g.detach()
        self.meta_optimizer.step()

    # -- observability and resume ---------------------------------------------------------------
    @torch.no_grad()
    def observe(self, target_out: NetOutput, source_outs: list[NetOutput]) -> dict[str, torch.Tensor]:
        """Per pair: mean lambda, and mean channel-weight entropy (log C when uniform)."""
        pooled = pooled_source(self.spec.pairs, [s.features for s in source_outs])
        weights, lambdas = self.meta(pooled)
        ones = pooled[0].new_ones(len(pooled))
        lam = torch.stack([l.mean() for l in lambdas]) if lambdas is not None else ones
        if weights is not None:
            ent = torch.stack([channel_entropy(w) for w in weights])
        else:
            ent = torch.tensor([float(torch.log(torch.tensor(float(p.shape[1])))) for p in pooled], device=ones.device)
        return {"lambda": lam, "entropy": ent}

    def extra_state(self) -> dict:
        return {"meta_optimizer": None if self.meta_optimizer is None else self.meta_optimizer.state_dict(), "steps_done": self.steps_done}

    def load_extra_state(self, state: dict) -> None:
        if self.meta_optimizer is not None and state.get("meta_optimizer") is not None:
            self.meta_optimizer.load_state_dict(state["meta_optimizer"])
        self.steps_done = state.get("steps_done", 0)
