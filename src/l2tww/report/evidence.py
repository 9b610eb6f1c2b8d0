"""The report's evidence sections, shared by the notebook and the markdown summary: the claims table,
the meta-net diagnostics and the per-class gains over scratch."""

from __future__ import annotations

from pathlib import Path

from ..io import read_json
from ..results import stats
from ..results.cells import n_text, seeds_by_cell
from ..results.claims import best_on_val
from ..results.verdicts import EQUIVALENCE, NOT_RUN
from .context import ReportContext

CLAIMS_NOTE = (
    "Each claim is a one-sided paired difference A − B > 0 over the seeds both arms ran (same subset and "
    "target init per seed), test top-1 in points, with its 95% t-interval. Verdict rule (fixed before the "
    "confirmation runs, `l2tww.results.verdicts`): the accuracy claims are one family; supported if the "
    "Holm-adjusted p of the one-sided paired t-test is ≤ the plan's level, contradicted if the Holm-adjusted p "
    "of the opposite test is, else inconclusive. Rows with ≥ 10 seeds also give the exact sign-flip p. Planned "
    "n: the seeds for the plan's power at the plan's effect at level α/m, from the design seeds' SD. "
    "Fast ≈ exact is an equivalence test (TOST, 90% interval) outside the family. The best baseline / single "
    "source is chosen on validation accuracy."
)
DIAGNOSTICS_NOTE = (
    "Checks of the mechanism, not claims (no verdict). *Moved*: issue 12's per-run thresholds; movement alone "
    "is no evidence of learning (Adam moves every parameter whatever the gradient's signal), and the frozen "
    "control must not move. *Agree*: Kendall's W over seeds of the pairs' relative λ change, against a "
    "permutation null (each seed's ranking shuffled independently): learning from the data makes independent "
    "seeds favour the same pairs, noise does not. Pairs only: channel weights are logged as one entropy per pair."
)
PER_CLASS_NOTE = (
    "Per-class test accuracy (recall, from each run's confusion matrix: `sklearn.metrics`) minus scratch's, "
    "paired by seed, mean with its 95% t-interval. ▲ / ▼: the interval lies above / below 0. Descriptive: one "
    "interval per class, not corrected for the number of classes."
)


def _num(x) -> str:
    return "—" if x is None else stats.fmt(x)


def _p(x) -> str:
    return "—" if x is None else (f"{x:.1e}" if x < 1e-3 else f"{x:.3f}")


def claims_rows(rows: list[dict]) -> tuple[list[str], list[list[str]]]:
    header = ["claim", "comparison", "n", "mean", "CI", "p", "Holm p (m)", "sign-flip p", "planned n (power)"]
    out = []
    for r in rows:
        ci = "—" if r["low"] is None else f"[{_num(r['low'])}, {_num(r['high'])}]"
        if r["kind"] == EQUIVALENCE and r["low"] is not None:
            ci += " (90%)"
        planned = "—" if r["planned_n"] is None else str(r["planned_n"])
        if r["power"] is not None:
            planned += f" ({r['power']:.2f} at n={r['n']})"
        holm = "—" if r["p_holm"] is None else f"{_p(r['p_holm'])} (m={r['m']})"
        p = ("TOST " if r["kind"] == EQUIVALENCE and r["p"] is not None else "") + _p(r["p"])
        numbers = [str(r["n"]), _num(r["mean"]), ci, p, holm, _p(r["p_perm"]), planned]
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


def _gain_text(ci: stats.MeanCI) -> str:
    if ci.low is None:
        return f"{ci.mean:+.1f} (1 seed)"
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
    best = best_on_val(cells, tuple(tuple(a) for a in roles.get("baselines", [])), n)
    if best:
        arms.append((f"best baseline on val: {ctx.label(best[0][1])}", best[0]))
    if roles.get("frozen"):
        arms.append(("frozen control", tuple(roles["frozen"])))
    base = cells.get((*scratch, n), {})
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
                column.append(_gain_text(stats.mean_ci([x - y for x, y in pairs])))
        columns.append(column)
    names = _class_names(next(iter(base.values())), count)
    rows = [[names[c]] + [col[c] for col in columns] for c in range(count)]
    note = f"{PER_CLASS_NOTE} Target {l2tww[0]}, N={n_text(n)}."
    return header, rows, note
