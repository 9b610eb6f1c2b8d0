"""Baseline losses (spec §7) against hand-computed values on tiny tensors, plus golden values.

Hand-computed: every expected number below is written out from the formula with `math`, not from
the code under test. Golden: fixed seeded inputs and the value the implementation gave when its
hand-computed checks passed, so a refactor that changes a formula fails loudly (torchdistill-style).
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from l2tww.methods import METHODS, MethodSpec, NetShapes, Pair, build_method
from l2tww.methods.at import AttentionTransfer, attention_map
from l2tww.methods.lwf import LwF
from l2tww.models import NetOutput, net_shapes

from .l2t_oracle import HP, PAIRS, TinySource, TinyTarget


def out(features=(), logits=None, embedding=None) -> NetOutput:
    return NetOutput(logits, [torch.as_tensor(f, dtype=torch.float32) for f in features], embedding)


def shapes_of(target_feats, source_feats, embedding=2, source_classes=(2,)) -> NetShapes:
    return NetShapes(
        target=[tuple(f.shape[1:]) for f in target_feats],
        sources=[[tuple(f.shape[1:]) for f in feats] for feats in source_feats],
        target_embedding=embedding,
        source_classes=list(source_classes),
    )


def grid(rows) -> torch.Tensor:
    """A (1, 1, H, W) map from nested lists."""
    return torch.tensor(rows, dtype=torch.float32)[None, None]


# -- LwF ----------------------------------------------------------------------------------------


def lwf_method(weight=1.0, temperature=2.0, source_classes=(2,)) -> LwF:
    spec = MethodSpec("lwf", "lwf", hparams={"temperature": temperature, "weight": weight})
    return LwF(spec, NetShapes([], [[] for _ in source_classes], 2, list(source_classes)))


def set_linear(layer, weight, bias):
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(weight, dtype=torch.float32))
        layer.bias.copy_(torch.tensor(bias, dtype=torch.float32))


def test_lwf_soft_cross_entropy_by_hand():
    # s = [2, 0], tau = 2 -> p = softmax([1, 0]); head h = [0, 2] -> log q = [0, 1] - log(1 + e).
    # H(p, q) = -(p0 (0 - log(1+e)) + p1 (1 - log(1+e))) = log(1 + e) - p1, p1 = 1 / (1 + e).
    method = lwf_method(weight=3.0)
    set_linear(method.heads[0], [[0.0, 0.0], [0.0, 0.0]], [0.0, 2.0])
    terms = method.extra_loss(
        None, out(embedding=torch.tensor([[1.0, -1.0]])), [out(logits=torch.tensor([[2.0, 0.0]]))]
    )
    expected = 3.0 * (math.log(1 + math.e) - 1 / (1 + math.e))  # no tau^2 factor (Li & Hoiem)
    assert set(terms) == {"lwf"}
    assert terms["lwf"].item() == pytest.approx(expected, rel=1e-6)


def test_lwf_at_match_is_source_entropy_with_zero_gradient():
    # h = s: the soft CE equals the entropy of softmax(s / tau) and its gradient vanishes.
    method = lwf_method(temperature=4.0)
    set_linear(method.heads[0], [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0])
    s = torch.tensor([[3.0, -1.0], [0.5, 0.5]])
    loss = method.extra_loss(None, out(embedding=s.clone()), [out(logits=s)])["lwf"]
    p = [[1 / (1 + math.exp(-1.0)), 1 / (1 + math.exp(1.0))], [0.5, 0.5]]  # softmax([3, -1] / 4), uniform
    entropy = sum(-sum(pk * math.log(pk) for pk in row) for row in p) / 2
    assert loss.item() == pytest.approx(entropy, rel=1e-6)
    loss.backward()
    assert method.heads[0].weight.grad.abs().max().item() < 1e-7


def test_lwf_one_head_per_source_summed():
    method = lwf_method(source_classes=(2, 3))
    assert [h.out_features for h in method.heads] == [2, 3]
    emb = torch.randn(4, 2)
    srcs = [out(logits=torch.randn(4, 2)), out(logits=torch.randn(4, 3))]
    total = method.extra_loss(None, out(embedding=emb), srcs)["lwf"]
    singles = []
    for head, src in zip(method.heads, srcs):
        p = torch.softmax(src.logits / 2, 1)
        singles.append(-(p * torch.log_softmax(head(emb) / 2, 1)).sum(1).mean())
    assert total.item() == pytest.approx(sum(singles).item(), rel=1e-6)
    assert len(method.student_parameters()) == 4


# -- AT -----------------------------------------------------------------------------------------


def at_method(target_feats, source_feats, pairs, beta=1000.0) -> AttentionTransfer:
    spec = MethodSpec("at", "at", pairs=tuple(pairs), hparams={"beta": beta})
    return AttentionTransfer(spec, shapes_of(target_feats, [source_feats]))


def at_loss(target_feats, source_feats, pairs, beta=1000.0) -> float:
    method = at_method(target_feats, source_feats, pairs, beta)
    return method.extra_loss(None, out(target_feats), [out(source_feats)])["at"].item()


def test_attention_map_by_hand():
    # mean_c A^2 of two channels [[1,0],[0,0]] and [[1,2],[0,0]] = [[1, 2], [0, 0]] -> /sqrt(5).
    a = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]], [[1.0, 2.0], [0.0, 0.0]]]])
    q = attention_map(a)
    assert q.shape == (1, 4)
    assert q[0].tolist() == pytest.approx([1 / math.sqrt(5), 2 / math.sqrt(5), 0.0, 0.0], rel=1e-6)


def test_at_loss_by_hand_same_size():
    # Q_T = [1,0,0,0], Q_S = [0,1,0,0]: mean_{b,hw} (Q_S - Q_T)^2 = 2/4; (beta/2) * 0.5 = 250.
    t = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]], [[1.0, 0.0], [0.0, 0.0]]]])
    s = grid([[0.0, 1.0], [0.0, 0.0]])
    assert at_loss([t], [s], [Pair(0, 0, 0)]) == pytest.approx(250.0, rel=1e-6)
    # Q_T = [.5,.5,.5,.5], Q_S = [1,0,0,0]: mean of squares = (0.25 + 3 * 0.25) / 4 = 0.25.
    # Two pairs sum; beta = 2 -> (2/2) * (0.25 + 0.25).
    t2, s2 = grid([[3.0, 3.0], [3.0, 3.0]]), grid([[2.0, 0.0], [0.0, 0.0]])
    assert at_loss([t2, t2], [s2], [Pair(0, 0, 0), Pair(0, 0, 1)], beta=2.0) == pytest.approx(0.5, rel=1e-6)


def test_at_loss_resizes_the_source_feature_map_first():
    # Source 4x4 -> target 2x2: bilinear, align_corners=False, halving = 2x2 block means of the
    # *features*: blocks [[2,0],[0,0]] -> 0.5 and all-ones -> 1, so S~ = [[0.5, 1], [0, 0]],
    # mean_c S~^2 = [0.25, 1, 0, 0]. (Squaring before resizing would give [1, 1, 0, 0].)
    s = grid([[2.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    t = grid([[1.0, 2.0], [0.0, 0.0]])  # mean_c T^2 = [1, 4, 0, 0]
    qs = [x / math.sqrt(0.25**2 + 1) for x in (0.25, 1.0, 0.0, 0.0)]
    qt = [x / math.sqrt(17) for x in (1.0, 4.0, 0.0, 0.0)]
    expected = 500.0 * sum((a - b) ** 2 for a, b in zip(qs, qt)) / 4
    assert at_loss([t], [s], [Pair(0, 0, 0)]) == pytest.approx(expected, rel=1e-6)


def test_at_loss_zero_when_attention_matches():
    # Same spatial energy, other channel count and scale: Q is invariant, the loss is 0.
    torch.manual_seed(0)
    t = torch.rand(3, 2, 4, 4)
    s = 5.0 * torch.cat([t, t, t], dim=1)
    assert at_loss([t], [s], [Pair(0, 0, 0)]) == pytest.approx(0.0, abs=1e-9)


# -- LwF + AT -------------------------------------------------------------------------------------


def test_lwf_at_is_the_sum_of_both_terms():
    torch.manual_seed(0)
    t_feats, s_feats = [torch.rand(2, 3, 4, 4)], [torch.rand(2, 5, 8, 8)]
    shapes = shapes_of(t_feats, [s_feats], embedding=6, source_classes=(7,))
    spec = MethodSpec(
        "lwf_at", "lwf_at", pairs=(Pair(0, 0, 0),), hparams={"temperature": 2.0, "weight": 0.7, "beta": 10.0}
    )
    both = build_method(spec, shapes)
    lwf = LwF(MethodSpec("lwf", "lwf", hparams={"temperature": 2.0, "weight": 0.7}), shapes)
    lwf.load_state_dict(both.lwf.state_dict())
    at = AttentionTransfer(MethodSpec("at", "at", pairs=spec.pairs, hparams={"beta": 10.0}), shapes)
    t_out = out(t_feats, embedding=torch.randn(2, 6))
    s_out = out(s_feats, logits=torch.randn(2, 7))
    terms = both.extra_loss(None, t_out, [s_out])
    assert set(terms) == {"lwf", "at"}
    assert terms["lwf"].item() == pytest.approx(lwf.extra_loss(None, t_out, [s_out])["lwf"].item(), rel=1e-6)
    assert terms["at"].item() == pytest.approx(at.extra_loss(None, t_out, [s_out])["at"].item(), rel=1e-6)
    assert [p.shape for p in both.student_parameters()] == [torch.Size([7, 6]), torch.Size([7])]


# -- FM -----------------------------------------------------------------------------------------


def fm_loss(target_feats, source_feats, pairs, regressors, beta=0.5) -> float:
    spec = MethodSpec("fm", "fm", pairs=tuple(pairs), hparams={"beta": beta})
    method = build_method(spec, shapes_of(target_feats, [source_feats]))
    with torch.no_grad():
        for conv, (w, b) in zip(method.regressors, regressors):
            conv.weight.copy_(torch.tensor(w, dtype=torch.float32).view_as(conv.weight))
            conv.bias.copy_(torch.tensor(b, dtype=torch.float32))
    return method.extra_loss(None, out(target_feats), [out(source_feats)])["fm"].item()


def test_fm_loss_by_hand_with_regressor():
    # T: 1 channel [[1,0],[0,0]]; r(T)_c = a_c T + b_c with a = [1, 2], b = [0, 0.5].
    # S channel 0 = T (d = 0); S channel 1 = 0: r = [[2.5, .5], [.5, .5]], d = (6.25 + 3 * .25) / 4 = 1.75.
    # beta * mean_{b,c} d = 0.5 * (0 + 1.75) / 2.
    t = grid([[1.0, 0.0], [0.0, 0.0]])
    s = torch.cat([t, torch.zeros_like(t)], dim=1)
    assert fm_loss([t], [s], [Pair(0, 0, 0)], [([[1.0], [2.0]], [0.0, 0.5])]) == pytest.approx(0.4375, rel=1e-6)


def test_fm_loss_upsamples_the_source_bilinearly():
    # 2x2 -> 4x4, align_corners=False: sample points (j + .5)/2 - .5 = -.25, .25, .75, 1.25, clamped,
    # so per axis weights of the second pixel r = [0, .25, .75, 1]; S = [[0,1],[2,3]] -> S~_ij = 2 r_i + r_j.
    # Identity regressor, T = 0: loss = beta * mean(S~^2).
    r = [0.0, 0.25, 0.75, 1.0]
    expected = 0.5 * sum((2 * ri + rj) ** 2 for ri in r for rj in r) / 16
    t, s = torch.zeros(1, 1, 4, 4), grid([[0.0, 1.0], [2.0, 3.0]])
    assert fm_loss([t], [s], [Pair(0, 0, 0)], [([[1.0]], [0.0])]) == pytest.approx(expected, rel=1e-6)


def test_fm_loss_downsamples_the_source_bilinearly():
    # 4x4 -> 2x2, align_corners=False, no antialias: sample points 0.5 and 2.5 = 2x2 block means.
    s = grid([[1.0, 3.0, 0.0, 0.0], [5.0, 7.0, 0.0, 4.0], [2.0, 2.0, 1.0, 1.0], [2.0, 2.0, 1.0, 1.0]])
    blocks = [4.0, 1.0, 2.0, 1.0]
    expected = 0.5 * sum(b * b for b in blocks) / 4
    assert fm_loss([torch.zeros(1, 1, 2, 2)], [s], [Pair(0, 0, 0)], [([[1.0]], [0.0])]) == pytest.approx(
        expected, rel=1e-6
    )


def test_fm_loss_zero_when_features_match_and_sums_pairs():
    torch.manual_seed(0)
    t = torch.rand(2, 3, 4, 4)
    eye = (torch.eye(3).tolist(), [0.0, 0.0, 0.0])
    assert fm_loss([t], [t.clone()], [Pair(0, 0, 0)], [eye]) == pytest.approx(0.0, abs=1e-12)
    # Two pairs: the second (S = T + 1 everywhere, d = 1) adds beta * 1.
    pairs = [Pair(0, 0, 0), Pair(0, 1, 0)]
    assert fm_loss([t], [t.clone(), t + 1.0], pairs, [eye, eye], beta=2.0) == pytest.approx(2.0, rel=1e-6)


# -- golden values --------------------------------------------------------------------------------

# Cross-checked against an independent float64 re-implementation (F.interpolate + explicit sums).
GOLDEN = {"lwf": 1.6695971, "at": 14.020510, "fm": 0.71475420}


def golden_inputs():
    gen = torch.Generator().manual_seed(1234)
    t_feats = [torch.rand(3, 4, 8, 8, generator=gen), torch.rand(3, 6, 4, 4, generator=gen)]
    s_feats = [torch.rand(3, 5, 16, 16, generator=gen), torch.rand(3, 7, 4, 4, generator=gen)]
    t_out = out(t_feats, embedding=torch.randn(3, 6, generator=gen))
    s_out = out(s_feats, logits=torch.randn(3, 5, generator=gen))
    return t_feats, s_feats, t_out, s_out


@pytest.mark.parametrize("kind", sorted(GOLDEN))
def test_golden_values(kind):
    t_feats, s_feats, t_out, s_out = golden_inputs()
    shapes = shapes_of(t_feats, [s_feats], embedding=6, source_classes=(5,))
    hparams = {"lwf": {"temperature": 2.0, "weight": 1.0}, "at": {"beta": 1000.0}, "fm": {"beta": 0.5}}[kind]
    pairs = () if kind == "lwf" else (Pair(0, 0, 0), Pair(0, 1, 1), Pair(0, 0, 1))
    torch.manual_seed(0)  # head / regressor init
    method = build_method(MethodSpec(kind, kind, pairs=pairs, hparams=hparams), shapes)
    value = method.extra_loss(None, t_out, [s_out])[kind].item()
    assert value == pytest.approx(GOLDEN[kind], rel=1e-5)


# -- the methods' interface -----------------------------------------------------------------------

HPARAMS = {
    "scratch": {},
    "finetune": {},
    "lwf": {"temperature": 2.0, "weight": 1.0},
    "at": {"beta": 1000.0},
    "fm": {"beta": 0.5},
    "lwf_at": {"temperature": 2.0, "weight": 1.0, "beta": 1000.0},
    "l2t": HP,
}


@pytest.mark.parametrize("kind", sorted(METHODS))
def test_every_method_keeps_its_spec_and_shapes(kind):
    """The base class's contract: L2T and saliency maps read method.spec (its pairs) and method.shapes."""
    t_feats, s_feats, _, _ = golden_inputs()
    shapes = shapes_of(
        t_feats, [t_feats if kind == "finetune" else s_feats], embedding=6, source_classes=(5,)
    )  # fine-tuning: the target's own architecture
    spec = MethodSpec(kind, kind, pairs=(Pair(0, 0, 0),), hparams=HPARAMS[kind])
    method = build_method(spec, shapes)
    assert method.spec is spec and method.shapes is shapes


def test_an_unknown_method_kind_names_itself_and_the_choices():
    with pytest.raises(
        ValueError,
        match=r"^methods\.x\.kind: unknown method kind 'fitnets'; expected one of \['at', 'finetune', 'fm', 'l2t', "
        r"'lwf', 'lwf_at', 'scratch'\]$",
    ):
        build_method(MethodSpec("x", "fitnets"), NetShapes([], [], 2, []))


@pytest.mark.parametrize(
    "kind,what", [("fm", "feature matching"), ("at", "attention transfer"), ("lwf_at", "attention transfer")]
)
def test_matching_methods_without_pairs_fail_naming_the_method(kind, what):
    with pytest.raises(ValueError, match=rf"^methods\.mine: {what} needs pairs$"):
        build_method(MethodSpec("mine", kind, hparams=HPARAMS[kind]), NetShapes([], [[]], 2, [2]))


def test_lwf_needs_one_source_output_per_head():
    """Two heads, one source output: an error, not a silently dropped source (zip strict)."""
    method = lwf_method(source_classes=(2, 2))
    with pytest.raises(ValueError):
        method.extra_loss(None, out(embedding=torch.randn(1, 2)), [out(logits=torch.randn(1, 2))])


def test_default_train_step_is_one_sgd_step_on_ce_plus_the_transfer_terms():
    """TransferMethod.train_step (every baseline): theta -= lr (mu v + grad(CE + terms) + wd theta), terms logged."""
    torch.manual_seed(0)
    target, source = TinyTarget().to(torch.float64), TinySource().to(torch.float64).eval()
    method = build_method(MethodSpec("fm", "fm", PAIRS, {"beta": 0.5}), net_shapes(target, [source], (2, 6, 6))).to(
        torch.float64
    )
    params = list(target.parameters()) + method.student_parameters()
    opt = torch.optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=1e-2)
    velocity = [0.5 * torch.randn_like(p) for p in params]
    for p, v in zip(params, velocity):
        opt.state[p]["momentum_buffer"] = v.clone()
    x, y = torch.randn(4, 2, 6, 6, dtype=torch.float64), torch.tensor([0, 1, 2, 3])
    with torch.no_grad():
        outs = [source(x)]
    t_out = target(x)
    ce, fm = F.cross_entropy(t_out.logits, y), method.extra_loss(x, t_out, outs)["fm"]
    grads = torch.autograd.grad(ce + fm, params)
    want = [(p - 0.1 * (0.9 * v + g + 1e-2 * p)).detach() for p, v, g in zip(params, velocity, grads)]
    terms = method.train_step(target, x, y, outs, opt)
    assert all(torch.allclose(p, w, rtol=1e-12, atol=1e-15) for p, w in zip(params, want))
    assert set(terms) == {"loss", "ce", "fm"}
    assert (
        torch.allclose(terms["ce"], ce) and torch.allclose(terms["fm"], fm) and torch.allclose(terms["loss"], ce + fm)
    )
