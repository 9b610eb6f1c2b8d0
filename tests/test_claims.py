"""The claims table from fixture records: each claim's pairing, the Holm family, the verdict branches,
the seed-count rule in the reasons, TOST for fast = exact, and the JSON.

Fixture, paired differences A − B per seed (one-sided p of the paired t-test from scipy's t.sf, the
t statistic by hand):
- transfers_at_all@n5   finetune − scratch: +10 on every seed: zero variance, p = 0
- l2tww_vs_scratch@n5   3,4,3,4,3.5: mean 3.5, s 0.5, t = 15.65, p = 4.865e-5
- l2tww_vs_scratch@n25  10 seeds 2,-1,1,3,-.5,1.5,.5,2.5,-1,1.5: mean 0.95, s 1.423, t = 2.111, p = 0.03198
- learning_helps@n5     l2tww − frozen 1.5,-.5,1,0,.5: mean 0.5, s 0.7906, t = 1.414, p = 0.1151
- learned_what@n5       l2tw_one_to_one − fm_one_to_one 2,1,1,3,2.5: t = 4.75, p = 0.004485
- learned_where@n5      l2tww − fm_all_to_all 4,2,3,6,5: t = 5.657, p = 0.002406
- l2tww_vs_best_baseline@n5  l2tww − lwf (best on val; fm_one_to_one is better on test) -2,-3,-1,-2,-2:
                        p = 0.9984, the opposite test's p = 0.001599
- gain_grows            (3,4,3,4,3.5) − (2,-1,1,3,-.5) = 1,5,2,1,4: t = 3.07, p = 0.01644
- multi_source@n5       4,-4,2,-2,0: mean 0, p = 0.5
- fast_equals_exact@n5  .5,-.5,.3,-.3,0: TOST within ±1.5 (test_stats has its numbers)
Holm over the m = 9 accuracy rows, raw p sorted with their multipliers: 0 x9 = 0, 4.865e-5 x8 = 3.89e-4,
0.002406 x7 = 0.01684, 0.004485 x6 = 0.02691, 0.01644 x5 = 0.08222, 0.03198 x4 = 0.1279,
0.1151 x3 = 0.3453, 0.5 x2 = 1, 0.9984 x1 -> 1 (running max). The opposite tests: lwf's 0.001599 is the
smallest, x9 = 0.01439 <= 0.05: contradicted.
"""

import itertools
import json

import numpy as np
import pytest

from l2tww.results import claims, power, stats
from l2tww.results.verdicts import NOT_RUN, Plan, to_json

SCRATCH5 = [40, 42, 38, 41, 39]
SCRATCH25 = [70, 71, 69, 72, 70, 71, 69, 70, 72, 71]
D_L2T5 = [3, 4, 3, 4, 3.5]
D_L2T25 = [2, -1, 1, 3, -0.5, 1.5, 0.5, 2.5, -1, 1.5]
L2T5 = [s + d for s, d in zip(SCRATCH5, D_L2T5)]
L2T25 = [s + d for s, d in zip(SCRATCH25, D_L2T25)]
LWF5 = [a + d for a, d in zip(L2T5, [2, 3, 1, 2, 2])]
FM5 = [a + 1 for a in LWF5]  # better than lwf on test, worse on val


def _runs(target, method, n, accs, val=50.0):
    return [
        {"target": target, "method": method, "n_per_class": n, "seed": s, "test_acc": a, "val_acc": val}
        for s, a in enumerate(accs)
    ]


def records():
    return [
        *_runs("animal", "scratch", 5, SCRATCH5),
        {"target": "animal", "method": "scratch", "n_per_class": 5, "seed": 5, "test_acc": 45.0, "val_acc": 50.0},
        *_runs("animal", "scratch", 25, SCRATCH25),
        *_runs("animal", "l2tww", 5, L2T5),
        *_runs("animal", "l2tww", 25, L2T25),
        *_runs("animal", "l2tww_frozen", 5, [a - d for a, d in zip(L2T5, [1.5, -0.5, 1, 0, 0.5])]),
        *_runs("animal", "fm_all_to_all", 5, [a - d for a, d in zip(L2T5, [4, 2, 3, 6, 5])]),
        *_runs("animal", "lwf", 5, LWF5, val=60.0),
        *_runs("animal", "fm_one_to_one", 5, FM5, val=55.0),
        *_runs("animal", "l2tw_one_to_one", 5, [a + d for a, d in zip(FM5, [2, 1, 1, 3, 2.5])]),
        *_runs("animal_multi", "l2tww", 5, [a + d for a, d in zip(L2T5, [4, -4, 2, -2, 0])]),
        *_runs("animal", "l2tww_fast", 5, [a + d for a, d in zip(L2T5, [0.5, -0.5, 0.3, -0.3, 0])]),
        *_runs("animal_ft", "finetune", 5, [s + 10 for s in SCRATCH5]),
    ]


SPEC = claims.ClaimsSpec(
    l2tww=("animal", "l2tww"),
    scratch=("animal", "scratch"),
    frozen=("animal", "l2tww_frozen"),
    fm_all_to_all=("animal", "fm_all_to_all"),
    what=("animal", "l2tw_one_to_one"),
    what_control=("animal", "fm_one_to_one"),
    baselines=(("animal", "lwf"), ("animal", "fm_one_to_one")),
    multi_source=("animal_multi", "l2tww"),
    single_sources=(("animal", "l2tww"), ("animal_mnist", "l2tww")),
    fast=("animal", "l2tww_fast"),
    exact=("animal", "l2tww"),
    reference=("animal_ft", "finetune"),
)
IDS = [
    "transfers_at_all@n5",
    "l2tww_vs_scratch@n5",
    "l2tww_vs_scratch@n25",
    "learning_helps@n5",
    "learned_what@n5",
    "learned_where@n5",
    "l2tww_vs_best_baseline@n5",
    "gain_grows",
    "multi_source@n5",
    "fast_equals_exact@n5",
]


def _table(spec=SPEC, recs=None):
    return {r.id: r for r in claims.claims_table(records() if recs is None else recs, spec)}


def test_rows_come_in_the_claims_order_with_ids_by_n():
    assert [r.id for r in claims.claims_table(records(), SPEC)] == IDS


def test_every_claim_gets_its_hand_computed_holm_verdict():
    rows = _table()
    raw = {
        "transfers_at_all@n5": 0.0,
        "l2tww_vs_scratch@n5": 4.865e-5,
        "l2tww_vs_scratch@n25": 0.03198,
        "learning_helps@n5": 0.1151,
        "learned_what@n5": 0.004485,
        "learned_where@n5": 0.002406,
        "l2tww_vs_best_baseline@n5": 0.9984,
        "gain_grows": 0.01644,
        "multi_source@n5": 0.5,
    }
    holm = {
        "transfers_at_all@n5": 0.0,
        "l2tww_vs_scratch@n5": 3.892e-4,
        "learned_where@n5": 0.01684,
        "learned_what@n5": 0.02691,
        "gain_grows": 0.08222,
        "l2tww_vs_scratch@n25": 0.1279,
        "learning_helps@n5": 0.3453,
        "multi_source@n5": 1.0,
        "l2tww_vs_best_baseline@n5": 1.0,
    }
    for cid, p in raw.items():
        assert rows[cid].p == pytest.approx(p, rel=1e-3, abs=1e-12), cid
        assert rows[cid].p_holm == pytest.approx(holm[cid], rel=1e-3, abs=1e-12), cid
        assert (rows[cid].m, rows[cid].kind) == (9, "accuracy")
    supported = {"transfers_at_all@n5", "l2tww_vs_scratch@n5", "learned_where@n5", "learned_what@n5"}
    for cid in raw:
        expected = (
            stats.SUPPORTED
            if cid in supported
            else stats.CONTRADICTED
            if cid == "l2tww_vs_best_baseline@n5"
            else stats.INCONCLUSIVE
        )
        assert rows[cid].verdict == expected, cid
    assert rows["l2tww_vs_best_baseline@n5"].p_against_holm == pytest.approx(9 * 0.0015991, rel=1e-3)
    assert "unpaired seeds ignored: 0 + 1" in rows["l2tww_vs_scratch@n5"].reason  # scratch's seed 5
    ref = rows["transfers_at_all@n5"]
    assert (ref.comparison, ref.mean, ref.low, ref.high) == (
        "finetune on animal_ft − scratch on animal, N=5",
        10,
        10,
        10,
    )


def test_a_claim_supported_alone_is_not_supported_in_the_family():
    """Holm: gain_grows and L2T-ww − scratch at N = 25 pass in a family of 3 and fail in the family of 9."""
    alone = _table(claims.ClaimsSpec(l2tww=("animal", "l2tww"), scratch=("animal", "scratch")))
    assert list(alone) == ["l2tww_vs_scratch@n5", "l2tww_vs_scratch@n25", "gain_grows"]
    # 4.865e-5 x3, 0.01644 x2 = 0.03289, 0.03198 x1 -> max 0.03289
    assert alone["gain_grows"].p_holm == alone["l2tww_vs_scratch@n25"].p_holm == pytest.approx(0.03289, rel=1e-3)
    assert {r.verdict for r in alone.values()} == {stats.SUPPORTED} and alone["gain_grows"].m == 3
    family = _table()
    assert family["gain_grows"].verdict == family["l2tww_vs_scratch@n25"].verdict == stats.INCONCLUSIVE


def test_best_baseline_is_chosen_on_validation():
    best = _table()["l2tww_vs_best_baseline@n5"]
    assert best.comparison == "l2tww − lwf on animal, N=5"  # fm_one_to_one wins on test, lwf on val
    assert "lwf on animal is the best baseline on val (60.00)" in best.reason
    assert (best.mean, best.reason.split(";")[0]) == (
        pytest.approx(-2.0),
        "the opposite test (A − B < 0): Holm-adjusted p 0.014 ≤ 0.05",
    )


def test_the_sign_flip_p_is_exact_and_only_from_10_seeds():
    rows = _table()
    d = np.array(D_L2T25, dtype=float)
    brute = np.mean([np.dot(s, np.abs(d)) >= d.sum() - 1e-9 for s in itertools.product([1, -1], repeat=10)])
    assert rows["l2tww_vs_scratch@n25"].p_perm == pytest.approx(brute) == pytest.approx(43 / 1024)
    assert all(r.p_perm is None for r in rows.values() if r.n < 10)


def test_the_seed_rule_plans_each_claim_at_holms_first_step():
    plan = Plan(design_sd={"learning_helps@n5": 2.0, "l2tww_vs_scratch@n5": 1.0})
    rows = _table(claims.ClaimsSpec(**{**SPEC.__dict__, "plan": plan}))
    learn = rows["learning_helps@n5"]
    # d = 1.5 / 2 at alpha 0.05 / 9: 24 seeds (power.py's brute-force test checks the same search)
    assert learn.planned_n == power.planned_n(1.5, 2.0, 0.05 / 9, 0.8) == 24
    assert learn.power == pytest.approx(power.power_one_sided(5, 1.5, 2.0, 0.05 / 9))
    assert "the rule asked for 24 seeds" in learn.reason and "this run has 5" in learn.reason
    scratch = rows["l2tww_vs_scratch@n5"]  # supported rows keep their planned n but need no excuse
    assert scratch.planned_n == 9 and "asked" not in scratch.reason
    assert "no design SD: no planned n" in rows["multi_source@n5"].reason
    assert "no design SD: no planned n" in rows["learned_where@n5"].reason  # supported, and unplanned
    assert rows["multi_source@n5"].planned_n is None and rows["multi_source@n5"].power is None


def test_fast_equals_exact_is_a_tost_outside_the_family():
    fast = _table()["fast_equals_exact@n5"]
    assert (fast.kind, fast.verdict, fast.m, fast.p_holm) == ("equivalence", stats.SUPPORTED, None, None)
    assert fast.claim == "fast mode ≈ exact mode (±1.5 pt)" and 0.0005 < fast.p < 0.001
    assert (fast.low, fast.high) == (pytest.approx(-0.3931, abs=1e-4), pytest.approx(0.3931, abs=1e-4))  # 90%
    wide = _table(claims.ClaimsSpec(**{**SPEC.__dict__, "plan": Plan(equivalence_margin=0.3)}))["fast_equals_exact@n5"]
    assert wide.verdict == stats.INCONCLUSIVE and "90% CI reaches outside ±0.3" in wide.reason


def test_absent_arms_give_not_run_rows_outside_the_family_and_unnamed_roles_give_none():
    spec = claims.ClaimsSpec(
        l2tww=("animal", "l2tww"),
        scratch=("animal", "scratch"),
        frozen=("animal", "l2tww_frozen_typo"),
        fast=("animal", "l2tww_fast"),
        exact=("animal", "l2tww_exact"),
    )
    rows = _table(spec)
    assert rows["learning_helps"].verdict == NOT_RUN and "l2tww_frozen_typo on animal" in rows["learning_helps"].reason
    assert rows["fast_equals_exact"].verdict == NOT_RUN and rows["fast_equals_exact"].kind == "equivalence"
    assert rows["l2tww_vs_scratch@n5"].m == 3  # n5, n25, gain_grows: the not-run rows are not in the family
    assert not {"l2tww_vs_best_baseline@n5", "learned_what@n5", "multi_source@n5"} & set(rows)


def test_one_seed_is_no_test():
    recs = [r for r in records() if r["seed"] == 0]
    row = _table(claims.ClaimsSpec(l2tww=("animal", "l2tww"), scratch=("animal", "scratch")), recs)[
        "l2tww_vs_scratch@n5"
    ]
    assert (row.verdict, row.p, row.n, row.low) == (stats.INCONCLUSIVE, 1.0, 1, None)
    assert row.reason.startswith("1 seed: no test (p = 1)")


def test_bad_records_fail_with_one_line_naming_the_cell():
    dup = records() + [records()[0]]
    with pytest.raises(ValueError, match="two records for animal/scratch/n5 seed 0"):
        claims.claims_table(dup, SPEC)
    no_val = [{**r, "val_acc": None} if r["method"] == "lwf" else r for r in records()]
    with pytest.raises(ValueError, match="method=lwf n_per_class=5: val_acc missing"):
        claims.claims_table(no_val, SPEC)


def test_json_is_keyed_by_claim_id_with_rounded_numbers():
    data = to_json(claims.claims_table(records(), SPEC))
    assert list(data) == IDS and json.loads(json.dumps(data)) == data
    row = data["l2tww_vs_scratch@n5"]
    assert {k: row[k] for k in ("n", "mean", "low", "high", "p", "p_holm", "m", "verdict")} == {
        "n": 5,
        "mean": 3.5,
        "low": 2.8792,
        "high": 4.1208,
        "p": 4.865e-05,  # 4 significant digits: a small p stays visible
        "p_holm": 0.0003892,
        "m": 9,
        "verdict": "supported",
    }
    assert row["comparison"] == "l2tww − scratch on animal, N=5" and "id" not in row
