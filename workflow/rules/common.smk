# Shared helpers: config validation, the effective params file and the run matrix; what each job
# reads comes from l2tww.stages.plan, which `l2tww sync` walks too.
import os
import shutil
from pathlib import Path

import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from l2tww.catalog import IMAGE_FOLDER
from l2tww.config import ConfigError, Run, from_mapping
from l2tww.config.layout import SEEDS_PATTERN
from l2tww.results.cells import parse_n
from l2tww.stages import gpu_memory, identity, plan

# One schema for Snakemake and the CLI. Snakemake's validate checks the structure; l2tww's own
# loader then fills the defaults (Snakemake's filler cannot walk the schema's if/then branches)
# and checks cross-references, with one-line messages.
validate(config, "../../src/l2tww/config/params.schema.yaml", set_default=False)
try:
    PARAMS = from_mapping(config, origin="config")
except ConfigError as exc:
    raise WorkflowError(str(exc))

LAYOUT = PARAMS.layout
PATTERN = LAYOUT.patterns()  # every rule's output, as the one Layout spells it


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

# Data and source jobs gate the training jobs: run them as soon as they can run (Snakemake does
# not pass a job's priority on to the jobs it waits for), so that no costly training job is
# left to start last, alone on a core.
GATE_PRIORITY = 100

# The report also reads what prepare recorded of each target's image folder (counts, unreadable
# images skipped).
FOLDER_METAS = [
    str(LAYOUT.prepared_marker(d))
    for d in dict.fromkeys(t["dataset"] for t in PARAMS["targets"].values())
    if PARAMS["datasets"][d]["builder"] == IMAGE_FOLDER
]

RUNS = PARAMS.runs()
JOBS = PARAMS.run_jobs()
JOB_RECORDS = [LAYOUT.job_record(**job.wildcards) for job in JOBS]


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


wildcard_constraints:
    dataset=r"[a-z][a-z0-9_]*",
    source=r"[a-z][a-z0-9_]*",
    target=r"[a-z][a-z0-9_]*",
    method=r"[a-z][a-z0-9_]*",
    ntag=r"n(all|[0-9]+)",
    seed=r"[0-9]+",
    seeds=SEEDS_PATTERN,


# -- inputs and identities of the jobs ------------------------------------------------------------
# Each job's `params` is its identity hash (l2tww.stages.identity: the params it reads, its inputs'
# identities and the code it executes), so Snakemake's params trigger re-runs a job exactly when
# one of those changes; a comment-only edit changes no hash.


def job_of(w):
    """The training job of a rule's wildcards (one place decides the grouping: Params.run_jobs)."""
    return PARAMS.job(f"{w.target}/{w.method}/{w.ntag}-s{w.seeds}")


def source_inputs(w):
    return plan.source_files(PARAMS, w.source)


def job_inputs(w):
    return plan.job_files(PARAMS, job_of(w))


def job_identity(w):
    """The identities of the job's runs: the job re-runs when one changes (and keeps the others)."""
    return [run_identity(run) for run in job_of(w).runs]


def job_gpu_mem_mb(w):
    """The job's GPU memory estimate (l2tww.stages.gpu_memory; 0 on a CPU or without one)."""
    return gpu_memory.gpu_mem_mb(PARAMS, w.target, w.method, USES_GPU)


def job_gpu_constraint(w):
    """SLURM -C: the smallest GPU whose memory holds the job's estimate, from the site's list in
    L2TWW_GPU_MEM_FEATURES (unset: no constraint). docs/cluster.md."""
    features = os.environ.get(gpu_memory.FEATURES_ENV, "")
    try:
        return gpu_memory.constraint(job_gpu_mem_mb(w), features)
    except ValueError as exc:
        raise WorkflowError(str(exc))


# Only where the site lists its GPUs' features: an empty constraint would still reach sbatch (-C '').
GPU_CONSTRAINT = {"constraint": job_gpu_constraint} if os.environ.get(gpu_memory.FEATURES_ENV) else {}


def job_priority(w):
    """Costlier jobs first (L2T's meta-steps scale with its pairs), so cheap ones fill the end."""
    spec = PARAMS.method_spec(w.target, w.method)
    return len(spec.pairs) if spec.kind == "l2t" else 0


def prepare_id(w):
    return identity.digest(identity.prepare_identity(PARAMS, w.dataset))


def split_id(w):
    seed = getattr(w, "seed", None)
    n = parse_n(w.ntag) if seed is not None else None
    return identity.digest(identity.split_identity(PARAMS, w.dataset, n, None if seed is None else int(seed)))


def source_id(w):
    return identity.digest(identity.source_identity(PARAMS, w.source))


def run_identity(run: Run) -> str:
    return identity.digest(identity.run_identity(PARAMS, run))


SUMMARY_ID = identity.digest(identity.summary_identity(PARAMS))
REPORT_ID = identity.digest(identity.report_identity(PARAMS))
