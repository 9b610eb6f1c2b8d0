# Shared helpers: config validation, the effective params file and the run matrix.
import json
import os
import shutil
from pathlib import Path

import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from l2tww.config import ConfigError, Run, from_mapping
from l2tww.paths import Layout

# One schema for Snakemake and the CLI. Snakemake's validate checks the structure; l2tww's own
# loader then fills the defaults (Snakemake's filler cannot walk the schema's if/then branches)
# and checks cross-references, with one-line messages.
validate(config, "../../src/l2tww/schema/params.schema.yaml", set_default=False)
try:
    PARAMS = from_mapping(config, origin="config")
except ConfigError as exc:
    raise WorkflowError(str(exc))

LAYOUT = Layout.of(PARAMS)
DATA = str(LAYOUT.data)
RESULTS = str(LAYOUT.results)
REPORTS = str(LAYOUT.reports)


def _write_effective_params(path: Path) -> None:
    """The validated config as the one file every job's CLI reads (the rules' shell commands name
    it literally), whatever mix of params.yaml, --configfile and --config produced it. Rewritten
    only when its content changes; jobs re-run through their `params`, never through this file."""
    text = yaml.safe_dump(PARAMS.data, sort_keys=True)
    if path.exists() and path.read_text() == text:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


_write_effective_params(Path(".snakemake/l2tww/params.yaml"))

# GPU jobs are counted with the `gpu` resource (snakemake --resources gpu=N) only where a GPU can
# be used; on a CPU machine training jobs take none, so they run side by side.
USES_GPU = PARAMS["runtime"]["device"] != "cpu" and shutil.which("nvidia-smi") is not None
GPU = 1 if USES_GPU else 0
THREADS = PARAMS["runtime"]["threads"]

RUNS = PARAMS.runs()


def dvc_should_commit() -> bool:
    """dvc.yaml describes the checked-in params.yaml with default paths: commit only that."""
    outs = ["data/prepared", "data/splits", "results/sources", "results/runs", "results/summary/metrics.json"]
    return (
        "DVC_ROOT" not in os.environ
        and Path(".dvc").is_dir()
        and Path("dvc.yaml").is_file()
        and shutil.which("dvc") is not None
        and not workflow.overwrite_configfiles
        and all(Path(o).exists() for o in outs)
    )


def canonical(obj) -> str:
    """Rule params are compared across runs (Snakemake's params rerun trigger): a stable string."""
    return json.dumps(obj, sort_keys=True)


def n_tag(n):
    return "nall" if n is None else f"n{n}"


def parse_n(tag: str):
    return None if tag == "nall" else int(tag[1:])


wildcard_constraints:
    dataset=r"[a-z][a-z0-9_]*",
    source=r"[a-z][a-z0-9_]*",
    target=r"[a-z][a-z0-9_]*",
    method=r"[a-z][a-z0-9_]*",
    ntag=r"n(all|[0-9]+)",
    seed=r"[0-9]+",


# -- input and params functions of the training rules ---------------------------------


def source_inputs(w):
    src = PARAMS["sources"][w.source]
    return [
        LAYOUT.prepared_marker(src["dataset"]),
        LAYOUT.split(src["dataset"], src.get("n_per_class"), src["seed"]),
    ]


def source_params(w):
    src = PARAMS["sources"][w.source]
    return canonical({"source": src, "recipe": PARAMS["recipes"].get(src.get("recipe")), "dataset": PARAMS["datasets"][src["dataset"]]})


def run_of(w) -> Run:
    return Run(w.target, w.method, parse_n(w.ntag), int(w.seed))


def train_inputs(w):
    target = PARAMS["targets"][w.target]
    inputs = [LAYOUT.prepared_marker(target["dataset"]), LAYOUT.split(target["dataset"], parse_n(w.ntag), int(w.seed))]
    if PARAMS["methods"][w.method]["kind"] != "scratch":  # scratch runs need no source: they start at once
        inputs += [LAYOUT.source_dir(s) / "model.pt" for s in target["sources"] if s in PARAMS.pretrained_sources()]
    return inputs


def train_params(w):
    """Everything a run's result depends on, so editing one value re-runs only the runs it shapes."""
    target = PARAMS["targets"][w.target]
    method = PARAMS["methods"][w.method]
    return canonical({
        "target": {k: target[k] for k in ("dataset", "arch", "recipe", "sources", "pairs")},
        "method": method,
        "recipe": PARAMS["recipes"][target["recipe"]],
        "dataset": PARAMS["datasets"][target["dataset"]],
        "sources": {s: PARAMS["sources"][s] for s in target["sources"]} if method["kind"] != "scratch" else {},
        "runtime": {k: PARAMS["runtime"][k] for k in ("amp_bf16", "channels_last")},
    })
