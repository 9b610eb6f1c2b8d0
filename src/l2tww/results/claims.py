"""The claims table: one verdict per qualitative claim of the paper, from per-seed run records.

Input records are plain dicts: target, method, n_per_class (None = all), seed, test_acc, val_acc
(accuracies in points), and for L2T runs `transfer`: {"entropy_deficit": [per pair, 1 - H/log C at
the end of training], "lambda_init": [per pair, mean lambda before training], "lambda_final": [...]}.
An arm is a (target, method) pair, so multi-source (another target entry over the same dataset and
seeds) pairs with single-source runs by (n, seed). Which arms play which role comes in a ClaimsSpec;
nothing here reads params.

Rules (stats.py has the verdict rule):
- Accuracy claims use the paired test-accuracy difference over shared seeds, one row per N.
- "Best baseline" / "best single source" is picked on mean VALIDATION accuracy, never on test.
- "Gain grows as N shrinks": per seed, (L2T - scratch at the smallest N) - (L2T - scratch at the
  largest N), so the claim is one paired difference-of-differences.
- Meta-net claims are per run (n = runs, all N pooled): non-uniform channel weights = the run's
  largest entropy deficit over pairs > entropy_deficit_min; selective pair weights = the spread
  (max - min over pairs) of the relative lambda change (final - init) / init > lambda_change_min.
  A uniform rescaling of every lambda moves nothing relative to the others, so its spread is 0;
  lambda read before training is the where-net's random init (issue 12, finding 4), hence change.
  Pairs with lambda_init = 0 have no relative change and are left out of the spread.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass

from . import stats
from .cells import n_order, n_text, seeds_by_cell

Arm = tuple[str, str]  # (target, method)
NOT_RUN = "not run"


@dataclass(frozen=True)
class ClaimsSpec:
    l2t: Arm
    scratch: Arm | None = None
    baselines: tuple[Arm, ...] = ()
    multi_source: Arm | None = None
    single_sources: tuple[Arm, ...] = ()
    fast: Arm | None = None
    exact: Arm | None = None
    reference: Arm | None = None  # e.g. fine-tuning: does the source carry transferable signal at all?
    max_half_width: float = stats.MAX_HALF_WIDTH
    equivalence_margin: float = 1.5  # fast ~ exact within +-1.5 pt (issue 12 budget)
    multi_source_margin: float = 0.0  # ">=" read as ">": equal within noise is inconclusive
    entropy_deficit_min: float = 1e-2
    lambda_change_min: float = 0.2
    level: float = stats.LEVEL


@dataclass(frozen=True)
class ClaimRow:
    claim: str
    comparison: str
    seeds: int
    mean: float | None
    low: float | None
    high: float | None
    verdict: str
    reason: str


def _ns(cells, arm: Arm) -> set:
    return {n for (t, m, n) in cells if (t, m) == arm}


def _field(cells, arm: Arm, n, field: str) -> dict:
    return {s: r[field] for s, r in cells.get((*arm, n), {}).items()}


def _best_on_val(cells, arms: tuple[Arm, ...], n) -> tuple[Arm, float] | None:
    scored = []
    for arm in arms:
        vals = _field(cells, arm, n, "val_acc")
        if vals:
            if any(v is None for v in vals.values()):
                raise ValueError(
                    f"claims: target={arm[0]} method={arm[1]} n_per_class={n_text(n)}: val_acc missing; the best arm "
                    "is chosen on validation"
                )
            scored.append((statistics.fmean(vals.values()), arm))
    if not scored:
        return None
    val, arm = max(scored, key=lambda t: t[0])
    return arm, val


def _row(claim, comparison, ci: stats.MeanCI, verdict: stats.Verdict, extra: str = "") -> ClaimRow:
    reason = f"{verdict.reason}; {extra}" if extra else verdict.reason
    return ClaimRow(claim, comparison, ci.n, ci.mean, ci.low, ci.high, verdict.verdict, reason)


def _not_run(claim, comparison, why) -> ClaimRow:
    return ClaimRow(claim, comparison, 0, None, None, None, NOT_RUN, why)


def _unpaired(p: stats.Paired) -> str:
    return f"unpaired seeds ignored: {p.only_a} + {p.only_b}" if p.only_a or p.only_b else ""


def _arms_text(a: Arm, b: Arm, n) -> str:
    if a[0] == b[0]:
        return f"{a[1]} − {b[1]} on {a[0]}, N={n_text(n)}"
    return f"{a[1]} on {a[0]} − {b[1]} on {b[0]}, N={n_text(n)}"


def _paired_rows(cells, spec, claim, a: Arm, b_of_n, rule) -> list[ClaimRow]:
    """One row per N that arm a has; b_of_n(n) -> (arm b, note) or None; rule(ci) -> Verdict."""
    rows = []
    for n in sorted(_ns(cells, a), key=n_order):
        picked = b_of_n(n)
        if picked is None:
            continue
        b, note = picked
        comparison = _arms_text(a, b, n)  # stable text: it keys the row in metrics.json
        a_acc, b_acc = _field(cells, a, n, "test_acc"), _field(cells, b, n, "test_acc")
        if not set(a_acc) & set(b_acc):
            rows.append(_not_run(claim, comparison, "no seed shared"))
            continue
        p = stats.paired_difference(a_acc, b_acc, spec.level)
        rows.append(_row(claim, comparison, p.ci, rule(p.ci), "; ".join(filter(None, [note, _unpaired(p)]))))
    return rows


def _greater(spec, bound=0.0):
    return lambda ci: stats.verdict_greater(ci, bound, spec.max_half_width, spec.level)


def transfer_at(log: dict, epoch: int) -> dict:
    """A run's transfer.json reduced to what the meta-net claims read: the statistics at `epoch`
    (its best-val epoch) beside lambda before training (the first logged epoch for older logs)."""
    at = log["epochs"].index(epoch)
    return {
        "entropy_deficit": log["entropy_deficit"][at],
        "lambda_final": log["lambda"][at],
        "lambda_init": (log.get("initial") or {}).get("lambda", log["lambda"][0]),
    }


def meta_movement(transfer: dict) -> dict:
    """Per run: the largest entropy deficit, the spread and the largest size of the relative lambda
    change over pairs, and the dead pairs (lambda exactly 0 at the end: ReLU6 gives it no gradient)."""
    init, final = transfer["lambda_init"], transfer["lambda_final"]
    rel = [(f - i) / i for i, f in zip(init, final) if i > 0]
    return {
        "max_entropy_deficit": max(transfer["entropy_deficit"]),
        "lambda_spread": max(rel) - min(rel) if rel else 0.0,
        "max_lambda_change": max((abs(x) for x in rel), default=0.0),
        "dead_lambda": sum(1 for f in final if f == 0),
    }


def meta_moved(transfer: dict, entropy_deficit_min: float = 1e-2, lambda_change_min: float = 0.2) -> bool:
    """Issue 12's per-run acceptance: entropy deficit >= 1e-2 on some pair, or lambda change >= 20%."""
    m = meta_movement(transfer)
    return m["max_entropy_deficit"] >= entropy_deficit_min or m["max_lambda_change"] >= lambda_change_min


def _meta_rows(records, spec) -> list[ClaimRow]:
    claims = ("learned channel weights are non-uniform", "pair weights are selective")
    runs = [r for r in records if (r["target"], r["method"]) == spec.l2t]
    with_stats = [r["transfer"] for r in runs if r.get("transfer")]
    if not with_stats:
        why = "no L2T runs" if not runs else "no transfer stats in the L2T records"
        return [_not_run(c, f"{spec.l2t[1]} on {spec.l2t[0]}", why) for c in claims]
    moves = [meta_movement(t) for t in with_stats]
    moved = sum(meta_moved(t, spec.entropy_deficit_min, spec.lambda_change_min) for t in with_stats)
    dead = sum(m["dead_lambda"] for m in moves)
    pairs = sum(len(t["lambda_final"]) for t in with_stats)
    extra = f"{moved}/{len(with_stats)} runs moved; {dead}/{pairs} pair-runs end with lambda = 0 (dead)"
    rows = []
    for claim, key, bound, what in (
        (claims[0], "max_entropy_deficit", spec.entropy_deficit_min, "largest entropy deficit 1−H/log C per run"),
        (claims[1], "lambda_spread", spec.lambda_change_min, "spread over pairs of (λ−λ₀)/λ₀ per run"),
    ):
        ci = stats.mean_ci([m[key] for m in moves], spec.level)
        verdict = stats.verdict_greater(ci, bound, None, spec.level)  # not in points: no 1.5 pt rule
        rows.append(_row(claim, f"{what} > {bound:g}, {spec.l2t[1]} on {spec.l2t[0]}", ci, verdict, extra))
    return rows


def _gain_rows(cells, spec) -> list[ClaimRow]:
    claim = "the gain over scratch grows as N shrinks"
    ns = sorted(_ns(cells, spec.l2t) & _ns(cells, spec.scratch), key=n_order)
    comparison = f"({spec.l2t[1]} − {spec.scratch[1]}) at smallest N − at largest N"
    if len(ns) < 2:
        return [_not_run(claim, comparison, "needs both arms at two or more N")]

    def gain(n):
        a, b = _field(cells, spec.l2t, n, "test_acc"), _field(cells, spec.scratch, n, "test_acc")
        return {s: a[s] - b[s] for s in set(a) & set(b)}

    small, large = gain(ns[0]), gain(ns[-1])
    comparison = f"({spec.l2t[1]} − {spec.scratch[1]}) at N={n_text(ns[0])} − at N={n_text(ns[-1])}, on {spec.l2t[0]}"
    if not set(small) & set(large):
        return [_not_run(claim, comparison, "no seed shared by all four cells")]
    p = stats.paired_difference(small, large, spec.level)
    return [
        _row(claim, comparison, p.ci, stats.verdict_greater(p.ci, 0.0, spec.max_half_width, spec.level), _unpaired(p))
    ]


def claims_table(records: list[dict], spec: ClaimsSpec) -> list[ClaimRow]:
    """The rows in the paper's order; a claim whose arms have no runs gets one "not run" row, a claim
    whose roles the spec leaves empty gets none."""
    cells = seeds_by_cell(records, "claims")
    present = {(t, m) for (t, m, _) in cells}
    rows: list[ClaimRow] = []

    def absent(claim, *arms) -> bool:
        missing = [f"{m} on {t}" for (t, m) in arms if (t, m) not in present]
        if missing:
            rows.append(_not_run(claim, " vs ".join(m for _, m in arms), "no runs of " + ", ".join(missing)))
        return bool(missing)

    def fixed(arm):
        return lambda n: (arm, "") if _field(cells, arm, n, "test_acc") else None

    def best(arms, what):
        def pick(n):
            found = _best_on_val(cells, arms, n)
            return found and (found[0], f"{found[0][1]} on {found[0][0]} is the {what} on val ({found[1]:.2f})")

        return pick

    claim = "the source transfers at all (reference > scratch)"
    if spec.reference and spec.scratch and not absent(claim, spec.reference, spec.scratch):
        rows += _paired_rows(cells, spec, claim, spec.reference, fixed(spec.scratch), _greater(spec))
    claim = "L2T-ww > scratch"
    if spec.scratch and not absent(claim, spec.l2t, spec.scratch):
        rows += _paired_rows(cells, spec, claim, spec.l2t, fixed(spec.scratch), _greater(spec))
    claim = "L2T-ww > the best baseline"
    if spec.baselines and not absent(claim, spec.l2t):
        rows += _paired_rows(cells, spec, claim, spec.l2t, best(spec.baselines, "best baseline"), _greater(spec)) or [
            _not_run(claim, spec.l2t[1], "no baseline run at an N of L2T-ww")
        ]
    if spec.scratch and not absent("the gain over scratch grows as N shrinks", spec.l2t, spec.scratch):
        rows += _gain_rows(cells, spec)
    rows += _meta_rows(records, spec)
    claim = "multi-source ≥ the best single source"
    if spec.multi_source and spec.single_sources and not absent(claim, spec.multi_source):
        rows += _paired_rows(
            cells,
            spec,
            claim,
            spec.multi_source,
            best(spec.single_sources, "best single source"),
            _greater(spec, -spec.multi_source_margin),
        ) or [_not_run(claim, spec.multi_source[1], "no single-source run at an N of multi-source")]
    claim = f"fast mode ≈ exact mode (±{spec.equivalence_margin:g} pt)"
    if spec.fast and spec.exact and not absent(claim, spec.fast, spec.exact):
        rows += _paired_rows(
            cells,
            spec,
            claim,
            spec.fast,
            fixed(spec.exact),
            lambda ci: stats.verdict_equivalent(ci, spec.equivalence_margin, spec.max_half_width, spec.level),
        )
    return rows


def _num(x) -> str:
    return "—" if x is None else stats.fmt(x)


def to_markdown(rows: list[ClaimRow]) -> str:
    lines = [
        "| Claim | Comparison | Seeds | Mean (paired diff) | 95% CI | Verdict | Reason |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ci = "—" if r.low is None else f"[{_num(r.low)}, {_num(r.high)}]"
        lines.append(
            f"| {r.claim} | {r.comparison} | {r.seeds} | {_num(r.mean)} | {ci} | **{r.verdict}** | {r.reason} |"
        )
    return "\n".join(lines) + "\n"


def to_json(rows: list[ClaimRow]) -> dict:
    """{claim: {comparison: fields}} for metrics.json: nested like the summary's metrics, floats
    rounded to 4 places, and keyed by stable text so that `dvc metrics diff` lines up rows."""
    out: dict = {}
    for r in rows:
        fields = {
            k: round(v, 4) if isinstance(v, float) else v
            for k, v in asdict(r).items()
            if k not in ("claim", "comparison")
        }
        out.setdefault(r.claim, {})[r.comparison] = fields
    return out
