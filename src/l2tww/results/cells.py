"""A result's cell, and the one spelling of N per class.

A cell is (target, method, N per class): the seeds of a cell are what a table averages and what a
comparison pairs. N = None means the whole train split; it is written `all` in text and CSV,
`nall` in tags (paths, run ids, rule wildcards), and sorts after every number.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple


def n_text(n: int | None) -> str:
    """N for people and CSV files: 25, or all."""
    return "all" if n is None else str(n)


def n_tag(n: int | None) -> str:
    """N in paths, run ids and rule wildcards: n25, or nall."""
    return f"n{n_text(n)}"


def parse_n(value: Any) -> int | None:
    """The inverse of n_text and n_tag: 'n25', '25' or 25 -> 25; 'nall', 'all', '' or None -> None."""
    if value is None or isinstance(value, int):
        return value
    text = str(value).removeprefix("n")
    return None if text in ("all", "") else int(text)


def n_order(n: int | None) -> float:
    """Sort key: numbers ascending, then all."""
    return math.inf if n is None else n


class Cell(NamedTuple):
    target: str
    method: str
    n_per_class: int | None

    def text(self) -> str:
        return f"{self.target}/{self.method}/{n_tag(self.n_per_class)}"

    def order(self) -> tuple:
        return (self.target, self.method, n_order(self.n_per_class))


def cell_of(record: Mapping | Any) -> Cell:
    """The cell of a per-run record (a dict read from metrics.json or a CSV row) or of an object
    with target, method and n_per_class attributes."""
    if isinstance(record, Mapping):
        return Cell(record["target"], record["method"], parse_n(record.get("n_per_class")))
    return Cell(record.target, record.method, record.n_per_class)


def group_cells(records: Iterable, key: Callable[[Any], Cell] = cell_of) -> dict[Cell, list]:
    """Cell -> its records, cells and records in first-seen order."""
    out: dict[Cell, list] = {}
    for r in records:
        out.setdefault(key(r), []).append(r)
    return out


def seeds_by_cell(records: Iterable[Mapping], what: str = "results") -> dict[Cell, dict[int, Mapping]]:
    """Cell -> {seed: record}; two records of one (cell, seed) are an error naming them."""
    out: dict[Cell, dict[int, Mapping]] = {}
    for cell, members in group_cells(records).items():
        seeds: dict[int, Mapping] = {}
        for r in members:
            seed = int(r["seed"])
            if seed in seeds:
                raise ValueError(f"{what}: two records for {cell.text()} seed {seed}")
            seeds[seed] = r
        out[cell] = seeds
    return out
