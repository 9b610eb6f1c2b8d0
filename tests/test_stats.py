"""The seed statistics against hand-computed values (t quantiles from tables: t_{.975,3} = 3.182,
t_{.975,4} = 2.776), and the verdict rule on each of its branches."""

import math

import pytest

from l2tww.results import stats


def test_t_quantiles_match_the_table():
    assert stats.t_quantile(5) == pytest.approx(2.776, abs=1e-3)
    assert stats.t_quantile(4) == pytest.approx(3.182, abs=1e-3)


def test_mean_ci_is_the_t_interval():
    # mean 3, s = sqrt(10/4) = 1.5811, se = s/sqrt(5) = 0.7071, h = 2.7764 * 0.7071 = 1.9632
    ci = stats.mean_ci([1, 2, 3, 4, 5])
    assert (ci.n, ci.mean, ci.std) == (5, 3.0, pytest.approx(1.5811, abs=1e-4))
    assert (ci.low, ci.high) == (pytest.approx(1.0368, abs=1e-4), pytest.approx(4.9632, abs=1e-4))
    assert ci.half_width == pytest.approx(1.9632, abs=1e-4)


def test_one_seed_gives_no_interval_and_an_inconclusive_verdict():
    ci = stats.mean_ci([7.0])
    assert (ci.low, ci.high, ci.half_width) == (None, None, None)
    v = stats.verdict_greater(ci)
    assert v.verdict == stats.INCONCLUSIVE and "no interval" in v.reason
    assert stats.verdict_equivalent(ci).verdict == stats.INCONCLUSIVE


def test_paired_difference_pairs_by_seed_and_counts_the_unpaired():
    a = {0: 80, 1: 82, 2: 79, 3: 85, 9: 70}
    b = {0: 78, 1: 81, 2: 78, 3: 82, 7: 60}
    p = stats.paired_difference(a, b)
    # shared seeds 0-3, diffs 2, 1, 1, 3: mean 1.75, s = sqrt(2.75/3) = 0.9574, h = 3.1824 * 0.9574/2 = 1.5235
    assert p.seeds == (0, 1, 2, 3) and p.diffs == (2, 1, 1, 3)
    assert (p.only_a, p.only_b) == (1, 1)
    assert p.ci.mean == 1.75
    assert (p.ci.low, p.ci.high) == (pytest.approx(0.2265, abs=1e-4), pytest.approx(3.2735, abs=1e-4))


def test_paired_difference_without_a_common_seed_is_an_error():
    with pytest.raises(ValueError, match="no common seed"):
        stats.paired_difference({0: 1.0}, {1: 1.0})


def test_greater_supported_but_wide_says_so_with_the_seeds_needed():
    # the CI above, [0.23, 3.27]: half-width 1.52 > 1.5. At s = 0.9574: n = 4 gives 3.182*0.957/2 = 1.52,
    # n = 5 gives 2.776*0.957/2.236 = 1.19, so 5 seeds reach +-1.5.
    ci = stats.paired_difference({0: 80, 1: 82, 2: 79, 3: 85}, {0: 78, 1: 81, 2: 78, 3: 82}).ci
    v = stats.verdict_greater(ci)
    assert v.verdict == stats.SUPPORTED
    assert "~5 seeds" in v.reason and "decided anyway" in v.reason


def test_greater_contradicted():
    # diffs -2,-3,-1,-2,-2: mean -2, s = sqrt(2/4) = 0.7071, h = 2.776 * 0.3162 = 0.878 -> [-2.88, -1.12]
    v = stats.verdict_greater(stats.mean_ci([-2, -3, -1, -2, -2]))
    assert v.verdict == stats.CONTRADICTED and "upper end -1.12" in v.reason


def test_greater_inconclusive_narrow_and_too_wide():
    # [1,-1,.5,-.5,0]: mean 0, s = sqrt(2.5/4) = 0.7906, h = 0.98: contains 0, narrow enough
    narrow = stats.verdict_greater(stats.mean_ci([1, -1, 0.5, -0.5, 0]))
    assert narrow.verdict == stats.INCONCLUSIVE and "too wide" not in narrow.reason
    # [4,-4,2,-2,0]: s = sqrt(40/4) = 3.1623, h = 2.776 * 1.4142 = 3.93 > 1.5. Seeds needed:
    # n = 19: t_18 = 2.1009 -> 2.1009*3.1623/4.3589 = 1.524 > 1.5; n = 20: t_19 = 2.0930 -> 1.480
    wide = stats.verdict_greater(stats.mean_ci([4, -4, 2, -2, 0]))
    assert wide.verdict == stats.INCONCLUSIVE
    assert "too wide to decide" in wide.reason and "~20 seeds" in wide.reason


def test_bound_shifts_the_rule_for_non_inferiority():
    # CI [-0.98, 0.98] lies above -1.5: "A >= B - 1.5" supported, "A > B" not
    ci = stats.mean_ci([1, -1, 0.5, -0.5, 0])
    assert stats.verdict_greater(ci, bound=-1.5).verdict == stats.SUPPORTED


def test_equivalence_rule():
    # [.5,-.5,.3,-.3,0]: s = sqrt(.68/4) = 0.4123, h = 2.776 * 0.1844 = 0.512 -> within +-1.5
    assert stats.verdict_equivalent(stats.mean_ci([0.5, -0.5, 0.3, -0.3, 0])).verdict == stats.SUPPORTED
    # [3,4,3,4,3.5]: mean 3.5, s = 0.5, h = 2.776 * 0.2236 = 0.621 -> [2.88, 4.12], all above 1.5
    assert stats.verdict_equivalent(stats.mean_ci([3, 4, 3, 4, 3.5])).verdict == stats.CONTRADICTED
    # [1,2,1.5,.5,2.5]: mean 1.5, h = 0.98 -> [0.52, 2.48] straddles 1.5
    v = stats.verdict_equivalent(stats.mean_ci([1, 2, 1.5, 0.5, 2.5]))
    assert v.verdict == stats.INCONCLUSIVE and "straddles" in v.reason


def test_seeds_needed_inverts_the_half_width():
    n = stats.seeds_needed(2.0, 1.0)
    assert stats.t_quantile(n) * 2.0 / math.sqrt(n) <= 1.0 < stats.t_quantile(n - 1) * 2.0 / math.sqrt(n - 1)
