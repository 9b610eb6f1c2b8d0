"""The report's evidence sections, shared by the notebook and the markdown summary: the claims table,
the meta-net diagnostics and the per-class gains over scratch."""

from __future__ import annotations

from pathlib import Path

from ..io import read_json
from ..results.cells import n_text, seeds_by_cell
from ..results.claims import best_on_val
from ..results.verdicts import NOT_RUN
from ..statistics import stats
from .context import ReportContext

# Fewer seeds than this show no interval and no ▲/▼: two seeds that happen to agree give a zero-width
# "significant" interval.
MIN_SEEDS_FOR_INTERVAL = 3
N_TOO_SMALL = "n too small for an interval"
CLAIMS_NOTE = (
    "Each claim is a paired difference A − B over the seeds both arms ran (same subset and target init per "
    "seed), test top-1 in points. Decision rule (`l2tww.results.verdicts`, the same as `l2tww compare`'s): "
    "the plan's gates in order (serial gatekeeping, family-wise error ≤ the plan's level over every "
    "decision). A gatekeeper row is supported when its one-sided paired t-test passes Holm inside its gate, "
    "and the gate passes the level on only if all are. A decision-gate row, at level α/k: **supported** if "
    "its (1 − α/k) interval lies above 0, **contradicted** if below, **equivalent** if its (1 − 2α/k) interval "
    "lies inside ±its margin (TOST), both when the difference is real and smaller than the margin, else "
    "**inconclusive**. Rows outside the gates are **descriptive** (95% interval, no decision). The exact "
    "sign-flip p stands beside the t p from 6 seeds, FLAGged where they disagree. Planned n: from the design "
    "SD's upper 95% bound, the seeds for the plan's power to say supported at +effect and equivalent at 0. "
    "Fast is a first-order variant (exact's small-lr limit), compared two-sidedly like any arm. The best "
    "baseline / single source is chosen on validation accuracy."
)
DIAGNOSTICS_NOTE = (
    "Checks of the mechanism, not claims (no verdict). *Moved*: issue 12's per-run thresholds; movement alone "
    "is no evidence of learning (Adam moves every parameter whatever the gradient's signal), and the frozen "
    "control must not move. *Agree*: Kendall's W over seeds of the pairs' relative λ change, against a "
    "permutation null (each seed's ranking shuffled independently): noise does not make independent seeds "
    "favour the same pairs, but a pattern fixed by the architecture does too, and no negative control has been "
    "run: agreement is not read as learning. Pairs only: channel weights are logged as one entropy per pair."
)
PER_CLASS_NOTE = (
    "Per-class test accuracy (recall, from each run's confusion matrix) minus scratch's, "
    "paired by seed, mean with its 95% t-interval (from 3 seeds on). ▲ / ▼: the interval lies above / below 0. "
    "Descriptive: one interval per class, not corrected for the number of classes."
)


def _num(x) -> str:
    return "—" if x is None else stats.fmt(x)


def _p(x) -> str:
    return "—" if x is None else (f"{x:.1e}" if x < 1e-3 else f"{x:.3f}")


def plan_line(plan: dict | None) -> str:
    """ "plan fixed at <commit, date>; first confirmation run <date>", and what kind of run this is."""
    if not plan:
        return "No plan record in the summary: the plan cannot be shown to precede the runs."
    fixed = (
        f"plan {plan['hash']} fixed at {plan['first_commit'][:10]}, {plan['first_commit_date']}"
        if plan.get("first_commit")
        else f"plan {plan['hash']} not committed yet: it cannot be shown to precede the runs"
    )
    first = plan.get("first_run_date")
    run = f"first confirmation run {first}" if first else "first confirmation run: not committed yet"
    status = plan.get("status", "confirmation")
    if status == "re-analysis":
        return f"{fixed}; RE-ANALYSIS of seeds already seen before the plan: not a confirmation."
    if status == "draft":
        return f"{fixed}; DRAFT plan: no verdict here confirms anything."
    made = plan.get("runs_made")
    these = f"; these runs {made}" if made and made != first else ""
    return f"{fixed}; {run}{these}."


def claims_rows(rows: list[dict]) -> tuple[list[str], list[list[str]]]:
    header = ["claim", "comparison", "gate", "n", "mean", "CI", "margin", "p (t)", "p (sign-flip)", "planned n (power)"]
    out = []
    for r in rows:
        ci = "—" if r["low"] is None else f"[{_num(r['low'])}, {_num(r['high'])}]"
        if r.get("level") and r["low"] is not None:
            ci += f" ({100 * (1 - r['level']):.4g}%)"
        planned = "—" if r.get("planned_n") is None else str(r["planned_n"])
        if r.get("power") is not None:
            eq = "" if r.get("power_equivalent") is None else f", {r['power_equivalent']:.2f} eq."
            planned += f" ({r['power']:.2f}{eq} at n={r['n']})"
        p = "—" if r.get("p") is None else (_p(r["p"]) if r["mean"] is None or r["mean"] >= 0 else _p(r["p_less"]))
        flip = _p(r.get("p_perm")) + (" FLAG" if r.get("perm_disagrees") else "")
        gate = r.get("gate") or "—"
        margin = "—" if r.get("margin") is None else f"±{r['margin']:g}"
        numbers = [gate, str(r["n"]), _num(r["mean"]), ci, margin, p, flip, planned]
        if r["verdict"] == NOT_RUN:
            numbers = ["—"] * len(numbers)
        out.append([f"{r['claim']} (`{r['id']}`)", r["comparison"], *numbers, f"**{r['verdict']}**", r["reason"]])
    return header + ["verdict", "reason"], out


def diagnostics_rows(rows: list[dict]) -> tuple[list[str], list[list[str]]]:
    header = ["diagnostic", "role", "arm", "runs", "statistic", "value", "permutation p", "reading"]
    return header, [
        [f"{r['diagnostic']} (`{r['id']}`)", r["role"], r["comparison"], str(r["runs"]), r["statistic"],
         _num(r["value"]), _p(r["p"]), r["reading"]]
        for r in rows
    ]  # fmt: skip


def _class_names(run: dict, count: int) -> list[str]:
    meta = (run.get("inputs") or {}).get("data", {}).get("prepared_files", {}).get("meta")
    names = read_json(meta).get("classes", []) if meta and Path(meta).is_file() else []
    return names if len(names) == count else [f"class {i}" for i in range(count)]


def _gain_text(ci: stats.MeanCI, n: int) -> str:
    if n < MIN_SEEDS_FOR_INTERVAL:  # two agreeing seeds would give a zero-width "significant" interval
        return f"{ci.mean:+.1f} ({N_TOO_SMALL})"
    mark = " ▲" if ci.low > 0 else (" ▼" if ci.high < 0 else "")
    return f"{ci.mean:+.1f} [{ci.low:+.1f}, {ci.high:+.1f}]{mark}"


def per_class(ctx: ReportContext, runs: list[dict]) -> tuple[list[str], list[list[str]], str]:
    """(header, rows, note) of the per-class gains over scratch of L2T-ww, its best baseline on val and
    the frozen control at L2T-ww's primary N; rows empty and the note saying why when there is nothing."""
    roles = ctx.roles
    if not roles.get("l2tww") or not roles.get("scratch"):
        return [], [], "No `l2tww` and `scratch` claims roles: no per-class comparison."
    l2tww, scratch = tuple(roles["l2tww"]), tuple(roles["scratch"])
    n = ctx.targets[l2tww[0]]["primary_n"]
    cells = seeds_by_cell(runs, "report")
    arms = [("L2T-ww", l2tww)]
    absent = []  # the columns the heading promises that are not there, each with why
    best = best_on_val(cells, tuple(tuple(a) for a in roles.get("baselines", [])), n)
    if best:
        arms.append((f"best baseline on val: {ctx.label(best[0][1])}", best[0]))
    else:
        absent.append(
            "no best-baseline column: "
            + ("no baseline ran at this N" if roles.get("baselines") else "the params name no `claims.baselines`")
        )
    if roles.get("frozen"):
        arms.append(("frozen control", tuple(roles["frozen"])))
    else:
        absent.append("no frozen-control column: the params name no `claims.frozen`")
    base = cells.get((*scratch, n), {})
    absent += [f"no {label} column: no seed shared with scratch" for label, arm in arms
               if not set(cells.get((*arm, n), {})) & set(base)]  # fmt: skip
    arms = [(label, arm) for label, arm in arms if set(cells.get((*arm, n), {})) & set(base)]
    every = [r for _, arm in arms for r in cells[(*arm, n)].values()] + list(base.values())
    if not arms or any(r.get("test_class_acc") is None for r in every):
        return [], [], f"No per-class test accuracy of these arms and scratch at N={n_text(n)}: nothing to compare."
    count = len(next(iter(base.values()))["test_class_acc"])
    header = ["class"]
    columns = []
    for label, arm in arms:
        a = cells[(*arm, n)]
        shared = sorted(set(a) & set(base))
        header.append(f"{label} − scratch (n={len(shared)})")
        column = []
        for c in range(count):
            pairs = [(a[s]["test_class_acc"][c], base[s]["test_class_acc"][c]) for s in shared]
            if any(x is None or y is None for x, y in pairs):  # None: no test image of the class
                column.append("no test image")
            else:
                column.append(_gain_text(stats.mean_ci([x - y for x, y in pairs]), len(pairs)))
        columns.append(column)
    names = _class_names(next(iter(base.values())), count)
    rows = [[names[c]] + [col[c] for col in columns] for c in range(count)]
    note = f"{PER_CLASS_NOTE} Target {l2tww[0]}, N={n_text(n)}." + (f" ({'; '.join(absent)}.)" if absent else "")
    return header, rows, note
