"""Serial gatekeeping over ordered gates of paired comparisons: general statistics, no claim names.

The procedure (serial gatekeeping, Westfall & Krishen 2001; Dmitrienko, Offen & Westfall 2003), at a
family-wise level alpha over every decision it makes:

1. The first gate receives alpha. A gate that receives level 0 decides nothing ("not reached").
2. A gatekeeper gate tests each row one-sidedly in its planned direction (H0: A − B <= 0), with Holm's
   step-down over the gate's rows at the level it received. It passes that whole level to the next
   gate only if EVERY row is supported; it makes no other decision (a wrong-direction or equivalence
   reading of its rows is descriptive).
3. The decision gate, the last, decides every row two-sidedly with its margin (decide.py: supported,
   contradicted, equivalent, or both) at level/k per row, k its row count (Bonferroni), and passes
   nothing on.

Why the chance of any false decision is at most alpha: let g be the first gatekeeper gate with a
row whose true difference is <= 0 (its H0 true). Before g every H0 is false, so no decision there is
false. If such a g exists, every later gate is reached only if g passes, which needs that row
wrongly supported: so any false decision implies one in gate g, whose Holm test has level <= alpha.
If none exists, gatekeepers make no false decision, and the decision gate's rows each err with
probability <= level/k (decide.py's partitioning argument), <= alpha in all by Bonferroni. Holm is
not used in the decision gate: its step-down argument needs one null per row, and a two-sided row
with a margin has three.

tests/test_gatekeeping.py checks this by simulating null families.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from . import decide, stats

GATEKEEPER, DECISION = "gatekeeper", "decide"
NOT_REACHED = "not reached"


@dataclass(frozen=True)
class Gate:
    name: str
    rows: tuple[str, ...]
    test: str = GATEKEEPER  # GATEKEEPER or DECISION (the last gate only)


@dataclass(frozen=True)
class GateResult:
    gate: Gate
    level: float  # the level this gate received (0: not reached)
    passed: bool  # a gatekeeper whose every row was supported
    decisions: dict[str, decide.Decision]  # row id -> its decision (absent: row not reached or not run)
    row_levels: dict[str, float]  # row id -> the level its decision was made at (Holm's step or level/k)


def validate(gates: Sequence[Gate]) -> list[str]:
    """Problems of a gate list, each one line: empty gates, a row in two gates, a decision gate not last."""
    problems, seen = [], set()
    for i, gate in enumerate(gates):
        if not gate.rows:
            problems.append(f"gates[{i}] ({gate.name}): no rows")
        if gate.test not in (GATEKEEPER, DECISION):
            problems.append(f"gates[{i}] ({gate.name}): test {gate.test!r}: expected {GATEKEEPER} or {DECISION}")
        if gate.test == DECISION and i != len(gates) - 1:
            problems.append(f"gates[{i}] ({gate.name}): a decide gate passes no level on, so it must be the last gate")
        for row in gate.rows:
            if row in seen:
                problems.append(f"gates[{i}] ({gate.name}): row {row!r} is already in an earlier gate")
            seen.add(row)
    return problems


def _holm_levels(pvalues: list[float], level: float) -> tuple[list[bool], list[float]]:
    """Holm's step-down at `level`: rejections (stats.holm's adjusted p <= level; the same as
    statsmodels' multipletests "holm", which tests/test_gatekeeping.py checks, at a fraction of its
    cost: it runs gc.collect at every call) and each row's step level level / (k - rank)."""
    k = len(pvalues)
    reject = [p <= level for p in stats.holm(pvalues)]
    order = sorted(range(k), key=lambda i: pvalues[i])
    steps = [0.0] * k
    for rank, i in enumerate(order):
        steps[i] = level / (k - rank)
    return reject, steps


def gatekeep(
    gates: Sequence[Gate], diffs: Mapping[str, Sequence[float]], margins: Mapping[str, float], alpha: float = 0.05
) -> list[GateResult]:
    """Decide every row of `gates` (see the module docstring). diffs: row id -> paired differences
    (a row without them counts as not supported: its gate cannot pass); margins: row id -> points."""
    problems = validate(gates)
    if problems:
        raise ValueError("gatekeeping: " + problems[0])
    out, level = [], alpha
    for gate in gates:
        present = [r for r in gate.rows if r in diffs]
        if level <= 0 or not present:
            out.append(GateResult(gate, level, False, {}, {}))
            level = 0.0
            continue
        if gate.test == GATEKEEPER:
            p = [decide.t_p(diffs[r], 0.0, "greater") for r in present]
            reject, steps = _holm_levels(p, level)
            decisions = {}
            for r, ok, step in zip(present, reject, steps):  # each row shown at its Holm step's level
                found = decide.decide(diffs[r], margins[r], step, directional_only=True)
                decisions[r] = replace(found, verdict=decide.SUPPORTED if ok and found.n >= 2 else decide.INCONCLUSIVE)
            passed = len(present) == len(gate.rows) and all(d.verdict == decide.SUPPORTED for d in decisions.values())
            out.append(GateResult(gate, level, passed, decisions, dict(zip(present, steps))))
            level = level if passed else 0.0
        else:
            each = level / len(gate.rows)
            decisions = {r: decide.decide(diffs[r], margins[r], each) for r in present}
            out.append(GateResult(gate, level, False, decisions, {r: each for r in present}))
            level = 0.0
    return out
