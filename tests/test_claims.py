"""The claims table from fixture records: each claim's pairing, the plan's gates (gatekeeper, then
the decision gate), descriptive rows outside them, the seed-count rule in the reasons, and the JSON.

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
- fast_vs_exact@n5      .5,-.5,.3,-.3,0: mean 0, s 0.4123
The plan of PLAN: gate 1 (gatekeeper, Holm over 2): transfers_at_all@n5 (p 0 <= 0.025) and
l2tww_vs_scratch@n5 (4.865e-5 <= 0.05): both supported, the gate passes 0.05 on. Gate 2 (decide,
Bonferroni over 4: 0.0125 each, direction at 0.00625 per side): learned_where@n5 0.002406 -> supported;
l2tww_vs_best_baseline@n5 opposite p 0.001599 -> contradicted; learning_helps@n5 0.1151 -> inconclusive;
fast_vs_exact@n5: TOST at 0.0125 within ±1 (t = 1 / (0.4123 / sqrt 5) = 5.42, p = 0.0028) ->
equivalent. Every other row is descriptive.
"""

import itertools
import json

import numpy as np
import pytest

from l2tww.results import claims
from l2tww.results.verdicts import DESCRIPTIVE, NOT_REACHED, NOT_RUN, GatePlan, Plan, RowPlan, to_json
from l2tww.statistics import decide, power

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
    plan=Plan(
        gates=(
            GatePlan("transfers", "gatekeeper", ("transfers_at_all@n5", "l2tww_vs_scratch@n5")),
            GatePlan(
                "attribution",
                "decide",
                ("learning_helps@n5", "learned_where@n5", "l2tww_vs_best_baseline@n5", "fast_vs_exact@n5"),
            ),
        ),
        rows={
            r: RowPlan(1.5, 1.0)
            for r in (
                "transfers_at_all@n5",
                "l2tww_vs_scratch@n5",
                "learning_helps@n5",
                "learned_where@n5",
                "l2tww_vs_best_baseline@n5",
                "fast_vs_exact@n5",
            )
        },
    ),
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
    "fast_vs_exact@n5",
]


def _table(spec=SPEC, recs=None):
    return {r.id: r for r in claims.claims_table(records() if recs is None else recs, spec)}


def test_rows_come_in_the_claims_order_with_ids_by_n():
    assert [r.id for r in claims.claims_table(records(), SPEC)] == IDS


def test_every_claim_gets_its_hand_computed_p_and_its_gated_verdict():
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
    for cid, p in raw.items():
        assert rows[cid].p == pytest.approx(p, rel=1e-3, abs=1e-12), cid
    verdicts = {cid: r.verdict for cid, r in rows.items()}
    assert verdicts == {
        "transfers_at_all@n5": decide.SUPPORTED,
        "l2tww_vs_scratch@n5": decide.SUPPORTED,
        "l2tww_vs_scratch@n25": DESCRIPTIVE,
        "learning_helps@n5": decide.INCONCLUSIVE,
        "learned_what@n5": DESCRIPTIVE,
        "learned_where@n5": decide.SUPPORTED,
        "l2tww_vs_best_baseline@n5": decide.CONTRADICTED,
        "gain_grows": DESCRIPTIVE,
        "multi_source@n5": DESCRIPTIVE,
        "fast_vs_exact@n5": decide.EQUIVALENT,
    }
    assert rows["learned_where@n5"].level == pytest.approx(0.05 / 4) and rows["learned_where@n5"].gate == "attribution"
    assert rows["l2tww_vs_best_baseline@n5"].p_less == pytest.approx(0.0015991, rel=1e-3)
    assert rows["fast_vs_exact@n5"].p_tost == pytest.approx(0.0028, rel=0.05)
    assert sorted(rows[r].level for r in ("transfers_at_all@n5", "l2tww_vs_scratch@n5")) == [0.025, 0.05]
    assert "unpaired seeds ignored: 0 + 1" in rows["l2tww_vs_scratch@n5"].reason  # scratch's seed 5
    assert rows["gain_grows"].reason.startswith("outside the plan's gates: no decision")
    ref = rows["transfers_at_all@n5"]
    assert (ref.comparison, ref.mean, ref.low, ref.high) == (
        "finetune on animal_ft − scratch on animal, N=5",
        10,
        10,
        10,
    )


def test_a_gate_that_does_not_pass_leaves_the_next_not_reached():
    plan = Plan(
        gates=(
            GatePlan("first", "gatekeeper", ("learning_helps@n5",)),  # p 0.1151: not supported
            GatePlan("then", "decide", ("learned_where@n5",)),
        ),
        rows={"learning_helps@n5": RowPlan(1.5, 1.0), "learned_where@n5": RowPlan(1.5, 1.0)},
    )
    rows = _table(claims.ClaimsSpec(**{**SPEC.__dict__, "plan": plan}))
    assert rows["learning_helps@n5"].verdict == decide.INCONCLUSIVE
    where = rows["learned_where@n5"]
    assert (where.verdict, where.level) == (NOT_REACHED, 0.0) and "gate then not reached" in where.reason
    assert where.mean == pytest.approx(4.0)  # the numbers are still shown


def test_best_baseline_is_chosen_on_validation():
    best = _table()["l2tww_vs_best_baseline@n5"]
    assert best.comparison == "l2tww − lwf on animal, N=5"  # fm_one_to_one wins on test, lwf on val
    assert "lwf on animal is the best baseline on val (60.00)" in best.reason
    assert best.mean == pytest.approx(-2.0) and best.reason.startswith("98.75% CI [")
    assert "below 0" in best.reason


def test_the_sign_flip_p_is_exact_and_shown_from_6_seeds():
    rows = _table()
    d = np.array(D_L2T25, dtype=float)
    brute = np.mean([np.dot(s, np.abs(d)) >= d.sum() - 1e-9 for s in itertools.product([1, -1], repeat=10)])
    assert rows["l2tww_vs_scratch@n25"].p_perm == pytest.approx(brute) == pytest.approx(43 / 1024)
    assert all(r.p_perm is None for r in rows.values() if r.n < 6)


def test_the_seed_rule_plans_decision_rows_from_the_sds_upper_bound():
    plan = Plan(**{**SPEC.plan.__dict__, "design_sd": {"learning_helps@n5": 2.0, "l2tww_vs_scratch@n5": 1.0}})
    rows = _table(claims.ClaimsSpec(**{**SPEC.__dict__, "plan": plan}))
    learn = rows["learning_helps@n5"]
    upper = power.sd_upper(2.0, 10)
    assert learn.planned_n == power.planned_n_decide(1.5, 1.0, upper, 0.05 / 4, 0.8)
    assert (learn.power, learn.power_equivalent) == pytest.approx(power.power_decide(5, 1.5, 1.0, upper, 0.05 / 4))
    assert f"the rule asked for {learn.planned_n} seeds" in learn.reason and "this run has 5" in learn.reason
    scratch = rows["l2tww_vs_scratch@n5"]  # a supported gatekeeper keeps its planned n, needs no excuse
    assert scratch.planned_n == power.planned_n(1.5, power.sd_upper(1.0, 10), 0.05, 0.8)
    assert "asked" not in scratch.reason
    assert "no design SD: no planned n" in rows["learned_where@n5"].reason  # supported, and unplanned
    assert rows["learned_where@n5"].planned_n is None and rows["learned_where@n5"].power is None


def test_absent_arms_give_not_run_rows_and_unnamed_roles_give_none():
    spec = claims.ClaimsSpec(
        l2tww=("animal", "l2tww"),
        scratch=("animal", "scratch"),
        frozen=("animal", "l2tww_frozen_typo"),
        fast=("animal", "l2tww_fast"),
        exact=("animal", "l2tww_exact"),
    )
    rows = _table(spec)
    assert rows["learning_helps"].verdict == NOT_RUN and "l2tww_frozen_typo on animal" in rows["learning_helps"].reason
    assert rows["fast_vs_exact"].verdict == NOT_RUN
    assert not {"l2tww_vs_best_baseline@n5", "learned_what@n5", "multi_source@n5"} & set(rows)


def test_one_seed_is_no_test():
    recs = [r for r in records() if r["seed"] == 0]
    row = _table(claims.ClaimsSpec(l2tww=("animal", "l2tww"), scratch=("animal", "scratch")), recs)[
        "l2tww_vs_scratch@n5"
    ]
    assert (row.verdict, row.p, row.n, row.low) == (DESCRIPTIVE, 1.0, 1, None)
    assert "1 seed: no interval" in row.reason


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
    assert {k: row[k] for k in ("n", "mean", "low", "high", "p", "level", "gate", "verdict")} == {
        "n": 5,
        "mean": 3.5,
        "low": 2.8792,
        "high": 4.1208,
        "p": 4.865e-05,  # 4 significant digits: a small p stays visible
        "level": 0.05,
        "gate": "transfers",
        "verdict": "supported",
    }
    assert row["comparison"] == "l2tww − scratch on animal, N=5" and "id" not in row


def test_a_rows_own_design_n_sets_its_sd_bound():
    # Protects the power rule for rows whose design SD came from more seeds than the plan's default
    # (issue 29's design: 20 seeds for the primary arms, 10 for the others): the bound must use the
    # row's own df, else the rule over-asks (or, the other way round, under-asks).
    plan = Plan(
        **{
            **SPEC.plan.__dict__,
            "design_sd": {"learning_helps@n5": 2.0},
            "rows": {**SPEC.plan.rows, "learning_helps@n5": RowPlan(1.5, 1.0, design_n=20)},
        }
    )
    learn = _table(claims.ClaimsSpec(**{**SPEC.__dict__, "plan": plan}))["learning_helps@n5"]
    assert learn.planned_n == power.planned_n_decide(1.5, 1.0, power.sd_upper(2.0, 20), 0.05 / 4, 0.8)
    assert learn.planned_n < power.planned_n_decide(1.5, 1.0, power.sd_upper(2.0, 10), 0.05 / 4, 0.8)
