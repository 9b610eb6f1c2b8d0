"""Decisions with a margin (statistics/decide.py) and the serial gatekeeping over them
(statistics/gatekeeping.py): the four verdicts on fixtures, "real and smaller than the margin", the
numbers against hand-computed values, the exact sign-flip p beside t, and the family-wise error of
every decision in simulated null families.
"""

import math

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.weightstats import DescrStatsW

from l2tww.statistics import decide, gatekeeping
from l2tww.statistics.gatekeeping import DECISION, GATEKEEPER, Gate


def test_near_zero_with_small_sd_is_equivalent():
    d = decide.decide([0.1, -0.1, 0.05, -0.05, 0.0], margin=1.0)
    assert d.verdict == decide.EQUIVALENT and d.p_tost < 1e-4
    # 90% interval by hand: mean 0, s = 0.0791, t_{0.95,4} = 2.132: half-width 0.0754
    assert (d.eq_low, d.eq_high) == (pytest.approx(-0.0754, abs=1e-4), pytest.approx(0.0754, abs=1e-4))


def test_plus_three_is_supported_and_minus_three_contradicted():
    up = decide.decide([3.2, 2.8, 3.1, 2.9, 3.0], margin=1.0)
    down = decide.decide([-3.2, -2.8, -3.1, -2.9, -3.0], margin=1.0)
    assert (up.verdict, down.verdict) == (decide.SUPPORTED, decide.CONTRADICTED)
    # t = 3 / (0.1581 / sqrt 5) = 42.43 with 4 df: p = t.sf, by hand 9.3e-7
    assert up.p_greater == pytest.approx(9.3e-7, rel=0.05) and down.p_less == pytest.approx(up.p_greater)


def test_two_noisy_seeds_are_inconclusive():
    d = decide.decide([2.0, -1.5], margin=1.0)
    assert d.verdict == decide.INCONCLUSIVE and "contains 0" in d.reason()


def test_a_real_difference_smaller_than_the_margin_says_both():
    d = decide.decide([0.5, 0.6, 0.4, 0.5, 0.55, 0.45], margin=1.0)
    assert d.verdict == decide.BOTH_SUPPORTED and d.equivalent
    assert "real but smaller than the margin" in d.reason()


def test_tost_matches_the_hand_computed_one_sided_tests():
    """statsmodels' TOST against t.sf by hand: diffs .5,-.5,.3,-.3,0 (s = 0.4123), margin 1.5:
    t = 1.5 / (0.4123 / sqrt 5) = 8.135 each side, p = 6.2e-4."""
    values = [0.5, -0.5, 0.3, -0.3, 0.0]
    low, high = decide.tost_p(values, 1.5)
    assert low == pytest.approx(high) == pytest.approx(6.2e-4, rel=0.02)
    _, (_, sm_low, _), (_, sm_high, _) = DescrStatsW(values).ttost_mean(-1.5, 1.5)
    assert (low, high) == (pytest.approx(sm_low), pytest.approx(sm_high))


def test_the_sign_flip_p_is_shown_from_six_seeds_and_flagged_where_it_disagrees():
    assert decide.decide([1, 2, 3, 1, 2], margin=1.0).p_sign_flip is None  # 5 seeds: not shown
    # six equal-sign differences: sign-flip p = 1/64 = 0.0156 <= 0.025, the t p is tiny too: agree
    calm = decide.decide([1, 1.1, 0.9, 1, 1.05, 0.95], margin=0.5)
    assert calm.p_sign_flip == pytest.approx(1 / 64) and not calm.sign_flip_disagrees
    # one large negative among 7: t says supported at 0.05/2? no; the sign flip sees the 6 positives
    skew = decide.decide([5, 0.3, 0.2, 0.25, 0.3, 0.2, 0.35], margin=10)
    assert skew.p_sign_flip == pytest.approx(1 / 128)
    assert skew.p_greater > 0.025 and skew.sign_flip_disagrees and "FLAG" in skew.reason()


def test_bad_margin_or_level_fail_in_one_line():
    with pytest.raises(ValueError, match="margin 0 must be > 0"):
        decide.decide([1, 2], margin=0)
    with pytest.raises(ValueError, match="level 1.5 must be in"):
        decide.decide([1, 2], margin=1, level=1.5)


GATES = (
    Gate("transfers", ("a",), GATEKEEPER),
    Gate("beats", ("b", "c"), GATEKEEPER),
    Gate("attribution", ("d", "e", "f"), DECISION),
)


def _margins():
    return dict.fromkeys("abcdef", 1.0)


def test_a_gate_that_fails_stops_every_later_gate():
    strong, null = [5.0, 5.2, 4.8, 5.1, 4.9], [0.3, -0.2, 0.1, -0.4, 0.2]
    diffs = {"a": strong, "b": strong, "c": null, "d": strong, "e": null, "f": strong}
    first, second, third = gatekeeping.gatekeep(GATES, diffs, _margins())
    assert first.passed and first.level == 0.05 and second.level == 0.05
    assert second.decisions["b"].verdict == decide.SUPPORTED and second.decisions["c"].verdict == decide.INCONCLUSIVE
    assert not second.passed and third.level == 0 and third.decisions == {}
    # Holm inside the gatekeeper: the smaller p is tested at 0.05/2, the other at 0.05
    assert sorted(second.row_levels.values()) == [0.025, 0.05]


@pytest.mark.parametrize("p", [[0.01, 0.04, 0.03], [0.001, 0.2, 0.02, 0.0125], [0.06, 0.01]])
def test_holm_inside_a_gatekeeper_rejects_what_statsmodels_rejects(p):
    assert gatekeeping._holm_levels(p, 0.05)[0] == list(multipletests(p, alpha=0.05, method="holm")[0])


def test_a_passed_hierarchy_decides_the_last_gate_two_sidedly_at_bonferroni_levels():
    strong = [5.0, 5.2, 4.8, 5.1, 4.9]
    diffs = {"a": strong, "b": strong, "c": strong, "d": strong, "e": [0.05, -0.05, 0.0, 0.02, -0.02], "f": []}
    diffs["f"] = [-s for s in strong]
    *_, last = gatekeeping.gatekeep(GATES, diffs, _margins())
    assert last.level == 0.05 and list(last.row_levels.values()) == [pytest.approx(0.05 / 3)] * 3
    verdicts = {r: d.verdict for r, d in last.decisions.items()}
    assert verdicts == {"d": decide.SUPPORTED, "e": decide.EQUIVALENT, "f": decide.CONTRADICTED}


def test_bad_gate_lists_are_refused_naming_the_gate():
    bad = (Gate("x", ("a",), DECISION), Gate("y", ("b",), GATEKEEPER))
    assert "gates[0] (x): a decide gate passes no level on" in gatekeeping.validate(bad)[0]
    dup = (Gate("x", ("a",)), Gate("y", ("a",), DECISION))
    assert "row 'a' is already in an earlier gate" in gatekeeping.validate(dup)[0]


def _false(decision, delta: float, margin: float) -> bool:
    """Is this decision false for the true difference delta?"""
    v = decision.verdict
    wrong = (v in (decide.SUPPORTED, decide.BOTH_SUPPORTED) and delta <= 0) or (
        v in (decide.CONTRADICTED, decide.BOTH_CONTRADICTED) and delta >= 0
    )
    return wrong or (decision.equivalent and abs(delta) >= margin)


@pytest.mark.parametrize(
    "deltas",
    [
        # every null at its boundary: nothing is true, everything is at risk
        {"a": 0.0, "b": 0.0, "c": 0.0, "d": 0.0, "e": 0.0, "f": 0.0},
        # gatekeepers pass; the decision gate's rows sit at 0 (direction at risk) and at the margin
        {"a": 4.0, "b": 4.0, "c": 4.0, "d": 0.0, "e": 1.0, "f": -1.0},
        # a gatekeeper row barely true, one at 0: the risk sits in the gatekeeper
        {"a": 4.0, "b": 0.2, "c": 0.0, "d": 1.0, "e": 0.0, "f": 0.0},
    ],
)
def test_null_families_keep_the_false_decision_rate_within_alpha(deltas):
    """1,000 simulated families of 5 seeds, SD 1: the share with any false decision is <= 0.05
    plus three Monte Carlo standard errors."""
    rng, reps, alpha, margin = np.random.default_rng(29), 1000, 0.05, 1.0
    bad = 0
    for _ in range(reps):
        diffs = {r: list(delta + rng.standard_normal(5)) for r, delta in deltas.items()}
        results = gatekeeping.gatekeep(GATES, diffs, dict.fromkeys(deltas, margin), alpha)
        bad += any(_false(d, deltas[r], margin) for g in results for r, d in g.decisions.items())
    rate, se = bad / reps, math.sqrt(alpha * (1 - alpha) / reps)
    assert rate <= alpha + 3 * se, rate
