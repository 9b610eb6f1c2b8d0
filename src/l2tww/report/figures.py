"""Figures shared by the report notebooks: a colour per method, and the forest plot of every claim.

Colours: one per method in params order, from tab20 then tab20b (40 distinct colours), so that a
method keeps its colour in every figure and no two methods of a report share one (issue 29: two
pairs of methods shared a colour in the learning curves when each figure counted its own).

Forest plot: one line per claim row that has numbers, the paired difference A − B with the interval
its verdict was read from (95% for descriptive rows), the ±margin band shaded, 0 marked, and the
verdict written at the right; decided rows in colour, descriptive and not-reached rows grey.
"""

from __future__ import annotations

from collections.abc import Iterable

import matplotlib.pyplot as plt

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
