"""L2T-ww as a method: meta-net initialisation, the paper's parameter counts, variants, multi-source."""
from __future__ import annotations

import math

import pytest
import torch

from l2tww.methods import MethodSpec, Pair, build_method
from l2tww.models import VGG9, build_model
from l2tww.stages import net_shapes

from .test_hypergradient import HP


def _method(target, sources, pairs, input_shape, **overrides):
    return build_method(MethodSpec("l2tww", "l2t", tuple(pairs), {**HP, **overrides}), net_shapes(target, sources, input_shape))


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


def _tiny(sources=1, **overrides):
    torch.manual_seed(0)
    target = build_model({"name": "vgg_bn", "cfg": [4, "M", 8, "M", 8, "M"]}, 5, 1)
    srcs = [build_model({"name": "cifar_resnet", "depth": 8, "width": 4}, 7, 1).eval() for _ in range(sources)]
    pairs = [Pair(i, s, t) for i in range(sources) for s in (0, 2) for t in (0, 2)]
    return target, srcs, _method(target, srcs, pairs, (1, 32, 32), **overrides)


def test_what_nets_start_uniform_and_where_nets_at_bias_one():
    target, srcs, method = _tiny()
    x = torch.randn(3, 1, 32, 32)
    with torch.no_grad():
        outs = [s(x) for s in srcs]
    stats = method.observe(target(x), outs)
    channels = [method.shapes.sources[p.source][p.source_layer][0] for p in method.spec.pairs]
    assert torch.allclose(stats["entropy"], torch.tensor([math.log(c) for c in channels]))
    assert all(float(net.bias.detach()) == 1.0 for net in method.meta.where)
    assert stats["lambda"].shape == (len(method.spec.pairs),) and (stats["lambda"] >= 0).all()


def test_l2t_w_has_no_where_nets_and_lambda_one():
    target, srcs, method = _tiny(where=False)
    assert method.meta.where is None
    x = torch.randn(3, 1, 32, 32)
    with torch.no_grad():
        stats = method.observe(target(x), [s(x) for s in srcs])
    assert torch.equal(stats["lambda"], torch.ones(len(method.spec.pairs)))


@pytest.mark.parametrize("mode", ["exact", "fast"])
@pytest.mark.parametrize("sources", [1, 2])
def test_a_meta_step_trains_theta_and_phi(mode, sources):
    target, srcs, method = _tiny(sources=sources, hypergradient=mode)
    opt = torch.optim.SGD(list(target.parameters()) + method.student_parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    x, y = torch.randn(6, 1, 32, 32), torch.randint(0, 5, (6,))
    with torch.no_grad():
        outs = [s(x) for s in srcs]
    theta = [p.clone() for p in target.parameters()]
    phi = [p.clone() for p in method.meta_parameters()]
    terms = method.train_step(target, x, y, outs, opt)
    assert all(torch.isfinite(v) for v in terms.values())
    assert all(not torch.equal(a, b) for a, b in zip(theta, target.parameters()))
    assert all(not torch.equal(a, b) for a, b in zip(phi, method.meta_parameters()))
    assert len(method.spec.pairs) == 4 * sources


def test_fast_mode_points_the_same_way_as_the_exact_hypergradient():
    from .test_hypergradient import engine_hypergradient, setup

    target, method, opt, x, y, src = setup(2, 0.9, 1e-2, True)
    exact = torch.cat([g.flatten() for g in engine_hypergradient(target, method, opt, x, y, src)])
    method.fast = True
    fast = torch.cat([g.flatten() for g in engine_hypergradient(target, method, opt, x, y, src)])
    assert float(torch.nn.functional.cosine_similarity(exact, fast, dim=0)) > 0.5


def test_meta_optimizer_state_survives_a_resume():
    target, srcs, method = _tiny()
    opt = torch.optim.SGD(list(target.parameters()) + method.student_parameters(), lr=0.1, momentum=0.9)
    x, y = torch.randn(6, 1, 32, 32), torch.randint(0, 5, (6,))
    with torch.no_grad():
        outs = [s(x) for s in srcs]
    method.train_step(target, x, y, outs, opt)
    _, _, fresh = _tiny()
    fresh.load_state_dict(method.state_dict())
    fresh.load_extra_state(method.extra_state())
    assert fresh.steps_done == 1
    for a, b in zip(fresh.meta_optimizer.state.values(), method.meta_optimizer.state.values()):
        assert torch.equal(a["exp_avg"], b["exp_avg"])
