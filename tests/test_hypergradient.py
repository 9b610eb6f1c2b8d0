"""The L2T-ww hypergradient engine (lookahead.py) against a float64 oracle (spec §4, "Testing against a
float64 oracle"), with and without BatchNorm in train mode.

The oracle (tests/l2t_oracle.py) is an explicit differentiable unroll written from the update rule
alone: theta_{t+1} = theta_t - lr (mu v_t + g_t + wd theta_t), g from autograd.grad(create_graph=True)
with None replaced by zeros; J = CE(theta_{T+1}); grad_phi J. A second reference is spec §4's adjoint
recursion, written out here; dropping momentum from it is the negative control. These tests call the
engine with hand-built SGD settings; test_l2t_train_step.py checks the path the trainer runs.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from l2tww.methods import matching
from l2tww.methods.lookahead import (
    BufferPolicy,
    SGDHyper,
    exact_hypergradient,
    leading_order_hypergradient,
    student_forward,
    velocities,
)

from .l2t_oracle import Oracle, build, rel_err, setup


def engine_hypergradient(
    target, method, opt, x, y, source_outs, hp: SGDHyper | None = None, replay_update: bool = False
):
    """The engine's exact hypergradient at the current (theta_0, v_0); `hp` overrides the SGD settings."""
    student = method.student(target, source_outs)
    weights, lambdas = method.meta_outputs(source_outs)
    names, theta0 = zip(*student.named_parameters())
    return exact_hypergradient(
        student_forward(student, x),
        list(names),
        list(theta0),
        velocities(opt, list(theta0)),
        method._wfm(weights, lambdas),
        lambda logits: F.cross_entropy(logits, y),
        method.meta_parameters(),
        hp or SGDHyper(0.1, *(opt.param_groups[0][k] for k in ("momentum", "weight_decay"))),
        method.lookahead,
        BufferPolicy(dict(student.named_buffers()), replay_update),
    )


def fast_hypergradient(target, method, opt, x, y, source_outs, lr: float):
    """Fast mode at theta_0, with a = grad_theta CE(theta_0)."""
    student = method.student(target, source_outs)
    weights, lambdas = method.meta_outputs(source_outs)
    names, theta = zip(*student.named_parameters())
    a = torch.autograd.grad(F.cross_entropy(student(x, distances=False)[0], y), theta, allow_unused=True)
    group = opt.param_groups[0]
    return leading_order_hypergradient(
        student_forward(student, x),
        list(names),
        [t.detach() for t in theta],
        list(a),
        method._wfm(weights, lambdas),
        method.meta_parameters(),
        SGDHyper(lr, group["momentum"], group["weight_decay"]),
        method.lookahead,
        BufferPolicy(dict(student.named_buffers()), False),
    )


def oracle_of(target, method, opt, x, y, src):
    """The oracle and its hypergradient at the live (theta_0, v_0, phi) with the optimizer's settings."""
    oracle = Oracle(target, method, x, y, src)
    group = opt.param_groups[0]
    args = (
        oracle.theta(),
        oracle.velocity(opt),
        oracle.phi(),
        group["lr"],
        group["momentum"],
        group["weight_decay"],
        method.lookahead,
    )
    return oracle, args


def adjoint_recursion(oracle: Oracle, theta0, v0, phi, lr, mu, wd, steps, momentum_in_adjoint: bool = True):
    """Spec §4's recursion, literally: replay each step at theta_t with create_graph, one backward of <g_t, b>."""
    track = []
    oracle.unroll(theta0, v0, phi, lr, mu, wd, steps, track)  # theta_t, t = 0..T
    thetas = [before for before, _ in track] + [track[-1][1]]
    phi = [p.clone().requires_grad_(True) for p in phi]

    def leaf(theta):
        return [th.detach().requires_grad_(True) for th in theta]

    last = leaf(thetas[-1])
    a_theta = oracle.grad(oracle.ce(last), last)  # a_theta = grad J(theta_{T+1})
    a_v = [torch.zeros_like(a) for a in a_theta]
    G = [torch.zeros_like(p) for p in phi]
    for t in range(steps, -1, -1):
        b = [av - lr * at for av, at in zip(a_v, a_theta)]
        th = leaf(thetas[t])
        g = oracle.grad(oracle.loss(th, phi, t < steps), th, create_graph=True)
        inner = sum((gi * bi).sum() for gi, bi in zip(g, b))
        out = oracle.grad(inner, [*phi, *th])
        G = [Gi + oi for Gi, oi in zip(G, out[: len(phi)])]
        hb = out[len(phi) :]
        a_theta = [(1 - lr * wd) * at + wd * av + h for at, av, h in zip(a_theta, a_v, hb)]
        a_v = [mu * bi for bi in b] if momentum_in_adjoint else [torch.zeros_like(bi) for bi in b]
    return G


@pytest.mark.parametrize("steps", [1, 2, 3])
@pytest.mark.parametrize(
    "momentum,wd,random_v0,bn",
    [(0.9, 1e-2, True, False), (0.9, 0.0, False, False), (0.0, 0.0, False, False), (0.9, 1e-2, True, True)],
)
def test_hypergradient_matches_the_explicit_unroll(steps, momentum, wd, random_v0, bn):
    target, method, opt, x, y, src = setup(steps, momentum, wd, random_v0, bn=bn)
    engine = engine_hypergradient(target, method, opt, x, y, src)
    oracle, args = oracle_of(target, method, opt, x, y, src)
    track = []
    expected = oracle.hypergradient(*args)
    oracle.unroll(*args, track=track)
    assert rel_err(engine, expected) <= 1e-10
    assert all(float(g.abs().max()) > 0 for g in expected)
    before, after = track[0]
    # The classifier (fc.weight) has no L_wfm gradient but moves under momentum and weight decay
    # (zeros, not None); with v0 = 0 and wd = 0 it rightly stays.
    fc = oracle.index(target.fc.weight)
    assert torch.equal(before[fc], after[fc]) == (not random_v0)


@pytest.mark.parametrize("steps", [1, 2])
def test_hypergradient_on_channels_last_nets_matches_the_unroll(steps):
    """runtime.channels_last (on in the embedded default) puts the nets and images in NHWC, where the
    Student regresses each pair as a matrix product on the NHWC view (matching.regress): the double
    backward and the forward-mode pass through that path give the oracle's hypergradient too."""
    case = build(steps, 0.9, 1e-2, True, bn=True)
    cl = torch.channels_last
    target, x = case.target.to(memory_format=cl), case.x.contiguous(memory_format=cl)
    with torch.no_grad():
        src = [s.to(memory_format=cl)(x) for s in case.sources]
    assert matching.nhwc(target(x).features[0]) and all(case.method.student(target, src).per_pair.values())
    engine = engine_hypergradient(target, case.method, case.opt, x, case.y, src)
    oracle, args = oracle_of(target, case.method, case.opt, x, case.y, src)
    expected = oracle.hypergradient(*args)
    assert rel_err(engine, expected) <= 1e-10 and all(float(g.abs().max()) > 0 for g in expected)


@pytest.mark.parametrize("steps,bn", [(1, False), (2, False), (3, False), (2, True)])
def test_the_spec_adjoint_recursion_matches_the_unroll_and_needs_momentum(steps, bn):
    target, method, opt, x, y, src = setup(steps, 0.9, 1e-2, True, bn=bn)
    oracle, args = oracle_of(target, method, opt, x, y, src)
    expected = oracle.hypergradient(*args)
    assert rel_err(adjoint_recursion(oracle, *args), expected) <= 1e-10
    # Negative control: the recursion without momentum (a_v = 0) must fail the same comparison.
    assert rel_err(adjoint_recursion(oracle, *args, momentum_in_adjoint=False), expected) > 1e-3


@pytest.mark.parametrize("bn", [False, True])
def test_hypergradient_matches_central_finite_differences(bn):
    target, method, opt, x, y, src = setup(2, 0.9, 1e-2, True, bn=bn)
    engine = engine_hypergradient(target, method, opt, x, y, src)
    oracle, (theta0, v0, phi, *hyper) = oracle_of(target, method, opt, x, y, src)
    eps = 1e-6
    for index in range(len(phi)):
        k = int(torch.argmax(engine[index].abs().view(-1)))
        values = []
        for sign in (1, -1):
            moved = [p.clone() for p in phi]
            moved[index].view(-1)[k] += sign * eps
            values.append(float(oracle.unroll(theta0, v0, moved, *hyper).detach()))
        numeric = (values[0] - values[1]) / (2 * eps)
        assert abs(numeric - float(engine[index].view(-1)[k])) <= 1e-5 * max(1.0, abs(numeric))


def test_dropping_momentum_from_the_lookahead_is_caught():
    """Negative control on the engine: a look-ahead without momentum must fail the oracle comparison."""
    target, method, opt, x, y, src = setup(2, 0.9, 1e-2, True)
    wrong = engine_hypergradient(target, method, opt, x, y, src, SGDHyper(lr=0.1, momentum=0.0, weight_decay=1e-2))
    oracle, args = oracle_of(target, method, opt, x, y, src)
    assert rel_err(wrong, oracle.hypergradient(*args)) > 1e-3


def test_zero_lr_gives_a_zero_hypergradient():
    target, method, opt, x, y, src = setup(2, 0.9, 1e-2, True)
    assert all(
        float(g.abs().max()) == 0
        for g in engine_hypergradient(target, method, opt, x, y, src, SGDHyper(0.0, 0.9, 1e-2))
    )


# With BN this net reaches the O(lr) regime only below lr ~ 1e-4: measured relative errors 0.24,
# 0.018, 0.0092, 1.4e-4, 1.4e-5 for lr = 1e-2 .. 1e-6 (without BN: 0.026, 0.0046, 9e-4, 9e-5, 9e-6).
@pytest.mark.parametrize("bn,lrs", [(False, (1e-2, 1e-3, 1e-4)), (True, (1e-4, 1e-5, 1e-6))])
def test_fast_mode_is_the_small_lr_limit_of_the_exact_hypergradient(bn, lrs):
    """Fast mode drops O(lr^2): its relative error against the exact hypergradient shrinks like lr."""
    target, method, opt, x, y, src = setup(2, 0.9, 1e-2, True, bn=bn)
    errors = []
    for lr in lrs:
        exact = engine_hypergradient(target, method, opt, x, y, src, SGDHyper(lr, 0.9, 1e-2))
        errors.append(rel_err(fast_hypergradient(target, method, opt, x, y, src, lr), exact))
    assert errors[2] < 1e-2 and errors[2] < errors[1] / 5 < errors[0] / 25


@pytest.mark.parametrize("bn", [False, True])
def test_fast_mode_matches_its_leading_order_formula(bn):
    """The engine's fast mode against the oracle's -lr C grad_phi <grad L_wfm, grad CE> (double backward)."""
    target, method, opt, x, y, src = setup(2, 0.9, 1e-2, True, bn=bn)
    oracle = Oracle(target, method, x, y, src)
    expected = oracle.leading_order(oracle.theta(), oracle.phi(), 0.05, 0.9, 2)
    assert rel_err(fast_hypergradient(target, method, opt, x, y, src, 0.05), expected) <= 1e-10


def _state(target, method, opt):
    return (
        [t.clone() for t in target.state_dict().values()],
        [p.detach().clone() for p in method.student_parameters()],
        [opt.state[p]["momentum_buffer"].clone() for p in opt.param_groups[0]["params"]],
    )


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
    (
        F.cross_entropy(logits, y)
        + twin_method._wfm([w.detach() for w in weights], [lam.detach() for lam in lambdas])(distances)
    ).backward()
    twin_opt.step()
    if replay_update:
        with torch.no_grad():
            twin(x)
    for got, want in zip(_state(target, method, opt), _state(twin, twin_method, twin_opt)):
        assert all(torch.equal(a, b) for a, b in zip(got, want))
    assert opt.state_dict()["param_groups"] == twin_opt.state_dict()["param_groups"]
    assert any(not torch.equal(a, b) for a, b in zip(phi, method.meta_parameters()))  # Adam moved phi
