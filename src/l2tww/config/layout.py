"""The artifact layout, in one place for the CLI, the Snakefile and the tests.

Every path is built by one method here; called with wildcard names ("{dataset}", ...) the same
methods give the Snakemake rules their output patterns (`Layout.patterns`), so a rule never spells
a path of its own.
"""

from __future__ import annotations

from pathlib import Path

from ..results.cells import n_tag

SEEDS_PATTERN = r"[0-9]+(-[0-9]+)?(\+[0-9]+(-[0-9]+)?)*"  # seeds_tag's output, as a rule wildcard

# Every artifact's file name, spelled here only (tests/test_layers.py fails on a spelling elsewhere
# in src/ and workflow/). The library below the stages receives the paths built from them.
METRICS_FILE = "metrics.json"  # a run's or a source's result: the file that marks it done
MODEL_FILE = "model.pt"  # its best-val weights
HISTORY_FILE = "history.json"  # its per-epoch rows
TRANSFER_FILE = "transfer.json"  # what an L2T method observed per epoch
CHECKPOINT_FILE = "checkpoint.pt"  # the last epoch's state, deleted once the metrics are written
LIVE_DIR = "live"  # dvclive's per-epoch plots
# Beside each run's and source's metrics.json: the seconds, memory, host and git state of the
# execution that made it. Never hashed (.dvcignore), never part of a result's identity.
TIMING_FILE = "timing.json"
IDENTITY_FILE = "identity.json"
PREPARED_META = "meta.json"  # a prepared dataset's classes, labels and provenance (written last)
PREPARED_TENSORS = "data.pt"  # its uint8 images (tensor storage)
PREPARED_MANIFEST = "manifest.json"  # its image list (image-folder storage)
SUMMARY_CSV, RUNS_CSV, LOWDATA_CSV, COST_CSV = "summary.csv", "runs.csv", "lowdata.csv", "cost.csv"
# The report's outputs (report.render writes them where report_outputs says): the page, its markdown
# summary, the figures' PNGs, the CSVs `dvc plots` reads, and the timings apart (they differ at every
# execution) with one figure per target (the * is the target's name).
REPORT_HTML, REPORT_MD, COST_MD = "l2tww-report.html", "summary.md", "cost.md"
FIGURES_DIR, PLOTS_DIR, COST_DIR = "figures", "plots", "cost"
COST_FIGURES = "cost-*.png"


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
        return self.prepared_meta(self.prepared(dataset))

    @staticmethod
    def prepared_meta(folder) -> Path:
        return Path(folder) / PREPARED_META

    @staticmethod
    def prepared_files(folder) -> dict[str, Path]:
        """A prepared dataset's folder and its files, as data/ reads and writes them."""
        folder = Path(folder)
        return {
            "dir": folder,
            "meta": folder / PREPARED_META,
            "tensors": folder / PREPARED_TENSORS,
            "manifest": folder / PREPARED_MANIFEST,
        }

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

    # the files of a run's or a source's folder (run_dir, source_dir, or a run record's "dir")
    @staticmethod
    def metrics(folder) -> Path:
        return Path(folder) / METRICS_FILE

    @staticmethod
    def model(folder) -> Path:
        return Path(folder) / MODEL_FILE

    @staticmethod
    def history(folder) -> Path:
        return Path(folder) / HISTORY_FILE

    @staticmethod
    def transfer(folder) -> Path:
        return Path(folder) / TRANSFER_FILE

    @staticmethod
    def timing(folder) -> Path:
        return Path(folder) / TIMING_FILE

    @staticmethod
    def fit_files(folder) -> dict[str, Path]:
        """What the trainer writes into a run's or a source's folder (training.trainer.FitFiles)."""
        folder = Path(folder)
        return {
            "checkpoint": folder / CHECKPOINT_FILE,
            "model": folder / MODEL_FILE,
            "history": folder / HISTORY_FILE,
            "live": folder / LIVE_DIR,
        }

    def job_record(self, target: str, method: str, ntag: str, seeds: str) -> Path:
        """What a training job writes last: its runs and their identities (the rule's output;
        each run's own files are not rule outputs, so a failed job never deletes finished runs)."""
        return self.results / "runs" / target / method / f"{ntag}-s{seeds}.json"

    # -- summary and report ----------------------------------------------------------------------
    def summary_dir(self) -> Path:
        return self.results / "summary"

    # identity.json: the identity the summary or report was made under (stages/identity.py), written
    # last; what `l2tww sync` compares on a clone that pulled them.
    SUMMARY_FILES = (SUMMARY_CSV, RUNS_CSV, LOWDATA_CSV, METRICS_FILE, COST_CSV, IDENTITY_FILE)
    REPORT_FILES = (REPORT_HTML, REPORT_MD, f"{COST_DIR}/{COST_MD}", IDENTITY_FILE)

    def summary_files(self) -> list[Path]:
        return [self.summary_dir() / name for name in self.SUMMARY_FILES]

    def summary_file(self, name: str) -> Path:
        """One of SUMMARY_FILES (results/summary/<name>)."""
        if name not in self.SUMMARY_FILES:
            raise ValueError(f"summary file {name!r}: expected one of {', '.join(self.SUMMARY_FILES)}")
        return self.summary_dir() / name

    def summary_outputs(self) -> dict[str, Path]:
        """results.summary.write_summary's files, by what each holds."""
        return {
            key: self.summary_file(name)
            for key, name in (
                ("summary", SUMMARY_CSV),
                ("runs", RUNS_CSV),
                ("lowdata", LOWDATA_CSV),
                ("cost", COST_CSV),
                ("metrics", METRICS_FILE),
            )
        }

    def report_files(self) -> list[Path]:
        return [self.reports / name for name in self.REPORT_FILES]

    @staticmethod
    def report_outputs(folder) -> dict[str, Path]:
        """What report.render writes into a report folder, by what each holds ("cost_figures": a glob
        pattern, its * a target's name)."""
        folder = Path(folder)
        return {
            "dir": folder,
            "html": folder / REPORT_HTML,
            "summary": folder / REPORT_MD,
            "figures": folder / FIGURES_DIR,
            "plots": folder / PLOTS_DIR,
            "cost": folder / COST_DIR / COST_MD,
            "cost_figures": folder / COST_DIR / COST_FIGURES,
        }

    def patterns(self) -> dict[str, str]:
        """The rules' output patterns, with Snakemake wildcards."""
        return {
            "prepared": str(self.prepared_marker("{dataset}")),
            "base_split": str(self.base_split("{dataset}")),
            "split": str(self._split("{dataset}", "{ntag}", "{seed}")),
            "source_model": str(self.model(self.source_dir("{source}"))),
            "source_metrics": str(self.metrics(self.source_dir("{source}"))),
            "job": str(self.job_record("{target}", "{method}", "{ntag}", "{seeds}")),
        }
