"""Compare the per-seed results of two revisions, paired by (target, method, N, seed).

Per cell (target, method, N) that both sides ran: the paired difference B − A over the shared seeds,
and one of four readings (statistics/stats.py gives the intervals):
- "identical": bit-equal accuracies on every shared seed (a seed on one side only is counted in the
  seeds column and not compared: the same code on another seed range is "identical" where it overlaps);
- otherwise the claims' own decision rule (statistics/decide.py at 5%, the plan's margin: `--margin`, default
  claims.plan.margin) names the reading: "equivalent" (TOST: the 90% interval of B − A lies within
  ±margin; a shift that is also beyond seed noise, the 95% interval excluding 0, is named beside),
  "different" (supported or contradicted: the 95% interval excludes 0, and B − A is not within the
  margin), or "can't tell" (inconclusive; the interval is stated: too few seeds or too much seed noise
  to say whether the change moved the cell).
"Not different" is not "unchanged": only "identical" and "equivalent" say the cell held.

A cell on one side only is listed; an arm (target, method) on one side only is listed with a
warning naming the likely renames: an arm only in A and one only in B with the same target (a
renamed method) or the same method (a renamed target) and the same N and seeds.

Each side is a git revision, the working tree or another checkout's directory (revisions.py).

Beside the cells, the claims tables of the two sides' metrics.json (where both have one) are
matched by claim id: a claim whose verdict differs, or that one side lacks, is what a reader of
either side would conclude differently (`l2tww compare --same-verdicts` exits 1 then: issue 12's
machine-robustness check).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..statistics import decide, stats
from .cells import Cell, n_text, seeds_by_cell
from .revisions import load_claims, load_records
from .verdicts import DEFAULT_MARGIN

IDENTICAL, EQUIVALENT, DIFFERENT, CANT_TELL = "identical", "equivalent", "different", "can't tell"
MARGIN = DEFAULT_MARGIN  # points: without a plan's margin (the CLI passes claims.plan.margin)


@dataclass(frozen=True)
class CellDiff:
    cell: Cell
    mean_a: float
    mean_b: float
    paired: stats.Paired  # B - A, so paired.only_a counts B's unpaired seeds: read a_only/b_only
    tost: stats.Tost
    reading: str  # IDENTICAL, EQUIVALENT, DIFFERENT or CANT_TELL

    @property
    def a_only(self) -> int:
        return self.paired.only_b

    @property
    def b_only(self) -> int:
        return self.paired.only_a

    @property
    def beyond_noise(self) -> bool:
        """The 95% interval of B − A excludes 0."""
        ci = self.paired.ci
        return ci.low is not None and (ci.low > 0 or ci.high < 0)

    def why(self) -> str:
        ci, eq, margin = self.paired.ci, self.tost.ci, self.tost.margin
        if self.reading == IDENTICAL:
            return "bit-equal on every shared seed"
        if ci.low is None:
            return "1 shared seed: no interval"
        ci95 = f"95% CI [{ci.low:+.2f}, {ci.high:+.2f}]"
        if self.reading == EQUIVALENT:
            shift = f"; shifted beyond seed noise ({ci95})" if self.beyond_noise else ""
            return f"90% CI [{eq.low:+.2f}, {eq.high:+.2f}] within ±{margin:g}{shift}"
        if self.reading == DIFFERENT:
            return f"{ci95} excludes 0"
        return f"{ci95} contains 0 and the 90% CI [{eq.low:+.2f}, {eq.high:+.2f}] is not within ±{margin:g}"


@dataclass(frozen=True)
class Comparison:
    cells: list[CellDiff]  # every cell with a seed on both sides
    only_a: list[Cell]  # cells of A with no seed shared with B (absent from B, or other seeds only)
    only_b: list[Cell]
    arms_only_a: list[tuple[str, str]]  # (target, method) with no cell in B at all
    arms_only_b: list[tuple[str, str]]
    renames: list[tuple[tuple[str, str], tuple[str, str]]]  # (arm only in A, arm only in B) that look alike
    margin: float = MARGIN

    def count(self, reading: str) -> int:
        return sum(d.reading == reading for d in self.cells)


def _cells(records: list[dict]) -> dict[Cell, dict]:
    return {
        cell: {s: r["test_acc"] for s, r in seeds.items()} for cell, seeds in seeds_by_cell(records, "compare").items()
    }


def _mean(by_seed: dict, seeds) -> float:
    return sum(by_seed[s] for s in seeds) / len(seeds)


def _reading(sa: dict, sb: dict, paired: stats.Paired, tost: stats.Tost) -> str:
    """identical, else the claims' decision rule (statistics/decide.py) on B − A at the TOST's level and margin."""
    if all(sa[s] == sb[s] for s in paired.seeds):
        return IDENTICAL
    verdict = decide.decide(paired.diffs, tost.margin, tost.alpha).verdict
    if verdict in (decide.EQUIVALENT, decide.BOTH_SUPPORTED, decide.BOTH_CONTRADICTED):
        return EQUIVALENT
    return DIFFERENT if verdict in (decide.SUPPORTED, decide.CONTRADICTED) else CANT_TELL


def _arms(cells: dict) -> dict:
    """(target, method) -> {N: frozenset of seeds}."""
    out: dict = {}
    for cell, seeds in cells.items():
        out.setdefault((cell.target, cell.method), {})[cell.n_per_class] = frozenset(seeds)
    return out


def _renames(aa: dict, ab: dict, only_a: list, only_b: list) -> list[tuple[tuple[str, str], tuple[str, str]]]:
    """Arms only in A and only in B with the same target or the same method, and the same
    {N: seeds}: a rename would look exactly like this."""
    return [(x, y) for x in only_a for y in only_b if (x[0] == y[0] or x[1] == y[1]) and aa[x] == ab[y]]


def compare(a: list[dict], b: list[dict], margin: float = MARGIN, alpha: float = 0.05) -> Comparison:
    ca, cb = _cells(a), _cells(b)
    diffs, only_a, only_b = [], [], []
    for cell in sorted(set(ca) | set(cb), key=Cell.order):
        sa, sb = ca.get(cell, {}), cb.get(cell, {})
        if not set(sa) & set(sb):  # nothing to pair: list the cell on each side that has it
            if sa:
                only_a.append(cell)
            if sb:
                only_b.append(cell)
            continue
        paired = stats.paired_difference(sb, sa)
        tost = stats.tost(paired.diffs, margin, alpha)
        reading = _reading(sa, sb, paired, tost)
        diffs.append(CellDiff(cell, _mean(sa, paired.seeds), _mean(sb, paired.seeds), paired, tost, reading))
    aa, ab = _arms(ca), _arms(cb)
    arms_a, arms_b = [k for k in aa if k not in ab], [k for k in ab if k not in aa]
    return Comparison(diffs, only_a, only_b, arms_a, arms_b, _renames(aa, ab, arms_a, arms_b), margin)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header, *rows]]


def format_comparison(cmp: Comparison, label_a: str = "A", label_b: str = "B") -> str:
    lines = [
        f"per-seed test accuracy, B = {label_b} vs A = {label_a}, paired by seed (diff = B − A; equivalent: 90% CI "
        f"within ±{cmp.margin:g} pt; different: 95% CI excludes 0)"
    ]
    rows = []
    for d in cmp.cells:
        unpaired = f" (+{d.b_only} B-only, {d.a_only} A-only seeds ignored)" if d.a_only or d.b_only else ""
        rows.append(
            [
                d.cell.target,
                d.cell.method,
                n_text(d.cell.n_per_class),
                f"{d.paired.ci.n}{unpaired}",
                f"{d.mean_a:.2f}",
                f"{d.mean_b:.2f}",
                f"{d.paired.ci.mean:+.2f}",
                d.reading,
                d.why(),
            ]
        )
    if rows:
        lines += _table(["target", "method", "N", "seeds", "A", "B", "B−A", "reading", "why"], rows)
    else:
        lines.append("no cell on both sides")
    counts = ", ".join(f"{r} {cmp.count(r)}" for r in (IDENTICAL, EQUIVALENT, DIFFERENT, CANT_TELL))
    lines.append(f"cells: {counts}")
    for label, cells in ((f"only in A ({label_a})", cmp.only_a), (f"only in B ({label_b})", cmp.only_b)):
        if cells:
            lines.append(f"{label}: " + ", ".join(c.text() for c in cells))
    for side, other, arms in (("A", "B", cmp.arms_only_a), ("B", "A", cmp.arms_only_b)):
        for arm in arms:
            alike = [y if side == "A" else x for x, y in cmp.renames if arm == (x if side == "A" else y)]
            hint = (
                "likely renamed: " + ", ".join(f"{t}/{m} (only in {other}, same N and seeds)" for t, m in alike)
                if alike
                else f"no arm only in {other} has its N and seeds"
            )
            lines.append(f"warning: {arm[0]}/{arm[1]} only in {side}, not compared; {hint}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class VerdictPair:
    id: str  # the claim id, e.g. learning_helps@n5
    a: dict | None  # the row on each side; None where the side lacks it
    b: dict | None

    @property
    def same(self) -> bool:
        return self.a is not None and self.b is not None and self.a["verdict"] == self.b["verdict"]


def _by_id(table: dict) -> dict:
    """{id: row}; a table of the format before claim ids ({claim: {comparison: row}}) is flattened
    to ids "claim: comparison", which match no current id (so its rows read as absent, not as equal)."""
    out = {}
    for key, value in table.items():
        if isinstance(value, dict) and "verdict" not in value:
            out.update({f"{key}: {comparison}": row for comparison, row in value.items()})
        else:
            out[key] = value
    return out


def pair_verdicts(a: dict, b: dict) -> list[VerdictPair]:
    """The rows of two claims tables ({id: row}) matched by claim id (never by position): the
    comparison text names arms picked on val (the best baseline), which may differ between sides
    while the claim is the same one."""
    a, b = _by_id(a), _by_id(b)
    return [VerdictPair(cid, a.get(cid), b.get(cid)) for cid in list(a) + [c for c in b if c not in a]]


def _row_text(row: dict | None) -> str:
    if row is None:
        return "absent"
    interval = "" if row.get("low") is None else f" [{row['low']:+.2f}, {row['high']:+.2f}]"
    mean = "" if row.get("mean") is None else f" {row['mean']:+.2f}"
    return f"{row['verdict']}{mean}{interval}"


def format_verdicts(pairs: list[VerdictPair], label_a: str = "A", label_b: str = "B") -> str:
    same = sum(p.same for p in pairs)
    lines = [f"claims: verdict A = {label_a} -> B = {label_b} (paired mean diff and CI of each side)"]
    rows = [
        ["same" if p.same else "CHANGED", p.id, (p.a or p.b).get("comparison", ""), _row_text(p.a), _row_text(p.b)]
        for p in pairs
    ]
    lines += _table(["", "claim", "comparison (A's)", "A", "B"], rows)
    lines.append(f"verdicts: {same} of {len(pairs)} the same")
    return "\n".join(lines) + "\n"


def main_compare(
    rev_a: str | None,
    rev_b: str | None,
    path: str,
    repo: str | Path = ".",
    metrics: str | None = None,
    margin: float = MARGIN,
) -> tuple[str, bool | None]:
    """`l2tww compare [REV_A] [REV_B]`: the CLI passes rev_a="HEAD", rev_b=None (the working tree) by
    default, and the summary's metrics.json as `metrics`. Returns the text and whether every claim
    kept its verdict (None unless both sides have a claims table)."""
    a, b = load_records(path, rev_a, repo), load_records(path, rev_b, repo)
    label_a, label_b = rev_a or "workspace", rev_b or "workspace"
    text = format_comparison(compare(a, b, margin), label_a, label_b)
    claims = [load_claims(metrics, rev, repo) for rev in (rev_a, rev_b)] if metrics else [None, None]
    if claims[0] is None or claims[1] is None:
        return text, None
    pairs = pair_verdicts(*claims)
    return text + "\n" + format_verdicts(pairs, label_a, label_b), all(p.same for p in pairs)
