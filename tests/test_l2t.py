"""L2T-ww as a method (spec §1, §3-4): meta-net initialisation and settings, the paper's parameter counts, every
parameter trained, the variants (L2T-ww, L2T-w, uniform w), multi-source, fast mode, meta_every,
exact resume (also from a checkpoint without L2T's extra state), observability, bf16 autocast and
channels_last; without meta-nets L2T equals FM; zero gradients, not None, for parameters no loss reaches.
"""

from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import nn

from l2tww.methods import MethodSpec, Pair, build_method
from l2tww.models import VGG9, build_model, net_shapes

from .l2t_oracle import DT, HP, PAIRS, TinySource, TinyTarget, build


def _method(target, sources, pairs, input_shape, **overrides):
    return build_method(
        MethodSpec("l2tww", "l2t", tuple(pairs), {**HP, **overrides}), net_shapes(target, sources, input_shape)
    )


def _count(modules) -> int:
    return sum(p.numel() for m in modules for p in m.parameters())


@pytest.mark.parametrize(
    "setting,expected",
    [
        ("r34-r18", (1_396_480, 3_856, 925_440)),
        ("r32-vgg9", (27_440, 575, 165_424)),
    ],
)
def test_all_to_all_parameter_counts_match_the_spec(setting, expected):
    if setting == "r34-r18":
        source = build_model({"name": "resnet_tv", "depth": 34}, 1000, 3)
        target = build_model({"name": "resnet_tv", "depth": 18}, 200, 3)
        pairs, shape = [Pair(0, s, t) for s in range(1, 5) for t in range(1, 5)], (3, 224, 224)
    else:
        source = build_model({"name": "cifar_resnet", "depth": 32}, 200, 3)
        target = build_model({"name": "vgg_bn", "cfg": VGG9}, 100, 3)
        pairs, shape = [Pair(0, s, t) for s in (4, 9, 14) for t in range(5)], (3, 32, 32)
    method = _method(target, [source], pairs, shape)
    assert (_count(method.meta.what), _count(method.meta.where), _count(method.regressors)) == expected


def _tiny(sources=1, seed=0, **overrides):
    torch.manual_seed(seed)
    target = build_model({"name": "vgg_bn", "cfg": [4, "M", 8, "M", 8, "M"]}, 5, 1)
    srcs = [build_model({"name": "cifar_resnet", "depth": 8, "width": 4}, 7, 1).eval() for _ in range(sources)]
    pairs = [Pair(i, s, t) for i in range(sources) for s in (0, 2) for t in (0, 2)]
    method = _method(target, srcs, pairs, (1, 32, 32), **overrides)
    opt = torch.optim.SGD(
        list(target.parameters()) + method.student_parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4
    )
    x, y = torch.randn(6, 1, 32, 32), torch.randint(0, 5, (6,))
    with torch.no_grad():
        outs = [s(x) for s in srcs]
    return target, method, opt, x, y, outs


def test_what_nets_start_uniform_and_where_nets_at_bias_one():
    target, method, _, x, _, outs = _tiny()
    stats = method.observe(target(x), outs)
    channels = [method.shapes.sources[p.source][p.source_layer][0] for p in method.spec.pairs]
    assert torch.allclose(stats["entropy"], torch.tensor([math.log(c) for c in channels]))
    weights, _ = method.meta_outputs(outs)
    assert all(torch.allclose(w, torch.full_like(w, 1.0 / w.shape[1])) for w in weights)
    assert all(float(net.bias.detach()) == 1.0 for net in method.meta.where)
    assert stats["lambda"].shape == stats["entropy"].shape == (len(method.spec.pairs),) and (stats["lambda"] >= 0).all()


@pytest.mark.parametrize("what,where", [(True, False), (False, True), (False, False)])
def test_variants_without_nets_use_uniform_weights_and_lambda_one(what, where):
    target, method, _, x, _, outs = _tiny(what=what, where=where)
    assert (method.meta.what is None) != what and (method.meta.where is None) != where
    stats = method.observe(target(x), outs)
    if not where:
        assert torch.equal(stats["lambda"], torch.ones(len(method.spec.pairs)))
    if not what:
        channels = [method.shapes.sources[p.source][p.source_layer][0] for p in method.spec.pairs]
        assert torch.allclose(stats["entropy"], torch.tensor([math.log(c) for c in channels]))


@pytest.mark.parametrize("mode", ["exact", "fast"])
@pytest.mark.parametrize("sources", [1, 2])
@pytest.mark.parametrize("where", [True, False])
def test_a_meta_step_trains_every_parameter(mode, sources, where):
    """One train_step: every target, regressor and meta parameter gets a finite gradient and moves."""
    target, method, opt, x, y, outs = _tiny(sources=sources, hypergradient=mode, where=where)
    theta = [p.clone() for p in opt.param_groups[0]["params"]]
    phi = [p.clone() for p in method.meta_parameters()]
    terms = method.train_step(target, x, y, outs, opt)
    assert all(torch.isfinite(v) for v in terms.values())
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in opt.param_groups[0]["params"])
    assert all(
        p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0 for p in method.meta_parameters()
    )
    assert all(not torch.equal(a, b) for a, b in zip(theta, opt.param_groups[0]["params"]))
    assert all(not torch.equal(a, b) for a, b in zip(phi, method.meta_parameters()))
    assert len(method.spec.pairs) == 4 * sources == len(method.meta.what)


def test_meta_every_k_meta_steps_on_every_kth_batch_only():
    target, method, opt, x, y, outs = _tiny(meta_every=2)
    moved = []
    for _ in range(4):
        phi = [p.clone() for p in method.meta_parameters()]
        method.train_step(target, x, y, outs, opt)
        moved.append(any(not torch.equal(a, b) for a, b in zip(phi, method.meta_parameters())))
    assert moved == [True, False, True, False]


@pytest.mark.parametrize("mode", ["exact", "fast"])
def test_resume_from_extra_state_is_exact(mode):
    """Two steps straight == one step, save, restore into fresh objects, one more step (bit for bit)."""
    target, method, opt, x, y, outs = _tiny(hypergradient=mode)
    for _ in range(2):
        method.train_step(target, x, y, outs, opt)
    t1, m1, o1, *_ = _tiny(hypergradient=mode)
    m1.train_step(t1, x, y, outs, o1)
    saved = (t1.state_dict(), m1.state_dict(), o1.state_dict(), m1.extra_state())
    t2, m2, o2, *_ = _tiny(seed=1, hypergradient=mode)
    (
        t2.load_state_dict(saved[0]),
        m2.load_state_dict(saved[1]),
        o2.load_state_dict(saved[2]),
        m2.load_extra_state(saved[3]),
    )
    assert m2.steps_done == 1
    m2.train_step(t2, x, y, outs, o2)
    assert all(torch.equal(a, b) for a, b in zip(method.state_dict().values(), m2.state_dict().values()))
    assert all(torch.equal(a, b) for a, b in zip(target.state_dict().values(), t2.state_dict().values()))


@pytest.mark.parametrize("mode", ["exact", "fast"])
def test_runs_under_bf16_autocast_and_channels_last(mode):
    """The trainer wraps train_step in autocast (bf16 on CUDA); here the CPU flavour of the same path."""
    target, method, opt, x, y, outs = _tiny(hypergradient=mode)
    target = target.to(memory_format=torch.channels_last)
    x = x.contiguous(memory_format=torch.channels_last)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        terms = method.train_step(target, x, y, outs, opt)
    assert all(torch.isfinite(v) for v in terms.values())
    assert all(torch.isfinite(p).all() for p in [*target.parameters(), *method.parameters()])


@pytest.mark.parametrize("activation,expected", [("relu6", 6.0), ("relu", 9.0)])
def test_the_where_net_settings_reach_the_meta_nets(activation, expected):
    """params' where_activation and where_bias_init: bias 9 and zero weights give lambda = 6 (ReLU6) or 9 (ReLU)."""
    target, method, _, x, _, outs = _tiny(where_activation=activation, where_bias_init=9.0)
    assert all(net.bias.tolist() == [9.0] for net in method.meta.where)
    with torch.no_grad():
        for net in method.meta.where:
            net.weight.zero_()
    assert method.observe(target(x), outs)["lambda"].tolist() == [expected] * 4


def test_without_meta_nets_l2t_is_feature_matching():
    """what: false, where: false -> w = 1/C, lambda = 1: FM's loss (spec §3 variants); no phi, no Adam, no meta-step."""
    case = build(pairs=PAIRS, bn=True, what=False, where=False)
    method, target, opt = case.method, case.target, case.opt
    assert method.meta_parameters() == [] and method.meta_optimizer is None
    fm = build_method(MethodSpec("fm", "fm", PAIRS, {"beta": HP["beta"]}), method.shapes).to(DT)
    fm.regressors.load_state_dict(method.regressors.state_dict())
    fm_target = copy.deepcopy(target)
    fm_opt = torch.optim.SGD(
        list(fm_target.parameters()) + fm.student_parameters(), lr=0.1, momentum=0.9, weight_decay=1e-2
    )
    for p, q in zip(opt.param_groups[0]["params"], fm_opt.param_groups[0]["params"]):
        fm_opt.state[q]["momentum_buffer"] = opt.state[p]["momentum_buffer"].clone()
    for _ in range(2):
        terms = method.train_step(target, case.x, case.y, case.source_outs, opt)
        fm_terms = fm.train_step(fm_target, case.x, case.y, case.source_outs, fm_opt)
        assert torch.allclose(terms["wfm"], fm_terms["fm"], rtol=1e-12) and torch.allclose(
            terms["loss"], fm_terms["loss"], rtol=1e-12
        )
    for p, q in zip(opt.param_groups[0]["params"], fm_opt.param_groups[0]["params"]):
        assert torch.allclose(p, q, rtol=1e-12, atol=1e-15)
    assert method.extra_state() == {"meta_optimizer": None, "steps_done": 2}
    method.load_extra_state({"meta_optimizer": None, "steps_done": 5})
    assert method.steps_done == 5


def test_a_checkpoint_without_l2t_extra_state_resumes_at_step_0_with_a_fresh_adam():
    """load_extra_state({}) (a checkpoint written before L2T kept extra state): meta_every counts
    from 0, Adam is fresh."""
    _, method, *_ = _tiny(meta_every=2)
    method.load_extra_state({})
    assert method.steps_done == 0 and method.meta_optimizer.state_dict()["state"] == {}


class WithUnusedParameter(TinyTarget):
    """TinyTarget plus a parameter that no loss reaches, though it has a gradient (e.g. from an earlier step)."""

    def __init__(self):
        super().__init__(bn=True)
        self.unused = nn.Parameter(torch.ones(3))


@pytest.mark.parametrize("kind,mode", [("l2t", "exact"), ("l2t", "fast"), ("fm", None)])
def test_a_parameter_no_loss_reaches_still_moves_under_momentum_and_weight_decay(kind, mode):
    """Zero gradients, not None (spec §4): p.grad becomes 0, and SGD still applies v = mu v + wd p, p -= lr v."""
    torch.manual_seed(0)
    target, source = WithUnusedParameter().to(DT), TinySource().to(DT).eval()
    hparams = {**HP, "hypergradient": mode} if kind == "l2t" else {"beta": 0.5}
    method = build_method(MethodSpec(kind, kind, PAIRS, hparams), net_shapes(target, [source], (2, 6, 6))).to(DT)
    opt = torch.optim.SGD(
        list(target.parameters()) + method.student_parameters(), lr=0.1, momentum=0.9, weight_decay=1e-2
    )
    unused = target.unused
    unused.grad = torch.ones_like(unused)
    opt.state[unused]["momentum_buffer"] = torch.full_like(unused, 0.5)
    x = torch.randn(4, 2, 6, 6, dtype=DT)
    with torch.no_grad():
        outs = [source(x)]
    method.train_step(target, x, torch.tensor([0, 1, 2, 3]), outs, opt)
    assert unused.grad is not None and not unused.grad.any()
    assert torch.allclose(unused.detach(), torch.full_like(unused, 1.0 - 0.1 * (0.9 * 0.5 + 1e-2 * 1.0)), rtol=1e-14)


def test_frozen_control_keeps_phi_at_its_init_and_otherwise_steps_as_l2tww():
    """The "does the learning matter" control: same init, same real step and the same BN statistics
    after a meta-step batch as L2T-ww, but phi never moves. A control that skipped the BN replay,
    or a frozen flag that still stepped phi, fails here."""
    learned = _tiny(seed=3)
    frozen = _tiny(seed=3, frozen=True)
    assert frozen[1].meta_optimizer is None
    phi0 = [p.detach().clone() for p in frozen[1].meta_parameters()]
    for target, method, opt, x, y, outs in (learned, frozen):
        for _ in range(2):
            method.train_step(target, x, y, outs, opt)
    assert all(torch.equal(a, b) for a, b in zip(phi0, frozen[1].meta_parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(phi0, learned[1].meta_parameters()))
    # step 1 is identical (phi equal at init); step 2 differs only through phi's meta-step
    first_l, first_f = _tiny(seed=3), _tiny(seed=3, frozen=True)
    for target, method, opt, x, y, outs in (first_l, first_f):
        method.train_step(target, x, y, outs, opt)
    for a, b in zip(first_l[0].state_dict().values(), first_f[0].state_dict().values()):
        assert torch.equal(a, b)  # parameters and BN running statistics (the replay's EMA update included)


@pytest.mark.parametrize("mode", ["exact", "fast"])
def test_epoch_statistics_count_each_meta_step_and_those_pointing_lambda_down(mode, monkeypatch):
    """Issue 29's per-meta-step diagnostic: one direction per meta-step (not per batch), taken from the
    hypergradient that Adam then steps along, counted and reset once per epoch; nothing for L2T-w
    (no where-nets) or the frozen control (no meta-steps)."""
    from l2tww.methods.meta_step_diagnostics import lambda_direction

    target, method, opt, x, y, outs = _tiny(hypergradient=mode, meta_every=2)
    stepped, adam = [], method._adam

    def spy(hyper):
        _, lambdas = method.meta_outputs(outs)
        stepped.append(lambda_direction(lambdas, method.meta_parameters(), hyper))
        adam(hyper)

    monkeypatch.setattr(method, "_adam", spy)
    for _ in range(4):
        method.train_step(target, x, y, outs, opt)
    assert len(stepped) == 2 and [float(d) for d in method.directions] == pytest.approx(stepped, rel=1e-6)
    lowering = sum(d < 0 for d in stepped)
    assert method.epoch_statistics() == {"meta_steps": 2, "meta_steps_lowering_lambda": lowering}
    assert method.epoch_statistics() == {"meta_steps": 0, "meta_steps_lowering_lambda": 0}
    # a flat direction (every lambda clipped by ReLU6) lowers nothing
    method.directions = [torch.tensor(v, dtype=torch.float64) for v in (-0.5, 0.0, 2.0)]
    assert method.epoch_statistics() == {"meta_steps": 3, "meta_steps_lowering_lambda": 1}
    for overrides in ({"where": False}, {"frozen": True}):
        target, other, opt, x, y, outs = _tiny(**overrides)
        other.train_step(target, x, y, outs, opt)
        assert other.epoch_statistics() == {}


@pytest.mark.parametrize("mode", ["exact", "fast"])
def test_noting_the_lambda_direction_changes_no_number_of_the_run(mode, monkeypatch):
    """The diagnostic only reads: with it and without it, theta and phi are bit-identical after three
    meta-steps (a gradient accumulated into phi.grad, or a stateful meta-net pass, would differ)."""
    from l2tww.methods import l2t as l2t_module

    def run():
        target, method, opt, x, y, outs = _tiny(hypergradient=mode)
        for _ in range(3):
            method.train_step(target, x, y, outs, opt)
        return [p.detach().clone() for p in [*opt.param_groups[0]["params"], *method.meta_parameters()]]

    with_it = run()
    monkeypatch.setattr(l2t_module.L2T, "_meta_step", lambda self, source_outs, hyper: self._adam(hyper))
    without = run()
    assert all(torch.equal(a, b) for a, b in zip(with_it, without))
