"""L2T-ww: learning what and where to transfer (Jang, Lee, Hwang, Shin, ICML 2019, arXiv 1905.05901).

Loss (spec §3): L_total = CE + L_wfm, with L_wfm = sum over pairs of
beta (1/B) sum_b lambda_b sum_c w_bc d_bc, where d_bc = mean_hw (S~ - r(T))^2 (matching.py),
w = what-net softmax and lambda = where-net ReLU6 (meta_nets.py).
Meta-step per minibatch (spec §4): one real SGD step on L_total with phi held constant, then the
hypergradient of CE after a look-ahead of T L_wfm steps + 1 CE step (lookahead.py), then Adam on
phi (lr 1e-4, L2 weight decay 1e-4, not AdamW). Variants by params: L2T-w (`where: false`,
lambda = 1), `what: false` (w = 1/C), and the pair sets single / one-to-one / all-to-all; with
several sources, `Pair.source` picks the source and every pair has its own nets. `frozen: true` is
the control for "does the learning matter": the same nets at the same initialisation, never
meta-stepped (phi constant), everything else as L2T-ww.
`hypergradient: fast` replaces the look-ahead by its leading order in the lr, fused with the real
step (lookahead.leading_order_hypergradient); `meta_every: k` meta-steps every k-th batch only.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..models import FeatureNet, NetOutput
from .lookahead import (
    BufferPolicy,
    exact_hypergradient,
    leading_order_hypergradient,
    sgd_hyper,
    student_forward,
    velocities,
)
from .matching import build_regressors, channel_distance, nhwc, pooled_source, regress, resize_to
from .meta_nets import MetaNets, channel_entropy, weighted_matching_loss
from .meta_step_diagnostics import lambda_rate
from .transfer_method import MethodSpec, NetShapes, TransferMethod


class Student(nn.Module):
    """theta of spec §4: the target and the regressors, as one module for functional calls.

    Returns the logits and d_{b,c} per pair (in pair order) against the constant source maps. On
    NCHW taps the regressors reading the same target tap run as one 1x1 conv (their weights
    concatenated along the output channels) against the concatenated resized sources: the same
    numbers as one conv per pair, with a third of the conv calls at the 32px all-to-all setting. On
    NHWC taps (matching.nhwc) each pair runs alone (matching.regress, a matrix product):
    concatenating the upsampled sources there costs a pass over the step's largest tensors and the
    grouped product saves less than that (2.3x slower at the embedded widest tap, measured).
    """

    def __init__(self, target: FeatureNet, regressors: nn.ModuleList, pairs, sources_resized: list[torch.Tensor]):
        super().__init__()
        self.target, self.regressors, self.resized = target, regressors, sources_resized
        self.groups: dict[int, list[int]] = {}  # target tap -> indices of its pairs
        for i, p in enumerate(pairs):
            self.groups.setdefault(p.target_layer, []).append(i)
        self.per_pair = {n: all(nhwc(sources_resized[i]) for i in idx) for n, idx in self.groups.items()}
        self.sources = {
            n: torch.cat([sources_resized[i] for i in idx], dim=1)
            for n, idx in self.groups.items()
            if not self.per_pair[n]
        }  # (B, sum C_m, H_n, W_n)
        self.widths = {n: [sources_resized[i].shape[1] for i in idx] for n, idx in self.groups.items()}
        self.n_pairs = len(pairs)

    def forward(self, x: torch.Tensor, distances: bool = True) -> tuple[torch.Tensor, list[torch.Tensor] | None]:
        out = self.target(x)
        if not distances:
            return out.logits, None
        result: list[torch.Tensor] = [None] * self.n_pairs  # type: ignore[list-item]
        for n, idx in self.groups.items():
            if self.per_pair[n]:
                for i in idx:
                    result[i] = channel_distance(self.resized[i], regress(self.regressors[i], out.features[n]))
                continue
            regs = [self.regressors[i] for i in idx]
            weight = torch.cat([r.weight for r in regs])  # (sum C_m, C_n, 1, 1)
            bias = torch.cat([r.bias for r in regs])
            d = channel_distance(self.sources[n], F.conv2d(out.features[n], weight, bias))  # (B, sum C_m)
            for i, di in zip(idx, d.split(self.widths[n], dim=1)):
                result[i] = di
        return out.logits, result


def _detach(values):
    return None if values is None else [v.detach() for v in values]


class L2T(TransferMethod):
    def __init__(self, spec: MethodSpec, shapes: NetShapes):
        super().__init__(spec, shapes)
        hp = spec.hparams
        self.beta, self.lookahead, self.meta_every = hp["beta"], hp["lookahead"], hp["meta_every"]
        self.fast, self.bn_replay_update = hp["hypergradient"] == "fast", hp["bn_replay_update"]
        self.frozen = hp["frozen"]
        # fast_bn_replay: fast mode makes the replay forward at theta_0 that exact's look-ahead and the
        # frozen control make (one more BN EMA update per meta-step); off by default: fast's numbers as before
        self.fast_bn_replay = hp.get("fast_bn_replay", False)
        # beyond the paper (issue 29): score the look-ahead on held-out images of the batch, not its own
        self.meta_objective = hp.get("meta_objective", "same_batch")
        if self.meta_objective == "holdout" and self.fast:
            raise ValueError(
                f"method {spec.name}: meta_objective holdout needs hypergradient exact (fast has no look-ahead)"
            )
        self.regressors = build_regressors(spec.pairs, shapes)
        self.meta = MetaNets(spec.pairs, shapes, hp["what"], hp["where"], hp["where_activation"], hp["where_bias_init"])
        phi = self.meta_parameters()
        # Classic L2 weight decay added to the gradient (torch Adam), not AdamW (spec §4).
        learns = phi and not self.frozen
        self.meta_optimizer = (
            torch.optim.Adam(phi, lr=hp["meta_lr"], weight_decay=hp["meta_weight_decay"]) if learns else None
        )
        self.steps_done = 0  # batches seen: decides the meta_every schedule, saved for resume
        self.directions: list[torch.Tensor] = []  # this epoch's meta-steps: lambda_rate of each hypergradient

    def student_parameters(self) -> list[nn.Parameter]:
        return list(self.regressors.parameters())

    def meta_parameters(self) -> list[nn.Parameter]:
        return list(self.meta.parameters())

    # -- pieces ------------------------------------------------------------------------------
    def student(self, target: FeatureNet, source_outs: list[NetOutput]) -> Student:
        resized = [
            resize_to(source_outs[p.source].features[p.source_layer], self.shapes.target[p.target_layer][1:])
            for p in self.spec.pairs
        ]
        return Student(target, self.regressors, self.spec.pairs, resized)

    def meta_outputs(self, source_outs: list[NetOutput]):
        """Channel weights and pair weights per pair, differentiable in phi."""
        return self.meta(pooled_source(self.spec.pairs, [s.features for s in source_outs]))

    def _wfm(self, weights, lambdas):
        return lambda distances: weighted_matching_loss(distances, weights, lambdas, self.beta)

    # -- the meta-step ---------------------------------------------------------------------------
    def train_step(self, target, x, y, source_outs, optimizer) -> dict[str, torch.Tensor]:
        student = self.student(target, source_outs)
        meta_batch = self.steps_done % self.meta_every == 0
        meta = self.meta_optimizer is not None and meta_batch
        self.steps_done += 1
        # The meta-nets' graph is needed only by a meta-step; elsewhere (and in the frozen control)
        # their outputs enter the real step as constants: the same values, no autograd bookkeeping.
        with torch.set_grad_enabled(meta and torch.is_grad_enabled()):
            weights, lambdas = self.meta_outputs(source_outs)

        # 1. Real step on CE + L_wfm with phi constant (its phi-gradient is discarded, spec §4.2).
        logits, distances = student(x)
        ce = F.cross_entropy(logits, y)
        wfm = weighted_matching_loss(distances, _detach(weights), _detach(lambdas), self.beta)
        terms = {"loss": (ce + wfm).detach(), "ce": ce.detach(), "wfm": wfm.detach()}
        if meta and self.fast:
            # Fast mode: the hypergradient's leading order in the lr, at this step's theta, from
            # grad_theta CE taken out of the same forward (so two backwards, no look-ahead).
            names, theta = zip(*student.named_parameters())
            g_ce = torch.autograd.grad(ce, theta, retain_graph=True, allow_unused=True)
            g_wfm = torch.autograd.grad(wfm, theta, allow_unused=True)
            _set_grads(theta, g_ce, g_wfm)
            hyper = leading_order_hypergradient(
                student_forward(student, x),
                list(names),
                [t.detach() for t in theta],
                list(g_ce),
                self._wfm(weights, lambdas),
                self.meta_parameters(),
                sgd_hyper(optimizer),
                self.lookahead,
                BufferPolicy(dict(student.named_buffers()), False),
            )
            optimizer.step()  # after the leading-order hypergradient, which reads the pre-step theta
            if self.fast_bn_replay:
                with torch.no_grad():
                    student(x, distances=False)
            self._meta_step(source_outs, hyper)
            return terms
        optimizer.zero_grad(set_to_none=False)  # zeros, not None: PyTorch 1.x semantics (spec §4)
        (ce + wfm).backward()
        optimizer.step()
        if meta and self.meta_objective == "holdout":
            self._meta_step(source_outs, self.holdout_hypergradient(target, x, y, source_outs, optimizer))
        elif meta:  # 2-5. look-ahead from the post-step (theta_0, v_0), hypergradient, Adam on phi
            self._meta_step(source_outs, self.hypergradient(student, x, y, optimizer, weights, lambdas))
        elif self.frozen and meta_batch and self.bn_replay_update and not self.fast:
            # The frozen control keeps the one side effect of a meta-step besides phi's update: the
            # replay forward at theta_0 adds one EMA update to the BN statistics (spec §4).
            with torch.no_grad():
                student(x, distances=False)
        return terms

    def hypergradient(self, student: Student, x, y, optimizer, weights, lambdas) -> list[torch.Tensor]:
        """Exact grad_phi CE(theta_{T+1}) from the live (theta_0, v_0) (spec §4)."""
        names, theta0 = zip(*student.named_parameters())
        return exact_hypergradient(
            student_forward(student, x),
            list(names),
            list(theta0),
            velocities(optimizer, list(theta0)),
            self._wfm(weights, lambdas),
            lambda logits: F.cross_entropy(logits, y),
            self.meta_parameters(),
            sgd_hyper(optimizer),
            self.lookahead,
            BufferPolicy(dict(student.named_buffers()), self.bn_replay_update),
        )

    def holdout_hypergradient(self, target, x, y, source_outs, optimizer) -> list[torch.Tensor]:
        """`meta_objective: holdout`: the look-ahead's steps on the first half of the batch, its
        objective CE(theta_{T+1}) on the second half: disjoint images of the training set, so that the
        meta-objective is not the data the look-ahead just fitted (at N = 5 one batch is the whole
        training set: issue 29, item 5). Exact hypergradient only."""
        h = x.shape[0] // 2
        if h < 1:
            raise ValueError(f"meta_objective holdout: a batch of {x.shape[0]} image(s) cannot be split in two")
        inner = [_rows(o, slice(0, h)) for o in source_outs]
        student = self.student(target, inner)
        weights, lambdas = self.meta_outputs(inner)
        held = self.student(target, [_rows(o, slice(h, None)) for o in source_outs])
        names, theta0 = zip(*student.named_parameters())
        return exact_hypergradient(
            student_forward(student, x[:h]),
            list(names),
            list(theta0),
            velocities(optimizer, list(theta0)),
            self._wfm(weights, lambdas),
            lambda logits: F.cross_entropy(logits, y[:h]),
            self.meta_parameters(),
            sgd_hyper(optimizer),
            self.lookahead,
            BufferPolicy(dict(student.named_buffers()), self.bn_replay_update),
            meta_forward=student_forward(held, x[h:]),
            meta_ce=lambda logits: F.cross_entropy(logits, y[h:]),
        )

    def _meta_step(self, source_outs: list[NetOutput], hyper: list[torch.Tensor]) -> None:
        """Adam on phi along the hypergradient, after noting which way it points the batch's mean lambda
        (meta_step_diagnostics.lambda_rate, from the meta-nets run again: the hypergradient has freed
        their graph; kept as a tensor, so no host sync per step). Reads only: the step and every number
        of the run are as without it."""
        if self.meta.where is not None:
            with torch.enable_grad():
                _, lambdas = self.meta_outputs(source_outs)
            self.directions.append(lambda_rate(lambdas, self.meta_parameters(), hyper))
        self._adam(hyper)

    def _adam(self, grads: list[torch.Tensor]) -> None:
        for p, g in zip(self.meta_parameters(), grads):
            p.grad = g.detach()
        self.meta_optimizer.step()

    def epoch_statistics(self) -> dict:
        """The epoch's meta-steps and how many pointed the mean lambda down (a plain step along the
        hypergradient would lower it: issue 29's per-meta-step direction); nothing without where-nets
        or meta-steps (L2T-w, the frozen control)."""
        if self.meta.where is None or self.meta_optimizer is None:
            return {}
        steps = len(self.directions)
        lowering = int((torch.stack(self.directions) < 0).sum()) if steps else 0  # one sync an epoch
        self.directions = []
        return {"meta_steps": steps, "meta_steps_lowering_lambda": lowering}

    # -- observability and resume ---------------------------------------------------------------
    @torch.no_grad()
    def observe(self, target_out: NetOutput, source_outs: list[NetOutput]) -> dict[str, torch.Tensor]:
        """Per pair (P,): mean lambda (1 without where-nets), mean channel-weight entropy H (log C if
        uniform) and its deficit 1 - H / log C (0 = uniform; what the report and the claims read)."""
        return self.observe_summary(target_out, self.observed_sources(source_outs))

    @torch.no_grad()
    def observed_sources(self, source_outs: list[NetOutput]) -> list[torch.Tensor]:
        """The meta-nets' input, the pooled source taps: all `observe` reads of the sources."""
        return pooled_source(self.spec.pairs, [s.features for s in source_outs])

    @torch.no_grad()
    def observe_summary(self, target_out: NetOutput, pooled: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        weights, lambdas = self.meta(pooled)
        lam = (
            torch.stack([lam_i.mean() for lam_i in lambdas]) if lambdas is not None else pooled[0].new_ones(len(pooled))
        )
        if weights is None:
            weights = [torch.full_like(p, 1.0 / p.shape[1]) for p in pooled]
        entropy = torch.stack([channel_entropy(w) for w in weights])
        log_c = torch.tensor([math.log(w.shape[1]) for w in weights], device=entropy.device)
        return {"lambda": lam, "entropy": entropy, "entropy_deficit": 1 - entropy / log_c}

    def extra_state(self) -> dict:
        return {
            "meta_optimizer": None if self.meta_optimizer is None else self.meta_optimizer.state_dict(),
            "steps_done": self.steps_done,
        }

    def load_extra_state(self, state: dict) -> None:
        if self.meta_optimizer is not None and state.get("meta_optimizer") is not None:
            self.meta_optimizer.load_state_dict(state["meta_optimizer"])
        self.steps_done = state.get("steps_done", 0)


def _rows(out: NetOutput, rows: slice) -> NetOutput:
    """The images `rows` of a network output (logits, every tap, embedding)."""
    return NetOutput(out.logits[rows], [f[rows] for f in out.features], out.embedding[rows])


def _set_grads(params, *grad_lists) -> None:
    """p.grad = sum of the given gradients, as zero_grad(set_to_none=False) + backward would leave it:
    zeros where no loss reaches p but p.grad exists, untouched (None) where p never had one."""
    for i, p in enumerate(params):
        parts = [g[i] for g in grad_lists if g[i] is not None]
        if parts:
            p.grad = parts[0] + parts[1] if len(parts) > 1 else parts[0].clone()
        elif p.grad is not None:
            p.grad.zero_()
