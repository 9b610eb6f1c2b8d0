"""The seed-count rule: how many paired seeds a claim needs, written before the confirmation run.

Power of the one-sided paired t-test at level alpha with n seeds, when the true mean difference is
`effect` and the SD of the per-seed difference is `sd`: the statistic T = mean / (s / sqrt(n)) is
noncentral t with n - 1 degrees of freedom and noncentrality effect * sqrt(n) / sd, so

    power(n) = 1 - F_nct(t_{1-alpha, n-1}; n - 1, effect * sqrt(n) / sd).

It grows with n (the critical value falls, the noncentrality rises), so the planned n, the smallest
n >= 3 with power(n) >= the target power, is found by doubling then bisection. The claims table
plans each accuracy claim at alpha / m, Holm's strictest step over a family of m claims: a claim
that reaches that level is rejected at every later step too, so its power under Holm is at least
the planned power.

Equivalence (TOST within +-margin at alpha, true difference 0): both one-sided tests must reject;
each alone has power(n) with effect = margin, and P(both) >= 1 - 2 (1 - power(n)) (Bonferroni), so
the planned n is the smallest with that lower bound >= the target power.
"""

from __future__ import annotations

import math

from scipy import stats as _sps

N_MIN = 3  # fewer seeds leave the t-test's SD estimate with one degree of freedom
N_MAX = 1_000_000  # a plan beyond this is reported as "more than N_MAX", not searched further


def power_one_sided(n: int, effect: float, sd: float, alpha: float) -> float:
    """Power of the one-sided paired t-test (see the module docstring); 0 for n < 2 (no test)."""
    if sd <= 0:
        raise ValueError(f"power: sd {sd!r} must be > 0")
    if n < 2:
        return 0.0
    df = n - 1
    return float(_sps.nct.sf(_sps.t.ppf(1 - alpha, df), df, effect * math.sqrt(n) / sd))


def power_tost(n: int, margin: float, sd: float, alpha: float) -> float:
    """Lower bound on TOST's power at a true difference of 0: 1 - 2 (1 - power of one side), >= 0."""
    return max(0.0, 2 * power_one_sided(n, margin, sd, alpha) - 1)


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
    """Smallest n >= 3 whose TOST power bound at a true difference of 0 reaches `power`."""
    return _smallest_n(lambda n: power_tost(n, margin, sd, alpha), power)
