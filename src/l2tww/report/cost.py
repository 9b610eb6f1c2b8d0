"""Time per epoch and peak memory per method: the cost page and one figure per target.

Kept apart from the report proper: timings differ at every execution, while the report, the
summary and every hashed artifact must be the same bytes at every rerun (DVC records them). The
numbers come from each run's timing.json; a run pulled from a DVC remote has none here and is left
out of the means (its count is stated).
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ..io import atomic_path, write_text  # noqa: E402
from ..results.cells import group_cells, n_text  # noqa: E402
from .context import ReportContext  # noqa: E402
from .tables import md_table, mean_std  # noqa: E402

HEADER = [
    "target",
    "N/class",
    "method",
    "seeds timed",
    "s / epoch (mean ± std)",
    "vs scratch",
    "peak memory MB (max)",
    "student / meta params",
    "device",
]
PEAK_MEMORY_NOTE = (
    "Peak memory: CUDA max allocated on a GPU; on a CPU the peak resident set size during the run (data "
    "and Python included)."
)


def _timed(members: list[dict]) -> list[dict]:
    return [r["timing"] for r in members if r.get("timing")]


def cost_rows(ctx: ReportContext, runs: list[dict]) -> list[list[str]]:
    """Per target x method at the target's primary N: time per epoch, its ratio to scratch (of this
    target, else of one on the same data and architecture), peak memory, parameter counts."""
    groups = group_cells(runs)
    rows = []
    for target, t in ctx.targets.items():
        n = t["primary_n"]
        peers = [target] + [o for o, c in ctx.targets.items() if (c["dataset"], c["arch"]) == (t["dataset"], t["arch"])]
        base = next(
            (
                _timed(groups[(p, m, n)])
                for p in peers
                for m, cfg in ctx.methods.items()
                if cfg["kind"] == "scratch" and _timed(groups.get((p, m, n), []))
            ),
            None,
        )
        base_t = mean_std([x["time_per_epoch_s"] for x in base])[0] if base else None
        for method in t["methods"]:
            members = groups.get((target, method, n))
            timed = _timed(members or [])
            if not timed:
                continue
            mean, std = mean_std([x["time_per_epoch_s"] for x in timed])
            machine = timed[0].get("machine", {})
            rows.append(
                [
                    target,
                    n_text(n),
                    ctx.label(method),
                    f"{len(timed)} of {len(members)}",
                    f"{mean:.2f} ± {std:.2f}",
                    f"{mean / base_t:.1f}×" if base_t else "–",
                    f"{max(x['peak_memory_mb'] for x in timed):.0f}",
                    f"{members[0].get('student_params', 0):,} / {members[0].get('meta_params', 0):,}",
                    f"{machine.get('device', '?')} ({machine.get('threads', '?')} threads)",
                ]
            )
    return rows


def _figure(ctx: ReportContext, runs: list[dict], target: str, path: Path) -> bool:
    n = ctx.targets[target]["primary_n"]
    groups = group_cells(runs)
    sel = [(m, _timed(groups.get((target, m, n), []))) for m in ctx.targets[target]["methods"]]
    sel = [(m, timed) for m, timed in sel if timed]
    if len(sel) < 2:
        return False
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 0.35 * len(sel) + 1.8), sharey=True)
    ys = range(len(sel))
    stats = [mean_std([x["time_per_epoch_s"] for x in timed]) for _, timed in sel]
    a.barh(ys, [m for m, _ in stats], xerr=[s for _, s in stats], color="tab:orange", capsize=2)
    a.set_yticks(ys, [ctx.label(m) for m, _ in sel])
    a.invert_yaxis()
    a.set_xlabel("time per epoch (s), mean ± std over seeds")
    b.barh(ys, [max(x["peak_memory_mb"] for x in timed) for _, timed in sel], color="tab:green")
    b.set_xlabel("peak memory (MB), max over seeds")
    fig.suptitle(f"Cost: {target}, N={n_text(n)}")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=130, bbox_inches="tight")
    plt.close(fig)
    return True


def write_cost(ctx: ReportContext, page: Path, figures: Path) -> Path:
    """The cost page and, beside it, one figure per target (`figures`: a glob pattern whose * is
    the target's name, config/layout.py: report_outputs); stale figures of a previous render go."""
    page, figures = Path(page), Path(figures)
    for folder in {page.parent, figures.parent}:
        folder.mkdir(parents=True, exist_ok=True)
    names = {target: figures.name.replace("*", target) for target in ctx.targets}
    drawn = [t for t in ctx.targets if _figure(ctx, ctx.runs, t, figures.with_name(names[t]))]
    for old in figures.parent.glob(figures.name):
        if old.name not in {names[t] for t in drawn}:
            old.unlink()
    text = [
        "# Cost: time per epoch and peak memory",
        "",
        "Measured in the runs themselves (train + val pass per epoch, `timing.json` beside each run's metrics); "
        "the device and threads are the runs' own. These numbers differ at every execution, which is why they live "
        "here and not in the report, the summary or any file DVC hashes.",
        "",
        md_table(HEADER, cost_rows(ctx, ctx.runs)),
        "",
        PEAK_MEMORY_NOTE,
        "",
    ]
    links = {t: Path(os.path.relpath(figures.with_name(names[t]), page.parent)).as_posix() for t in drawn}
    text += [f"![{t}]({links[t]})" for t in drawn]
    write_text(page, "\n".join(text + [""]))
    return page
