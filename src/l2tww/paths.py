"""The artifact layout (design.md), in one place for the CLI, the Snakefile and dvc.yaml's tests."""
from __future__ import annotations

from pathlib import Path


def n_tag(n_per_class: int | None) -> str:
    """The one spelling of N per class in paths, run ids and rule wildcards: n25, or nall."""
    return "nall" if n_per_class is None else f"n{n_per_class}"


def parse_n(text: str) -> int | None:
    """'n25' or '25' -> 25; 'nall' or 'all' -> None (the inverse of n_tag, and the CLI's --n)."""
    text = text.removeprefix("n")
    return None if text == "all" else int(text)


class Layout:
    def __init__(self, data_root: str = "data", results_root: str = "results", reports_root: str = "reports"):
        self.data = Path(data_root)
        self.results = Path(results_root)
        self.reports = Path(reports_root)

    def raw(self, dataset: str) -> Path:
        return self.data / "raw" / dataset

    def prepared(self, dataset: str) -> Path:
        return self.data / "prepared" / dataset

    def prepared_marker(self, dataset: str) -> Path:
        return self.prepared(dataset) / "meta.json"

    def base_split(self, dataset: str) -> Path:
        return self.data / "splits" / dataset / "base.json"

    def split(self, dataset: str, n_per_class: int | None, seed: int) -> Path:
        return self.data / "splits" / dataset / f"{n_tag(n_per_class)}-s{seed}.json"

    def source_dir(self, source: str) -> Path:
        return self.results / "sources" / source

    def run_dir(self, relpath: str) -> Path:
        return self.results / "runs" / relpath

    def summary_dir(self) -> Path:
        return self.results / "summary"
