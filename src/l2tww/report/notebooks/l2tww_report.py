# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Learning What and Where to Transfer: reproduction report
#
# Rendered by `l2tww report` (papermill) from the runs of the params file and results root named
# below. Every accuracy is the **test top-1 at each run's best-val epoch** (strict >, earliest
# epoch wins ties): Table 1 gives mean ± the half-width of its 95% t-interval over the seeds stated
# (3 or more), the curves mean ± sample std;
# comparisons are paired by seed in the claims table. Code: `src/l2tww/report/notebooks/l2tww_report.py`;
# tables: `l2tww.report.tables`; paper numbers: `l2tww.report.paper_numbers` ([V] verified from
# the paper's abstract, [R] recalled and unverified).

# %% tags=["parameters"]
context_path = None  # the ReportContext JSON: targets, methods, runs (written by `l2tww report`)
figures_dir = None  # where the PNGs go, one per figure (render passes it: config/layout.py)
plots_dir = None  # where the CSVs for `dvc plots` go, one series per file (render passes it)
cost_page = None  # the cost page, as a link from this page (render passes it)
saliency_images = 6  # test images in the saliency figure (l2tww_transfer.py)

# %%
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from l2tww.catalog import IMAGE_FOLDER
from l2tww.io import write_text
from l2tww.report import evidence, figures, tables
from l2tww.report import paper_numbers as paper
from l2tww.report.figures import mean_curve
from l2tww.report.notebook import Notebook
from l2tww.results.cells import n_text

nb = Notebook(context_path, figures_dir)
ctx, runs, groups = nb.ctx, nb.runs, nb.groups
save, table, note, primary_groups = nb.save, nb.table, nb.note, nb.primary_groups
PLOTS = Path(plots_dir)
COLOURS = figures.method_colours(ctx.methods)  # one colour per method, the same in every figure


exe = runs[0].get("execution", {})
note(
    f"**Made from** `{ctx.origin}`, runs under `{ctx.results_root}`: {len(ctx.targets)} target(s), {len(runs)} runs, "
    "each identified by the hash of its "
    "params, "
    f"inputs and code (metrics.json `identity`). torch {exe.get('torch', '?')}, device {exe.get('device', '?')} "
    f"({exe.get('device_name', '?')}), "
    f"precision {exe.get('precision', '?')}. Time and memory are in [{cost_page}]({cost_page}), apart: they differ "
    "at every execution."
)

# %% [markdown]
# ## Every claim at a glance
# Each claim's paired difference with the interval its verdict reads, the ± margin band and the verdict
# (the claims table below gives the numbers and the rule).

# %%
forest = figures.forest(ctx.claims) if ctx.claims else None
if forest is None:
    note("No claim has an interval: nothing to plot.")
else:
    note(evidence.plan_line(ctx.plan))
    save(forest, "forest")

# %% [markdown]
# ## Table 1: every target × method
# Each target at the N per class where it runs the most methods (N = all for the paper's Table 1).

# %%
table(tables.TABLE1_HEADER, tables.table1(ctx, runs))
builders = sorted({t["builder"] for t in ctx.targets.values()})
if paper.has_paper_numbers(builders):
    note(
        f"{paper.TABLE1_CAPTION} **[V]** verified (the paper's abstract); **[R]** recalled, unverified: "
        "check against arXiv 1905.05901. Δ = ours − paper, only where the run uses the full training set (N = all)."
    )
elif IMAGE_FOLDER in builders:
    note(
        f"**No paper numbers apply**: the datasets here ({', '.join(builders)}) are not in the paper: "
        f"{tables.no_paper_numbers(builders)}."
    )
else:
    note(
        f"**No paper numbers apply**: the datasets here ({', '.join(builders)}) are not in the paper. "
        "The embedded default is a miniature that demonstrates the machinery; its numbers are not the paper's."
    )
if ctx.data:
    note("**Data** (what prepare read):\n\n" + "\n".join(tables.data_notes(ctx)))

# %% [markdown]
# ## The paper's claims, tested
# One row per qualitative claim of the paper, its controls (frozen meta-nets, FM over all pairs) and
# fast − exact, per N; the plan's gates decide the primary rows, the others are descriptive.

# %%
if ctx.claims:
    note(evidence.plan_line(ctx.plan))
    note(evidence.CLAIMS_NOTE)
    table(*evidence.claims_rows(ctx.claims))
else:
    note("No `claims` roles in the params: nothing to test.")

# %% [markdown]
# ## Meta-net diagnostics (not claims)
# Did the meta-networks move, and do independent seeds agree on which pairs they up- or
# down-weight? L2T-ww beside its frozen control.

# %%
if ctx.diagnostics:
    note(evidence.DIAGNOSTICS_NOTE)
    table(*evidence.diagnostics_rows(ctx.diagnostics))
else:
    note("No L2T-ww runs with transfer statistics: no diagnostics.")

# %% [markdown]
# ## Which classes gain from transfer
# Per-class test accuracy of L2T-ww, its best baseline and the frozen control, each minus
# scratch's, paired by seed, at L2T-ww's primary N.

# %%
header, rows, per_class_note = evidence.per_class(ctx, runs)
note(per_class_note)
if rows:
    table(header, rows)

# %% [markdown]
# ## Low-data regime: accuracy vs images per class

# %%
curves = tables.lowdata(ctx, runs)
if not curves:
    note("No target runs more than one N per class: nothing to plot.")
for target, methods in curves.items():
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for method, points in methods.items():
        pts = [p for p in points if p[0] is not None]
        ns, means, stds = [p[0] for p in pts], [p[1] for p in pts], [p[2] for p in pts]
        ax.errorbar(
            ns,
            means,
            yerr=stds,
            marker="o",
            capsize=3,
            color=COLOURS[method],
            label=f"{ctx.label(method)} (n={min(p[3] for p in pts)})",
        )
        csv = "n_per_class,test_acc_mean,test_acc_std,seeds\n" + "".join(
            f"{p[0]},{p[1]:.4f},{p[2]:.4f},{p[3]}\n" for p in pts
        )
        write_text(PLOTS / "lowdata" / f"{target}-{method}.csv", csv)
        for p in pts:
            if p[4]:
                ax.scatter([p[0]], [p[4].value], marker="*", s=140, color="k", zorder=5)
                ax.annotate(
                    f"paper {p[4].text()}", (p[0], p[4].value), textcoords="offset points", xytext=(6, 4), fontsize=9
                )
    all_n = sorted({p[0] for pts in methods.values() for p in pts if p[0] is not None})
    ax.set_xscale("log")
    ax.set_xticks(all_n, [str(n) for n in all_n])
    ax.minorticks_off()
    ax.set_xlabel("training images per class, N (log scale)")
    ax.set_ylabel("test top-1 accuracy (%)")
    ax.set_title(f"{target}: test accuracy at the best-val epoch vs N\n(mean ± std over seeds)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    save(fig, f"lowdata-{target}")
    table(*tables.lowdata_table(ctx, {target: methods}))

# %% [markdown]
# ## Multi-source transfer
# Targets with more than one source (every source's pairs with their own meta-networks), beside
# single-source targets on the same data, architecture, method and N.

# %%
multi = tables.multisource(ctx, runs)
table(tables.MULTI_HEADER, multi, empty="No target has more than one source: no multi-source runs.")

# %% [markdown]
# ## Learning curves
# Validation top-1 per epoch (`history.json`, also logged by dvclive under each run's `live/`),
# mean over seeds with ± std bands; dots mark each seed's best-val epoch, whose weights give the
# reported test accuracy.

# %%
for target in ctx.targets:
    sel = [(m, n, ms) for t, m, n, ms in primary_groups() if t == target]
    fig, ax = plt.subplots(figsize=(8.5, 4.6))
    for method, n, members in sel:
        mean, std = mean_curve(members, "val_acc")
        epochs = np.arange(len(mean))
        colour = COLOURS[method]
        ax.plot(epochs, mean, color=colour, lw=1.5, label=f"{ctx.label(method)} (n={len(members)})")
        ax.fill_between(epochs, mean - std, mean + std, color=colour, alpha=0.12)
        best = [r["best_epoch"] for r in members]
        ax.scatter(best, [mean[min(b, len(mean) - 1)] for b in best], color=colour, s=18, zorder=4)
        csv = "epoch,val_acc,val_acc_std,seeds\n" + "".join(
            f"{e},{m:.4f},{s:.4f},{len(members)}\n" for e, m, s in zip(epochs, mean, std)
        )
        write_text(PLOTS / "learning_curves" / f"{target}-n{n_text(n)}-{method}.csv", csv)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("validation top-1 accuracy (%)")
    ax.set_title(f"Learning curves: {target}, N={n_text(ctx.targets[target]['primary_n'])}")
    ax.grid(alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))
    save(fig, f"curves-{target}")
