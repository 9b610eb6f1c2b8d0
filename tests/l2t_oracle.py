"""A float64 oracle for the L2T-ww meta-step (spec §4, "Testing against a float64 oracle"), shared
by test_hypergradient.py (the engine alone) and test_l2t_train_step.py (the trainer's path).

The oracle is written from the update rule and the loss formulas alone, on plain tensors: it
uses none of Student, functional_call, matching.py or lookahead.py. One SGD step on a loss l:
g = grad l (None -> zeros), v' = mu v + g + wd theta, theta' = theta - lr v'. The look-ahead is T
such steps on L_wfm and one on CE, unrolled with create_graph; J = CE(theta_{T+1}); grad_phi J by
autograd. The tiny nets: a target conv-(BN)-ReLU (tap 0) -> conv-ReLU (tap 1) -> GAP -> Linear,
and fixed random sources with other channel counts and resolutions, so the resize runs both ways.
BN runs in train mode (batch statistics) in every pass, as the target does in the meta-step.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from l2tww.config.validation import method_defaults
from l2tww.methods import MethodSpec, Pair, TransferMethod, build_method
from l2tww.models import FeatureNet, NetOutput, net_shapes

DT = torch.float64
PAIRS = (Pair(0, 0, 1), Pair(0, 1, 0))  # source taps 8x8 and 4x4 -> target taps 6x6 (resize both ways)
# Two sources; target tap 0 is shared by two pairs, so the Student's grouped regressor conv runs.
PAIRS_2SRC = (Pair(0, 0, 1), Pair(1, 1, 0), Pair(1, 0, 0))

# The official L2T-ww defaults, from the schema (the one place they are written).
HP = method_defaults("l2t", "all_to_all")


class TinyTarget(FeatureNet):
    """conv-(BN)-ReLU (tap 0) -> conv-ReLU (tap 1) -> GAP -> Linear."""

    def __init__(self, bn: bool = False):
        super().__init__()
        self.conv1 = nn.Conv2d(2, 3, 3, padding=1)
        self.bn = nn.BatchNorm2d(3) if bn else None
        self.conv2 = nn.Conv2d(3, 4, 3, padding=1)
        self.fc = nn.Linear(4, 5)
        self.embedding_dim = 4

    def forward(self, x):
        a = self.conv1(x)
        a = F.relu(self.bn(a) if self.bn is not None else a)
        b = F.relu(self.conv2(a))
        e = b.mean(dim=(2, 3))
        return NetOutput(self.fc(e), [a, b], e)


class TinySource(FeatureNet):
    """A fixed random conv net with other channel counts and resolutions (8x8 and 4x4 taps)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(2, 3, 3, padding=1)
        self.conv2 = nn.Conv2d(3, 6, 3, stride=2, padding=1)
        self.fc = nn.Linear(6, 7)
        self.embedding_dim = 6

    def forward(self, x):
        x = F.interpolate(x, size=(8, 8), mode="bilinear", align_corners=False)
        a = F.relu(self.conv1(x))
        b = F.relu(self.conv2(a))
        e = b.mean(dim=(2, 3))
        return NetOutput(self.fc(e), [a, b], e)


@dataclass
class Case:
    target: TinyTarget
    method: TransferMethod
    opt: torch.optim.SGD
    x: torch.Tensor
    y: torch.Tensor
    source_outs: list[NetOutput]
    sources: list[TinySource]

    @property
    def parts(self):
        return self.target, self.method, self.opt, self.x, self.y, self.source_outs

    def batch(self, seed: int):
        """Another batch (x, y, source outputs) of the same shape."""
        gen = torch.Generator().manual_seed(seed)
        x = torch.randn(4, 2, 6, 6, dtype=DT, generator=gen)
        y = torch.randint(0, 5, (4,), generator=gen)
        with torch.no_grad():
            return x, y, [s(x) for s in self.sources]


def build(
    steps: int = 2,
    momentum: float = 0.9,
    wd: float = 1e-2,
    random_v0: bool | None = True,
    bn: bool = False,
    seed: int = 0,
    pairs: tuple[Pair, ...] = PAIRS,
    lr: float = 0.1,
    **hp,
) -> Case:
    """The tiny float64 setting: target, method (L2T, `hp` over HP), SGD with momentum buffers, one batch."""
    torch.manual_seed(seed)
    target = TinyTarget(bn).to(DT)
    sources = [TinySource().to(DT).eval() for _ in range(1 + max(p.source for p in pairs))]
    x = torch.randn(4, 2, 6, 6, dtype=DT)
    y = torch.tensor([0, 1, 2, 3])
    with torch.no_grad():
        source_outs = [s(x) for s in sources]
    spec = MethodSpec("l2tww", "l2t", pairs, {**HP, "lookahead": steps, **hp})
    method = build_method(spec, net_shapes(target, sources, (2, 6, 6))).to(DT)
    with torch.no_grad():  # non-uniform what-nets, so every meta-parameter matters
        for p in method.meta_parameters():
            p.add_(0.3 * torch.randn_like(p))
    opt = torch.optim.SGD(
        list(target.parameters()) + method.student_parameters(), lr=lr, momentum=momentum, weight_decay=wd
    )
    if random_v0 is not None:  # None: a fresh optimizer, buffers made by its own first step
        for p in opt.param_groups[0]["params"]:
            opt.state[p]["momentum_buffer"] = 0.5 * torch.randn_like(p) if random_v0 else torch.zeros_like(p)
    return Case(target, method, opt, x, y, source_outs, sources)


def setup(steps: int, momentum: float, wd: float, random_v0: bool, bn: bool = False, seed: int = 0, **kwargs):
    return build(steps, momentum, wd, random_v0, bn, seed, **kwargs).parts


def rel_err(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    num = torch.sqrt(sum(((x - y) ** 2).sum() for x, y in zip(a, b, strict=True)))
    den = torch.sqrt(sum((y**2).sum() for y in b))
    return float(num / den)


class Oracle:
    """The meta-step's numbers on plain tensors. theta: a list in `params` order, phi: in `phi_params` order.

    Reads from the method only its configuration (pairs, beta, which meta-nets exist) and which
    live tensors play which role; every computation is written out here.
    """

    def __init__(self, target: TinyTarget, method, x, y, source_outs):
        self.x, self.y, self.beta, self.pairs = x, y, method.beta, method.spec.pairs
        self.bn_eps = None if target.bn is None else target.bn.eps
        bn = [] if target.bn is None else [target.bn.weight, target.bn.bias]
        self.params = [
            target.conv1.weight,
            target.conv1.bias,
            *bn,
            target.conv2.weight,
            target.conv2.bias,
            target.fc.weight,
            target.fc.bias,
            *[t for r in method.regressors for t in (r.weight, r.bias)],
        ]
        self.n_target = 6 + len(bn)
        self.src = [source_outs[p.source].features[p.source_layer] for p in self.pairs]
        self.pooled = [s.mean(dim=(2, 3)) for s in self.src]
        self.phi_params = method.meta_parameters()
        index = {id(p): i for i, p in enumerate(self.phi_params)}
        self.what = (
            None if method.meta.what is None else [(index[id(n.weight)], index[id(n.bias)]) for n in method.meta.what]
        )
        self.where = (
            None if method.meta.where is None else [(index[id(n.weight)], index[id(n.bias)]) for n in method.meta.where]
        )

    # -- state ------------------------------------------------------------------------------------
    def index(self, param) -> int:
        """Position of a live parameter in `params` (by identity: == on tensors compares values)."""
        return next(i for i, p in enumerate(self.params) if p is param)

    def theta(self) -> list[torch.Tensor]:
        return [p.detach().clone() for p in self.params]

    def velocity(self, opt) -> list[torch.Tensor]:
        """The momentum buffers; zeros where torch keeps none (before the first step, or momentum 0)."""
        bufs = [opt.state[p].get("momentum_buffer") for p in self.params]
        return [torch.zeros_like(p) if b is None else b.detach().clone() for p, b in zip(self.params, bufs)]

    def phi(self) -> list[torch.Tensor]:
        return [p.detach().clone() for p in self.phi_params]

    # -- the nets and losses --------------------------------------------------------------------------
    def conv1(self, th):
        """Tap 0 before its ReLU: conv1, then BN with the batch's statistics when the target has BN."""
        a = F.conv2d(self.x, th[0], th[1], padding=1)
        if self.bn_eps is None:
            return a
        mean, var = a.mean(dim=(0, 2, 3), keepdim=True), a.var(dim=(0, 2, 3), unbiased=False, keepdim=True)
        return (a - mean) / torch.sqrt(var + self.bn_eps) * th[2].view(1, -1, 1, 1) + th[3].view(1, -1, 1, 1)

    def net(self, th):
        k = self.n_target - 4  # conv2 follows conv1 (and BN)
        a = F.relu(self.conv1(th))
        b = F.relu(F.conv2d(a, th[k], th[k + 1], padding=1))
        return F.linear(b.mean(dim=(2, 3)), th[k + 2], th[k + 3]), [a, b]

    def ce(self, th) -> torch.Tensor:
        return F.cross_entropy(self.net(th)[0], self.y)

    def weights(self, phi):
        """Per pair: w (B, C) = softmax(Linear(p)) or 1/C, and lambda (B,) = ReLU6(Linear(p)) or 1."""
        out = []
        for i, p in enumerate(self.pooled):
            w = (
                torch.full_like(p, 1.0 / p.shape[1])
                if self.what is None
                else F.softmax(p @ phi[self.what[i][0]].T + phi[self.what[i][1]], dim=1)
            )
            lam = (
                torch.ones_like(p[:, 0])
                if self.where is None
                else (p @ phi[self.where[i][0]].T + phi[self.where[i][1]]).clamp(0, 6).squeeze(1)
            )
            out.append((w, lam))
        return out

    def distances(self, th) -> list[torch.Tensor]:
        """d_{b,c} = mean_hw (S~ - r(T))^2 per pair, S~ the source resized bilinearly to the target tap."""
        _, feats = self.net(th)
        out = []
        for i, p in enumerate(self.pairs):
            t = feats[p.target_layer]
            s = F.interpolate(self.src[i], size=t.shape[-2:], mode="bilinear", align_corners=False)
            w, b = th[self.n_target + 2 * i], th[self.n_target + 2 * i + 1]
            out.append(
                (s - (torch.einsum("oc,bchw->bohw", w.flatten(1), t) + b.view(1, -1, 1, 1))).pow(2).mean(dim=(2, 3))
            )
        return out

    def wfm(self, th, phi) -> torch.Tensor:
        """L_wfm = sum_i beta mean_b lambda_ib sum_c w_ibc d_ibc."""
        return sum(
            self.beta * (lam * (w * d).sum(1)).mean() for d, (w, lam) in zip(self.distances(th), self.weights(phi))
        )

    def loss(self, th, phi, wfm_step: bool) -> torch.Tensor:
        return self.wfm(th, phi) if wfm_step else self.ce(th)

    # -- the meta-step ----------------------------------------------------------------------------------
    @staticmethod
    def sgd(theta, v, grads, lr, mu, wd):
        v = [mu * vi + gi + wd * ti for vi, gi, ti in zip(v, grads, theta)]
        return [ti - lr * vi for ti, vi in zip(theta, v)], v

    @staticmethod
    def grad(loss, wrt, create_graph=False):
        grads = torch.autograd.grad(loss, wrt, create_graph=create_graph, allow_unused=True)
        return [torch.zeros_like(w) if g is None else g for g, w in zip(grads, wrt)]

    def unroll(self, theta0, v0, phi, lr, mu, wd, steps, track=None, objective=None) -> torch.Tensor:
        """J = CE(theta_{T+1}) after T L_wfm steps and one CE step from (theta0, v0), differentiable in phi.
        `objective`: the oracle of other images that J is scored on (meta_objective holdout)."""
        theta, v = [t.clone().requires_grad_(True) for t in theta0], [t.clone() for t in v0]
        for t in range(steps + 1):
            new, v = self.sgd(
                theta, v, self.grad(self.loss(theta, phi, t < steps), theta, create_graph=True), lr, mu, wd
            )
            if track is not None:
                track.append((theta, new))
            theta = new
        return (objective or self).ce(theta)

    def hypergradient(self, theta0, v0, phi, lr, mu, wd, steps, objective=None) -> list[torch.Tensor]:
        leaves = [p.clone().requires_grad_(True) for p in phi]
        return self.grad(self.unroll(theta0, v0, leaves, lr, mu, wd, steps, objective=objective), leaves)

    def real_step(self, theta, v, phi, lr, mu, wd):
        """The real step: one SGD step on CE + L_wfm with phi constant -> (theta_0, v_0)."""
        leaves = [t.clone().requires_grad_(True) for t in theta]
        g = self.grad(self.ce(leaves) + self.wfm(leaves, [p.detach() for p in phi]), leaves)
        with torch.no_grad():
            return self.sgd(theta, v, g, lr, mu, wd)

    def leading_order(self, theta, phi, lr, mu, steps) -> list[torch.Tensor]:
        """Fast mode's formula: -lr C grad_phi <grad_theta L_wfm(theta; phi), grad_theta CE(theta)>.

        C = the total lr-weight that momentum gives the look-ahead's L_wfm gradients: a unit gradient
        at each of the steps 0..T-1 and none at step T, summed over the velocities v_1..v_{T+1}.
        """
        carry, v = 0.0, 0.0
        for t in range(steps + 1):
            v = mu * v + (1.0 if t < steps else 0.0)
            carry += v
        leaves = [p.clone().requires_grad_(True) for p in phi]
        th = [t.clone().requires_grad_(True) for t in theta]
        a = self.grad(self.ce(th), th)
        inner = sum((g * ai).sum() for g, ai in zip(self.grad(self.wfm(th, leaves), th, create_graph=True), a))
        return self.grad(-lr * carry * inner, leaves)

    def bn_batch_stats(self, th):
        """BN's batch mean and unbiased variance of conv1's output (what its running averages take in)."""
        a = F.conv2d(self.x, th[0], th[1], padding=1)
        return a.mean(dim=(0, 2, 3)), a.var(dim=(0, 2, 3), unbiased=True)


def adam_step(phi, grads, state: dict, lr: float, wd: float, betas=(0.9, 0.999), eps=1e-8):
    """Reference Adam with classic L2 weight decay (g += wd phi, not AdamW); updates `state` in place."""
    b1, b2 = betas
    state["t"] = state.get("t", 0) + 1
    t = state["t"]
    m, v = (
        state.setdefault("m", [torch.zeros_like(p) for p in phi]),
        state.setdefault("v", [torch.zeros_like(p) for p in phi]),
    )
    out = []
    for i, (p, g) in enumerate(zip(phi, grads)):
        g = g + wd * p
        m[i] = b1 * m[i] + (1 - b1) * g
        v[i] = b2 * v[i] + (1 - b2) * g * g
        out.append(p - lr * (m[i] / (1 - b1**t)) / (torch.sqrt(v[i] / (1 - b2**t)) + eps))
    return out
