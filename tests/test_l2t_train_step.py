"""The meta-step as the trainer runs it, `L2T.train_step`, against the float64 oracle (tests/l2t_oracle.py).

test_hypergradient.py calls the engine with SGD settings it builds itself; this file checks the
production wiring around it: the live lr of a scheduled SGD (set per epoch as Trainer.fit does),
its momentum buffers from earlier steps and its weight decay (sgd_hyper, velocities), the real step,
the hypergradient handed to Adam and Adam's classic L2 weight decay on phi, with a BN target in
train mode, one or two sources, with and without where-nets, in exact and fast mode. Earlier
train_steps on other batches give the optimizer momentum and Adam a history (Adam's first step
is sign(g), blind to the gradient's scale). A failure names the known mistake its numbers match.
"""

from __future__ import annotations

import pytest
import torch

from l2tww.training.trainer import lr_at

from .l2t_oracle import PAIRS, PAIRS_2SRC, Oracle, adam_step, build, rel_err

RECIPE = {"lr": 0.1, "epochs": 8, "schedule": {"name": "cosine"}}  # epochs 1, 2, 5: lr 0.096, 0.085, 0.031
WD = 1e-2


def set_epoch(opt, epoch: int) -> float:
    """The lr of `epoch`, set on every group before the epoch, as Trainer.fit does."""
    lr = lr_at(epoch, RECIPE)
    for group in opt.param_groups:
        group["lr"] = lr
    return lr


def hypergradient_suspects(oracle: Oracle, fast: bool, theta_pre, theta0, v0, phi, lr, mu, steps, expected):
    """Known wiring mistakes, each as the hypergradient it would hand to Adam."""
    zeros = [torch.zeros_like(v) for v in v0]
    suspects = {"its sign flipped (Adam would ascend J)": lambda: [-g for g in expected]}
    if fast:
        suspects |= {
            "a tenth of the scheduled lr": lambda: oracle.leading_order(theta_pre, phi, 0.1 * lr, mu, steps),
            "the base lr instead of the scheduled one": lambda: oracle.leading_order(
                theta_pre, phi, RECIPE["lr"], mu, steps
            ),
            "no momentum in the carry C": lambda: oracle.leading_order(theta_pre, phi, lr, 0.0, steps),
            "the post-real-step theta instead of this step's": lambda: oracle.leading_order(theta0, phi, lr, mu, steps),
        }
    else:
        suspects |= {
            "the look-ahead started from zero momentum, not the optimizer's live buffers": lambda: oracle.hypergradient(
                theta0, zeros, phi, lr, mu, WD, steps
            ),
            "the look-ahead at a tenth of the scheduled lr": lambda: oracle.hypergradient(
                theta0, v0, phi, 0.1 * lr, mu, WD, steps
            ),
            "the look-ahead at the base lr instead of the scheduled one": lambda: oracle.hypergradient(
                theta0, v0, phi, RECIPE["lr"], mu, WD, steps
            ),
            "no weight decay in the look-ahead's SGD update": lambda: oracle.hypergradient(
                theta0, v0, phi, lr, mu, 0.0, steps
            ),
            "no momentum in the look-ahead's SGD update": lambda: oracle.hypergradient(
                theta0, v0, phi, lr, 0.0, WD, steps
            ),
            "the look-ahead from the pre-step theta": lambda: oracle.hypergradient(
                theta_pre, v0, phi, lr, mu, WD, steps
            ),
        }
    return suspects


def diagnose(got, suspects: dict, reference: str = "the oracle") -> str:
    matches = [name for name, make in suspects.items() if rel_err(got, make()) <= 1e-8]
    return f"it matches {reference} with {' / '.join(matches)}" if matches else "it matches none of the known mistakes"


@pytest.mark.parametrize("mode", ["exact", "fast"])
@pytest.mark.parametrize("pairs", [PAIRS, PAIRS_2SRC], ids=["one-source", "two-sources"])
@pytest.mark.parametrize("where", [True, False], ids=["where", "no-where"])
def test_train_step_matches_the_float64_oracle(mode, pairs, where):
    check_train_step(mode, pairs, where, mu=0.9, steps=2)


@pytest.mark.parametrize("momentum,steps", [(0.0, 2), (0.9, 1)], ids=["no-momentum", "one-step-lookahead"])
def test_train_step_without_momentum_or_with_one_lookahead_step(momentum, steps):
    """momentum 0: torch's SGD keeps no buffers (v0 = 0); T = 1: the look-ahead is one L_wfm step and the CE step."""
    check_train_step("exact", PAIRS, True, momentum, steps)


def check_train_step(mode, pairs, where, mu, steps):
    case = build(steps, mu, WD, random_v0=None, bn=True, pairs=pairs, hypergradient=mode, where=where)
    target, method, opt = case.target, case.method, case.opt
    meta_lr, meta_wd = method.spec.hparams["meta_lr"], method.spec.hparams["meta_weight_decay"]
    history = []  # (phi, hypergradient) of the earlier meta-steps, replayed by the reference Adam
    # Two earlier steps on other batches: momentum buffers and an Adam history.
    for epoch in (1, 2):
        set_epoch(opt, epoch)
        x, y, outs = case.batch(seed=epoch)
        phi = [p.detach().clone() for p in method.meta_parameters()]
        method.train_step(target, x, y, outs, opt)
        history.append((phi, [p.grad.clone() for p in method.meta_parameters()]))

    lr = set_epoch(opt, 5)
    oracle = Oracle(target, method, case.x, case.y, case.source_outs)
    theta_pre, v_pre, phi = oracle.theta(), oracle.velocity(opt), oracle.phi()
    assert all(float(v.abs().max()) > 0 for v in v_pre) == (mu > 0)  # v0 = 0 only without momentum
    bn = target.bn
    running = (bn.running_mean.clone(), bn.running_var.clone(), int(bn.num_batches_tracked))

    terms = method.train_step(target, case.x, case.y, case.source_outs, opt)

    # The real step: logged terms at (theta_pre, phi), then one SGD step on CE + L_wfm with phi constant.
    with torch.no_grad():
        ce, wfm = oracle.ce(theta_pre), oracle.wfm(theta_pre, phi)
    assert torch.allclose(terms["ce"], ce, rtol=1e-12) and torch.allclose(terms["wfm"], wfm, rtol=1e-12), (
        "logged CE / L_wfm"
    )
    assert torch.allclose(terms["loss"], ce + wfm, rtol=1e-12), "logged loss != CE + L_wfm"
    theta0, v0 = oracle.theta(), oracle.velocity(opt)
    want_theta0, want_v0 = oracle.real_step(theta_pre, v_pre, phi, lr, mu, WD)
    assert rel_err(theta0, want_theta0) <= 1e-12, (
        "theta after train_step != one SGD step on CE + L_wfm (phi constant) from the pre-step state"
    )
    if mu:  # without momentum torch keeps no buffers, and v0 does not enter the look-ahead
        assert rel_err(v0, want_v0) <= 1e-12, "momentum buffers after train_step != the real step's"

    # The hypergradient handed to Adam (left in p.grad).
    fast = mode == "fast"
    if fast:  # its own leading-order formula at this step's theta, with the live lr
        expected, formula = oracle.leading_order(theta_pre, phi, lr, mu, steps), "fast mode's leading-order formula"
    else:  # the unroll from the post-real-step (theta_0, v_0) with the live lr, momentum and weight decay
        expected, formula = oracle.hypergradient(theta0, v0, phi, lr, mu, WD, steps), "the look-ahead unroll"
    assert all(float(g.abs().max()) > 0 for g in expected)
    got = [p.grad for p in method.meta_parameters()]
    err = rel_err(got, expected)
    assert err <= 1e-10, (
        f"{mode}: hypergradient handed to Adam != float64 oracle ({formula}; lr {lr:.4g}, momentum {mu}, wd {WD}): "
        f"rel err {err:.2e}; "
        f"{diagnose(got, hypergradient_suspects(oracle, fast, theta_pre, theta0, v0, phi, lr, mu, steps, expected))}"
    )

    # phi after the step: Adam with classic L2 weight decay on the oracle's hypergradient.
    update = [p.detach() - q for p, q in zip(method.meta_parameters(), phi)]

    def adam_update(grads, wd):
        state: dict = {}
        for old_phi, old_grads in history:
            adam_step(old_phi, old_grads, state, meta_lr, wd)
        return [w - q for w, q in zip(adam_step(phi, grads, state, meta_lr, wd), phi)]

    err = rel_err(update, adam_update(expected, meta_wd))
    if err > 1e-9:
        suspects = {
            "no weight decay (meta_weight_decay dropped)": lambda: adam_update(expected, 0.0),
            "the hypergradient's sign flipped": lambda: adam_update([-g for g in expected], meta_wd),
        }
        pytest.fail(
            f"phi's update != an Adam step (lr {meta_lr}, L2 weight decay {meta_wd}) on the oracle's hypergradient: "
            f"rel err {err:.2e}; {diagnose(update, suspects, 'Adam')}"
        )

    # BN running statistics: one EMA update from the real step's forward at theta_pre, plus in exact
    # mode (bn_replay_update) one from the look-ahead's first forward at theta_0 (spec §4).
    mean, var, count = running
    for theta in [theta_pre] + ([] if fast else [theta0]):
        batch_mean, batch_var = oracle.bn_batch_stats(theta)
        mean, var, count = (
            (1 - bn.momentum) * mean + bn.momentum * batch_mean,
            (1 - bn.momentum) * var + bn.momentum * batch_var,
            count + 1,
        )
    assert int(bn.num_batches_tracked) == count, "BN running statistics: wrong number of EMA updates"
    assert torch.allclose(bn.running_mean, mean, rtol=1e-12) and torch.allclose(bn.running_var, var, rtol=1e-12), (
        "BN running statistics"
    )


@pytest.mark.parametrize("replay", [False, True])
def test_fast_mode_makes_the_bn_replay_only_when_asked(replay):
    """fast_bn_replay: one more BN EMA update per meta-step, from a forward at theta_0 (the post-step
    parameters), as exact's look-ahead and the frozen control make; off (the default), fast's BN
    statistics are the real step's only, as before."""
    case = build(2, 0.9, WD, random_v0=True, bn=True, hypergradient="fast", fast_bn_replay=replay)
    target, method, opt, bn = case.target, case.method, case.opt, case.target.bn
    oracle = Oracle(target, method, case.x, case.y, case.source_outs)
    theta_pre = oracle.theta()
    mean, var, count = bn.running_mean.clone(), bn.running_var.clone(), int(bn.num_batches_tracked)
    method.train_step(target, case.x, case.y, case.source_outs, opt)
    for theta in [theta_pre] + ([oracle.theta()] if replay else []):
        batch_mean, batch_var = oracle.bn_batch_stats(theta)
        mean = (1 - bn.momentum) * mean + bn.momentum * batch_mean
        var = (1 - bn.momentum) * var + bn.momentum * batch_var
        count += 1
    assert int(bn.num_batches_tracked) == count
    assert torch.allclose(bn.running_mean, mean, rtol=1e-12) and torch.allclose(bn.running_var, var, rtol=1e-12)
