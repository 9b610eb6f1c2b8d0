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
# # Where and what was transferred
#
# The learned transfer of the L2T runs, read from their `transfer.json` (per-epoch statistics on
# the validation images) and `model.pt` (best-val weights). Numbers at "the best-val epoch" are
# taken at each seed's own best-val epoch and averaged over the seeds stated.

# %% tags=["parameters"]
context_path = None  # the ReportContext JSON: targets, methods, runs (written by `l2tww report`)
figures_dir = None  # where the PNGs go, one per figure (render passes it: config/layout.py)
plots_dir = None  # where the CSVs for `dvc plots` go (written by l2tww_report.py; render passes it)
cost_page = None  # unused here: render passes every notebook the same parameters
saliency_images = 6  # test images in the saliency figure

# %%
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import NullFormatter

from l2tww.io import read_json
from l2tww.report.figures import at_best, evolution, heatmap, pair_matrix
from l2tww.report.notebook import Notebook, seeds
from l2tww.results.cells import n_text

nb = Notebook(context_path, figures_dir)
ctx, runs, groups = nb.ctx, nb.runs, nb.groups
save, table, note, primary_groups = nb.save, nb.table, nb.note, nb.primary_groups


# %% [markdown]
# ## Where to transfer: learned pair weights λ
# λ is the where-net output averaged over the validation images, as logged each epoch
# (`transfer.json`). The heatmap shows it at each seed's best-val epoch, averaged over seeds.


# %%
def transfer_runs(with_key):
    """Primary-N groups of L2T methods whose transfer.json logs a varying `with_key`."""
    out = []
    for target, method, n, members in primary_groups(lambda m: ctx.kind(m) == "l2t"):
        logs = [
            read_json(Path(r["dir"]) / "transfer.json") for r in members if (Path(r["dir"]) / "transfer.json").exists()
        ]
        if logs:
            out.append((target, method, n, members, logs))
    return out


shown = 0
for target, method, n, members, logs in transfer_runs("lambda"):
    lam = np.array([log["lambda"] for log in logs], dtype=float)
    if np.allclose(lam, 1.0):
        note(f"{target} / {ctx.label(method)}: no where-net (λ ≡ 1), nothing to learn here.")
        continue
    pairs = logs[0]["pairs"]
    best = at_best(members, logs, "lambda")
    first = np.mean(
        [(log.get("initial") or {}).get("lambda", log["lambda"][0]) for log in logs], axis=0
    )  # before training
    names = ctx.targets[target]["sources"]
    mat, rows, cols = pair_matrix(names, pairs, best)
    dmat = pair_matrix(names, pairs, best - first)[0]
    fig, (a, d, b) = plt.subplots(
        1, 3, figsize=(20, 0.55 * len(rows) + 3.2), gridspec_kw={"width_ratios": [1, 1, 1.2], "wspace": 0.45}
    )
    im = heatmap(a, mat, rows, cols, "magma_r", 0.0, max(1e-6, float(np.nanmax(mat))), "{:.2f}")
    fig.colorbar(im, ax=a, label="λ (pair weight)")
    a.set_title(f"λ at the best-val epoch (mean of {seeds(len(members))})")
    lim = max(1e-6, float(np.nanmax(np.abs(dmat))))
    im = heatmap(d, dmat, rows, cols, "RdBu_r", -lim, lim, "{:+.3f}")
    fig.colorbar(im, ax=d, label="Δλ")
    d.set_ylabel("")
    d.set_title("learned change: λ(best epoch) − λ(before training)")
    evolution(b, logs, "lambda", pairs, ylabel="λ (mean over val images and seeds)")
    b.set_title("λ per pair over training")
    fig.suptitle(f"Where to transfer: {target}, {ctx.label(method)}, N={n_text(n)}", y=1 + 0.3 / fig.get_figheight())
    save(fig, f"where-{target}-{method}")
    shown += 1
if not shown:
    note("No run with a where-net (L2T-ww) is present: no λ to show.")

# %% [markdown]
# ## Did the meta-networks learn?
# Per L2T method and N, over its seeds (each at its best-val epoch): the largest channel-weight
# entropy deficit 1 − H/log C over pairs (0 = uniform, the what-nets' initial state), the largest
# relative change of λ from its value before training, and the pairs whose λ ended at exactly 0
# (a dead ReLU6: no gradient reaches its where-net again).

# %%
from l2tww.results.diagnostics import meta_movement, transfer_at

rows = []
for target, method, n, members, logs in transfer_runs("lambda"):
    moves = [meta_movement(transfer_at(log, r["best_epoch"])) for r, log in zip(members, logs)]
    rows.append(
        [
            target,
            ctx.label(method),
            n_text(n),
            str(len(moves)),
            f"{np.mean([m['max_entropy_deficit'] for m in moves]):.2e}",
            f"{np.mean([m['max_lambda_change'] for m in moves]):.1%}",
            f"{sum(m['dead_lambda'] for m in moves)} / {len(moves) * len(logs[0]['pairs'])}",
        ]
    )
table(
    ["target", "method", "N/class", "seeds", "max entropy deficit (mean)", "max |Δλ/λ₀| (mean)", "dead λ (pair-runs)"],
    rows,
    empty="No L2T runs: no meta-networks to inspect.",
)

# %% [markdown]
# ## What to transfer: channel weights
# The what-net's softmax weights over the source channels of each pair. Their entropy H(w) is
# measured against its maximum log C (uniform weights, the what-net's zero init) as the deficit
# 1 − H(w)/log C = KL(w ‖ uniform)/log C: 0 = no channel preferred, larger = the weight is
# concentrated on fewer channels (log scale: the deficits span decades). Logged on the validation
# images each epoch; the right panel shows the weights themselves on a few test images.

# %%
from l2tww.report import saliency

shown = 0
for target, method, n, members, logs in transfer_runs("entropy_deficit"):
    if not ctx.methods[method].get("what", True):
        continue
    pairs = logs[0]["pairs"]
    deficit = at_best(members, logs, "entropy_deficit")
    trained = saliency.load_trained(members[0])
    x, _, _ = saliency.sample_images(members[0], 10)
    weights = saliency.mean_channel_weights(trained, x)
    fig, (a, b, c) = plt.subplots(
        1, 3, figsize=(18, 0.22 * len(pairs) + 3.4), gridspec_kw={"width_ratios": [1, 1.2, 1.1], "wspace": 0.45}
    )
    a.barh(range(len(pairs)), np.maximum(deficit, 1e-12), color="tab:blue")
    a.set_xscale("log")
    a.xaxis.set_minor_formatter(NullFormatter())  # minor labels collide on a short log axis
    a.set_yticks(range(len(pairs)), pairs)
    a.invert_yaxis()
    a.set_xlabel("1 − H(w)/log C at the best-val epoch")
    a.set_title(f"entropy deficit, mean of {seeds(len(members))}")
    evolution(
        b,
        logs,
        "entropy_deficit",
        pairs,
        transform=lambda d: np.maximum(d, 1e-12),
        ylabel="1 − H(w)/log C",
        logy=True,
        legend_ax=c,
    )
    b.set_title("entropy deficit over training")
    cmap = plt.get_cmap("viridis", len(pairs))
    for i, w in enumerate(weights):
        w = np.sort(w.numpy())[::-1] * len(w)
        c.plot(np.arange(1, len(w) + 1) / len(w), w, color=cmap(i), lw=1.4)
    c.axhline(1.0, color="k", ls="--", lw=1)
    c.text(0.02, 1.0, "uniform (1/C)", va="bottom", fontsize=9)
    c.set_xlabel("channel rank / C (sorted by weight)")
    c.set_ylabel("weight × C")
    c.set_title(f"channel weights, seed {members[0]['seed']}, 10 test images")
    c.grid(alpha=0.3)
    fig.suptitle(
        f"What to transfer: {target}, {ctx.label(method)}, N={n_text(n)}", y=1 + 0.3 / fig.get_figheight()
    )  # 0.3 in above the axes
    save(fig, f"what-{target}-{method}")
    shown += 1
if not shown:
    note("No run with a what-net (L2T-w, L2T-ww) is present: no channel weights to show.")

# %% [markdown]
# ## Saliency maps: FM vs L2T-w
# Where on the input image the feature-matching loss is sensitive, for unweighted feature
# matching (FM) and for learned channel weights (L2T-w), on the same target, N and seed.

# %%
note("**Definition.** " + saliency.DEFINITION)
chosen = saliency.choose_runs(ctx.methods, runs)
if chosen is None:
    note("Skipped: the results hold no FM run and L2T-w run of the same target, N and seed.")
else:
    sal = saliency.compare(*chosen, count=saliency_images)
    k = len(sal["labels"])
    fig, axes = plt.subplots(4, k, figsize=(1.9 * k + 1.2, 8.2), squeeze=False)
    lim = float(np.abs(sal["diff"]).max()) or 1.0
    rows = [("image", None), ("FM", "fm"), ("L2T-w", "l2t_w"), ("L2T-w − FM", "diff")]
    for j in range(k):
        img = sal["images"][j]
        axes[0, j].imshow(img.squeeze(-1) if img.shape[-1] == 1 else img, cmap="gray", vmin=0, vmax=1)
        axes[0, j].set_title(sal["labels"][j], fontsize=10)
        im_s = axes[1, j].imshow(sal["fm"][j], cmap="inferno", vmin=0, vmax=1)
        axes[2, j].imshow(sal["l2t_w"][j], cmap="inferno", vmin=0, vmax=1)
        im_d = axes[3, j].imshow(sal["diff"][j], cmap="RdBu_r", vmin=-lim, vmax=lim)
    for i, (label, _) in enumerate(rows):
        axes[i, 0].set_ylabel(label, fontsize=11)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(im_s, ax=axes[1:3, :].ravel().tolist(), shrink=0.8, label="saliency / its max")
    fig.colorbar(im_d, ax=axes[3, :].ravel().tolist(), shrink=0.9, label="difference")
    fig.suptitle(f"|∂L_wfm/∂x| (max over channels), best-val weights\nFM: {sal['fm_run']}   L2T-w: {sal['l2t_w_run']}")
    save(fig, "saliency")
