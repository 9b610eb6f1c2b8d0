"""Meta-net diagnostics, and the issue's demand: runs whose meta-nets moved only by noise get no
"supported" anywhere (neither on the diagnostics nor on "learning helps"), while runs whose seeds
share a pair preference are told apart from them.

Noise runs: like the frozen control, but with a random lambda drift per seed and pair, independent
across seeds (what Adam's signal-free steps of ~meta_lr per step would give), a random entropy
deficit, and test accuracies equal to the frozen control's up to seed noise."""

import numpy as np
import pytest

from l2tww.results import claims, diagnostics
from l2tww.results.verdicts import GatePlan, Plan, RowPlan
from l2tww.statistics import permutation

# "learning helps" decided alone (a decision gate of one row), so that a noise run could be supported
PLAN = Plan(gates=(GatePlan("g", "decide", ("learning_helps@n5",)),), rows={"learning_helps@n5": RowPlan(1.5, 1.0)})

PAIRS = 15
L2TWW, FROZEN = ("fashion", "l2tww"), ("fashion", "l2tww_frozen")
ARMS = {"l2tww": L2TWW, "frozen": FROZEN}


def _transfer(rng, drift, preference=None):
    init = rng.uniform(0.8, 1.2, PAIRS)  # the where-nets' random init: lambda ~ ReLU6(1 + small)
    change = rng.normal(0, drift, PAIRS) + (0 if preference is None else preference)
    return {
        "entropy_deficit": list(rng.uniform(0, 0.05, PAIRS) if drift else np.zeros(PAIRS)),
        "lambda_init": list(init),
        "lambda_final": list(init * (1 + change)),
    }


def _records(rng, seeds=10, drift=0.3, preference=None, n=5):
    out = []
    for seed in range(seeds):
        base = 60 + rng.normal(0, 3)  # the seed's subset and init: shared by both arms
        for arm, move in ((L2TWW, drift), (FROZEN, 0.0)):
            out.append(
                {
                    "target": arm[0],
                    "method": arm[1],
                    "n_per_class": n,
                    "seed": seed,
                    "test_acc": base + rng.normal(0, 1),  # equal up to noise
                    "val_acc": 50.0,
                    "transfer": _transfer(rng, move, preference if arm == L2TWW else None),
                }
            )
    return out


def _by_id(rows):
    return {r.id: r for r in rows}


def test_noise_moved_meta_nets_get_no_supported_verdict():
    rng = np.random.default_rng(19)
    records = _records(rng)
    diag = _by_id(diagnostics.diagnostics_table(records, ARMS))
    assert list(diag) == [
        "meta_moved_l2tww@n5",
        "pair_agreement_l2tww@n5",
        "lambda_direction_l2tww@n5",
        "meta_moved_frozen@n5",
        "pair_agreement_frozen@n5",
    ]
    # the noise moved the meta-nets (the old "selective" / "non-uniform" checks would pass) ...
    assert diag["meta_moved_l2tww@n5"].reading.startswith("10/10 runs moved")
    # ... but the seeds do not agree on which pairs gain weight: p well above any small level
    agreement = diag["pair_agreement_l2tww@n5"]
    assert agreement.p > 0.2 and "no agreement beyond chance" in agreement.reading
    assert not any("supported" in f"{r.reading} {r.statistic}" for r in diag.values())
    spec = claims.ClaimsSpec(l2tww=L2TWW, frozen=FROZEN, plan=PLAN)
    (learning,) = claims.claims_table(records, spec)
    assert learning.id == "learning_helps@n5" and learning.gate == "g" and not learning.verdict.startswith("supported")


def test_noise_rarely_passes_the_agreement_test_and_learning_helps():
    """Over 40 noise datasets the agreement test's p <= 0.05 about as often as chance allows (5%), and
    "learning helps" (decided alone here) no more often: 6 of 40 would already be 15%."""
    rng = np.random.default_rng(7)
    small_p, supported = 0, 0
    for _ in range(40):
        records = _records(rng, seeds=5)
        agreement = _by_id(diagnostics.diagnostics_table(records, {"l2tww": L2TWW}))["pair_agreement_l2tww@n5"]
        small_p += agreement.p <= 0.05
        (learning,) = claims.claims_table(records, claims.ClaimsSpec(l2tww=L2TWW, frozen=FROZEN, plan=PLAN))
        supported += learning.verdict.startswith("supported")
    assert small_p <= 5 and supported <= 5


def test_a_shared_pair_preference_is_told_apart_from_noise():
    rng = np.random.default_rng(3)
    preference = np.linspace(-0.5, 0.5, PAIRS)  # every seed up-weights the same pairs
    diag = _by_id(diagnostics.diagnostics_table(_records(rng, preference=preference), ARMS))
    agreement = diag["pair_agreement_l2tww@n5"]
    assert agreement.value > 0.5 and agreement.p == 1 / (1 + permutation.PERMUTATIONS)
    assert "agree on which pairs gain or lose weight beyond independent shuffles" in agreement.reading
    assert "not evidence of learning" in agreement.reading


def test_agreement_is_not_read_as_learning_because_a_signal_free_pattern_agrees_too():
    """Issue 29, item 6: a per-pair drift fixed by the architecture (the same for every seed) with no
    data signal, and test accuracies equal to the frozen control's: the shuffle null still rejects,
    so the reading must not claim learning, and "learning helps" is not supported."""
    rng = np.random.default_rng(5)
    fixed = rng.normal(0, 0.3, PAIRS)  # what the architecture favours, whatever the labels say
    records = _records(rng, preference=fixed)
    agreement = _by_id(diagnostics.diagnostics_table(records, ARMS))["pair_agreement_l2tww@n5"]
    assert agreement.p <= 0.05 and "not evidence of learning" in agreement.reading
    (learning,) = claims.claims_table(records, claims.ClaimsSpec(l2tww=L2TWW, frozen=FROZEN, plan=PLAN))
    assert not learning.verdict.startswith("supported")


def test_the_frozen_control_is_checked_to_stay_still():
    rng = np.random.default_rng(0)
    diag = _by_id(diagnostics.diagnostics_table(_records(rng), ARMS))
    still = diag["meta_moved_frozen@n5"]
    assert still.reading.startswith("check of the control: ok") and still.value == 0.0
    assert diag["pair_agreement_frozen@n5"].value is None  # every pair tied at 0 change: W undefined
    moving = _by_id(diagnostics.diagnostics_table(_records(rng), {"frozen": L2TWW}))  # a "control" that moved
    assert "FAILED, they moved" in moving["meta_moved_frozen@n5"].reading


def test_pairs_with_lambda_0_before_training_are_left_out():
    rng = np.random.default_rng(1)
    records = [r for r in _records(rng, seeds=4) if r["method"] == "l2tww"]
    records[0]["transfer"]["lambda_init"][3] = 0.0
    row = _by_id(diagnostics.diagnostics_table(records, {"l2tww": L2TWW}))["pair_agreement_l2tww@n5"]
    assert "14 pairs ranked" in row.statistic and "1 pair(s) with λ₀ = 0" in row.reading


def test_meta_movement_by_hand():
    # relative changes -0.5, -1.0, +0.2: spread 1.2, largest 1.0; one dead pair
    m = diagnostics.meta_movement(
        {"entropy_deficit": [0.001, 0.004], "lambda_init": [1.0, 0.5, 2.0], "lambda_final": [0.5, 0.0, 2.4]}
    )
    assert m == {
        "max_entropy_deficit": 0.004,
        "lambda_spread": pytest.approx(1.2),
        "max_lambda_change": 1.0,
        "dead_lambda": 1,
    }
    still = {"entropy_deficit": [0.005], "lambda_init": [1.0, 1.0], "lambda_final": [1.1, 1.05]}
    assert not diagnostics.meta_moved(still)
    assert diagnostics.meta_moved({**still, "entropy_deficit": [0.02]})


def test_transfer_at_reads_the_best_epoch_and_lambda_before_training():
    log = {"epochs": [0, 1, 2], "lambda": [[1.0], [1.5], [2.0]], "entropy_deficit": [[0], [0.1], [0.2]]}
    assert diagnostics.transfer_at(log, 1) == {
        "entropy_deficit": [0.1],
        "lambda_final": [1.5],
        "lambda_init": [1.0],
        "lambda_path": [1.0, 1.5, 2.0],
        "meta_steps": 0,  # a log from before the meta-steps were counted
        "meta_steps_lowering": 0,
    }
    log["initial"] = {"lambda": [0.9]}
    assert diagnostics.transfer_at(log, 2)["lambda_init"] == [0.9]


def test_json_rows_are_keyed_by_id():
    rng = np.random.default_rng(2)
    data = diagnostics.to_json(diagnostics.diagnostics_table(_records(rng), ARMS))
    assert set(data) == {
        "meta_moved_l2tww@n5",
        "pair_agreement_l2tww@n5",
        "lambda_direction_l2tww@n5",
        "meta_moved_frozen@n5",
        "pair_agreement_frozen@n5",
    }
    assert "verdict" not in data["pair_agreement_l2tww@n5"] and data["pair_agreement_l2tww@n5"]["role"] == "l2tww"


def _log(initial, per_epoch):
    """A transfer.json with two pairs whose lambdas are `initial` before training and per_epoch[e] after epoch e."""
    return {
        "pairs": ["a", "b"],
        "epochs": list(range(len(per_epoch))),
        "lambda": [[v, v] for v in per_epoch],
        "entropy_deficit": [[0.0, 0.0] for _ in per_epoch],
        "initial": {"lambda": [initial, initial]},
    }


def test_lambda_direction_counts_the_epochs_over_which_mean_lambda_fell():
    # Protects issue 29's N = 5 diagnostic: a meta-objective that lowers lambda at every epoch must read
    # as "fell over every epoch, ended below its start", one that raises it as the opposite; the start
    # is the logged `initial`, not the first epoch (a path read from epoch 0 would miss the first fall).
    falling = diagnostics.transfer_at(_log(1.0, [0.9, 0.8, 0.85]), epoch=1)
    rising = diagnostics.transfer_at(_log(1.0, [1.1, 1.2, 1.3]), epoch=2)
    assert diagnostics.lambda_direction(falling) == (2, 3, pytest.approx(-0.2))
    assert diagnostics.lambda_direction(rising) == (0, 3, pytest.approx(0.3))
    records = [
        {"target": L2TWW[0], "method": L2TWW[1], "n_per_class": 5, "seed": s, "transfer": t}
        for s, t in enumerate([falling, falling, rising])
    ]
    records += [
        {**r, "method": FROZEN[1], "transfer": diagnostics.transfer_at(_log(1.0, [1.0] * 3), 2)} for r in records
    ]
    rows = _by_id(diagnostics.diagnostics_table(records, ARMS))
    row = rows["lambda_direction_l2tww@n5"]
    assert row.reading.startswith("mean λ fell over 4/9 epochs and ended below its start in 2/3 runs")
    assert row.value == pytest.approx((-0.2 - 0.2 + 0.3) / 3)
    assert "lambda_direction_frozen@n5" not in rows  # the control never steps: nothing to read


def test_lambda_direction_adds_every_epochs_meta_steps_that_pointed_lambda_down():
    # Protects the per-meta-step half of issue 29's N = 5 diagnostic: each run's count is the sum over
    # ALL its epochs (not the best-val epoch's alone, not the last), summed over the cell's runs.
    counted = {"meta_steps": [4, 4, 4], "meta_steps_lowering_lambda": [4, 3, 1]}
    logs = [{**_log(1.0, [0.9, 0.8, 0.85]), **counted}, {**_log(1.0, [1.1, 1.2, 1.3]), **counted}]
    transfers = [diagnostics.transfer_at(log, epoch=1) for log in logs]
    assert (transfers[0]["meta_steps"], transfers[0]["meta_steps_lowering"]) == (12, 8)
    records = [
        {"target": L2TWW[0], "method": L2TWW[1], "n_per_class": 5, "seed": s, "transfer": t}
        for s, t in enumerate(transfers)
    ]
    row = _by_id(diagnostics.diagnostics_table(records, ARMS))["lambda_direction_l2tww@n5"]
    assert row.reading.endswith("; its hypergradient pointed λ down at 16/24 meta-steps")


def test_holdout_row_is_holdout_minus_same_batch_paired_by_seed():
    # Protects the sign and the pairing of issue 29's holdout comparison (a swapped A/B would flip it).
    same, holdout = ("fashion", "l2tww"), ("fashion", "l2tww_holdout")
    runs = [
        {"target": t, "method": m, "n_per_class": 5, "seed": s, "test_acc": acc + s, "val_acc": 50.0}
        for s in range(4)
        for (t, m), acc in ((same, 60.0), (holdout, 62.0))
    ]
    rows = {r.id: r for r in claims.claims_table(runs, claims.ClaimsSpec(l2tww=same, holdout=holdout))}
    assert rows["holdout_vs_same_batch@n5"].mean == pytest.approx(2.0)
