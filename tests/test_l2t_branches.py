"""L2T's option branches that the oracle tests do not reach (the survivors of the mutation benchmark
over methods/, docs/mutation-testing.md): the held-out objective's value against the float64
oracle, its batch split and its BN replay; which batches make the BN replay forward in the frozen
control and outside meta-steps; a spec written before the issue-29 options; the diagnostics'
refusal of hypergradients that do not match the meta-parameters; observe_summary's default."""

from __future__ import annotations

import copy

import pytest
import torch

from l2tww.config.validation import method_defaults
from l2tww.methods import MethodSpec, build_method
from l2tww.methods.l2t import _rows
from l2tww.methods.meta_step_diagnostics import cosine, lambda_direction
from l2tww.models import NetOutput, net_shapes

from .l2t_oracle import HP, PAIRS, Oracle, TinySource, TinyTarget, build, rel_err


def _halves(case, h):
    return [_rows(o, slice(0, h)) for o in case.source_outs], [_rows(o, slice(h, None)) for o in case.source_outs]


@pytest.mark.parametrize("bn", [False, True])
def test_the_held_out_objective_is_the_oracles_ce_on_the_second_half(bn):
    """The look-ahead's T L_wfm steps and its CE step on the first half (its images, labels, sources and
    λ), J = CE(theta_{T+1}) on the second half's images and labels: the oracle, written apart."""
    case = build(2, 0.9, 1e-2, True, bn=bn, meta_objective="holdout")
    h = case.x.shape[0] // 2
    first, second = _halves(case, h)
    inner = Oracle(case.target, case.method, case.x[:h], case.y[:h], first)
    held = Oracle(case.target, case.method, case.x[h:], case.y[h:], second)
    group = case.opt.param_groups[0]
    args = (inner.theta(), inner.velocity(case.opt), inner.phi(), group["lr"], group["momentum"], group["weight_decay"])
    expected = inner.hypergradient(*args, case.method.lookahead, objective=held)
    got = case.method.holdout_hypergradient(case.target, case.x, case.y, case.source_outs, case.opt)
    assert rel_err(got, expected) <= 1e-10
    # negative control: J on the first half (the same-batch objective of that half) is another number
    assert rel_err(got, inner.hypergradient(*args, case.method.lookahead)) > 1e-3


def test_a_batch_of_two_splits_into_one_image_each_and_a_batch_of_one_is_refused():
    case = build(1, 0.9, 1e-2, True, meta_objective="holdout")
    x, y, outs = case.x[:2], case.y[:2], [_rows(o, slice(0, 2)) for o in case.source_outs]
    got = case.method.holdout_hypergradient(case.target, x, y, outs, case.opt)
    assert all(torch.isfinite(g).all() for g in got) and any(g.abs().sum() > 0 for g in got)
    one = [_rows(o, slice(0, 1)) for o in case.source_outs]
    message = r"^meta_objective holdout: a batch of 1 image\(s\) cannot be split in two$"
    with pytest.raises(ValueError, match=message):
        case.method.holdout_hypergradient(case.target, x[:1], y[:1], one, case.opt)


@pytest.mark.parametrize("replay", [True, False])
def test_the_held_out_look_ahead_makes_the_bn_replay_from_the_first_half(replay):
    """bn_replay_update: the look-ahead's first forward at theta_0, on the first half's images, is one
    EMA update of the live BN statistics (what a train-mode forward of those images does); off, none."""
    case = build(2, 0.9, 1e-2, True, bn=True, meta_objective="holdout", bn_replay_update=replay)
    h = case.x.shape[0] // 2
    twin = copy.deepcopy(case.target)
    with torch.no_grad():
        twin(case.x[:h])  # train mode: one EMA update from the first half at theta_0
    want = twin if replay else copy.deepcopy(case.target)
    case.method.holdout_hypergradient(case.target, case.x, case.y, case.source_outs, case.opt)
    bn, ref = case.target.bn, want.bn
    assert int(bn.num_batches_tracked) == int(ref.num_batches_tracked)
    assert torch.allclose(bn.running_mean, ref.running_mean, rtol=0, atol=1e-14)
    assert torch.allclose(bn.running_var, ref.running_var, rtol=0, atol=1e-14)


def _bn_updates(steps: int, **hp) -> list[int]:
    """BN EMA updates per train_step over `steps` batches."""
    case = build(2, 0.9, 1e-2, True, bn=True, **hp)
    counts = []
    for _ in range(steps):
        before = int(case.target.bn.num_batches_tracked)
        case.method.train_step(case.target, case.x, case.y, case.source_outs, case.opt)
        counts.append(int(case.target.bn.num_batches_tracked) - before)
    return counts


@pytest.mark.parametrize(
    "hp,updates",
    [
        ({"meta_every": 2}, [2, 1, 2]),  # L2T-ww: the replay on meta-step batches only
        ({"frozen": True, "meta_every": 2}, [2, 1, 2]),  # the control: the same batches replay
        ({"frozen": True, "bn_replay_update": False}, [1, 1]),  # no replay asked: none
        ({"frozen": True, "hypergradient": "fast"}, [1, 1]),  # fast's control: fast makes none
        ({"hypergradient": "fast"}, [1, 1]),
        ({"hypergradient": "fast", "fast_bn_replay": True, "meta_every": 2}, [2, 1, 2]),
    ],
)
def test_which_batches_make_the_bn_replay_forward(hp, updates):
    """The real step's forward is one EMA update of BN's statistics; a meta-step batch adds the replay
    at theta_0 (exact's look-ahead, the frozen control standing in for it, fast with fast_bn_replay)."""
    assert _bn_updates(len(updates), **hp) == updates


def test_the_frozen_control_never_builds_the_meta_nets_graph():
    """phi never moves in the control, so its meta-net outputs enter every real step as constants."""
    case = build(2, 0.9, 1e-2, True, frozen=True)
    graphs, original = [], case.method.meta_outputs

    def spy(source_outs):
        weights, lambdas = original(source_outs)
        graphs.append(weights[0].requires_grad or lambdas[0].requires_grad)
        return weights, lambdas

    case.method.meta_outputs = spy
    for _ in range(2):
        case.method.train_step(case.target, case.x, case.y, case.source_outs, case.opt)
    assert graphs == [False, False]


def test_a_spec_written_before_the_issue_29_options_trains_as_their_defaults():
    """hparams without meta_objective and fast_bn_replay (an older spec): the same-batch objective and
    no fast BN replay, bit for bit as the schema's defaults."""
    older = {k: v for k, v in HP.items() if k not in ("meta_objective", "fast_bn_replay")}
    assert set(HP) - set(older) == {"meta_objective", "fast_bn_replay"}
    finals = []
    for hparams in (older, HP):
        torch.manual_seed(0)
        target, sources = TinyTarget(True).double(), [TinySource().double().eval()]
        spec = MethodSpec("l2tww", "l2t", PAIRS, {**hparams, "hypergradient": "fast"})
        method = build_method(spec, net_shapes(target, sources, (2, 6, 6))).double()
        assert (method.meta_objective, method.fast_bn_replay) == ("same_batch", False)
        opt = torch.optim.SGD(list(target.parameters()) + method.student_parameters(), lr=0.1, momentum=0.9)
        x, y = torch.randn(4, 2, 6, 6, dtype=torch.float64), torch.tensor([0, 1, 2, 3])
        with torch.no_grad():
            outs = [s(x) for s in sources]
        method.train_step(target, x, y, outs, opt)
        finals.append([t.clone() for t in [*target.state_dict().values(), *method.meta_parameters()]])
    assert all(torch.equal(a, b) for a, b in zip(*finals, strict=True))


def test_rows_takes_the_images_of_every_part_of_a_network_output():
    out = NetOutput(torch.arange(8.0).view(4, 2), [torch.arange(4.0).view(4, 1, 1, 1)], torch.arange(12.0).view(4, 3))
    part = _rows(out, slice(1, 3))
    assert torch.equal(part.logits, out.logits[1:3]) and torch.equal(part.embedding, out.embedding[1:3])
    assert [f.tolist() for f in part.features] == [[[[[1.0]]], [[[2.0]]]]]


def test_the_diagnostics_refuse_hypergradients_that_do_not_match_the_meta_parameters():
    """One tensor short (a meta-net left out) must fail, not be read as a shorter vector."""
    a = [torch.ones(2), torch.ones(3)]
    with pytest.raises(ValueError, match="zip"):
        cosine(a, a[:1])
    phi = [torch.ones(2, requires_grad=True), torch.ones(3, requires_grad=True)]
    lam = [torch.cat([p * 1.0 for p in phi])]
    with pytest.raises(ValueError, match="zip"):
        lambda_direction(lam, phi, [torch.ones(2)])


def test_observe_summary_of_a_method_without_its_own_is_observe_of_what_it_observes():
    """TransferMethod's default: observe_summary(target_out, observed_sources(outs)) == observe(...)."""
    target, sources = TinyTarget(), [TinySource().eval()]
    x = torch.randn(2, 2, 6, 6)
    spec = MethodSpec("fm", "fm", PAIRS, method_defaults("fm", "single"))
    method = build_method(spec, net_shapes(target, sources, (2, 6, 6)))
    seen = []
    method.observe = lambda target_out, source_outs: seen.append((target_out, source_outs)) or {"x": 1}
    out, outs = target(x), [s(x) for s in sources]
    assert method.observe_summary(out, method.observed_sources(outs)) == {"x": 1}
    assert len(seen) == 1 and seen[0][0] is out and seen[0][1] is outs
