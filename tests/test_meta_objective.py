"""`meta_objective: holdout` (beyond the paper, issue 29): the look-ahead steps on the batch's first
half and is scored on its second half. Checked against the same-batch hypergradient: on a batch made
of one half twice, holding out the copy must give exactly the same-batch hypergradient of that half
(the same images, labels, BN batch statistics and per-image λ); on a real batch it differs."""

import pytest
import torch

from l2tww.models import NetOutput

from .l2t_oracle import build, rel_err


def _twice(out: NetOutput) -> NetOutput:
    return NetOutput(
        torch.cat([out.logits, out.logits]), [torch.cat([f, f]) for f in out.features], torch.cat([out.embedding] * 2)
    )


def _same_batch(case):
    method = case.method
    student = method.student(case.target, case.source_outs)
    weights, lambdas = method.meta_outputs(case.source_outs)
    return method.hypergradient(student, case.x, case.y, case.opt, weights, lambdas)


@pytest.mark.parametrize("bn", [False, True])
def test_holding_out_a_copy_of_the_batch_is_the_same_batch_objective(bn):
    plain = build(2, 0.9, 1e-2, True, bn=bn)
    held = build(2, 0.9, 1e-2, True, bn=bn, meta_objective="holdout")  # the same seed: the same init and batch
    x2, y2 = torch.cat([held.x, held.x]), torch.cat([held.y, held.y])
    got = held.method.holdout_hypergradient(held.target, x2, y2, [_twice(o) for o in held.source_outs], held.opt)
    assert rel_err(got, _same_batch(plain)) <= 1e-10


def test_a_held_out_half_scores_the_look_ahead_on_other_images():
    case = build(2, 0.9, 1e-2, True, meta_objective="holdout")
    holdout = case.method.holdout_hypergradient(case.target, case.x, case.y, case.source_outs, case.opt)
    assert rel_err(holdout, _same_batch(case)) > 1e-3  # a different objective, not a rounding of it


def test_train_step_uses_the_holdout_objective_and_fast_mode_refuses_it():
    case = build(2, 0.9, 1e-2, True, meta_objective="holdout")
    method, got = case.method, []
    original = method.holdout_hypergradient

    def spy(*args):
        got.append(original(*args))
        return got[-1]

    method.holdout_hypergradient = spy
    method.hypergradient = lambda *args: pytest.fail("train_step used the same-batch hypergradient")
    method.train_step(case.target, case.x, case.y, case.source_outs, case.opt)
    assert len(got) == 1  # Adam received exactly the held-out hypergradient
    assert all(torch.equal(p.grad, g) for p, g in zip(method.meta_parameters(), got[0]))
    with pytest.raises(ValueError, match="meta_objective holdout needs hypergradient exact"):
        build(2, 0.9, 1e-2, True, meta_objective="holdout", hypergradient="fast")
