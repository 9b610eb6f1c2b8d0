"""One paired comparison decided two-sidedly with a margin: general statistics, no claim names.

Given per-seed differences d = A − B with true mean δ, a margin m > 0 and a level a, three null
hypotheses can be rejected, each a decision:

- H+ : δ ≤ 0, rejected by the one-sided t-test (A − B > 0) at a / 2      -> "supported"
- H− : δ ≥ 0, rejected by the one-sided t-test (A − B < 0) at a / 2      -> "contradicted"
- HE : |δ| ≥ m, rejected by TOST (both one-sided tests of ∓m) at a       -> "equivalent"

Why these levels keep the chance of ANY false decision about δ at most a (the partitioning
principle, Finner & Strassburger 2002, here as a closed test of the three hypotheses): the
intersections H+ ∩ H− = {δ = 0} (tested two-sidedly at a), H+ ∩ HE = {δ ≤ −m} and H− ∩ HE = {δ ≥ m}
(each tested by one of TOST's one-sided tests at a) and H+ ∩ H− ∩ HE = ∅ (no test needed) are
the closure; every elementary rule above rejects exactly when its intersections do. In interval
terms: supported iff the two-sided (1 − a) t-interval lies above 0, contradicted iff below 0,
equivalent iff the (1 − 2a) interval lies inside (−m, +m); a false decision needs the true δ outside
the interval that decided it, and at any δ only one tail of those intervals can make one.

"Supported" and "equivalent" can both hold: the difference is real and smaller than the margin; the
verdict then says both ("supported and equivalent").

Degenerate samples follow stats.py: one value gives no test (p = 1: inconclusive); differences
that do not vary give p = 0 or 1 by the sign of the mean against each bound.

t-tests (and TOST's two): scipy.stats.ttest_1samp; stats.p_greater / p_less only for the
degenerate cases scipy returns NaN for.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from . import permutation, stats

SUPPORTED, CONTRADICTED, EQUIVALENT, INCONCLUSIVE = "supported", "contradicted", "equivalent", "inconclusive"
BOTH_SUPPORTED, BOTH_CONTRADICTED = f"{SUPPORTED} and {EQUIVALENT}", f"{CONTRADICTED} and {EQUIVALENT}"
DECIDED = (SUPPORTED, CONTRADICTED, EQUIVALENT, BOTH_SUPPORTED, BOTH_CONTRADICTED)
SIGN_FLIP_MIN_N = 6  # from 6 seeds the exact sign-flip p can reach 1/64 < 0.025: worth showing beside t


@dataclass(frozen=True)
class Decision:
    """The decision on one paired comparison at `level` with `margin` (see the module docstring)."""

    n: int
    mean: float
    sd: float
    low: float | None  # two-sided (1 - level) t-interval: decides the direction
    high: float | None
    eq_low: float | None  # (1 - 2 level) interval: decides equivalence
    eq_high: float | None
    p_greater: float  # one-sided t p of H+ (delta <= 0)
    p_less: float  # one-sided t p of H- (delta >= 0)
    p_tost: float  # the larger of TOST's two one-sided p-values
    p_sign_flip: float | None  # exact one-sided sign-flip p in the direction of the mean (n >= 6)
    sign_flip_disagrees: bool  # the sign-flip p and the t p fall on different sides of level / 2
    margin: float
    level: float
    verdict: str
    directional_only: bool = False  # a gatekeeper's test: only "supported" can be decided

    @property
    def equivalent(self) -> bool:
        return self.verdict in (EQUIVALENT, BOTH_SUPPORTED, BOTH_CONTRADICTED)

    def reason(self) -> str:
        """One line: which interval or p decided, at which level."""
        if self.n < 2:
            return "1 seed: no test (p = 1)"
        a = self.level
        direction = f"{100 * (1 - a):.4g}% CI [{stats.fmt(self.low)}, {stats.fmt(self.high)}]"
        if self.directional_only:
            p = self.p_greater
            side = "≤" if p <= a else ">"
            return f"one-sided p {stats.fmt(p) if p >= 1e-3 else f'{p:.1e}'} {side} {a:.3g}"
        eq = f"{100 * (1 - 2 * a):.4g}% CI [{stats.fmt(self.eq_low)}, {stats.fmt(self.eq_high)}]"
        parts = []
        if self.verdict in (SUPPORTED, BOTH_SUPPORTED):
            parts.append(f"{direction} above 0")
        elif self.verdict in (CONTRADICTED, BOTH_CONTRADICTED):
            parts.append(f"{direction} below 0")
        if self.equivalent:
            parts.append(f"{eq} inside ±{self.margin:g}" + (": real but smaller than the margin" if parts else ""))
        if not parts:
            parts.append(f"{direction} contains 0 and the {eq} is not inside ±{self.margin:g}")
        if self.sign_flip_disagrees:
            parts.append(f"FLAG: the exact sign-flip p {stats.fmt(self.p_sign_flip)} disagrees with the t-test")
        return "; ".join(parts)


def t_p(values: Sequence[float], bound: float, alternative: str) -> float:
    """One-sided t p of the mean against `bound` (alternative "greater" or "less")."""
    greater, less = _t_ps(values, (bound,))
    return greater[0] if alternative == "greater" else less[0]


def _t_ps(values: Sequence[float], bounds: Sequence[float]) -> tuple[list[float], list[float]]:
    """The one-sided t p-values of the mean against each bound, (greater, less): one
    scipy.stats.ttest_1samp call for all bounds (its t statistics, then t.sf / t.cdf of each, so that
    a tiny p on either side keeps its digits); stats.py's rules for degenerate samples."""
    from scipy import stats as _sps  # on first use: see the package docstring

    ci = stats.mean_ci(values)
    if ci.n < 2 or ci.std == 0:
        return [stats.p_greater(values, b) for b in bounds], [stats.p_less(values, b) for b in bounds]
    result = _sps.ttest_1samp(np.asarray(values, dtype=float)[:, None], np.asarray(bounds, dtype=float)[None, :])
    t, df = np.asarray(result.statistic, dtype=float), ci.n - 1
    return [float(p) for p in _sps.t.sf(t, df)], [float(p) for p in _sps.t.cdf(t, df)]


def tost_p(values: Sequence[float], margin: float) -> tuple[float, float]:
    """TOST's two one-sided p-values (H0 mean <= -margin, H0 mean >= +margin): scipy's one-sided
    t-tests against -+margin, the same numbers as statsmodels' ttost_mean (tests/test_gatekeeping.py
    checks)."""
    greater, less = _t_ps(values, (-margin, margin))
    return greater[0], less[1]


def _sign_flip(values: Sequence[float], mean: float) -> float | None:
    n = len(values)
    if n < SIGN_FLIP_MIN_N or n > permutation.MAX_EXACT:
        return None
    return permutation.sign_flip_p(values if mean >= 0 else [-float(v) for v in values])


def decide(values: Sequence[float], margin: float, level: float = 0.05, directional_only: bool = False) -> Decision:
    """The verdict on the paired differences `values` (see the module docstring). directional_only:
    a gatekeeper's one-sided test at `level` (H+ only), whose rejection may pass the level on."""
    if not margin > 0:
        raise ValueError(f"decide: margin {margin!r} must be > 0 points")
    if not 0 < level < 1:
        raise ValueError(f"decide: level {level!r} must be in (0, 1)")
    values = [float(v) for v in values]
    ci, eq = stats.mean_ci(values, 1 - level), stats.mean_ci(values, 1 - 2 * level)
    greater, less = _t_ps(values, (0.0, -margin, margin))
    p_gt, p_lt, p_low, p_high = greater[0], less[0], greater[1], less[2]
    p_tost = max(p_low, p_high)
    if ci.n < 2:
        verdict = INCONCLUSIVE
    elif directional_only:
        verdict = SUPPORTED if p_gt <= level else INCONCLUSIVE
    else:
        direction = SUPPORTED if p_gt <= level / 2 else CONTRADICTED if p_lt <= level / 2 else None
        equivalent = p_tost <= level
        verdict = (
            {SUPPORTED: BOTH_SUPPORTED, CONTRADICTED: BOTH_CONTRADICTED}[direction]
            if direction and equivalent
            else direction or (EQUIVALENT if equivalent else INCONCLUSIVE)
        )
    flip = _sign_flip(values, ci.mean)
    threshold = level if directional_only else level / 2
    t_side = p_gt if directional_only or ci.mean >= 0 else p_lt
    disagrees = flip is not None and (flip <= threshold) != (t_side <= threshold)
    return Decision(
        ci.n,
        ci.mean,
        ci.std,
        ci.low,
        ci.high,
        eq.low,
        eq.high,
        p_gt,
        p_lt,
        p_tost,
        flip,
        disagrees,
        margin,
        level,
        verdict,
        directional_only,
    )


def half_width(n: int, sd: float, level: float) -> float:
    """Half-width of the two-sided (1 - level) t-interval of a mean of n values with SD sd."""
    return stats.t_quantile(n, 1 - level) * sd / math.sqrt(n)
