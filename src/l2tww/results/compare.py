"""Compare the per-seed results of two revisions, paired by (target, method, n, seed).

A cell (target, method, n) changed if any shared seed's test accuracy differs or its seed set
differs. For each changed cell: the paired difference B - A over the shared seeds, its 95% t-interval
and whether it exceeds seed noise (the CI excludes 0). A shift inside the CI is what re-running with
other seeds could give; one outside it is an effect of the change between the revisions.

The per-seed file is git-tracked (CSV with a header, or a JSON list of records): a revision's copy
is read with `git show REV:PATH`; revision None means the file in the working tree, and a
directory means another checkout's copy (e.g. the same commit re-run on another machine).

Beside the cells, the claims tables of the two sides' metrics.json (where both have one) are set
side by side: a claim whose verdict differs is what a reader of either side would conclude
differently (`l2tww compare --same-verdicts` exits 1 then: issue 12's machine-robustness check).
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from . import stats
from .cells import Cell, n_text, parse_n, seeds_by_cell


@dataclass(frozen=True)
class CellDiff:
    cell: Cell
    mean_a: float
    mean_b: float
    paired: stats.Paired  # B - A, so paired.only_a counts B's unpaired seeds: read a_only/b_only

    @property
    def a_only(self) -> int:
        return self.paired.only_b

    @property
    def b_only(self) -> int:
        return self.paired.only_a

    @property
    def beyond_noise(self) -> bool:
        ci = self.paired.ci
        return ci.low is not None and (ci.low > 0 or ci.high < 0)


@dataclass(frozen=True)
class Comparison:
    changed: list[CellDiff]
    unchanged: int
    only_a: list[Cell]  # cells of A with no seed shared with B (absent from B, or other seeds only)
    only_b: list[Cell]


def _record(raw: dict, where: str) -> dict:
    out = dict(raw)
    for key in ("target", "method", "seed", "test_acc"):
        if raw.get(key) in (None, ""):
            raise ValueError(f"{where}: key {key} missing")
    try:
        out["n_per_class"], out["seed"], out["test_acc"] = (
            parse_n(raw.get("n_per_class")),
            int(raw["seed"]),
            float(raw["test_acc"]),
        )
    except (TypeError, ValueError):
        raise ValueError(
            f"{where}: n_per_class={raw.get('n_per_class')!r} seed={raw['seed']!r} test_acc={raw['test_acc']!r}: "
            "expected integers and a number"
        ) from None
    return out


def parse_records(text: str, name: str) -> list[dict]:
    """Per-run records from CSV (by header) or a JSON list; `name` ends in .csv or .json."""
    if name.endswith(".json"):
        data = json.loads(text)
        if not isinstance(data, list):
            raise ValueError(f"{name}: expected a JSON list of per-run records, got {type(data).__name__}")
        return [_record(r, f"{name}: record {i}") for i, r in enumerate(data)]
    if name.endswith(".csv"):
        return [_record(r, f"{name}: row {i + 2}") for i, r in enumerate(csv.DictReader(io.StringIO(text)))]
    raise ValueError(f"{name}: per-seed results must be .csv or .json")


def read_side(path: str, rev: str | None = None, repo: str | Path = ".", what: str = "file") -> tuple[str, str]:
    """(text, where) of `path` (relative to the repository root) at git revision `rev`, on disk if
    None, or in another checkout if `rev` is a directory."""
    if rev is None or Path(rev).is_dir():
        file = Path(repo if rev is None else rev) / path
        if not file.exists():
            raise FileNotFoundError(f"{file}: {what} not found")
        return file.read_text(), str(file)
    spec = f"{rev}:{PurePosixPath(Path(path).as_posix())}"
    done = subprocess.run(["git", "-C", str(repo), "show", spec], capture_output=True, text=True)
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or ["git show failed"])[0]
        raise FileNotFoundError(f"{spec}: {first}")
    return done.stdout, spec


def load_records(path: str, rev: str | None = None, repo: str | Path = ".") -> list[dict]:
    """Per-seed records of `path` at `rev` (see read_side)."""
    return parse_records(*read_side(path, rev, repo, "per-seed results"))


def load_claims(path: str, rev: str | None = None, repo: str | Path = ".") -> dict | None:
    """The claims table of the metrics.json at `path` and `rev`; None where it has none."""
    try:
        text, where = read_side(path, rev, repo)
    except FileNotFoundError:
        return None
    try:
        return json.loads(text).get("claims")
    except (json.JSONDecodeError, AttributeError):
        raise ValueError(f"{where}: expected a JSON object (the summary's metrics)") from None


def _cells(records: list[dict]) -> dict[Cell, dict]:
    return {
        cell: {s: r["test_acc"] for s, r in seeds.items()} for cell, seeds in seeds_by_cell(records, "compare").items()
    }


def _mean(by_seed: dict, seeds) -> float:
    return sum(by_seed[s] for s in seeds) / len(seeds)


def compare(a: list[dict], b: list[dict], level: float = stats.LEVEL) -> Comparison:
    ca, cb = _cells(a), _cells(b)
    changed, unchanged, only_a, only_b = [], 0, [], []
    for cell in sorted(set(ca) | set(cb), key=Cell.order):
        sa, sb = ca.get(cell, {}), cb.get(cell, {})
        if not set(sa) & set(sb):  # nothing to pair: list the cell on each side that has it
            if sa:
                only_a.append(cell)
            if sb:
                only_b.append(cell)
            continue
        paired = stats.paired_difference(sb, sa, level)
        if set(sa) == set(sb) and not any(paired.diffs):
            unchanged += 1
            continue
        changed.append(CellDiff(cell, _mean(sa, paired.seeds), _mean(sb, paired.seeds), paired))
    return Comparison(changed, unchanged, only_a, only_b)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header, *rows]]


def format_comparison(cmp: Comparison, label_a: str = "A", label_b: str = "B") -> str:
    lines = [f"per-seed test accuracy, B = {label_b} vs A = {label_a}, paired by seed (diff = B − A, 95% t-interval)"]
    if cmp.changed:
        rows = []
        for d in cmp.changed:
            ci = d.paired.ci
            unpaired = f" (+{d.b_only} B-only, {d.a_only} A-only seeds ignored)" if d.a_only or d.b_only else ""
            interval = "no interval" if ci.low is None else f"[{ci.low:+.2f}, {ci.high:+.2f}]"
            verdict = "yes" if d.beyond_noise else ("n/a" if ci.low is None else "no")
            rows.append(
                [
                    d.cell[0],
                    d.cell[1],
                    n_text(d.cell.n_per_class),
                    f"{ci.n}{unpaired}",
                    f"{d.mean_a:.2f}",
                    f"{d.mean_b:.2f}",
                    f"{ci.mean:+.2f}",
                    interval,
                    verdict,
                ]
            )
        lines += _table(["target", "method", "N", "seeds", "A", "B", "B−A", "95% CI", "beyond noise"], rows)
    else:
        lines.append("no changed cell")
    lines.append(f"unchanged cells: {cmp.unchanged}")
    for label, cells in ((f"only in A ({label_a})", cmp.only_a), (f"only in B ({label_b})", cmp.only_b)):
        if cells:
            lines.append(f"{label}: " + ", ".join(c.text() for c in cells))
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class VerdictPair:
    claim: str
    a: tuple[str, dict] | None  # (comparison, its row) on each side; None where the side lacks the row
    b: tuple[str, dict] | None

    @property
    def same(self) -> bool:
        return self.a is not None and self.b is not None and self.a[1]["verdict"] == self.b[1]["verdict"]


def pair_verdicts(a: dict, b: dict) -> list[VerdictPair]:
    """The rows of two claims tables ({claim: {comparison: row}}) matched by claim and position: the
    comparison text names arms picked on val (the best baseline), which may differ between sides."""
    out = []
    for claim in list(a) + [c for c in b if c not in a]:
        rows_a, rows_b = list(a.get(claim, {}).items()), list(b.get(claim, {}).items())
        for i in range(max(len(rows_a), len(rows_b))):
            out.append(
                VerdictPair(claim, rows_a[i] if i < len(rows_a) else None, rows_b[i] if i < len(rows_b) else None)
            )
    return out


def _row_text(side: tuple[str, dict] | None) -> str:
    if side is None:
        return "absent"
    row = side[1]
    interval = "" if row.get("low") is None else f" [{row['low']:+.2f}, {row['high']:+.2f}]"
    mean = "" if row.get("mean") is None else f" {row['mean']:+.2f}"
    return f"{row['verdict']}{mean}{interval}"


def format_verdicts(pairs: list[VerdictPair], label_a: str = "A", label_b: str = "B") -> str:
    same = sum(p.same for p in pairs)
    lines = [f"claims: verdict A = {label_a} -> B = {label_b} (paired mean diff and 95% CI of each side)"]
    rows = [["same" if p.same else "CHANGED", p.claim, (p.a or p.b)[0], _row_text(p.a), _row_text(p.b)] for p in pairs]
    lines += _table(["", "claim", "comparison (A's)", "A", "B"], rows)
    lines.append(f"verdicts: {same} of {len(pairs)} the same")
    return "\n".join(lines) + "\n"


def main_compare(
    rev_a: str | None, rev_b: str | None, path: str, repo: str | Path = ".", metrics: str | None = None
) -> tuple[str, bool | None]:
    """`l2tww compare [REV_A] [REV_B]`: the CLI passes rev_a="HEAD", rev_b=None (the working tree) by
    default, and the summary's metrics.json as `metrics`. Returns the text and whether every claim
    kept its verdict (None unless both sides have a claims table)."""
    a, b = load_records(path, rev_a, repo), load_records(path, rev_b, repo)
    label_a, label_b = rev_a or "workspace", rev_b or "workspace"
    text = format_comparison(compare(a, b), label_a, label_b)
    claims = [load_claims(metrics, rev, repo) for rev in (rev_a, rev_b)] if metrics else [None, None]
    if claims[0] is None or claims[1] is None:
        return text, None
    pairs = pair_verdicts(*claims)
    return text + "\n" + format_verdicts(pairs, label_a, label_b), all(p.same for p in pairs)
