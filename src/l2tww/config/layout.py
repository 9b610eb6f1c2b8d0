"""The artifact layout, in one place for the CLI, the Snakefile and the tests.

Every path is built by one method here; called with wildcard names ("{dataset}", ...) the same
methods give the Snakemake rules their output patterns (`Layout.patterns`), so a rule never spells
a path of its own.
"""

from __future__ import annotations

from pathlib import Path

from ..results.cells import n_tag

SEEDS_PATTERN = r"[0-9]+(-[0-9]+)?(\+[0-9]+(-[0-9]+)?)*"  # seeds_tag's output, as a rule wildcard
# Beside each run's and source's metrics.json: the seconds, memory, host and git state of the
# execution that made it. Never hashed (.dvcignore), never part of a result's identity.
TIMING_FILE = "timing.json"
IDENTITY_FILE = "identity.json"


def seeds_tag(seeds) -> str:
    """Seeds as runs of consecutive numbers: (0, 1, 2, 3, 4) -> "0-4"; (0, 2, 3) -> "0+2-3"."""
    spans: list[list[int]] = []
    for seed in sorted(seeds):
        if spans and seed == spans[-1][1] + 1:
            spans[-1][1] = seed
        else:
            spans.append([seed, seed])
    if not spans:
        raise ValueError("seeds_tag: no seeds")
    return "+".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)


class Layout:
    def __init__(self, data_root: str = "data", results_root: str = "results", reports_root: str = "reports"):
        self.data = Path(data_root)
        self.results = Path(results_root)
        self.reports = Path(reports_root)

    # -- data ------------------------------------------------------------------------------------
    def raw(self, dataset: str) -> Path:
        return self.data / "raw" / dataset

    def prepared(self, dataset: str) -> Path:
        return self.data / "prepared" / dataset

    def prepared_marker(self, dataset: str) -> Path:
        return self.prepared(dataset) / "meta.json"

    def base_split(self, dataset: str) -> Path:
        return self.data / "splits" / dataset / "base.json"

    def split(self, dataset: str, n_per_class: int | None, seed: int) -> Path:
        return self._split(dataset, n_tag(n_per_class), seed)

    def _split(self, dataset: str, ntag: str, seed) -> Path:
        return self.data / "splits" / dataset / f"{ntag}-s{seed}.json"

    # -- training --------------------------------------------------------------------------------
    def source_dir(self, source: str) -> Path:
        return self.results / "sources" / source

    def run_dir(self, relpath: str) -> Path:
        return self.results / "runs" / relpath

    def job_record(self, target: str, method: str, ntag: str, seeds: str) -> Path:
        """What a training job writes last: its runs and their identities (the rule's output;
        each run's own files are not rule outputs, so a failed job never deletes finished runs)."""
        return self.results / "runs" / target / method / f"{ntag}-s{seeds}.json"

    # -- summary and report ----------------------------------------------------------------------
    def summary_dir(self) -> Path:
        return self.results / "summary"

    # identity.json: the identity the summary or report was made under (stages/identity.py), written
    # last; what `l2tww sync` compares on a clone that pulled them.
    SUMMARY_FILES = ("summary.csv", "runs.csv", "lowdata.csv", "metrics.json", "cost.csv", IDENTITY_FILE)
    REPORT_FILES = ("l2tww-report.html", "summary.md", "cost/cost.md", IDENTITY_FILE)

    def summary_files(self) -> list[Path]:
        return [self.summary_dir() / name for name in self.SUMMARY_FILES]

    def report_files(self) -> list[Path]:
        return [self.reports / name for name in self.REPORT_FILES]

    def patterns(self) -> dict[str, str]:
        """The rules' output patterns, with Snakemake wildcards."""
        return {
            "prepared": str(self.prepared_marker("{dataset}")),
            "base_split": str(self.base_split("{dataset}")),
            "split": str(self._split("{dataset}", "{ntag}", "{seed}")),
            "source_model": str(self.source_dir("{source}") / "model.pt"),
            "source_metrics": str(self.source_dir("{source}") / "metrics.json"),
            "job": str(self.job_record("{target}", "{method}", "{ntag}", "{seeds}")),
        }
