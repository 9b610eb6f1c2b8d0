"""Figures and their helpers, shared by the report notebooks and tested here rather than inside them.

- Parsing and plotting of the transfer statistics: transfer.json's pair keys, per-pair values at
  each seed's best-val epoch, the λ heatmaps' matrices and drawing, the per-pair curves over
  training, and the mean learning curve of a cell's seeds.
- A colour per method: one per method in params order, from tab20 then tab20b (40 distinct
  colours), so that a method keeps its colour in every figure and no two methods of a report share
  one (issue 29: two pairs of methods shared a colour in the learning curves when each figure
  counted its own).
- The forest plot: one line per claim row that has numbers, the paired difference A − B with the
  interval its verdict was read from (95% for descriptive rows), the ±margin band shaded, 0 marked,
  and the verdict written at the right; decided rows in colour, descriptive and not-reached rows grey.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

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
    """Per-epoch mean and std over seeds of each run's per-epoch rows (its `history` file)[key] (seeds
    truncated to the shortest)."""
    series = [[row[key] for row in read_json(r["history"])] for r in members]
    length = min(len(s) for s in series)
    arr = np.array([s[:length] for s in series], dtype=float)
    return arr.mean(0), arr.std(0, ddof=1) if len(series) > 1 else np.zeros(length)


VERDICT_COLOURS = {
    "supported": "tab:green",
    "contradicted": "tab:red",
    "equivalent": "tab:blue",
    "supported and equivalent": "tab:cyan",
    "contradicted and equivalent": "tab:purple",
    "inconclusive": "tab:orange",
}
OTHER = "0.55"  # descriptive, not reached


def method_colours(methods: Iterable[str]) -> dict[str, tuple]:
    """method -> a colour of its own, by position in `methods` (params order)."""
    palette = [plt.get_cmap("tab20")(i) for i in range(20)] + [plt.get_cmap("tab20b")(i) for i in range(20)]
    names = list(dict.fromkeys(methods))
    if len(names) > len(palette):
        raise ValueError(f"method_colours: {len(names)} methods, {len(palette)} distinct colours")
    return {m: palette[i] for i, m in enumerate(names)}


def forest(rows: list[dict]):
    """The forest plot of the claims table's rows (verdicts.ClaimRow as dicts); None when no row has an
    interval."""
    shown = [r for r in rows if r.get("mean") is not None and r.get("low") is not None]
    if not shown:
        return None
    fig, ax = plt.subplots(figsize=(9.5, 0.42 * len(shown) + 1.4))
    for y, r in enumerate(reversed(shown)):
        colour = VERDICT_COLOURS.get(r["verdict"], OTHER)
        margin = r.get("margin")
        if margin:
            ax.fill_betweenx([y - 0.4, y + 0.4], -margin, margin, color="tab:blue", alpha=0.08, lw=0)
        ax.hlines(y, r["low"], r["high"], color=colour, lw=2)
        ax.plot(r["mean"], y, "o", color=colour, ms=6)
        ax.annotate(r["verdict"], (1.01, y), xycoords=("axes fraction", "data"), va="center", fontsize=9, color=colour)
    ax.axvline(0, color="k", lw=0.8)
    ax.set_yticks(range(len(shown)), [r["id"] for r in reversed(shown)])
    ax.set_xlabel("paired difference A − B, test top-1 (points); band: ± the row's margin")
    ax.set_title("Every claim: paired difference with the interval its verdict reads")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig
