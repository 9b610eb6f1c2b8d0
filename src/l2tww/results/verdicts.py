"""The verdict rule of the claims table, fixed before any confirmation number is seen.

Accuracy claims ("A − B > 0", paired by seed) form one family. Per row: the mean with its 95%
two-sided t-interval (for display), the raw one-sided p of the paired t-test (H0: mean <= 0), and
Holm's adjustment over the family of every accuracy row present (m rows: "not run" rows are not
in it; a one-seed row is, with p = 1). Verdict:
- supported if the Holm-adjusted p <= plan.level (family-wise, one-sided);
- contradicted if the Holm-adjusted p of the opposite one-sided test (H0: mean >= 0, Holm over the
  same family) <= plan.level;
- else inconclusive, saying how many seeds the rule asked for and how many the run has.
Rows with n >= 10 also get the exact sign-flip p (permutation.py): shown beside the t-test, not
used by the verdict. Seed counts (power.py): planned n = the smallest n >= 3 with power >=
plan.power at plan.effect points and alpha = plan.level / m (Holm's strictest step), from
plan.design_sd[id], the SD of the paired difference on the design seeds; each row also gives its
power at the n it has. A row without a design SD says "no design SD: no planned n", whatever its
verdict.

Equivalence claims (outside the family): TOST at plan.level within +-plan.equivalence_margin:
supported if both one-sided tests reject (p_TOST = the larger p <= level), contradicted if the 90%
interval lies entirely outside +-margin, else inconclusive; planned n from power.planned_n_tost.

Degenerate samples (one seed, all differences equal) follow stats.py: p = 1 with one seed; p = 0
or 1 by the sign of the mean when the differences do not vary.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

from . import permutation, power, stats

NOT_RUN = "not run"
ACCURACY, EQUIVALENCE = "accuracy", "equivalence"
PERMUTATION_MIN_N = 10  # below, a sign-flip p cannot go under 2^-9 ~ 0.002: little beside the t-test


@dataclass(frozen=True)
class Plan:
    """params.yaml `claims.plan`: fixed before the confirmation run."""

    level: float = 0.05  # family-wise, one-sided
    effect: float = 1.5  # points: the difference each claim should detect with `power`
    power: float = 0.8
    equivalence_margin: float = 1.5  # points: fast ≈ exact means |fast − exact| < margin
    design_sd: Mapping[str, float] = field(default_factory=dict)  # claim id -> SD of its paired difference


@dataclass(frozen=True)
class ClaimRow:
    id: str  # "<claim>@n<N>", "gain_grows", or the bare claim for a "not run" row
    claim: str
    comparison: str  # the arms, e.g. "l2tww − scratch on fashion, N=5"
    kind: str  # ACCURACY (Holm family) or EQUIVALENCE (TOST)
    verdict: str
    reason: str
    n: int = 0  # paired seeds
    mean: float | None = None
    low: float | None = None  # 95% interval (accuracy), 90% (equivalence)
    high: float | None = None
    p: float | None = None  # raw one-sided p (accuracy); p_TOST (equivalence)
    p_holm: float | None = None
    p_against_holm: float | None = None  # Holm-adjusted p of the opposite one-sided test
    m: int | None = None  # family size
    p_perm: float | None = None  # exact sign-flip p (n >= 10)
    planned_n: int | None = None
    power: float | None = None  # at this row's n


@dataclass(frozen=True)
class Differences:
    """A claim's paired per-seed differences A − B, before its family is known."""

    id: str
    claim: str
    comparison: str
    diffs: tuple[float, ...]
    note: str = ""  # how an arm was picked, unpaired seeds


def not_run(cid: str, claim: str, comparison: str, why: str, kind: str = ACCURACY) -> ClaimRow:
    return ClaimRow(cid, claim, comparison, kind, NOT_RUN, why)


def p_text(p: float) -> str:
    return f"{p:.1e}" if p < 1e-3 else f"{p:.3f}"


def _asked(n: int, planned: int | None, sd: float | None, how: str) -> str:
    if sd is None:
        return "no design SD: no planned n"
    asked = f"more than {power.N_MAX}" if planned is None else str(planned)
    return f"the rule asked for {asked} seeds ({how}, design SD {sd:g}); this run has {n}"


def accuracy_rows(family: list[Differences], plan: Plan) -> list[ClaimRow]:
    """The family's rows, Holm-adjusted together (see the module docstring)."""
    m = len(family)
    raw = [stats.p_greater(d.diffs) for d in family]
    adjusted, against = stats.holm(raw), stats.holm([stats.p_less(d.diffs) for d in family])
    alpha = plan.level / max(m, 1)
    rows = []
    for d, p_raw, p_adj, p_opp in zip(family, raw, adjusted, against):
        ci = stats.mean_ci(d.diffs)
        sd = plan.design_sd.get(d.id)
        planned = None if sd is None else power.planned_n(plan.effect, sd, alpha, plan.power)
        if ci.n < 2:
            verdict, reason = stats.INCONCLUSIVE, "1 seed: no test (p = 1)"
        elif p_adj <= plan.level:
            verdict, reason = stats.SUPPORTED, f"Holm-adjusted p {p_text(p_adj)} ≤ {plan.level:g}"
        elif p_opp <= plan.level:
            verdict = stats.CONTRADICTED
            reason = f"the opposite test (A − B < 0): Holm-adjusted p {p_text(p_opp)} ≤ {plan.level:g}"
        else:
            verdict = stats.INCONCLUSIVE
            reason = f"Holm-adjusted p {p_text(p_adj)} (opposite {p_text(p_opp)}) > {plan.level:g}"
        if verdict == stats.INCONCLUSIVE or sd is None:
            how = f"power {plan.power:g} at +{plan.effect:g} pt, level {alpha:.2g}"
            reason += "; " + _asked(ci.n, planned, sd, how)
        rows.append(
            _row(
                d,
                ACCURACY,
                verdict,
                reason,
                ci,
                p=p_raw,
                p_holm=p_adj,
                p_against_holm=p_opp,
                m=m,
                p_perm=permutation.sign_flip_p(d.diffs) if PERMUTATION_MIN_N <= ci.n <= permutation.MAX_EXACT else None,
                planned_n=planned,
                power=None if sd is None or ci.n < 2 else power.power_one_sided(ci.n, plan.effect, sd, alpha),
            )
        )
    return rows


def _row(d: Differences, kind: str, verdict: str, reason: str, ci: stats.MeanCI, **tests) -> ClaimRow:
    """A row of `d` with its verdict, its interval and the numbers of its test."""
    note = "; ".join(filter(None, [reason, d.note]))
    return ClaimRow(
        d.id, d.claim, d.comparison, kind, verdict, note, n=ci.n, mean=ci.mean, low=ci.low, high=ci.high, **tests
    )


def equivalence_row(d: Differences, plan: Plan) -> ClaimRow:
    """TOST of |A − B| < plan.equivalence_margin at plan.level (see the module docstring)."""
    margin, level = plan.equivalence_margin, plan.level
    test = stats.tost(d.diffs, margin, level)
    ci, sd = test.ci, plan.design_sd.get(d.id)
    planned = None if sd is None else power.planned_n_tost(margin, sd, level, plan.power)
    verdict = test.verdict
    if ci.n < 2:
        reason = "1 seed: no test (p = 1)"
    elif verdict == stats.SUPPORTED:
        reason = f"TOST p {p_text(test.p)} ≤ {level:g}: within ±{margin:g} pt"
    elif verdict == stats.CONTRADICTED:
        reason = f"90% CI [{stats.fmt(ci.low)}, {stats.fmt(ci.high)}] entirely outside ±{margin:g} pt"
    else:
        reason = f"TOST p {p_text(test.p)} > {level:g}: the 90% CI reaches outside ±{margin:g} pt"
    if verdict == stats.INCONCLUSIVE or sd is None:
        reason += "; " + _asked(ci.n, planned, sd, f"power {plan.power:g} at a true difference of 0")
    return _row(
        d,
        EQUIVALENCE,
        verdict,
        reason,
        ci,
        p=test.p,
        planned_n=planned,
        power=None if sd is None or ci.n < 2 else power.power_tost(ci.n, margin, sd, level),
    )


def _rounded(key: str, value):
    if not isinstance(value, float):
        return value
    return float(f"{value:.4g}") if key.startswith("p") or key == "power" else round(value, 4)


def to_json(rows: list[ClaimRow]) -> dict:
    """{claim id: fields} for metrics.json: keyed by the stable id so that `dvc metrics diff` and
    `l2tww compare` line rows up across revisions; points rounded to 4 places, p-values and power to
    4 significant digits (a p of 3e-6 stays visible)."""
    return {r.id: {k: _rounded(k, v) for k, v in asdict(r).items() if k != "id"} for r in rows}
