"""`l2tww try FOLDER`: the whole pipeline on your own image folder in about a minute, as a smoke test.

It writes a params file for FOLDER (torchvision's ImageFolder layout: FOLDER/train/<class>/...)
and runs `snakemake all` on it: scratch, FM and L2T-ww on tiny networks, one seed, a few epochs.
No file is downloaded: the source is pretrained here, on one half of each class (a partition of
your folder), and the target trains on the other half, so the two never share an image. Every
output goes under results/try-<folder name>/ (data, runs, logs, report), apart from everything else.
Its numbers say the pipeline runs on your images, not whether transfer helps: the
last line of its output and the first of its params file say so. For real answers use a preset
(docs/own-data.md).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from ..config import ConfigError, Layout, from_mapping

SMOKE = (
    "a smoke test: tiny networks, 1 seed, a few epochs, a source pretrained on half your images. Its numbers "
    "say the pipeline runs on your folder, not whether transfer helps (docs/own-data.md for real runs)"
)


def trial_params(folder: str | Path, results_root: str | Path) -> dict:
    """The params of a trial on `folder`: two halves of it (source, target), scratch / FM / L2T-ww."""
    root = str(folder)
    half = {"seed": 0, "fractions": [0.5, 0.5]}
    dataset = {
        "builder": "image_folder",
        "root": root,
        "val": {"per_class": 2},
        "test": {"per_class": 2},  # held out of train/ only without a test/ folder
        "image_size": 32,
        "normalize": {"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]},
        "augment": {"crop_padding": 4, "hflip": True},
    }
    results = Path(results_root)
    return {
        "schema_version": 1,
        "data_root": str(results / "data"),
        "results_root": str(results),
        "reports_root": str(results / "reports"),
        "runtime": {"device": "cpu", "threads": 1},
        "datasets": {
            "try_source": {**dataset, "partition": {**half, "part": 0}},
            "try_target": {**dataset, "partition": {**half, "part": 1}},
        },
        "recipes": {
            "source": {"epochs": 3, "batch_size": 32, "lr": 0.05},
            "target": {"epochs": 3, "batch_size": 32, "lr": 0.05},
        },
        "sources": {
            "half": {
                "dataset": "try_source",
                "arch": {"name": "cifar_resnet", "depth": 8, "width": 4},
                "recipe": "source",
            }
        },
        "methods": {
            "scratch": {"kind": "scratch", "label": "Scratch"},
            "fm": {"kind": "fm", "label": "FM (single)", "pairs": "single", "beta": 0.5},
            "l2tww": {"kind": "l2t", "label": "L2T-ww (all-to-all)", "pairs": "all_to_all", "beta": 0.5},
        },
        "targets": {
            "mine": {
                "dataset": "try_target",
                "arch": {"name": "vgg_bn", "cfg": [8, "M", 16, "M", 16, "M"]},
                "recipe": "target",
                "sources": ["half"],
                "pairs": {"single": [[2, 1]], "all_to_all": {"source": [0, 1, 2], "target": [0, 1, 2]}},
                "runs": [{"methods": ["scratch", "fm", "l2tww"], "n_per_class": [None], "seeds": [0]}],
            }
        },
        "claims": {"l2tww": ["mine", "l2tww"], "scratch": ["mine", "scratch"], "baselines": [["mine", "fm"]]},
    }


def results_root_of(folder: Path) -> Path:
    name = re.sub(r"[^a-z0-9_]+", "_", folder.resolve().name.lower()).strip("_") or "folder"
    return Path("results") / f"try-{name}"


def run_trial(folder: str, cores: int | None = None) -> int:
    """Write the trial's params, check them, run `snakemake all` on them; print where the report is."""
    if not Path("Snakefile").is_file():
        raise ConfigError(f"try: no Snakefile in {Path.cwd()}; run `l2tww try` from the project's root")
    results = results_root_of(Path(folder))
    raw = trial_params(folder, results)
    params_file = results / "params.yaml"
    from_mapping(raw, origin=str(params_file))  # every problem of the folder before anything runs
    params_file.parent.mkdir(parents=True, exist_ok=True)
    params_file.write_text(f"# `l2tww try {folder}`: {SMOKE}.\n" + yaml.safe_dump(raw, sort_keys=False))
    cores = cores or os.cpu_count() or 1
    print(f"l2tww try: {params_file}: scratch, FM and L2T-ww on {folder} ({cores} cores)", flush=True)
    cmd = ["snakemake", "--cores", str(cores), "--quiet", "rules", "all", "--configfile", str(params_file)]
    status = subprocess.run(cmd).returncode
    if status != 0:
        print(f"l2tww try: snakemake failed (exit {status}); the failed job's log is above", file=sys.stderr)
        return status
    report = Layout.report_outputs(raw["reports_root"])
    print(f"l2tww try: done. Report: {report['html']} (and {report['summary']})")
    print(f"l2tww try: this is {SMOKE}.")
    return 0
