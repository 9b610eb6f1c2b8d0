"""Meta-net diagnostics: checks of the mechanism, not claims. No row carries a verdict; they are
shown in their own table, for L2T-ww and its frozen control side by side, one row per N.

(a) Did the meta-nets move? Per run (meta_movement): the largest channel-weight entropy deficit
    1 - H/log C over pairs, and the largest relative lambda change |λ - λ₀| / λ₀ (λ at the best-val
    epoch against λ before training: the where-nets start at a random init). A run moved if either
    reaches issue 12's thresholds (deficit >= 0.01 or change >= 20%). Movement is not evidence of
    learning: the what-net starts at zero, so any step gives a deficit, and Adam moves every
    parameter by ~meta_lr per step whatever the gradient's signal. For the frozen control it is a
    check of the control: its meta-nets never step, so its movement must be ~0 (<= FROZEN_TOLERANCE).
(b) Do independent seeds agree on which pairs the meta-nets up- or down-weight? Kendall's W over the
    seeds of one cell, each seed ranking the pairs by their relative lambda change, against a
    permutation null (permutation.kendall_w_test: each seed's ranking permuted independently, fixed
    generator, 10,000 permutations). Movement by noise independent across seeds (each has its own
    init, subset and batches) keeps W within its null. Agreement is NOT read as learning from the
    data (issue 29, item 6): any pattern shared by the seeds rejects that null, including one fixed
    by the architecture with no data signal (a per-pair drift of 0.3 SD is rejected 16% of the time
    in simulation), and no negative control (the meta-objective on shuffled labels) has been run; the
    frozen arm's W is undefined (its λ never moves). Pairs with λ₀ <= 0 in any seed of the cell have
    no relative change and are left out. Pairs only: transfer.json logs the channel weights as one
    entropy per pair, so which channels a pair favours is not tested.
(c) Which way do the meta-steps move λ? (issue 29, item 5). Per run, the mean λ over pairs before
    training and after every epoch (4 meta-steps apart in the embedded default); the
    row counts the epochs over which it fell and the runs that end (at the best-val epoch) below their
    start, and, per meta-step, how often the hypergradient pointed the batch's mean λ down (a plain
    step along it would lower λ; Adam's step rescales each coordinate, so the epochs are the
    movement and the meta-steps the signal). At N = 5 one batch is the whole training set, so the
    paper's same-batch meta-objective is scored on the images the look-ahead just fitted and lowers
    λ (meta-overfitting); the holdout meta-objective and larger N are the comparisons. The frozen
    control has no such row: its λ never moves.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass

from ..statistics import permutation
from .cells import n_order, n_tag, n_text

Arm = tuple[str, str]  # (target, method)
ENTROPY_DEFICIT_MIN = 1e-2  # issue 12's "the meta-nets moved" thresholds
LAMBDA_CHANGE_MIN = 0.2
FROZEN_TOLERANCE = 1e-6  # a frozen control's largest deficit and relative lambda change stay below


@dataclass(frozen=True)
class DiagnosticRow:
    id: str  # "<diagnostic>_<role>@n<N>", e.g. pair_agreement_frozen@n5
    diagnostic: str
    role: str  # the claims role: l2tww or frozen
    comparison: str  # the arm and N
    runs: int
    statistic: str  # what `value` is
    value: float | None
    p: float | None  # permutation p (agreement only)
    reading: str  # what the numbers say, in words; never a verdict


def transfer_at(log: dict, epoch: int) -> dict:
    """A run's transfer.json reduced to what the diagnostics read: the statistics at `epoch` (its
    best-val epoch) beside lambda before training (the first logged epoch for older logs)."""
    at = log["epochs"].index(epoch)
    initial = (log.get("initial") or {}).get("lambda")
    path = ([initial] if initial is not None else []) + log["lambda"]  # older logs start at epoch 0
    return {
        "entropy_deficit": log["entropy_deficit"][at],
        "lambda_final": log["lambda"][at],
        "lambda_init": path[0],
        "lambda_path": [statistics.fmean(lam) for lam in path],  # mean over pairs, per epoch
        # every epoch's meta-steps, and those whose hypergradient pointed the mean λ down (0, 0 in
        # logs from before they were counted)
        "meta_steps": sum(log.get("meta_steps", [])),
        "meta_steps_lowering": sum(log.get("meta_steps_lowering_lambda", [])),
    }


def relative_change(transfer: dict) -> list[float | None]:
    """Per pair (λ - λ₀) / λ₀; None where λ₀ <= 0 (no relative change)."""
    return [(f - i) / i if i > 0 else None for i, f in zip(transfer["lambda_init"], transfer["lambda_final"])]


def meta_movement(transfer: dict) -> dict:
    """Per run: the largest entropy deficit, the spread and the largest size of the relative lambda
    change over pairs, and the dead pairs (lambda exactly 0 at the end: ReLU6 gives it no gradient)."""
    rel = [x for x in relative_change(transfer) if x is not None]
    return {
        "max_entropy_deficit": max(transfer["entropy_deficit"]),
        "lambda_spread": max(rel) - min(rel) if rel else 0.0,
        "max_lambda_change": max((abs(x) for x in rel), default=0.0),
        "dead_lambda": sum(1 for f in transfer["lambda_final"] if f == 0),
    }


def meta_moved(transfer: dict) -> bool:
    """Issue 12's per-run test: entropy deficit >= 1e-2 on some pair, or lambda change >= 20%."""
    m = meta_movement(transfer)
    return m["max_entropy_deficit"] >= ENTROPY_DEFICIT_MIN or m["max_lambda_change"] >= LAMBDA_CHANGE_MIN


def _movement_row(role: str, where: str, n, transfers: list[dict]) -> DiagnosticRow:
    moves = [meta_movement(t) for t in transfers]
    deficit = max(m["max_entropy_deficit"] for m in moves)
    change = max(m["max_lambda_change"] for m in moves)
    moved = sum(meta_moved(t) for t in transfers)
    dead = sum(m["dead_lambda"] for m in moves)
    pairs = sum(len(t["lambda_final"]) for t in transfers)
    reading = (
        f"{moved}/{len(moves)} runs moved (deficit ≥ {ENTROPY_DEFICIT_MIN:g} or |Δλ/λ₀| ≥ {LAMBDA_CHANGE_MIN:g}); "
        f"largest deficit {deficit:.2g}, largest |Δλ/λ₀| {change:.2g}; {dead}/{pairs} pair-runs end with λ = 0"
    )
    if role == "frozen":
        still = deficit <= FROZEN_TOLERANCE and change <= FROZEN_TOLERANCE
        reading = (
            f"check of the control: {'ok, the meta-nets stayed at their init' if still else 'FAILED, they moved'}; "
            + reading
        )
    return DiagnosticRow(
        f"meta_moved_{role}@{n_tag(n)}",
        "the meta-nets moved",
        role,
        where,
        len(moves),
        "largest |Δλ/λ₀| over pairs, mean over runs",
        statistics.fmean(m["max_lambda_change"] for m in moves),
        None,
        reading,
    )


def _agreement_row(role: str, where: str, n, transfers: list[dict], level: float) -> DiagnosticRow:
    changes = [relative_change(t) for t in transfers]
    keep = [j for j in range(min(len(c) for c in changes)) if all(c[j] is not None for c in changes)]
    dropped = len(changes[0]) - len(keep)
    w, p = (None, None)
    if len(transfers) >= 2 and len(keep) >= 2:
        w, p = permutation.kendall_w_test([[c[j] for j in keep] for c in changes])
    if w is None:
        reading = "W undefined: fewer than 2 runs or 2 pairs, or every pair tied in every run (nothing moved)"
    elif p <= level:
        reading = (
            f"the seeds agree on which pairs gain or lose weight beyond independent shuffles (permutation p ≤ "
            f"{level:g}); not evidence of learning: a pattern fixed by the architecture agrees as well, and no "
            "negative control has been run"
        )
    else:
        reading = f"no agreement beyond chance (permutation p > {level:g})"
    if dropped:
        reading += f"; {dropped} pair(s) with λ₀ = 0 in some run left out"
    return DiagnosticRow(
        f"pair_agreement_{role}@{n_tag(n)}",
        "seeds agree on the pairs' λ change",
        role,
        where,
        len(transfers),
        f"Kendall's W over seeds, {len(keep)} pairs ranked by (λ−λ₀)/λ₀, {permutation.PERMUTATIONS} permutations",
        w,
        p,
        reading,
    )


def lambda_direction(transfer: dict) -> tuple[int, int, float]:
    """(epochs over which the mean λ fell, epochs, mean λ at the best epoch − before training)."""
    path = transfer.get("lambda_path") or []
    steps = list(zip(path, path[1:]))
    final = statistics.fmean(transfer["lambda_final"]) - statistics.fmean(transfer["lambda_init"])
    return sum(b < a for a, b in steps), len(steps), final


def _direction_row(role: str, where: str, n, transfers: list[dict]) -> DiagnosticRow:
    moves = [lambda_direction(t) for t in transfers]
    fell, epochs = sum(m[0] for m in moves), sum(m[1] for m in moves)
    below = sum(m[2] < 0 for m in moves)
    change = statistics.fmean(m[2] for m in moves)
    steps = sum(t.get("meta_steps", 0) for t in transfers)
    lowering = sum(t.get("meta_steps_lowering", 0) for t in transfers)
    per_step = f"; its hypergradient pointed λ down at {lowering}/{steps} meta-steps" if steps else ""
    return DiagnosticRow(
        f"lambda_direction_{role}@{n_tag(n)}",
        "which way the meta-steps move λ",
        role,
        where,
        len(moves),
        "mean over runs of (mean λ at the best epoch − before training)",
        change,
        None,
        f"mean λ fell over {fell}/{epochs} epochs and ended below its start in "
        f"{below}/{len(moves)} runs (mean change {change:+.3f}){per_step}",
    )


def diagnostics_table(records: list[dict], arms: dict[str, Arm], level: float = 0.05) -> list[DiagnosticRow]:
    """Rows for every N of each role's arm (`arms`: role -> arm, e.g. l2tww and frozen), N ascending,
    the roles side by side. `records` are per-run dicts with target, method, n_per_class and
    `transfer` (transfer_at's output, or None for a run without transfer.json)."""
    by_cell: dict[tuple, list[dict]] = {}
    for r in records:
        for role, arm in arms.items():
            if (r["target"], r["method"]) == arm and r.get("transfer"):
                by_cell.setdefault((r.get("n_per_class"), role), []).append(r["transfer"])
    rows = []
    for n in sorted({n for n, _ in by_cell}, key=n_order):
        for role, arm in arms.items():
            transfers = by_cell.get((n, role))
            if transfers:
                where = f"{arm[1]} on {arm[0]}, N={n_text(n)}"
                rows += [_movement_row(role, where, n, transfers), _agreement_row(role, where, n, transfers, level)]
                if role != "frozen":
                    rows.append(_direction_row(role, where, n, transfers))
    return rows


def to_json(rows: list[DiagnosticRow]) -> dict:
    """{diagnostic id: fields} for metrics.json, floats rounded to 4 significant digits."""
    return {
        r.id: {k: float(f"{v:.4g}") if isinstance(v, float) else v for k, v in asdict(r).items() if k != "id"}
        for r in rows
    }
