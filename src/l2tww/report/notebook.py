"""What every report notebook (notebooks/*.py) starts with: the runs, figure saving, tables, notes.

Kept here so the notebooks hold only their sections, and a fix to figure output applies to all.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
from IPython.display import Image, Markdown, display

from ..io import atomic_path
from ..results.cells import group_cells
from . import tables
from .context import ReportContext

STYLE = {
    "font": {"size": 11},
    "axes": {"titlesize": 12, "labelsize": 11},
    "legend": {"fontsize": 9},
    "figure": {"dpi": 100},
}


def seeds(k: int) -> str:
    return f"{k} seed" + ("s" if k != 1 else "")


class Notebook:
    def __init__(self, context_path: str, figures_dir: str):
        self.ctx = ReportContext.load(context_path)
        self.runs = self.ctx.runs
        self.groups = group_cells(self.runs)
        self.figures = Path(figures_dir)
        self.figures.mkdir(parents=True, exist_ok=True)
        for group, settings in STYLE.items():
            plt.rc(group, **settings)

    def save(self, fig, name: str) -> None:
        """Write the figure as figures/<name>.png (atomically) and show that PNG inline (drawn once:
        the HTML shows exactly the file under figures/)."""
        path = self.figures / f"{name}.png"
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=130, bbox_inches="tight")
        plt.close(fig)
        display(Image(filename=str(path)))

    @staticmethod
    def table(header, rows, empty: str = "(no rows)") -> None:
        display(Markdown(tables.md_table(header, rows) if rows else empty))

    @staticmethod
    def note(text: str) -> None:
        display(Markdown(text))

    def primary_groups(self, predicate=lambda method: True):
        """(target, method, N, runs) at each target's primary N, in params order."""
        for target, t in self.ctx.targets.items():
            n = t["primary_n"]
            for method in t["methods"]:
                if (target, method, n) in self.groups and predicate(method):
                    yield target, method, n, self.groups[(target, method, n)]
