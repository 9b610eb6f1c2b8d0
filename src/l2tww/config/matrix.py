"""The run matrix: a target's run blocks (methods x N per class x seeds) as runs, and the runs as
training jobs (the seeds of one cell that one process trains in turn)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Mapping

from ..results.cells import group_cells, n_tag
from .layout import seeds_tag


@dataclass(frozen=True)
class Run:
    """One training job: the target, method, N per class (None = all) and seed."""

    target: str
    method: str
    n_per_class: int | None
    seed: int

    @property
    def run_id(self) -> str:
        return f"{self.target}-{self.method}-{n_tag(self.n_per_class)}-s{self.seed}"

    @property
    def relpath(self) -> str:
        return f"{self.target}/{self.method}/{n_tag(self.n_per_class)}-s{self.seed}"


@dataclass(frozen=True)
class Job:
    """A training job: seeds of one (target, method, N), trained in turn by one process."""

    runs: tuple[Run, ...]

    @property
    def wildcards(self) -> dict[str, str]:
        first = self.runs[0]
        return {
            "target": first.target,
            "method": first.method,
            "ntag": n_tag(first.n_per_class),
            "seeds": seeds_tag(r.seed for r in self.runs),
        }

    @property
    def tag(self) -> str:
        """target/method/n<N>-s<seeds>, e.g. fashion/l2tww/n5-s0-4: what `l2tww train --job` takes."""
        w = self.wildcards
        return f"{w['target']}/{w['method']}/{w['ntag']}-s{w['seeds']}"


def run_matrix(targets: Mapping[str, dict]) -> list[Run]:
    """Every run of the targets' run blocks, in block order, each once."""
    seen: dict[Run, None] = {}
    for tname, target in targets.items():
        for block in target["runs"]:
            for method, n, seed in itertools.product(block["methods"], block["n_per_class"], block["seeds"]):
                seen[Run(tname, method, n, seed)] = None
    return list(seen)


def group_jobs(runs: list[Run], size: int) -> list[Job]:
    """The runs as jobs of up to `size` seeds of one (target, method, N) cell, in the runs' order."""
    cells = group_cells(runs)
    return [Job(tuple(cell[i : i + size])) for cell in cells.values() for i in range(0, len(cell), size)]
