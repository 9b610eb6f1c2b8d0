"""The jobs of `snakemake all` as the package sees them: each job's rule, output and input files,
and where its outputs record the identity they were made under. The rules take their inputs from
here (workflow/rules/common.smk) and `l2tww sync` walks the same jobs, so the two cannot disagree
about what a job reads. Torch-free: the Snakefile imports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..catalog import METHODS
from ..config import Job, Params, Run
from ..config.layout import IDENTITY_FILE, SUMMARY_CSV, Layout
from ..io import read_json
from . import identity
from .fetch_weights import released_files
from .source_files import local_file


@dataclass(frozen=True)
class Recorded:
    """A JSON output whose "identity" key records what made it, the identity the current params
    and code give it, and the files that must exist beside it (a run's model.pt)."""

    path: str
    identity: str
    beside: tuple[str, ...] = ()


@dataclass(frozen=True)
class PlannedJob:
    rule: str
    name: str  # as `l2tww sync` prints it: "train fashion/l2tww/n5-s0-4"
    outputs: tuple[str, ...]
    inputs: tuple[str, ...]
    recorded: tuple[Recorded, ...]


def source_files(params: Params, name: str) -> list[str]:
    """What pretraining a source reads: its prepared dataset and its split."""
    src = params["sources"][name]
    layout = params.layout
    return [
        str(layout.prepared_marker(src["dataset"])),
        str(layout.split(src["dataset"], src.get("n_per_class"), src["seed"])),
    ]


def sources_read(params: Params, run: Run) -> list[str]:
    """The pretrained sources whose checkpoints a run loads (none for a run from scratch)."""
    if not METHODS[params["methods"][run.method]["kind"]].reads_sources:  # such a run starts at once
        return []
    return [s for s in params["targets"][run.target]["sources"] if params.is_pretrained(s)]


def released_read(params: Params, run: Run) -> list[str]:
    """The released weight files a run loads, written by the fetch rules (workflow/rules/weights.smk)."""
    if not METHODS[params["methods"][run.method]["kind"]].reads_sources:
        return []
    files = released_files(params)
    return [files[s] for s in params["targets"][run.target]["sources"] if s in files]


def run_files(params: Params, run: Run) -> list[str]:
    """What a run reads: its prepared dataset, its split, its sources' checkpoints (pretrained here),
    the released files the fetch rules write and your own state_dict files (a missing one stops
    Snakemake's planning, before any job runs)."""
    target = params["targets"][run.target]
    layout = params.layout
    data = [layout.prepared_marker(target["dataset"]), layout.split(target["dataset"], run.n_per_class, run.seed)]
    reads = METHODS[params["methods"][run.method]["kind"]].reads_sources
    own = [f for s in (target["sources"] if reads else []) if (f := local_file(params["sources"][s])) is not None]
    pretrained = [str(layout.model(layout.source_dir(s))) for s in sources_read(params, run)]
    return [str(f) for f in data] + pretrained + released_read(params, run) + [str(f) for f in own]


def job_files(params: Params, job: Job) -> list[str]:
    return sorted({f for run in job.runs for f in run_files(params, run)})


def run_record(params: Params, run: Run) -> Recorded:
    folder = params.layout.run_dir(run.relpath)
    digest = identity.digest(identity.run_identity(params, run))
    return Recorded(str(Layout.metrics(folder)), digest, (str(Layout.model(folder)),))


def job_runs(params: Params, job: Job) -> dict[str, str]:
    """What a training job's record lists: each run's id and identity."""
    return {run.run_id: identity.digest(identity.run_identity(params, run)) for run in job.runs}


def stale_reason(record: Recorded) -> str | None:
    """Why `record` is not a current output (missing, unreadable, made under another identity),
    or None when it is."""
    for path in (record.path, *record.beside):
        if not Path(path).exists():
            return f"{path} is missing"
    try:
        found = read_json(Path(record.path)).get("identity")
    except (ValueError, AttributeError):  # damaged, or not a JSON object
        return f"{record.path} is not readable JSON"
    if found != record.identity:
        return f"{record.path} records identity {found}; the params and code give {record.identity}"
    return None


def planned_jobs(params: Params) -> list[PlannedJob]:
    """Every job `snakemake all` plans on an empty workspace, each after the jobs it reads from."""
    layout, digest = params.layout, identity.digest
    used = {s for run in params.runs() for s in sources_read(params, run)}
    sources = [s for s in params["sources"] if s in used]
    splits = params.splits_needed(sources)
    datasets = list(dict.fromkeys(d for d, _, _ in splits))
    jobs: list[PlannedJob] = []

    def add(rule: str, name: str, outputs: list, inputs: list, *recorded: Recorded) -> None:
        jobs.append(PlannedJob(rule, name, tuple(map(str, outputs)), tuple(map(str, inputs)), recorded))

    for d in datasets:
        marker = layout.prepared_marker(d)
        add(
            "prepare", f"prepare {d}", [marker], [], Recorded(str(marker), digest(identity.prepare_identity(params, d)))
        )
    for d in datasets:
        base = layout.base_split(d)
        add(
            "split_base",
            f"split {d} base",
            [base],
            [layout.prepared_marker(d)],
            Recorded(str(base), digest(identity.split_identity(params, d))),
        )
    for d, n, seed in splits:
        path = layout.split(d, n, seed)
        add(
            "split",
            f"split {d} {path.stem}",
            [path],
            [layout.base_split(d)],
            Recorded(str(path), digest(identity.split_identity(params, d, n, seed))),
        )
    for name in sources:
        model, metrics = layout.model(layout.source_dir(name)), layout.metrics(layout.source_dir(name))
        own = Recorded(str(metrics), digest(identity.source_identity(params, name)), (str(model),))
        add("pretrain", f"pretrain {name}", [model, metrics], source_files(params, name), own)
    records = []
    for job in params.run_jobs():
        path = layout.job_record(**job.wildcards)
        records.append(path)
        own = Recorded(str(path), digest(job_runs(params, job)))
        runs = [run_record(params, r) for r in job.runs]  # first: a stale job's reason names the run
        add("train", f"train {job.tag}", [path], job_files(params, job), *runs, own)
    own = Recorded(str(layout.summary_dir() / IDENTITY_FILE), digest(identity.summary_identity(params)))
    add("summarize", "summarize", layout.summary_files(), records, own)
    own = Recorded(str(layout.reports / IDENTITY_FILE), digest(identity.report_identity(params)))
    add("report", "report", layout.report_files(), [layout.summary_file(SUMMARY_CSV), *records], own)
    return jobs
