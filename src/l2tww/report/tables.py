"""The report's tables, built once (no torch, no pandas; intervals from statistics.stats) so the
notebooks and the markdown summary print the same numbers. Every accuracy is the test top-1 at each run's best-val
epoch, mean ± sample std over seeds, with n seeds stated.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from ..catalog import IMAGE_FOLDER
from ..results.cells import group_cells, n_order, n_text
from ..statistics import stats
from . import evidence
from . import paper_numbers as paper
from .context import ReportContext


def mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def acc_text(members: list[dict], key: str = "test_acc") -> str:
    """mean ± the half-width of its 95% t-interval over seeds (under 3 seeds: the mean only)."""
    ci = stats.mean_ci([r[key] for r in members])
    if len(members) < evidence.MIN_SEEDS_FOR_INTERVAL:
        return f"{ci.mean:.2f}"
    return f"{ci.mean:.2f} ± {ci.half_width:.2f}"


def epochs_text(members: list[dict]) -> str:
    return ", ".join(str(r["best_epoch"]) for r in members)


# -- tables ------------------------------------------------------------------------------------------
def table1(ctx: ReportContext, runs: list[dict]) -> list[list[str]]:
    """Every target x method at the target's primary N, with the paper's number and the delta."""
    groups = group_cells(runs)
    rows = []
    for target in ctx.targets:
        n = ctx.targets[target]["primary_n"]
        for method in ctx.targets[target]["methods"]:
            members = groups.get((target, method, n))
            if not members:
                continue
            ref = (
                paper.table1_number(
                    ctx.targets[target]["builder"], ctx.methods[method], ctx.targets[target]["source_builders"]
                )
                if n is None
                else None
            )
            mean = mean_std([r["test_acc"] for r in members])[0]
            delta = f"{mean - ref.value:+.2f}" if ref else "–"
            rows.append(
                [
                    target,
                    n_text(n),
                    ctx.label(method),
                    str(len(members)),
                    acc_text(members),
                    epochs_text(members),
                    ref.text() if ref else "–",
                    delta,
                ]
            )
    return rows


TABLE1_HEADER = [
    "target",
    "N/class",
    "method",
    "seeds",
    "test top-1 % (mean ± 95% CI)",
    "best-val epoch per seed",
    "paper",
    "Δ vs paper",
]


def lowdata(ctx: ReportContext, runs: list[dict]) -> dict[str, dict[str, list[tuple]]]:
    """target -> method -> [(N, mean, std, seeds, paper number or None)], for methods run at > 1 N."""
    groups = group_cells(runs)
    out: dict = {}
    for target in ctx.targets:
        for method in ctx.targets[target]["methods"]:
            points = [
                (
                    n,
                    *mean_std([r["test_acc"] for r in ms]),
                    len(ms),
                    paper.lowdata_number(
                        ctx.targets[target]["builder"], ctx.methods[method], n, ctx.targets[target]["source_builders"]
                    ),
                )
                for (t, m, n), ms in groups.items()
                if (t, m) == (target, method)
            ]
            if len(points) > 1:
                out.setdefault(target, {})[method] = sorted(points, key=lambda p: n_order(p[0]))
    return out


def lowdata_table(ctx: ReportContext, curves: dict) -> tuple[list[str], list[list[str]]]:
    ns = sorted({p[0] for methods in curves.values() for points in methods.values() for p in points}, key=n_order)
    header = ["target", "method"] + [f"N={n_text(n)}: mean ± std (seeds)" for n in ns]
    rows = []
    for target, methods in curves.items():
        for method, points in methods.items():
            cell = {
                p[0]: f"{p[1]:.2f} ± {p[2]:.2f} (n={p[3]})" + (f"; paper {p[4].text()}" if p[4] else "") for p in points
            }
            rows.append([target, ctx.label(method)] + [cell.get(n, "–") for n in ns])
    return header, rows


def multisource(ctx: ReportContext, runs: list[dict]) -> list[list[str]]:
    """Targets with > 1 source, beside single-source targets on the same data, arch, method and N."""
    groups = group_cells(runs)
    targets = ctx.targets
    rows = []
    for name, t in targets.items():
        if len(t["sources"]) < 2:
            continue
        for (target, method, n), members in groups.items():
            if target != name:
                continue
            rows.append(
                [name, " + ".join(t["sources"]), ctx.label(method), n_text(n), str(len(members)), acc_text(members)]
            )
            for other, o in targets.items():
                same = o["dataset"] == t["dataset"] and o["arch"] == t["arch"] and set(o["sources"]) < set(t["sources"])
                if same and groups.get((other, method, n)):
                    ref = groups[(other, method, n)]
                    rows.append(
                        [other, " + ".join(o["sources"]), ctx.label(method), n_text(n), str(len(ref)), acc_text(ref)]
                    )
    return rows


MULTI_HEADER = ["target", "sources", "method", "N/class", "seeds", "test top-1 % (mean ± 95% CI)"]


def md_table(header: list[str], rows: list[list[str]]) -> str:
    # A `|` in a header or a cell is escaped: unescaped, it ends the cell and the table renders as text.
    lines = ["| " + " | ".join(cell.replace("|", "\\|") for cell in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def data_notes(ctx: ReportContext) -> list[str]:
    """One line per image folder: what prepare read, and how many unreadable images it skipped."""
    lines = []
    for name, d in ctx.data.items():
        counts = d["counts"]
        test = "no test/ folder: test held out of train/" if counts["test"] is None else f"{counts['test']} in test/"
        skipped = d["skipped_unreadable"]
        lines.append(
            f"- `{name}` (image folder `{d['root']}`): {counts['train']} images in train/, {test}; "
            + (
                f"**{skipped} unreadable image{'s' if skipped != 1 else ''} skipped** (skip_unreadable: true; listed "
                f"in `{d['manifest']}`)"
                if skipped
                else f"no image skipped (every image's sha256: `{d['manifest']}`)"
            )
        )
    return lines


def no_paper_numbers(builders: list[str]) -> str:
    """Why the report prints no paper numbers (none of the datasets is the paper's)."""
    if IMAGE_FOLDER in builders:
        return (
            "your own images are not the paper's data; the claims table's paired differences, not the paper's "
            "numbers, say whether L2T-ww helps on them"
        )
    return "the embedded default is a miniature, not a reproduction"


# -- markdown summary -------------------------------------------------------------------------------------
def markdown_summary(ctx: ReportContext, runs: list[dict], figures: list[str], links: dict[str, str]) -> str:
    """The summary page; `figures` and `links` ("html": the report page, "cost": the cost page) as
    links relative to it."""
    builders = sorted({t["builder"] for t in ctx.targets.values()})
    out = [
        "# L2T-ww reproduction: summary",
        "",
        f"Made from `{ctx.origin}`, runs under `{ctx.results_root}`; {len(runs)} runs. "
        f"Every accuracy: {runs[0]['selection']}; Table 1 gives the mean ± the half-width of its 95% t-interval "
        "over the seeds stated (3 or more). "
        f"Full report with figures: [{links['html']}]({links['html']}).",
        "",
        "## Table 1",
        "",
        md_table(TABLE1_HEADER, table1(ctx, runs)),
        "",
    ]
    if ctx.claims:
        out += ["## The paper's claims", "", evidence.plan_line(ctx.plan), "", evidence.CLAIMS_NOTE, ""]
        out += [md_table(*evidence.claims_rows(ctx.claims)), ""]
    if ctx.diagnostics:
        out += [
            "## Meta-net diagnostics (not claims)",
            "",
            evidence.DIAGNOSTICS_NOTE,
            "",
            md_table(*evidence.diagnostics_rows(ctx.diagnostics)),
            "",
        ]
    header, rows, note = evidence.per_class(ctx, runs)
    if rows:
        out += ["## Which classes gain from transfer", "", note, "", md_table(header, rows), ""]
    if not paper.has_paper_numbers(builders):
        out += [
            f"No paper numbers apply: the datasets ({', '.join(builders)}) are not in the paper "
            f"({no_paper_numbers(builders)}).",
            "",
        ]
    if ctx.data:
        out += ["## Data", "", *data_notes(ctx), ""]
    else:
        out += [
            f"{paper.TABLE1_CAPTION} [V] verified (the paper's abstract); [R] recalled, unverified. Paper numbers are "
            "compared only at N = all.",
            "",
        ]
    curves = lowdata(ctx, runs)
    if curves:
        out += ["## Low-data", "", md_table(*lowdata_table(ctx, curves)), ""]
    multi = multisource(ctx, runs)
    if multi:
        out += ["## Multi-source", "", md_table(MULTI_HEADER, multi), ""]
    out += [
        "## Cost",
        "",
        f"Time per epoch and peak memory: [{links['cost']}]({links['cost']}) (apart, since they differ at every "
        "execution).",
        "",
    ]
    if figures:
        out += ["## Figures", ""] + [f"- [{Path(f).stem}]({f})" for f in figures] + [""]
    return "\n".join(out)
