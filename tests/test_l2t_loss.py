"""The L2T-ww loss (spec §3.4-3.7): L_wfm by hand, a golden value through the meta-nets and regressors,
and the Student's and FM's regressors against one plain conv per pair, in NCHW (the Student groups
the pairs of a tap into one conv) and in NHWC (each pair a matrix product: matching.regress).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from l2tww.methods import MethodSpec, NetShapes, Pair, build_method
from l2tww.methods.matching import nhwc, pair_distances, pooled_source, regress
from l2tww.methods.meta_nets import MetaNets, weighted_matching_loss
from l2tww.models import FeatureNet, NetOutput, net_shapes

from .l2t_oracle import DT, HP, TinySource, TinyTarget
from .test_baselines import golden_inputs, out, shapes_of

# Two pairs, B = 2: d (B, C), w (B, C), lambda (B,), beta = 0.5.
D = [torch.tensor([[1.0, 2.0], [3.0, 4.0]]), torch.tensor([[1.0, 1.0, 1.0], [0.0, 3.0, 0.0]])]
W = [torch.tensor([[0.25, 0.75], [0.5, 0.5]]), torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])]
LAM = [torch.tensor([2.0, 0.0]), torch.tensor([1.0, 1.0])]


@pytest.mark.parametrize(
    "what,where,expected",
    [
        # pair 1: sum_c w d = [1.75, 3.5], x lambda [2, 0] -> mean 1.75; pair 2: [1, 0] -> 0.5. beta (1.75 + 0.5)
        (True, True, 0.5 * (1.75 + 0.5)),
        # w = 1/C: channel means [1.5, 3.5] x [2, 0] -> 1.5; [1, 1] x [1, 1] -> 1
        (False, True, 0.5 * (1.5 + 1.0)),
        # lambda = 1: [1.75, 3.5] -> 2.625; [1, 0] -> 0.5
        (True, False, 0.5 * (2.625 + 0.5)),
        # FM: mean_{b,c} d: 2.5 and 1
        (False, False, 0.5 * (2.5 + 1.0)),
    ],
)
def test_weighted_matching_loss_by_hand(what, where, expected):
    value = weighted_matching_loss(D, W if what else None, LAM if where else None, beta=0.5)
    assert value.item() == pytest.approx(expected, rel=1e-7)


# Cross-checked against an independent float64 re-implementation (explicit softmax, clamp(0, 6),
# F.interpolate and sums; tests/l2t_oracle.py's formulas), as the baselines' golden values are.
GOLDEN = {"l2tww": 1.0225497, "l2t-w": 0.63305975}


@pytest.mark.parametrize("variant", sorted(GOLDEN))
def test_golden_weighted_matching_loss(variant):
    """L_wfm through the meta-nets and regressors on the baselines' fixed inputs (meta-nets perturbed from init)."""
    t_feats, s_feats, _, _ = golden_inputs()
    pairs = (Pair(0, 0, 0), Pair(0, 1, 1), Pair(0, 0, 1))
    torch.manual_seed(0)  # regressor and where-net init
    spec = MethodSpec(variant, "l2t", pairs, {**HP, "where": variant == "l2tww"})
    method = build_method(spec, shapes_of(t_feats, [s_feats]))
    gen = torch.Generator().manual_seed(7)
    with torch.no_grad():  # the what-nets start at zero (uniform w): move them so w matters
        for p in method.meta_parameters():
            p.add_(0.5 * torch.randn(p.shape, generator=gen))
    weights, lambdas = method.meta_outputs([out(s_feats)])
    distances = pair_distances(pairs, method.regressors, t_feats, [s_feats])
    value = weighted_matching_loss(distances, weights, lambdas, method.beta).item()
    assert value == pytest.approx(GOLDEN[variant], rel=1e-5)


class Features(FeatureNet):
    """A target that returns fixed feature maps, to put given tensors through the Student."""

    def __init__(self, feats):
        super().__init__()
        self.feats = feats

    def forward(self, x):
        return NetOutput(x, self.feats, None)


def test_the_student_gives_the_golden_value_too():
    """The meta-step's path (Student distances, meta_outputs, _wfm) equals the function-level one above."""
    t_feats, s_feats, _, _ = golden_inputs()
    pairs = (Pair(0, 0, 0), Pair(0, 1, 1), Pair(0, 0, 1))
    torch.manual_seed(0)
    method = build_method(MethodSpec("l2tww", "l2t", pairs, HP), shapes_of(t_feats, [s_feats]))
    gen = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for p in method.meta_parameters():
            p.add_(0.5 * torch.randn(p.shape, generator=gen))
    logits, distances = method.student(Features(t_feats), [out(s_feats)])(torch.zeros(3, 2))
    assert torch.equal(logits, torch.zeros(3, 2))
    assert method._wfm(*method.meta_outputs([out(s_feats)]))(distances).item() == pytest.approx(
        GOLDEN["l2tww"], rel=1e-5
    )


def one_conv_per_pair(pairs, regressors, target_features, source_features):
    """The spec's d_{b,c} written plainly on NCHW copies: resize, the pair's conv, mean_{h,w} of the square."""
    out = []
    for pair, reg in zip(pairs, regressors):
        t = target_features[pair.target_layer].contiguous()
        s = F.interpolate(
            source_features[pair.source][pair.source_layer].contiguous(), size=t.shape[-2:], mode="bilinear"
        )
        out.append((s - F.conv2d(t, reg.weight.contiguous(), reg.bias)).pow(2).mean(dim=(2, 3)))
    return out


@pytest.mark.parametrize("channels_last", [False, True])
def test_the_students_and_fms_regressors_equal_one_conv_per_pair(channels_last):
    """All-to-all over two sources. NCHW: each target tap's regressors run as one conv; NHWC (with
    runtime.channels_last, and the embedded default's 1-channel nets always): each pair one matrix
    product on the tap's NHWC view.
    Either way d must be the plain conv-per-pair value (a transposed view read as NCHW would not be)."""
    torch.manual_seed(0)
    target, sources = TinyTarget(bn=True).to(DT), [TinySource().to(DT).eval() for _ in range(2)]
    pairs = tuple(Pair(s, m, n) for s in range(2) for m in range(2) for n in range(2))
    method = build_method(MethodSpec("l2tww", "l2t", pairs, HP), net_shapes(target, sources, (2, 6, 6))).to(DT)
    x = torch.randn(4, 2, 6, 6, dtype=DT)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
        target = target.to(memory_format=torch.channels_last)
        sources = [s.to(memory_format=torch.channels_last) for s in sources]
    with torch.no_grad():
        outs = [s(x) for s in sources]
        source_features = [o.features for o in outs]
        student = method.student(target, outs)
        assert sorted(student.groups) == [0, 1] and all(len(idx) == 4 for idx in student.groups.values())
        assert all(student.per_pair.values()) == channels_last and bool(student.sources) != channels_last
        logits, grouped = student(x)
        reference = target(x)
        assert nhwc(reference.features[0]) == channels_last
        fm = pair_distances(pairs, method.regressors, reference.features, source_features)
        plain = one_conv_per_pair(pairs, method.regressors, reference.features, source_features)
    assert torch.equal(logits, reference.logits)
    assert [d.shape for d in grouped] == [d.shape for d in plain] == [(4, o.shape[1]) for o in plain]
    for pair, got, fm_d, want in zip(pairs, grouped, fm, plain):
        assert torch.allclose(got, want, rtol=1e-12, atol=0), pair
        assert torch.allclose(fm_d, want, rtol=1e-12, atol=0), pair
    # Pooled meta-net input: the un-resized source tap, one per pair.
    assert all(
        torch.equal(p, outs[q.source].features[q.source_layer].mean(dim=(2, 3)))
        for p, q in zip(pooled_source(pairs, [o.features for o in outs]), pairs)
    )


def test_an_nchw_tap_keeps_the_regressors_own_convolution_bit_for_bit():
    """NCHW taps (the paper presets' RGB nets without channels_last) keep the kernels their results
    were computed with: `regress` is the module's call there, not the matrix product."""
    calls = []

    class Recorded(torch.nn.Conv2d):
        def forward(self, x):
            calls.append(x.is_contiguous())
            return super().forward(x)

    torch.manual_seed(0)
    conv, t = Recorded(8, 16, 1), torch.randn(5, 8, 12, 12)
    assert torch.equal(regress(conv, t), conv(t)) and calls == [True, True]  # the module ran, on NCHW
    t_cl = t.contiguous(memory_format=torch.channels_last)
    assert nhwc(t_cl) and not nhwc(t) and not nhwc(t[:, :1].contiguous(memory_format=torch.channels_last))
    assert torch.allclose(regress(conv, t_cl), conv(t), rtol=1e-5, atol=1e-6) and len(calls) == 3  # not on NHWC


def _meta_nets(**kwargs) -> MetaNets:
    shapes = NetShapes(target=[(3, 4, 4)], sources=[[(2, 4, 4)]], target_embedding=3, source_classes=[5])
    return MetaNets((Pair(0, 0, 0),), shapes, True, True, **kwargs)


def test_meta_net_defaults_are_the_official_ones():
    """MetaNets' defaults (spec §3.5): where-net bias 1.0 and ReLU6, so lambda saturates at 6."""
    nets = _meta_nets()
    assert nets.where[0].bias.tolist() == [1.0]
    with torch.no_grad():
        nets.where[0].weight.fill_(1.0)
        _, lambdas = nets([torch.tensor([[0.5, 0.5], [4.0, 4.0], [-3.0, -3.0]])])  # 1 + sum p = 2, 9, -5
    assert lambdas[0].tolist() == [2.0, 6.0, 0.0]


@pytest.mark.parametrize("activation,expected", [("relu6", [6.0, 0.0]), ("relu", [9.0, 0.0])])
def test_where_activation_relu6_or_relu(activation, expected):
    nets = _meta_nets(where_activation=activation, where_bias_init=9.0)
    assert nets.where[0].bias.tolist() == [9.0]
    with torch.no_grad():
        nets.where[0].weight.zero_()
        high = nets([torch.zeros(1, 2)])[1][0]
        nets.where[0].bias.copy_(torch.tensor([-1.0]))
        low = nets([torch.zeros(1, 2)])[1][0]
    assert [float(high), float(low)] == expected
