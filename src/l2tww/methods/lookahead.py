"""Look-ahead and hypergradient of L2T-ww (spec §4), for any method with learnable loss weights.

After the real SGD step, the meta-parameters phi are trained on how the target's CE changes after a
look-ahead from the post-step state (theta_0, v_0): T steps on L_wfm, then one step on CE, each
an SGD step with momentum and weight decay, (PyTorch semantics, dampening 0):

    g = grad_theta loss(theta);  v' = mu v + g + wd theta;  theta' = theta - lr v'

J = CE(theta_{T+1}) on the same batch; phi moves along grad_phi J.

`exact_hypergradient` builds one differentiable graph through the look-ahead (functional calls on
the parameters, out-of-place updates) and differentiates J with respect to phi: the same number
as the adjoint recursion of Franceschi et al. (2017), with no state copies, no rollback (theta,
v are never written) and no replays: the official code re-runs every step from deep copies with
a double backward each. Step 0's term is a forward-mode JVP instead (see the function).
Gradients a loss does not reach are zeros, not None (spec §4): such parameters still move under
momentum and weight decay.

`leading_order_hypergradient` (params: `hypergradient: fast`) keeps only the term of first order
in the lr, evaluated at one point: no look-ahead and no second derivatives (see its docstring).

BatchNorm running statistics (spec §4): the official code ends each meta-step with the statistics
of the post-real-step model plus one extra EMA update from its replay forward at theta_0. With
`bn_replay_update` the first look-ahead forward (at theta_0, same batch) updates the live buffers,
which reproduces that; every other look-ahead forward writes to throwaway copies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.autograd.forward_ad as fwAD
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


def _grads(
    loss: torch.Tensor, theta: list[torch.Tensor], create_graph: bool, retain_graph: bool | None = None
) -> list[torch.Tensor]:
    grads = torch.autograd.grad(loss, theta, create_graph=create_graph, retain_graph=retain_graph, allow_unused=True)
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


def directional_distances(
    forward: Forward, names: list[str], theta: list[torch.Tensor], tangent: list[torch.Tensor], buffers: BufferPolicy
) -> list[torch.Tensor]:
    """D_b d: the derivative of every pair's d_{b,c} at theta along `tangent`, by forward-mode AD.

    One forward with dual numbers (about 2.5 plain forwards on CPU), exact, and it needs no graph
    of second derivatives. BN buffers: a throwaway copy (this pass is not a training forward).
    """
    with torch.no_grad(), fwAD.dual_level():
        duals = {n: fwAD.make_dual(t.detach(), b.detach()) for n, t, b in zip(names, theta, tangent)}
        _, distances = forward(duals, buffers.for_pass(-1), True)
        return [fwAD.unpack_dual(d).tangent for d in distances]


def exact_hypergradient(
    forward: Forward,
    names: list[str],
    theta0: list[torch.Tensor],
    v0: list[torch.Tensor],
    wfm: Wfm,
    ce: Ce,
    phi: list[nn.Parameter],
    hp: SGDHyper,
    steps: int,
    buffers: BufferPolicy,
    meta_forward: Forward | None = None,
    meta_ce: Ce | None = None,
) -> list[torch.Tensor]:
    """grad_phi CE(theta_{T+1}) through the look-ahead; exact (tested against a float64 unroll).
    meta_forward / meta_ce: the forward and CE that score theta_{T+1} (default: the look-ahead's own
    batch, the paper's same-batch objective; `meta_objective: holdout` passes a held-out batch's).

    Steps 1..T are one differentiable graph from leaves (theta_1, v_1); one backward of J gives
    their phi-terms and the adjoints a_theta, a_v at step 1. Step 0 needs no graph: its only
    phi-term is grad_phi <g_0, b> with b = a_v - lr a_theta (spec §4's recursion at t = 0, whose
    H_0 b is dropped), and as L_wfm is linear in d, <g_0, b> = L_wfm on D_b d(theta_0), a JVP.
    That replaces the costliest part of the double backward by one forward-mode pass.
    """
    # Step 0 (L_wfm) at theta_0, the live parameters; with bn_replay_update this forward is the
    # official replay's extra EMA update of the BN statistics.
    _, distances = forward(dict(zip(names, theta0)), buffers.for_pass(0), True)
    g0 = _grads(wfm(distances), list(theta0), create_graph=False)
    with torch.no_grad():
        theta1, v1 = _sgd([t.detach() for t in theta0], v0, g0, hp)
    theta1 = [t.requires_grad_(True) for t in theta1]
    v1 = [t.requires_grad_(True) for t in v1]
    theta, v = theta1, v1
    for t in range(1, steps + 1):  # steps 1..T-1 on L_wfm, step T on CE, one graph
        logits, distances = forward(dict(zip(names, theta)), buffers.for_pass(t), t < steps)
        loss = wfm(distances) if t < steps else ce(logits)
        theta, v = _sgd(theta, v, _grads(loss, theta, create_graph=True), hp)
    logits, _ = (meta_forward or forward)(dict(zip(names, theta)), buffers.for_pass(steps + 1), False)
    n = len(phi)
    # retain_graph: the step-0 term below backpropagates through the meta-nets' graph again.
    out = _grads((meta_ce or ce)(logits), [*phi, *theta1, *v1], create_graph=False, retain_graph=True)
    g_phi, a_theta, a_v = out[:n], out[n : n + len(theta1)], out[n + len(theta1) :]
    b = torch._foreach_add(a_v, a_theta, alpha=-hp.lr)  # total adjoint of v_1
    g0_phi = _grads(wfm(directional_distances(forward, names, list(theta0), b, buffers)), phi, create_graph=False)
    return torch._foreach_add(g_phi, g0_phi)


def leading_order_hypergradient(
    forward: Forward,
    names: list[str],
    theta: list[torch.Tensor],
    a: list[torch.Tensor | None],
    wfm: Wfm,
    phi: list[nn.Parameter],
    hp: SGDHyper,
    steps: int,
    buffers: BufferPolicy,
) -> list[torch.Tensor]:
    """Fast mode: the exact hypergradient's leading order in the lr, all at one point theta.

    theta_{T+1} = theta - lr sum_{t<T} c_t grad L_wfm(theta_t; phi) + (terms without phi) + O(lr^2),
    c_t = sum_{k=0}^{T-t} mu^k (momentum carries step t's gradient into every later step). Holding
    theta_t = theta_{T+1} = theta costs only O(lr^2) more (their distance to theta is O(lr)), so

        grad_phi J = -lr C grad_phi <grad_theta L_wfm(theta; phi), a> + O(lr^2),
        C = sum_{t<T} c_t,   a = grad_theta CE(theta).

    L_wfm is linear in the distances d, so the inner product is L_wfm on D_a d, one JVP. Cost:
    that JVP (no look-ahead, no double backward); the caller takes `a` from its real step's
    forward. Dropped: the curvature terms (H_t b) and the drift of theta_t over the look-ahead,
    both O(lr^2); the small-lr limit equals the exact hypergradient (tested).
    """
    a = [torch.zeros_like(t) if g is None else g for g, t in zip(a, theta)]
    carry = sum(sum(hp.momentum**k for k in range(steps - t + 1)) for t in range(steps))  # C
    surrogate = wfm(directional_distances(forward, names, theta, a, buffers))
    return _grads(-hp.lr * carry * surrogate, phi, create_graph=False)


def student_forward(student: nn.Module, x: torch.Tensor) -> Forward:
    def forward(theta: dict, buffers: dict, distances: bool):
        return functional_call(student, {**theta, **buffers}, (x,), {"distances": distances})

    return forward
