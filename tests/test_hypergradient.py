"""The L2T-ww hypergradient against a float64 oracle (spec §4, "Testing against a float64 oracle").

The oracle is an explicit differentiable unroll written here from the update rule alone, on a tiny
functional network: theta_{t+1} = theta_t - lr (mu v_t + g_t + wd theta_t), g from
autograd.grad(create_graph=True) with None replaced by zeros; J = CE(theta_{T+1}); grad_phi J.
A second reference is spec §4's adjoint recursion, written out here; dropping momentum from it
is the negative control.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from l2tww.methods import MethodSpec, Pair, build_method
from l2tww.methods.lookahead import BufferPolicy, SGDHyper, exact_hypergradient, leading_order_hypergradient, student_forward, velocities
from l2tww.models import FeatureNet, NetOutput
from l2tww.models import net_shapes

DT = torch.float64
PAIRS = (Pair(0, 0, 1), Pair(0, 1, 0))  # source taps 8x8 and 4x4 -> target taps 6x6 (resize both ways)


class TinyTarget(FeatureNet):
    """conv-ReLU (tap 0) -> conv-ReLU (tap 1) -> GAP -> Linear."""

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


HP = {"beta": 0.5, "what": True, "where": True, "where_activation": "relu6", "where_bias_init": 1.0, "lookahead": 2,
      "meta_lr": 1e-4, "meta_weight_decay": 1e-4, "hypergradient": "exact", "meta_every": 1, "bn_replay_update": True}


def setup(steps: int, momentum: float, wd: float, random_v0: bool, bn: bool = False, seed: int = 0):
    torch.manual_seed(seed)
    target, source = TinyTarget(bn).to(DT), TinySource().to(DT).eval()
    x = torch.randn(4, 2, 6, 6, dtype=DT)
    y = torch.tensor([0, 1, 2, 3])
    with torch.no_grad():
        source_outs = [source(x)]
    method = build_method(MethodSpec("l2tww", "l2t", PAIRS, {**HP, "lookahead": steps}), net_shapes(target, [source], (2, 6, 6))).to(DT)
    with torch.no_grad():  # non-uniform what-nets, so every meta-parameter matters
        for p in method.meta_parameters():
            p.add_(0.3 * torch.randn_like(p))
    opt = torch.optim.SGD(list(target.parameters()) + method.student_parameters(), lr=0.1, momentum=momentum, weight_decay=wd)
    for p in opt.param_groups[0]["params"]:
        opt.state[p]["momentum_buffer"] = 0.5 * torch.randn_like(p) if random_v0 else torch.zeros_like(p)
    return target, method, opt, x, y, source_outs


def engine_hypergradient(target, method, opt, x, y, source_outs, hp: SGDHyper | None = None, replay_update: bool = False):
    """The engine's exact hypergradient at the current (theta_0, v_0); `hp` overrides the SGD settings."""
    student = method.student(target, source_outs)
    weights, lambdas = method.meta_outputs(source_outs)
    names, theta0 = zip(*student.named_parameters())
    return exact_hypergradient(
        student_forward(student, x), list(names), list(theta0), velocities(opt, list(theta0)), method._wfm(weights, lambdas),
        lambda logits: F.cross_entropy(logits, y), method.meta_parameters(), hp or SGDHyper(0.1, *(opt.param_groups[0][k] for k in ("momentum", "weight_decay"))),
        method.lookahead, BufferPolicy(dict(student.named_buffers()), replay_update),
    )


def fast_hypergradient(target, method, opt, x, y, source_outs, lr: float):
    """Fast mode at theta_0, with a = grad_theta CE(theta_0)."""
    student = method.student(target, source_outs)
    weights, lambdas = method.meta_outputs(source_outs)
    names, theta = zip(*student.named_parameters())
    a = torch.autograd.grad(F.cross_entropy(student(x, distances=False)[0], y), theta, allow_unused=True)
    group = opt.param_groups[0]
    return leading_order_hypergradient(
        student_forward(student, x), list(names), [t.detach() for t in theta], list(a), method._wfm(weights, lambdas),
        method.meta_parameters(), SGDHyper(lr, group["momentum"], group["weight_decay"]), method.lookahead,
        BufferPolicy(dict(student.named_buffers()), False),
    )


def oracle_J(target, method, opt, x, y, source_outs, steps, track=None):
    """J = CE(theta_{T+1}) by an explicit unroll on plain tensors, differentiable in phi."""
    group = opt.param_groups[0]
    lr, mu, wd = group["lr"], group["momentum"], group["weight_decay"]
    w1, b1, w2, b2, wf, bf = (p.detach() for p in (target.conv1.weight, target.conv1.bias, target.conv2.weight, target.conv2.bias, target.fc.weight, target.fc.bias))
    regs = [t for r in method.regressors for t in (r.weight.detach(), r.bias.detach())]
    theta = [w1, b1, w2, b2, wf, bf, *regs]
    params = [target.conv1.weight, target.conv1.bias, target.conv2.weight, target.conv2.bias, target.fc.weight, target.fc.bias, *[t for r in method.regressors for t in (r.weight, r.bias)]]
    v = [opt.state[p]["momentum_buffer"].clone() for p in params]
    theta = [t.clone().requires_grad_(True) for t in theta]

    src = [source_outs[0].features[p.source_layer] for p in PAIRS]
    pooled = [s.mean(dim=(2, 3)) for s in src]
    what = [F.softmax(F.linear(p, net.weight, net.bias), dim=1) for p, net in zip(pooled, method.meta.what)]
    where = [F.relu6(F.linear(p, net.weight, net.bias)).squeeze(1) for p, net in zip(pooled, method.meta.where)]

    def net(th):
        a = F.relu(F.conv2d(x, th[0], th[1], padding=1))
        b = F.relu(F.conv2d(a, th[2], th[3], padding=1))
        return F.linear(b.mean(dim=(2, 3)), th[4], th[5]), [a, b]

    def wfm(th):
        _, feats = net(th)
        total = 0.0
        for i, p in enumerate(PAIRS):
            t = feats[p.target_layer]
            s = F.interpolate(src[i], size=t.shape[-2:], mode="bilinear", align_corners=False)
            d = (s - F.conv2d(t, th[6 + 2 * i], th[7 + 2 * i])).pow(2).mean(dim=(2, 3))
            total = total + 0.5 * (where[i] * (what[i] * d).sum(1)).mean()
        return total

    for t in range(steps + 1):
        loss = wfm(theta) if t < steps else F.cross_entropy(net(theta)[0], y)
        grads = torch.autograd.grad(loss, theta, create_graph=True, allow_unused=True)
        grads = [torch.zeros_like(th) if g is None else g for g, th in zip(grads, theta)]
        v = [mu * vi + gi + wd * ti for vi, gi, ti in zip(v, grads, theta)]
        new = [ti - lr * vi for ti, vi in zip(theta, v)]
        if track is not None:
            track.append((theta, new))
        theta = new
    return F.cross_entropy(net(theta)[0], y)


def step_loss(target, method, x, y, source_outs, theta, wfm_step: bool):
    """The oracle's loss of one look-ahead step at theta: L_wfm (t < T) or CE (t = T)."""
    src = [source_outs[0].features[p.source_layer] for p in PAIRS]
    pooled = [s.mean(dim=(2, 3)) for s in src]
    a = F.relu(F.conv2d(x, theta[0], theta[1], padding=1))
    b = F.relu(F.conv2d(a, theta[2], theta[3], padding=1))
    if not wfm_step:
        return F.cross_entropy(F.linear(b.mean(dim=(2, 3)), theta[4], theta[5]), y)
    total = 0.0
    for i, (p, what, where) in enumerate(zip(PAIRS, method.meta.what, method.meta.where)):
        t = (a, b)[p.target_layer]
        s = F.interpolate(src[i], size=t.shape[-2:], mode="bilinear", align_corners=False)
        d = (s - F.conv2d(t, theta[6 + 2 * i], theta[7 + 2 * i])).pow(2).mean(dim=(2, 3))
        w = F.softmax(F.linear(pooled[i], what.weight, what.bias), dim=1)
        lam = F.relu6(F.linear(pooled[i], where.weight, where.bias)).squeeze(1)
        total = total + 0.5 * (lam * (w * d).sum(1)).mean()
    return total


def adjoint_recursion(target, method, opt, x, y, source_outs, steps, momentum_in_adjoint: bool = True):
    """Spec §4's recursion, literally: replay each step at theta_t with create_graph, one backward of <g_t, b>."""
    track = []
    oracle_J(target, method, opt, x, y, source_outs, steps, track)  # theta_t, t = 0..T, as plain tensors
    thetas = [before for before, _ in track] + [track[-1][1]]
    group = opt.param_groups[0]
    lr, mu, wd = group["lr"], group["momentum"], group["weight_decay"]
    phi = method.meta_parameters()

    def loss_at(t, theta):  # rebuilds the oracle's losses at a leaf theta
        leaf = [th.detach().requires_grad_(True) for th in theta]
        return leaf, step_loss(target, method, x, y, source_outs, leaf, wfm_step=t < steps)

    leaf, _ = loss_at(steps, thetas[-1])
    a_theta = torch.autograd.grad(step_loss(target, method, x, y, source_outs, leaf, wfm_step=False), leaf, allow_unused=True)
    a_theta = [torch.zeros_like(l) if a is None else a for a, l in zip(a_theta, leaf)]  # a_theta = grad J(theta_{T+1})
    a_v = [torch.zeros_like(a) for a in a_theta]
    G = [torch.zeros_like(p) for p in phi]
    for t in range(steps, -1, -1):
        b = [av - lr * at for av, at in zip(a_v, a_theta)]
        leaf, loss = loss_at(t, thetas[t])
        g = [torch.zeros_like(l) if gi is None else gi for gi, l in zip(torch.autograd.grad(loss, leaf, create_graph=True, allow_unused=True), leaf)]
        inner = sum((gi * bi).sum() for gi, bi in zip(g, b))
        out = torch.autograd.grad(inner, [*phi, *leaf], allow_unused=True)
        G = [Gi + (0 if oi is None else oi) for Gi, oi in zip(G, out[: len(phi)])]
        hb = [torch.zeros_like(l) if oi is None else oi for oi, l in zip(out[len(phi):], leaf)]
        a_theta = [(1 - lr * wd) * at + wd * av + h for at, av, h in zip(a_theta, a_v, hb)]
        a_v = [mu * bi for bi in b] if momentum_in_adjoint else [torch.zeros_like(bi) for bi in b]
    return G


def rel_err(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    num = torch.sqrt(sum(((x - y) ** 2).sum() for x, y in zip(a, b)))
    den = torch.sqrt(sum((y**2).sum() for y in b))
    return float(num / den)


@pytest.mark.parametrize("steps", [1, 2, 3])
@pytest.mark.parametrize("momentum,wd,random_v0", [(0.9, 1e-2, True), (0.9, 0.0, False), (0.0, 0.0, False)])
def test_hypergradient_matches_the_explicit_unroll(steps, momentum, wd, random_v0):
    target, method, opt, x, y, src = setup(steps, momentum, wd, random_v0)
    engine = engine_hypergradient(target, method, opt, x, y, src)
    track = []
    oracle = torch.autograd.grad(oracle_J(target, method, opt, x, y, src, steps, track), method.meta_parameters())
    assert rel_err(engine, list(oracle)) <= 1e-10
    assert all(float(g.abs().max()) > 0 for g in oracle)
    before, after = track[0]
    # The classifier has no L_wfm gradient but moves under momentum and weight decay (zeros, not None);
    # with v0 = 0 and wd = 0 it rightly stays.
    assert torch.equal(before[4], after[4]) == (not random_v0)


@pytest.mark.parametrize("steps", [1, 2, 3])
def test_the_spec_adjoint_recursion_matches_the_unroll_and_needs_momentum(steps):
    target, method, opt, x, y, src = setup(steps, 0.9, 1e-2, True)
    oracle = list(torch.autograd.grad(oracle_J(target, method, opt, x, y, src, steps), method.meta_parameters()))
    assert rel_err(adjoint_recursion(target, method, opt, x, y, src, steps), oracle) <= 1e-10
    # Negative control: the recursion without momentum (a_v = 0) must fail the same comparison.
    assert rel_err(adjoint_recursion(target, method, opt, x, y, src, steps, momentum_in_adjoint=False), oracle) > 1e-3


def test_hypergradient_matches_central_finite_differences():
    target, method, opt, x, y, src = setup(2, 0.9, 1e-2, True)
    engine = engine_hypergradient(target, method, opt, x, y, src)
    eps = 1e-6
    for index, param in enumerate(method.meta_parameters()):
        flat = param.data.view(-1)
        k = int(torch.argmax(engine[index].abs().view(-1)))
        with torch.no_grad():
            flat[k] += eps
            plus = float(oracle_J_nograd(target, method, opt, x, y, src))
            flat[k] -= 2 * eps
            minus = float(oracle_J_nograd(target, method, opt, x, y, src))
            flat[k] += eps
        numeric = (plus - minus) / (2 * eps)
        assert abs(numeric - float(engine[index].view(-1)[k])) <= 1e-5 * max(1.0, abs(numeric))


def oracle_J_nograd(*args):
    with torch.enable_grad():
        return oracle_J(*args, steps=2).detach()


def test_dropping_momentum_from_the_lookahead_is_caught():
    """Negative control on the engine: a look-ahead without momentum must fail the oracle comparison."""
    target, method, opt, x, y, src = setup(2, 0.9, 1e-2, True)
    wrong = engine_hypergradient(target, method, opt, x, y, src, SGDHyper(lr=0.1, momentum=0.0, weight_decay=1e-2))
    oracle = torch.autograd.grad(oracle_J(target, method, opt, x, y, src, 2), method.meta_parameters())
    assert rel_err(wrong, list(oracle)) > 1e-3


def test_zero_lr_gives_a_zero_hypergradient():
    target, method, opt, x, y, src = setup(2, 0.9, 1e-2, True)
    assert all(float(g.abs().max()) == 0 for g in engine_hypergradient(target, method, opt, x, y, src, SGDHyper(0.0, 0.9, 1e-2)))


def test_fast_mode_is_the_small_lr_limit_of_the_exact_hypergradient():
    """Fast mode drops O(lr^2): its relative error against the exact hypergradient shrinks like lr."""
    target, method, opt, x, y, src = setup(2, 0.9, 1e-2, True)
    errors = []
    for lr in (1e-2, 1e-3, 1e-4):
        exact = engine_hypergradient(target, method, opt, x, y, src, SGDHyper(lr, 0.9, 1e-2))
        errors.append(rel_err(fast_hypergradient(target, method, opt, x, y, src, lr), exact))
    assert errors[2] < 1e-2 and errors[2] < errors[1] / 5 < errors[0] / 25


def _state(target, method, opt):
    return ([t.clone() for t in target.state_dict().values()], [p.detach().clone() for p in method.student_parameters()],
            [opt.state[p]["momentum_buffer"].clone() for p in opt.param_groups[0]["params"]])


@pytest.mark.parametrize("replay_update", [True, False])
def test_a_meta_step_rolls_back_to_the_post_step_state(replay_update):
    """After train_step: theta, v and the optimizer state equal a plain SGD step's; BN follows the policy."""
    target, method, opt, x, y, src = setup(2, 0.9, 1e-2, True, bn=True)
    method.bn_replay_update = replay_update
    twin, twin_method, twin_opt, *_ = setup(2, 0.9, 1e-2, True, bn=True)
    phi = [p.clone() for p in method.meta_parameters()]
    method.train_step(target, x, y, src, opt)
    # The twin: the same real step (CE + L_wfm, phi constant), no meta-step, then the replay's
    # one extra BN EMA update from a forward at theta_0 when the policy asks for it.
    weights, lambdas = twin_method.meta_outputs(src)
    logits, distances = twin_method.student(twin, src)(x)
    twin_opt.zero_grad(set_to_none=False)
    (F.cross_entropy(logits, y) + twin_method._wfm([w.detach() for w in weights], [l.detach() for l in lambdas])(distances)).backward()
    twin_opt.step()
    if replay_update:
        with torch.no_grad():
            twin(x)
    for got, want in zip(_state(target, method, opt), _state(twin, twin_method, twin_opt)):
        assert all(torch.equal(a, b) for a, b in zip(got, want))
    assert opt.state_dict()["param_groups"] == twin_opt.state_dict()["param_groups"]
    assert any(not torch.equal(a, b) for a, b in zip(phi, method.meta_parameters()))  # Adam moved phi
