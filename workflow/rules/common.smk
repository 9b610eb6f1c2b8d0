# Shared helpers: config validation, the effective params file and the run matrix; what each job
# reads comes from l2tww.stages.plan, which `l2tww sync` walks too.
import os
import re
import shlex
import shutil
import sys
from pathlib import Path

import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from l2tww.catalog import IMAGE_FOLDER
from l2tww.config import ConfigError, Run, from_mapping
from l2tww.config.layout import SEEDS_PATTERN, Layout
from l2tww.results.cells import parse_n
from l2tww.stages import gpu_memory, identity, plan
from l2tww.stages.check import threads_warning, weights_problems

# One schema for Snakemake and the CLI. Snakemake's validate checks the structure; l2tww's own
# loader then fills the defaults (Snakemake's filler cannot walk the schema's if/then branches)
# and checks cross-references, with one-line messages.
validate(config, "../../src/l2tww/config/params.schema.yaml", set_default=False)
try:
    PARAMS = from_mapping(config, origin="config")
except ConfigError as exc:
    raise WorkflowError(str(exc))
# Every loaded source's file (exists, sha256, fits its arch: l2tww check's checks) before anything
# is planned: a wrong source must not be found by the transfer jobs after scratch has trained.
_SOURCE_PROBLEMS = weights_problems(PARAMS, cache=Path(".snakemake/l2tww/sources-fit.json"))
if _SOURCE_PROBLEMS:
    raise WorkflowError("\n".join(f"config: {line}" for line in _SOURCE_PROBLEMS))

LAYOUT = PARAMS.layout
PATTERN = LAYOUT.patterns()  # every rule's output, as the one Layout spells it
# Job logs live under the results root: two params files sharing a dataset or target name never
# overwrite each other's logs.
LOGS = str(LAYOUT.results / "logs")


def failed_job_errors(snakemake_logs) -> list[str]:
    """The last line of each failed job's log, read from Snakemake's own log file(s) (their "log:
    <path> (check log file(s) ...)" lines): the on-error summary at the end of Snakemake's output."""
    files = [Path(f) for f in ([snakemake_logs] if isinstance(snakemake_logs, (str, Path)) else snakemake_logs or [])]
    text = "".join(f.read_text(errors="replace") for f in files if f.is_file())
    out = []
    for path in dict.fromkeys(re.findall(r"^\s+log: (\S+) \(check log file", text, re.M)):
        lines = [line for line in Path(path).read_text(errors="replace").splitlines() if line.strip()] if Path(
            path
        ).is_file() else []
        out.append(f"  {path}: {lines[-1] if lines else '(empty)'}")
    return out


def cli(args: str) -> str:
    """A rule's shell command: the l2tww verb with its output in the job's log; when it fails, the
    log's last lines on stderr, so the error is in Snakemake's own output and not only in the log."""
    return (
        f"l2tww --params .snakemake/l2tww/params.yaml {args} > {{log}} 2>&1 || "
        '{{ s=$?; echo "l2tww: job {rule} failed (exit $s); the end of {log}:" >&2; '
        'tail -n 5 {log} | sed "s/^/    /" >&2; exit $s; }}'
    )


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


def _made_from() -> str:
    """The params file(s) Snakemake read, as the report names them (not the effective copy above)."""
    here = Path.cwd()
    files = [Path(f) for f in workflow.configfiles]
    shown = [str(f.relative_to(here)) if f.is_absolute() and f.is_relative_to(here) else str(f) for f in files]
    overrides = " with --config overrides" if workflow.config_settings.config else ""
    return " + ".join(dict.fromkeys(shown)) + overrides


MADE_FROM = shlex.quote(_made_from())

# GPU jobs are counted with the `gpu` resource (snakemake --resources gpu=N) only where a GPU can
# be used; on a CPU machine training jobs take none, so they run side by side.
USES_GPU = PARAMS["runtime"]["device"] != "cpu" and shutil.which("nvidia-smi") is not None
GPU = 1 if USES_GPU else 0
THREADS = PARAMS["runtime"]["threads"]
# Snakemake runs cores / threads jobs at once; threads beyond this machine's cores oversubscribe
# every job (a cluster's nodes may have more: a warning, not an error).
_THREADS_WARNING = threads_warning(THREADS, os.cpu_count())
if _THREADS_WARNING:
    print(f"l2tww: warning: {_THREADS_WARNING}", file=sys.stderr)

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
    metrics = Layout().summary_outputs()["metrics"]  # at dvc.yaml's default paths
    outs = ["data/prepared", "data/splits", "results/sources", "results/runs", metrics]
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
    return PARAMS.job_at(w.target, w.method, w.ntag, w.seeds)


def job_tag(w):
    """What `l2tww train --job` takes: the job's own tag (Job.tag), spelled nowhere else."""
    return job_of(w).tag


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
