"""The seed statistics against hand-computed values. t quantiles from tables: t_{.975,3} = 3.182,
t_{.975,4} = 2.776, t_{.95,4} = 2.132, t_{.99,3} = 4.541, t_{.999,4} = 7.173, t_{.9995,4} = 8.610."""

import pytest

from l2tww.statistics import stats


def test_t_quantiles_match_the_table():
    assert stats.t_quantile(5) == pytest.approx(2.776, abs=1e-3)
    assert stats.t_quantile(4) == pytest.approx(3.182, abs=1e-3)
    assert stats.t_quantile(5, 0.90) == pytest.approx(2.132, abs=1e-3)


def test_mean_ci_is_the_t_interval():
    # mean 3, s = sqrt(10/4) = 1.5811, se = s/sqrt(5) = 0.7071, h = 2.7764 * 0.7071 = 1.9632
    ci = stats.mean_ci([1, 2, 3, 4, 5])
    assert (ci.n, ci.mean, ci.std) == (5, 3.0, pytest.approx(1.5811, abs=1e-4))
    assert (ci.low, ci.high) == (pytest.approx(1.0368, abs=1e-4), pytest.approx(4.9632, abs=1e-4))
    assert ci.half_width == pytest.approx(1.9632, abs=1e-4)


def test_one_seed_gives_no_interval_and_no_test():
    ci = stats.mean_ci([7.0])
    assert (ci.low, ci.high, ci.half_width) == (None, None, None)
    assert stats.p_greater([7.0]) == stats.p_less([7.0]) == 1.0
    assert stats.tost([0.0], 1.5).verdict == stats.INCONCLUSIVE


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


def test_one_sided_p_of_the_paired_t_test():
    # diffs 2,1,1,3: t = 1.75 / (0.9574/2) = 3.656 on 3 df, between t_{.975,3} = 3.182 and t_{.99,3} = 4.541,
    # so 0.01 < p < 0.025; scipy's t.sf(3.656, 3) = 0.01768
    p = stats.p_greater([2, 1, 1, 3])
    assert 0.01 < p < 0.025 and p == pytest.approx(0.01768, abs=1e-5)
    assert stats.p_less([2, 1, 1, 3]) == pytest.approx(1 - p)  # the opposite test
    assert stats.p_greater([2, 1, 1, 3], bound=1.75) == pytest.approx(0.5)  # t = 0 at the mean
    assert stats.p_less([-2, -1, -1, -3]) == pytest.approx(p)


def test_zero_variance_gives_p_0_or_1_by_the_sign_without_dividing_by_zero():
    assert stats.p_greater([3.0, 3.0, 3.0]) == 0.0 and stats.p_less([3.0, 3.0, 3.0]) == 1.0
    assert stats.p_greater([-1.0, -1.0]) == 1.0 and stats.p_less([-1.0, -1.0]) == 0.0
    assert stats.p_greater([0.0, 0.0]) == stats.p_less([0.0, 0.0]) == 1.0  # no difference: no side wins
    ci = stats.mean_ci([3.0, 3.0, 3.0])
    assert (ci.low, ci.high) == (3.0, 3.0)


def test_holm_worked_example():
    # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1: 0.02, 0.03, 0.06, 0.04 -> running max 0.02, 0.03, 0.06,
    # 0.06: the last raw p (0.04) is raised to 0.06 so that the adjusted p keep the raw p's order
    assert stats.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert stats.holm([0.5, 0.6]) == [1.0, 1.0]  # 2 * 0.5 capped at 1, and no smaller than the step before
    assert stats.holm([0.02]) == [0.02] and stats.holm([]) == []


def test_holm_at_5_percent_rejects_only_what_survives_the_steps():
    # alone, p = 0.02 is significant; among 9 claims it needs 0.05 / 9 = 0.0056 at the first step
    adjusted = stats.holm([0.02, 0.001, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8])
    assert adjusted[1] == pytest.approx(0.009) and adjusted[0] == pytest.approx(0.16)
    assert [a <= 0.05 for a in adjusted] == [False, True] + [False] * 7


def test_tost_by_hand():
    # [.5,-.5,.3,-.3,0]: mean 0, s = sqrt(.68/4) = 0.4123, se = 0.1844. Lower test: t = 1.5/0.1844 = 8.135 on
    # 4 df, between t_{.999,4} = 7.173 and t_{.9995,4} = 8.610 -> 0.0005 < p < 0.001; the upper test is its mirror
    # image. 90% CI: +-2.132 * 0.1844 = +-0.393, within +-1.5
    t = stats.tost([0.5, -0.5, 0.3, -0.3, 0], 1.5)
    assert 0.0005 < t.p < 0.001 and t.p_lower == pytest.approx(t.p_upper)
    assert (t.ci.low, t.ci.high) == (pytest.approx(-0.3931, abs=1e-4), pytest.approx(0.3931, abs=1e-4))
    assert t.verdict == stats.SUPPORTED
    # [3,4,3,4,3.5]: mean 3.5, se = 0.2236, 90% CI 3.5 +- 0.477 = [3.02, 3.98]: entirely outside +-1.5
    assert stats.tost([3, 4, 3, 4, 3.5], 1.5).verdict == stats.CONTRADICTED
    # [1,2,1.5,.5,2.5]: mean 1.5 = the margin: the upper test's t is 0, p = 0.5
    straddles = stats.tost([1, 2, 1.5, 0.5, 2.5], 1.5)
    assert straddles.p_upper == pytest.approx(0.5) and straddles.verdict == stats.INCONCLUSIVE
    # all equal to 0.2: zero variance, within the margin: both one-sided p are 0
    assert stats.tost([0.2, 0.2, 0.2], 1.5).p == 0.0
