"""The artifact layout, in one place for the CLI, the Snakefile and dvc.yaml's tests."""
from __future__ import annotations

from pathlib import Path

from ..results.cells import n_tag


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
