"""The seed-count rule against known values and against a brute-force computation of the power that
shares no code with the noncentral t: P(T > t_c) with T = (Z + delta) / sqrt(V / df), integrated over
V ~ chi-square(df) with Z standard normal, i.e. power = integral of P(Z > t_c sqrt(v/df) - delta) f(v) dv."""

import math

import numpy as np
import pytest
from scipy import integrate
from scipy import stats as sps

from l2tww.statistics import power


def brute_power(n, effect, sd, alpha):
    df, delta = n - 1, effect * math.sqrt(n) / sd
    t_c = sps.t.ppf(1 - alpha, df)
    value, _ = integrate.quad(lambda v: sps.norm.sf(t_c * math.sqrt(v / df) - delta) * sps.chi2.pdf(v, df), 0, math.inf)
    return value


def brute_planned(effect, sd, alpha, target):
    n = 3
    while brute_power(n, effect, sd, alpha) < target:
        n += 1
    return n


@pytest.mark.parametrize(
    ("n", "effect", "sd", "alpha"), [(8, 1.5, 1.5, 0.05), (5, 3.0, 2.0, 0.01), (20, 1.5, 3.7, 0.0056)]
)
def test_power_is_the_noncentral_t_tail(n, effect, sd, alpha):
    assert power.power_one_sided(n, effect, sd, alpha) == pytest.approx(brute_power(n, effect, sd, alpha), abs=1e-6)


def test_the_textbook_case_d_1():
    # one-sided paired t-test, effect = 1 SD, alpha 0.05, power 0.8: n = 8 (Cohen's tables; G*Power gives
    # power 0.815 at n = 8 and 0.754 at n = 7)
    assert power.power_one_sided(8, 1.5, 1.5, 0.05) == pytest.approx(0.815, abs=1e-3)
    assert power.power_one_sided(7, 1.5, 1.5, 0.05) == pytest.approx(0.754, abs=1e-3)
    assert power.planned_n(1.5, 1.5, 0.05, 0.8) == 8


@pytest.mark.parametrize(("sd", "m"), [(1.0, 1), (2.0, 9), (3.7, 9), (0.6, 12)])
def test_planned_n_at_holms_strictest_level_matches_a_brute_search(sd, m):
    alpha = 0.05 / m
    planned = power.planned_n(1.5, sd, alpha, 0.8)
    assert planned == brute_planned(1.5, sd, alpha, 0.8)
    assert power.power_one_sided(planned, 1.5, sd, alpha) >= 0.8


def test_planned_n_never_goes_below_3_and_grows_with_the_sd():
    assert power.planned_n(1.5, 0.1, 0.05, 0.8) == power.N_MIN == 3
    ns = [power.planned_n(1.5, sd, 0.05 / 9, 0.8) for sd in (1, 2, 4, 8)]
    assert ns == sorted(ns) and ns[-1] > 4 * ns[1]  # ~ sd^2


def tost_by_simulation(n, margin, sd, alpha, true=0.0, reps=200_000, seed=0):
    """TOST's rejection rate on simulated normal samples: shares no code with power.power_tost."""
    rng = np.random.default_rng(seed)
    x = true + sd * rng.standard_normal((reps, n))
    mean, s = x.mean(axis=1), x.std(axis=1, ddof=1)
    half = sps.t.ppf(1 - alpha, n - 1) * s / math.sqrt(n)
    return float(np.mean((mean - half > -margin) & (mean + half < margin)))


@pytest.mark.parametrize(("n", "margin", "sd", "true"), [(5, 1.5, 1.5, 0.0), (10, 1.0, 1.2, 0.3), (20, 1.5, 6.1, 0.0)])
def test_tost_power_is_exact_not_the_bonferroni_bound(n, margin, sd, true):
    exact = power.power_tost(n, margin, sd, 0.05, true)
    assert exact == pytest.approx(tost_by_simulation(n, margin, sd, 0.05, true), abs=0.004)
    if true == 0.0:  # the bound 1 - 2 (1 - one side) it replaces is lower
        assert exact > max(0.0, 2 * brute_power(n, margin, sd, 0.05) - 1)


def test_the_sd_upper_bound_is_1_83_times_the_estimate_from_10_seeds():
    assert power.sd_upper(1.0, 10) == pytest.approx(1.826, abs=1e-3)  # sqrt(9 / chi2_0.025(9) = 2.700)
    with pytest.raises(ValueError, match="from 1 value"):
        power.sd_upper(1.0, 1)


def test_a_decision_row_is_planned_for_both_readings():
    n = power.planned_n_decide(1.5, 1.0, 1.2, 0.05 / 3, 0.8)
    sup, eq = power.power_decide(n, 1.5, 1.0, 1.2, 0.05 / 3)
    assert min(sup, eq) >= 0.8 > min(power.power_decide(n - 1, 1.5, 1.0, 1.2, 0.05 / 3))
    assert sup == pytest.approx(power.power_one_sided(n, 1.5, 1.2, 0.05 / 6))  # direction at level / 2


def test_bad_sd_is_refused_and_one_seed_has_no_power():
    with pytest.raises(ValueError, match="sd 0 must be > 0"):
        power.power_one_sided(5, 1.5, 0, 0.05)
    assert power.power_one_sided(1, 1.5, 1.0, 0.05) == 0.0
