"""The report notebooks' parsing and plotting helpers, here so they are tested and the notebooks
hold only their sections: transfer.json's pair keys, per-pair values at each seed's best-val
epoch, the λ heatmaps' matrices and drawing, the per-pair curves over training, and the mean
learning curve of a cell's seeds."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from ..io import read_json


def parse_pair(key: str) -> tuple[int, int, int]:
    """'s0.5-t2' -> (source index, source tap, target tap)."""
    s, t = key.split("-t")
    si, tap = s[1:].split(".")
    return int(si), int(tap), int(t)


def at_best(members: list[dict], logs: list[dict], key: str) -> np.ndarray:
    """Per pair: the value at each seed's best-val epoch, averaged over seeds."""
    vals = [np.array(log[key][log["epochs"].index(r["best_epoch"])], dtype=float) for r, log in zip(members, logs)]
    return np.mean(vals, axis=0)


def pair_matrix(source_names: list[str], pairs: list[str], values) -> tuple[np.ndarray, list[str], list[str]]:
    """Rows (source, source tap) x columns target tap; NaN where no pair. Returns the matrix and the
    row and column labels (a source by its name in `source_names`, the target's sources in order)."""
    rows = sorted({(si, st) for si, st, _ in map(parse_pair, pairs)})
    cols = sorted({tt for _, _, tt in map(parse_pair, pairs)})
    mat = np.full((len(rows), len(cols)), np.nan)
    for key, v in zip(pairs, values):
        si, st, tt = parse_pair(key)
        mat[rows.index((si, st)), cols.index(tt)] = v
    return mat, [f"{source_names[si]} tap {st}" for si, st in rows], [f"tap {tt}" for tt in cols]


def heatmap(ax, mat, rows, cols, cmap, vmin, vmax, fmt):
    """The matrix with its value in each cell (none where NaN), white on the colormap's dark end(s)."""
    im = ax.imshow(mat, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    ax.set_xticks(range(len(cols)), cols)
    ax.set_yticks(range(len(rows)), rows)
    ax.set_xlabel("target layer (feature tap)")
    ax.set_ylabel("source layer (feature tap)")
    for (i, j), v in np.ndenumerate(mat):
        if not math.isnan(v):
            t = (v - vmin) / (vmax - vmin)  # white text on the dark ends of the colormap
            dark = abs(t - 0.5) > 0.35 if vmin < 0 else t > 0.7
            ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=9, color="w" if dark else "k")
    return im


def evolution(ax, logs, key, pairs, transform=None, ylabel="", logy=False, legend_ax=None):
    """One line per pair: logs' `key` per epoch, averaged over the seeds' logs (cut to the first's epochs)."""
    epochs = logs[0]["epochs"]
    arr = np.mean([np.array(log[key], dtype=float)[: len(epochs)] for log in logs], axis=0)  # (E, P)
    if transform is not None:
        arr = transform(arr)
    if logy:
        ax.set_yscale("log")
    cmap = plt.get_cmap("viridis", len(pairs))
    for i, key_ in enumerate(pairs):
        ax.plot(epochs, arr[:, i], color=cmap(i), label=key_, lw=1.4)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    (legend_ax or ax).legend(
        handles=ax.get_lines(),
        fontsize=7,
        ncol=2 if len(pairs) > 8 else 1,
        loc="center left",
        bbox_to_anchor=(1.01, 0.5),
        title="pair (s<src>.<tap>-t<tap>)",
        title_fontsize=8,
    )


def mean_curve(members: list[dict], key: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-epoch mean and std over seeds of history.json[key] (seeds truncated to the shortest)."""
    series = [[row[key] for row in read_json(Path(r["dir"]) / "history.json")] for r in members]
    length = min(len(s) for s in series)
    arr = np.array([s[:length] for s in series], dtype=float)
    return arr.mean(0), arr.std(0, ddof=1) if len(series) > 1 else np.zeros(length)
