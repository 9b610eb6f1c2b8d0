"""Look-ahead and hypergradient of L2T-ww (spec §4), for any method with learnable loss weights.

After the real SGD step, the meta-parameters phi are trained on how the target's CE changes after a
look-ahead from the post-step state (theta_0, v_0): T steps on L_wfm, then one step on CE, each
an SGD step with momentum and weight decay, (PyTorch semantics, dampening 0):

    g = grad_theta loss(theta);  v' = mu v + g + wd theta;  theta' = theta - lr v'

J = CE(theta_{T+1}) on the same batch; phi moves along grad_phi J.

`exact_hypergradient` builds one differentiable graph through the look-ahead (functional calls on
the live parameters, out-of-place updates) and differentiates J with respect to phi: the same
number as the adjoint recursion of Franceschi et al. (2017), with no state copies, no rollback
(theta, v are never written) and no replays: the official code re-runs every step from deep
copies with a double backward each. Gradients a loss does not reach are zeros, not None (spec §4):
such parameters still move under momentum and weight decay.

`first_order_hypergradient` (params: `hypergradient: fast`) drops the curvature terms: it runs
the look-ahead without a graph, takes a = grad_theta J at theta_{T+1}, and uses

    grad_phi J ~ -lr sum_{t<T} c_t grad_phi <grad_theta L_wfm(theta_t; phi), a>,
    c_t = sum_{k=0}^{T-t} mu^k  (how momentum carries step t's gradient to theta_{T+1}),

with theta_t and a held fixed. L_wfm is linear in the distances d, so the inner product is L_wfm
evaluated on the directional derivatives D_a d, taken by central finite differences (two forwards
at theta_t +- eps a). What it ignores: how phi changes theta_t for t > 0 through the Hessian, and
weight decay's shrinking of later steps.

BatchNorm running statistics (spec §4): the official code ends each meta-step with the statistics
of the post-real-step model plus one extra EMA update from its replay forward at theta_0. With
`bn_replay_update` the first look-ahead forward (at theta_0, same batch) updates the live buffers,
which reproduces that; every other look-ahead forward writes to throwaway copies.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn
from torch.func import functional_call

# forward(theta, buffers, distances) -> (logits, distances or None): one pass of the student
# (target + regressors); the CE passes skip the regressors.
Forward = Callable[[dict, dict, bool], tuple[torch.Tensor, list[torch.Tensor] | None]]
# wfm(distances) -> L_wfm with the current phi (differentiable in phi unless detached).
Wfm = Callable[[list[torch.Tensor]], torch.Tensor]
Ce = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class SGDHyper:
    lr: float
    momentum: float
    weight_decay: float


def sgd_hyper(optimizer: torch.optim.Optimizer) -> SGDHyper:
    """The live lr (the scheduled one), momentum and weight decay of the target's SGD."""
    group = optimizer.param_groups[0]
    return SGDHyper(group["lr"], group["momentum"], group["weight_decay"])


def velocities(optimizer: torch.optim.Optimizer, params: list[nn.Parameter]) -> list[torch.Tensor]:
    """The live momentum buffers v_0 (zeros before the first step)."""
    out = []
    for p in params:
        buf = optimizer.state.get(p, {}).get("momentum_buffer")
        out.append(torch.zeros_like(p) if buf is None else buf.detach())
    return out


def _grads(loss: torch.Tensor, theta: list[torch.Tensor], create_graph: bool) -> list[torch.Tensor]:
    grads = torch.autograd.grad(loss, theta, create_graph=create_graph, allow_unused=True)
    return [torch.zeros_like(t) if g is None else g for g, t in zip(grads, theta)]


def _sgd(theta, v, g, hp: SGDHyper):
    """v' = mu v + g + wd theta; theta' = theta - lr v' (out of place; foreach: one op per list)."""
    v = torch._foreach_add(torch._foreach_add(torch._foreach_mul(v, hp.momentum), g), theta, alpha=hp.weight_decay)
    return torch._foreach_add(theta, v, alpha=-hp.lr), v


class BufferPolicy:
    """Which BN buffers each look-ahead forward writes: the live ones once (replay update), else copies."""

    def __init__(self, live: dict[str, torch.Tensor], replay_update: bool):
        self.live, self.replay_update = live, replay_update

    def for_pass(self, index: int) -> dict[str, torch.Tensor]:
        if index == 0 and self.replay_update:
            return self.live
        return {k: b.clone() for k, b in self.live.items()}


def exact_hypergradient(
    forward: Forward, names: list[str], theta0: list[torch.Tensor], v0: list[torch.Tensor],
    wfm: Wfm, ce: Ce, phi: list[nn.Parameter], hp: SGDHyper, steps: int, buffers: BufferPolicy,
) -> list[torch.Tensor]:
    theta, v = list(theta0), list(v0)
    for t in range(steps + 1):
        logits, distances = forward(dict(zip(names, theta)), buffers.for_pass(t), t < steps)
        loss = wfm(distances) if t < steps else ce(logits)
        theta, v = _sgd(theta, v, _grads(loss, theta, create_graph=True), hp)
    logits, _ = forward(dict(zip(names, theta)), buffers.for_pass(steps + 1), False)
    grads = torch.autograd.grad(ce(logits), phi, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for g, p in zip(grads, phi)]


def first_order_hypergradient(
    forward: Forward, names: list[str], theta0: list[torch.Tensor], v0: list[torch.Tensor],
    wfm: Wfm, ce: Ce, phi: list[nn.Parameter], hp: SGDHyper, steps: int, buffers: BufferPolicy,
) -> list[torch.Tensor]:
    theta, v = [t.detach() for t in theta0], list(v0)
    visited = []  # theta_t of the L_wfm steps
    for t in range(steps + 1):
        theta = [ti.requires_grad_(True) for ti in theta]
        logits, distances = forward(dict(zip(names, theta)), buffers.for_pass(t), t < steps)
        if t < steps:
            visited.append([ti.detach() for ti in theta])
            loss = wfm(distances)  # phi's part of this graph is never differentiated here
        else:
            loss = ce(logits)
        g = _grads(loss, theta, create_graph=False)
        with torch.no_grad():
            theta, v = _sgd([ti.detach() for ti in theta], v, g, hp)
    theta = [ti.requires_grad_(True) for ti in theta]
    logits, _ = forward(dict(zip(names, theta)), buffers.for_pass(steps + 1), False)
    a = _grads(ce(logits), theta, create_graph=False)
    norm = torch.sqrt(sum((ai * ai).sum() for ai in a))
    eps = 1e-2 / (norm + 1e-12)  # the finite-difference step of DARTS: 0.01 / ||a||
    surrogate = 0.0
    for t, theta_t in enumerate(visited):
        with torch.no_grad():
            _, plus = forward(dict(zip(names, [ti + eps * ai for ti, ai in zip(theta_t, a)])), buffers.for_pass(-1), True)
            _, minus = forward(dict(zip(names, [ti - eps * ai for ti, ai in zip(theta_t, a)])), buffers.for_pass(-1), True)
        directional = [(p - m) / (2 * eps) for p, m in zip(plus, minus)]  # D_a d per pair, (B, C)
        carry = sum(hp.momentum**k for k in range(steps - t + 1))
        surrogate = surrogate + carry * wfm(directional)
    grads = torch.autograd.grad(-hp.lr * surrogate, phi, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for g, p in zip(grads, phi)]


def student_forward(student: nn.Module, x: torch.Tensor) -> Forward:
    def forward(theta: dict, buffers: dict, distances: bool):
        return functional_call(student, {**theta, **buffers}, (x,), {"distances": distances})

    return forward
