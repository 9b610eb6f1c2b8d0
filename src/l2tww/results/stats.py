"""Seed statistics that decide: mean with 95% CI, paired differences, and the verdict rule.

Runs of different methods with the same seed share the low-data subset and the target's
initialisation, so a comparison is the mean of per-seed differences (paired), not a difference of
unpaired means: the seed-to-seed variation common to both methods cancels.

Interval: Student's t over seeds. With the 5-10 seeds a cell gets, a percentile bootstrap would be
too narrow: it resamples the observed values, so it cannot see that the std itself is uncertain
(it behaves like z with ddof=0): at n = 5 its half-width is about 1.96 * sqrt(4/5) = 1.75 standard
errors against t's 2.78, and it covers well under 95%.

Verdict rule (fixed here so that no threshold is chosen after seeing the numbers):
- "mean > bound" (bound 0 for "A > B"; -margin for non-inferiority): supported if the CI's lower end
  is > bound, contradicted if its upper end is < bound, else inconclusive.
- "|mean| <= margin" (equivalence, "A ~ B"): supported if the whole CI lies within [-margin, margin],
  contradicted if it lies entirely outside, else inconclusive.
- One seed gives no interval: inconclusive. A CI wider than max_half_width (1.5 pt) is named in the
  reason, with the seeds needed at the observed std to reach it.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from scipy import stats as _sps

LEVEL = 0.95
MAX_HALF_WIDTH = 1.5  # accuracy points: the acceptance bound on a claim's CI half-width
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
class Verdict:
    verdict: str
    reason: str


def fmt(x: float) -> str:
    """2 decimals for points; 2 significant digits below 0.1 so that small statistics stay visible."""
    return f"{x:.2g}" if 0 < abs(x) < 0.1 else f"{x:.2f}"


def t_quantile(n: int, level: float = LEVEL) -> float:
    """t_{(1+level)/2, n-1}, e.g. 2.776 for n = 5."""
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


def seeds_needed(std: float, half_width: float, level: float = LEVEL) -> int:
    """Smallest n >= 2 with t_{n-1} * std / sqrt(n) <= half_width."""
    if std <= 0:
        return 2
    z = float(_sps.norm.ppf((1 + level) / 2))
    n = max(2, math.ceil((z * std / half_width) ** 2))  # t > z, so no smaller n can do
    while t_quantile(n, level) * std / math.sqrt(n) > half_width:
        n += 1
    return n


def _width_note(ci: MeanCI, max_half_width: float | None, level: float) -> str:
    if max_half_width is None or ci.half_width <= max_half_width:
        return ""
    need = seeds_needed(ci.std, max_half_width, level)
    return (
        f"half-width {fmt(ci.half_width)} > {max_half_width:g} (~{need} seeds would reach ±{max_half_width:g} at "
        f"the observed std {fmt(ci.std)})"
    )


def _no_interval(ci: MeanCI) -> Verdict | None:
    if ci.low is None:
        return Verdict(INCONCLUSIVE, f"only {ci.n} seed: no interval")
    return None


def verdict_greater(
    ci: MeanCI, bound: float = 0.0, max_half_width: float | None = MAX_HALF_WIDTH, level: float = LEVEL
) -> Verdict:
    """Claim "mean > bound"."""
    if (v := _no_interval(ci)) is not None:
        return v
    note = _width_note(ci, max_half_width, level)
    wide = f"; {note}, decided anyway: the CI excludes {bound:g}" if note else ""
    if ci.low > bound:
        return Verdict(SUPPORTED, f"CI lower end {fmt(ci.low)} > {bound:g}{wide}")
    if ci.high < bound:
        return Verdict(CONTRADICTED, f"CI upper end {fmt(ci.high)} < {bound:g}{wide}")
    return Verdict(
        INCONCLUSIVE,
        f"CI [{fmt(ci.low)}, {fmt(ci.high)}] too wide to decide: {note}"
        if note
        else f"CI [{fmt(ci.low)}, {fmt(ci.high)}] contains {bound:g}",
    )


def verdict_equivalent(
    ci: MeanCI, margin: float = MAX_HALF_WIDTH, max_half_width: float | None = MAX_HALF_WIDTH, level: float = LEVEL
) -> Verdict:
    """Claim "|mean| <= margin"."""
    if (v := _no_interval(ci)) is not None:
        return v
    if -margin <= ci.low and ci.high <= margin:
        return Verdict(SUPPORTED, f"CI [{fmt(ci.low)}, {fmt(ci.high)}] within ±{margin:g}")
    note = _width_note(ci, max_half_width, level)
    if ci.low > margin or ci.high < -margin:
        wide = f"; {note}, decided anyway: the CI lies outside ±{margin:g}" if note else ""
        return Verdict(CONTRADICTED, f"CI [{fmt(ci.low)}, {fmt(ci.high)}] entirely outside ±{margin:g}{wide}")
    return Verdict(
        INCONCLUSIVE,
        f"CI [{fmt(ci.low)}, {fmt(ci.high)}] too wide to decide: {note}"
        if note
        else f"CI [{fmt(ci.low)}, {fmt(ci.high)}] straddles ±{margin:g}",
    )
