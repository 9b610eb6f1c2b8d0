"""Seed statistics that decide: means with t-intervals, paired differences, one-sided paired t-tests,
Holm's adjustment and the equivalence test (TOST).

Runs of different methods with the same seed share the low-data subset and the target's
initialisation, so a comparison is the mean of per-seed differences (paired), not a difference of
unpaired means: the seed-to-seed variation common to both methods cancels.

Interval: Student's t over seeds. With the 5-20 seeds a cell gets, a percentile bootstrap would be
too narrow: it resamples the observed values, so it cannot see that the std itself is uncertain
(it behaves like z with ddof=0): at n = 5 its half-width is about 1.96 * sqrt(4/5) = 1.75 standard
errors against t's 2.78, and it covers well under 95%.

Degenerate samples, fixed here so that no caller divides by zero:
- n < 2: no interval and no test; every p-value is 1 (nothing can be rejected).
- all differences equal (sample std 0): the t statistic is +-inf or undefined, so a one-sided p is
  0 when the mean lies strictly on the alternative's side and 1 otherwise (H0: mean <= 0 with all
  differences 3.0 gives p = 0; with all 0.0 gives p = 1), and the interval is [mean, mean].
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

LEVEL = 0.95  # two-sided interval shown beside every paired difference
SUPPORTED, CONTRADICTED, INCONCLUSIVE = "supported", "contradicted", "inconclusive"


@dataclass(frozen=True)
class MeanCI:
    """Mean over n values with its two-sided CI; low/high are None when n < 2 (no interval)."""

    n: int
    mean: float
    std: float  # sample std, ddof=1 (0 for n = 1)
    low: float | None
    high: float | None

    @property
    def half_width(self) -> float | None:
        return None if self.low is None else (self.high - self.low) / 2


@dataclass(frozen=True)
class Paired:
    """Per-seed differences a - b over the seeds both sides have; unpaired seeds are counted, not used."""

    seeds: tuple
    diffs: tuple[float, ...]
    ci: MeanCI
    only_a: int
    only_b: int


@dataclass(frozen=True)
class Tost:
    """Two one-sided tests of |mean| < margin (Schuirmann 1987): p is the larger of the two p-values,
    ci the (1 - 2 alpha) interval (90% at alpha 0.05), whose lying within +-margin is the same test."""

    p: float
    p_lower: float  # H0: mean <= -margin
    p_upper: float  # H0: mean >= +margin
    ci: MeanCI
    margin: float
    alpha: float

    @property
    def verdict(self) -> str:
        """supported: both one-sided tests reject; contradicted: the interval lies entirely outside
        +-margin (the difference is larger than the margin); else inconclusive."""
        if self.p <= self.alpha:
            return SUPPORTED
        ci = self.ci
        if ci.low is not None and (ci.low > self.margin or ci.high < -self.margin):
            return CONTRADICTED
        return INCONCLUSIVE


def fmt(x: float) -> str:
    """2 decimals for points; 2 significant digits below 0.1 so that small statistics stay visible."""
    return f"{x:.2g}" if 0 < abs(x) < 0.1 else f"{x:.2f}"


def t_quantile(n: int, level: float = LEVEL) -> float:
    """t_{(1+level)/2, n-1}, e.g. 2.776 for n = 5."""
    from scipy import stats as _sps  # on first use: see the package docstring

    return float(_sps.t.ppf((1 + level) / 2, n - 1))


def mean_ci(values: Sequence[float], level: float = LEVEL) -> MeanCI:
    values = [float(v) for v in values]
    if not values:
        raise ValueError("mean_ci: no values")
    n, mean = len(values), statistics.fmean(values)
    if n == 1:
        return MeanCI(1, mean, 0.0, None, None)
    std = statistics.stdev(values)
    h = t_quantile(n, level) * std / math.sqrt(n)
    return MeanCI(n, mean, std, mean - h, mean + h)


def paired_difference(a: Mapping, b: Mapping, level: float = LEVEL) -> Paired:
    """a, b: seed -> value. Pairs by seed; seeds present on one side only are counted in only_a/only_b."""
    seeds = tuple(sorted(set(a) & set(b)))
    if not seeds:
        raise ValueError(f"paired_difference: no common seed (a has {sorted(a)}, b has {sorted(b)})")
    diffs = tuple(float(a[s]) - float(b[s]) for s in seeds)
    return Paired(seeds, diffs, mean_ci(diffs, level), len(set(a) - set(b)), len(set(b) - set(a)))


def p_greater(values: Sequence[float], bound: float = 0.0) -> float:
    """One-sided t-test p of H0: mean <= bound against mean > bound (paired: values = differences).
    P(T_{n-1} >= (mean - bound) / (s / sqrt(n))); degenerate samples as the module docstring says."""
    from scipy import stats as _sps  # on first use: see the package docstring

    ci = mean_ci(values)
    if ci.n < 2:
        return 1.0
    if ci.std == 0:
        return 0.0 if ci.mean > bound else 1.0
    return float(_sps.t.sf((ci.mean - bound) / (ci.std / math.sqrt(ci.n)), ci.n - 1))


def p_less(values: Sequence[float], bound: float = 0.0) -> float:
    """One-sided t-test p of H0: mean >= bound against mean < bound: p_greater of the negated values."""
    return p_greater([-float(v) for v in values], -bound)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (Holm 1979), in the input order: with p_(1) <= ... <= p_(m),
    adj_(i) = max over j <= i of min(1, (m - j + 1) p_(j)). Rejecting where adj <= alpha controls the
    family-wise error rate at alpha under any dependence; the running max keeps adj monotone in p."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    out = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * float(pvalues[i])))
        out[i] = running
    return out


def tost(values: Sequence[float], margin: float, alpha: float = 0.05) -> Tost:
    """Equivalence within +-margin at level alpha: H0 |mean| >= margin, rejected when both
    one-sided t-tests reject at alpha (mean > -margin and mean < +margin)."""
    ci = mean_ci(values, 1 - 2 * alpha)
    lower, upper = p_greater(values, -margin), p_less(values, margin)
    return Tost(max(lower, upper), lower, upper, ci, margin, alpha)
