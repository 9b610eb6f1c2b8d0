"""The claims table: which paired differences test which of the paper's claims (verdicts.py decides).

Input records are plain dicts: target, method, n_per_class (None = all), seed, test_acc, val_acc
(accuracies in points). An arm is a (target, method) pair, so multi-source (another target entry
over the same dataset and seeds) pairs with single-source runs by (N, seed). Which arms play which
role comes in a ClaimsSpec whose field names are params.yaml's `claims:` keys; nothing here reads
params.

Claims, each a paired difference A − B of test accuracy over the seeds both arms share, one row per N
at which both ran, id "<claim>@n<N>":
- transfers_at_all: reference (fine-tuning) − scratch: does the source carry signal at all?
- l2tww_vs_scratch: l2tww − scratch.
- learning_helps: l2tww − frozen (the same matching, the meta-nets kept at their initialisation).
- learned_what: what − what_control (L2T-w one-to-one − FM one-to-one: learned channel weights).
- learned_where: l2tww − fm_all_to_all (learned pair weights against uniform all-pairs matching).
- l2tww_vs_best_baseline: l2tww − the baseline with the best mean VALIDATION accuracy at that N,
  among the baselines run at that N (never picked on test).
- gain_grows (one row, id "gain_grows"): per seed, (l2tww − scratch) at the smallest N −
  (l2tww − scratch) at the largest N, over the seeds all four cells share.
- multi_source: multi_source − the single source with the best mean validation accuracy at that N.
- fast_vs_exact: fast − exact. Fast is a first-order variant, the small-lr limit of exact's
  look-ahead, not an approximation of it at the default's lr (issue 29): a two-sided comparison
  like any other, not a claim that the two are equal.
- holdout_vs_same_batch: holdout − same_batch (L2T-ww with `meta_objective: holdout`, beyond the
  paper, − L2T-ww with the paper's same-batch meta-objective; issue 29, item 4).
Which rows are primary (in the plan's gates) and which are descriptive is the plan's (verdicts.py).

Meta-net statistics are diagnostics, not claims: diagnostics.py.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from ..statistics import stats
from .cells import n_order, n_tag, n_text, seeds_by_cell
from .verdicts import ClaimRow, Differences, Plan, decide_rows, not_run

Arm = tuple[str, str]  # (target, method)

CLAIMS = {  # id -> what the claim says, in the table's order
    "transfers_at_all": "the source transfers at all (reference > scratch)",
    "l2tww_vs_scratch": "L2T-ww > scratch",
    "learning_helps": "learning helps: L2T-ww > the same matching with frozen meta-nets",
    "learned_what": "learned channel weights help: L2T-w > FM",
    "learned_where": "learned pair weights help: L2T-ww > FM over all pairs",
    "l2tww_vs_best_baseline": "L2T-ww > the best baseline",
    "gain_grows": "the gain over scratch grows as N shrinks",
    "multi_source": "multi-source > the best single source",
    "fast_vs_exact": "fast (first-order, exact's small-lr limit) − exact",
    "holdout_vs_same_batch": "holdout meta-objective − the paper's same-batch one",
}


@dataclass(frozen=True)
class ClaimsSpec:
    l2tww: Arm
    scratch: Arm | None = None
    frozen: Arm | None = None
    fm_all_to_all: Arm | None = None
    what: Arm | None = None
    what_control: Arm | None = None
    baselines: tuple[Arm, ...] = ()  # the paper's baselines only: no control, no fine-tuning
    reference: Arm | None = None
    multi_source: Arm | None = None
    single_sources: tuple[Arm, ...] = ()
    fast: Arm | None = None
    exact: Arm | None = None
    holdout: Arm | None = None  # L2T-ww with meta_objective: holdout, compared with `l2tww`
    plan: Plan = Plan()


def _ns(cells, arm: Arm) -> set:
    return {n for (t, m, n) in cells if (t, m) == arm}


def _field(cells, arm: Arm, n, key: str) -> dict:
    return {s: r[key] for s, r in cells.get((*arm, n), {}).items()}


def best_on_val(cells, arms: tuple[Arm, ...], n) -> tuple[Arm, float] | None:
    """The arm with the best mean validation accuracy at N (cells: results.cells.seeds_by_cell)."""
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


def _arms_text(a: Arm, b: Arm, n) -> str:
    if a[0] == b[0]:
        return f"{a[1]} − {b[1]} on {a[0]}, N={n_text(n)}"
    return f"{a[1]} on {a[0]} − {b[1]} on {b[0]}, N={n_text(n)}"


def _not_run(cid: str, comparison: str, why: str) -> ClaimRow:
    return not_run(cid, CLAIMS[cid.split("@")[0]], comparison, why)


def _unpaired(p: stats.Paired) -> str:
    return f"unpaired seeds ignored: {p.only_a} + {p.only_b}" if p.only_a or p.only_b else ""


def _paired(cells, cid: str, a: Arm, b_of_n) -> list[Differences | ClaimRow]:
    """One entry per N that arm a has and b_of_n(n) -> (arm b, note) answers."""
    claim = CLAIMS[cid]
    out: list[Differences | ClaimRow] = []
    for n in sorted(_ns(cells, a), key=n_order):
        picked = b_of_n(n)
        if picked is None:
            continue
        b, note = picked
        rid, comparison = f"{cid}@{n_tag(n)}", _arms_text(a, b, n)
        a_acc, b_acc = _field(cells, a, n, "test_acc"), _field(cells, b, n, "test_acc")
        if not set(a_acc) & set(b_acc):
            out.append(_not_run(rid, comparison, "no seed shared"))
            continue
        p = stats.paired_difference(a_acc, b_acc)
        out.append(Differences(rid, claim, comparison, p.diffs, "; ".join(filter(None, [note, _unpaired(p)]))))
    return out


def _gain(cells, spec: ClaimsSpec) -> list[Differences | ClaimRow]:
    ns = sorted(_ns(cells, spec.l2tww) & _ns(cells, spec.scratch), key=n_order)
    if len(ns) < 2:
        return [_not_run("gain_grows", f"{spec.l2tww[1]} − {spec.scratch[1]}", "needs both arms at two or more N")]

    def gain(n):
        a, b = _field(cells, spec.l2tww, n, "test_acc"), _field(cells, spec.scratch, n, "test_acc")
        return {s: a[s] - b[s] for s in set(a) & set(b)}

    small, large = gain(ns[0]), gain(ns[-1])
    comparison = (
        f"({spec.l2tww[1]} − {spec.scratch[1]}) at N={n_text(ns[0])} − at N={n_text(ns[-1])}, on {spec.l2tww[0]}"
    )
    if not set(small) & set(large):
        return [_not_run("gain_grows", comparison, "no seed shared by all four cells")]
    p = stats.paired_difference(small, large)
    return [Differences("gain_grows", CLAIMS["gain_grows"], comparison, p.diffs, _unpaired(p))]


def claims_table(records: list[dict], spec: ClaimsSpec) -> list[ClaimRow]:
    """The rows in CLAIMS order, each claim's N ascending. A claim whose arms have no runs gets one
    "not run" row (decided nothing); a claim whose roles the spec leaves empty gets none."""
    cells = seeds_by_cell(records, "claims")
    present = {(t, m) for (t, m, _) in cells}

    def absent(cid, *arms) -> list[ClaimRow]:
        missing = [f"{m} on {t}" for (t, m) in arms if (t, m) not in present]
        why = "no runs of " + ", ".join(missing)
        return [_not_run(cid, " vs ".join(m for _, m in arms), why)] if missing else []

    def fixed(arm):
        return lambda n: (arm, "") if _field(cells, arm, n, "test_acc") else None

    def best(arms, what):
        def pick(n):
            found = best_on_val(cells, arms, n)
            return found and (found[0], f"{found[0][1]} on {found[0][0]} is the {what} on val ({found[1]:.2f})")

        return pick

    s, entries = spec, []
    for cid, a, b in (
        ("transfers_at_all", s.reference, s.scratch),
        ("l2tww_vs_scratch", s.l2tww, s.scratch),
        ("learning_helps", s.l2tww, s.frozen),
        ("learned_what", s.what, s.what_control),
        ("learned_where", s.l2tww, s.fm_all_to_all),
    ):
        if a and b:
            entries += absent(cid, a, b) or _paired(cells, cid, a, fixed(b))
    if s.baselines:
        entries += absent("l2tww_vs_best_baseline", s.l2tww) or (
            _paired(cells, "l2tww_vs_best_baseline", s.l2tww, best(s.baselines, "best baseline"))
            or [_not_run("l2tww_vs_best_baseline", s.l2tww[1], "no baseline run at an N of L2T-ww")]
        )
    if s.scratch:
        entries += absent("gain_grows", s.l2tww, s.scratch) or _gain(cells, s)
    if s.multi_source and s.single_sources:
        entries += absent("multi_source", s.multi_source) or (
            _paired(cells, "multi_source", s.multi_source, best(s.single_sources, "best single source"))
            or [_not_run("multi_source", s.multi_source[1], "no single-source run at an N of multi-source")]
        )
    if s.fast and s.exact:
        entries += absent("fast_vs_exact", s.fast, s.exact) or _paired(cells, "fast_vs_exact", s.fast, fixed(s.exact))
    if s.holdout:
        entries += absent("holdout_vs_same_batch", s.holdout, s.l2tww) or _paired(
            cells, "holdout_vs_same_batch", s.holdout, fixed(s.l2tww)
        )
    by_id = {r.id: r for r in decide_rows([e for e in entries if isinstance(e, Differences)], s.plan)}
    return [by_id[e.id] if isinstance(e, Differences) else e for e in entries]
