"""The seed-count rule: how many paired seeds a claim needs, written before the confirmation run.
The one home of the project's power formulas (docs/attribution/design_analysis.py imports them).

Power of the one-sided paired t-test at level alpha with n seeds, when the true mean difference is
`effect` and the SD of the per-seed difference is `sd`: the statistic T = mean / (s / sqrt(n)) is
noncentral t with n - 1 degrees of freedom and noncentrality effect * sqrt(n) / sd, so

    power(n) = 1 - F_nct(t_{1-alpha, n-1}; n - 1, effect * sqrt(n) / sd).

It grows with n (the critical value falls, the noncentrality rises), so the planned n, the smallest
n >= 3 with power(n) >= the target power, is found by doubling then bisection.

Equivalence (TOST within +-margin at alpha): both one-sided tests reject iff the mean lies in
(-margin + t s / sqrt n, margin - t s / sqrt n), t = t_{1-alpha, n-1}. Its power is EXACT (Owen
1965): the mean is normal (true difference, sd^2 / n) and independent of s, whose (n - 1) s^2 / sd^2
is chi-square with n - 1 df, so power = the integral over that chi-square of the normal probability
of the interval (scipy.integrate.quad). The Bonferroni bound 1 - 2 (1 - power of one side) it
replaces is far lower at small n (0.15 against 0.29 in issue 29's example).

Decide (decide.py at level a, margin m): the row is powered when BOTH readings a user may meet are:
- a true difference of `effect` gives "supported" (one-sided t at a / 2) with the target power, and
- a true difference of 0 gives "equivalent" (TOST at a) with the target power.

The SD is not known: the design seeds estimate it. The rule uses the upper end of its two-sided
95% interval, sd * sqrt(df / chi2_{0.025, df}) (1.83 x the estimate from 10 seeds), so a plan is not
powered only because the design seeds happened to vary little.
"""

from __future__ import annotations

import math

N_MIN = 3  # fewer seeds leave the t-test's SD estimate with one degree of freedom
N_MAX = 1_000_000  # a plan beyond this is reported as "more than N_MAX", not searched further


def power_one_sided(n: int, effect: float, sd: float, alpha: float) -> float:
    """Power of the one-sided paired t-test (see the module docstring); 0 for n < 2 (no test)."""
    from scipy import stats as _sps  # on first use: see the package docstring

    if sd <= 0:
        raise ValueError(f"power: sd {sd!r} must be > 0")
    if n < 2:
        return 0.0
    df = n - 1
    return float(_sps.nct.sf(_sps.t.ppf(1 - alpha, df), df, effect * math.sqrt(n) / sd))


def power_tost(n: int, margin: float, sd: float, alpha: float, true: float = 0.0) -> float:
    """Exact power of TOST within +-margin at alpha when the true difference is `true` (see the
    module docstring); 0 for n < 2."""
    from scipy import integrate as _integrate  # on first use: see the package docstring
    from scipy import stats as _sps

    if sd <= 0:
        raise ValueError(f"power: sd {sd!r} must be > 0")
    if n < 2:
        return 0.0
    df, se = n - 1, sd / math.sqrt(n)
    t = float(_sps.t.ppf(1 - alpha, df))
    u_max = df * (margin * math.sqrt(n) / (t * sd)) ** 2  # beyond it the interval is empty

    def inside(u: float) -> float:
        half = margin - t * sd * math.sqrt(u / df) / math.sqrt(n)
        return (_sps.norm.cdf((half - true) / se) - _sps.norm.cdf((-half - true) / se)) * _sps.chi2.pdf(u, df)

    value, _ = _integrate.quad(inside, 0.0, u_max, limit=200)
    return float(min(1.0, max(0.0, value)))


def sd_upper(sd: float, n: int, confidence: float = 0.95) -> float:
    """The upper end of the two-sided `confidence` interval of an SD estimated from n values."""
    from scipy import stats as _sps  # on first use: see the package docstring

    if n < 2:
        raise ValueError(f"power: an SD from {n} value(s) has no interval")
    df = n - 1
    return sd * math.sqrt(df / float(_sps.chi2.ppf((1 - confidence) / 2, df)))


def power_decide(n: int, effect: float, margin: float, sd: float, level: float) -> tuple[float, float]:
    """(power to say "supported" at a true difference of `effect`, power to say "equivalent" at 0)
    of decide.py's rule at `level`."""
    return power_one_sided(n, effect, sd, level / 2), power_tost(n, margin, sd, level)


def _smallest_n(power_at, target: float) -> int | None:
    if power_at(N_MIN) >= target:
        return N_MIN
    low, high = N_MIN, 2 * N_MIN  # power_at(low) < target throughout
    while power_at(high) < target:
        if high >= N_MAX:
            return None
        low, high = high, min(2 * high, N_MAX)
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if power_at(mid) < target else (low, mid)
    return high


def planned_n(effect: float, sd: float, alpha: float, power: float) -> int | None:
    """Smallest n >= 3 whose one-sided paired t-test at alpha has `power` at `effect`; None beyond N_MAX."""
    return _smallest_n(lambda n: power_one_sided(n, effect, sd, alpha), power)


def planned_n_tost(margin: float, sd: float, alpha: float, power: float) -> int | None:
    """Smallest n >= 3 whose exact TOST power at a true difference of 0 reaches `power`."""
    return _smallest_n(lambda n: power_tost(n, margin, sd, alpha), power)


def planned_n_decide(effect: float, margin: float, sd: float, level: float, power: float) -> int | None:
    """Smallest n >= 3 at which both of power_decide's powers reach `power`; None beyond N_MAX."""
    return _smallest_n(lambda n: min(power_decide(n, effect, margin, sd, level)), power)
