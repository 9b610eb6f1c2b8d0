"""`l2tww sync`: after `dvc pull` (or any copy of results from another clone), tell Snakemake which
pulled outputs are current, from the identities the outputs record rather than from file dates or
Snakemake's local metadata, which a clone does not have.

Snakemake (9.x) on a clone without .snakemake/metadata decides by file dates alone: a pull writes
files in its own order, so inputs look newer than outputs and everything re-runs, and with no
metadata no params, code or input trigger can fire. So, for every job of the plan
(`plan.planned_jobs`: the jobs of `snakemake all`, in DAG order):

- current: all outputs exist, each recorded identity equals the one the current params and code
  give it, and every job it reads from is current. `snakemake --touch --forceall <their outputs>`
  dates them in DAG order and records Snakemake's metadata (params, code), so a later edit of a
  param re-runs exactly the jobs it changes, as on the clone that made them;
- stale (its own identity differs, or it reads what a stale job re-makes): its outputs are
  removed, as Snakemake removes them before re-making them. A missing output is the one reason
  Snakemake heeds without metadata whatever the dates: a stale `prepare` reads no file, and a
  stale job whose input is missing is not planned by dates. A training job's output is only its
  record: its runs stay, and those whose own metrics.json is current are kept by `l2tww train`.

Contents never change: `dvc status` after sync says what it said after the pull, plus the removed
stale outputs.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ..config import Params
from .plan import PlannedJob, planned_jobs, stale_reason


@dataclass(frozen=True)
class JobState:
    job: PlannedJob
    why: str | None  # None: current
    inherited: bool = False  # stale only because a job it reads from is


def judge(params: Params) -> list[JobState]:
    """Each job of the plan, in DAG order, current or stale and why."""
    jobs = planned_jobs(params)
    producer = {out: job for job in jobs for out in job.outputs}
    stale: set[str] = set()
    verdicts = []
    for job in jobs:
        why = next((f"{out} is missing" for out in job.outputs if not Path(out).exists()), None)
        why = why or next((r for r in map(stale_reason, job.recorded) if r is not None), None)
        inherited = False
        if why is None:
            upstream = [producer[f].name for f in job.inputs if f in producer and producer[f].name in stale]
            if upstream:
                why, inherited = f"reads what {upstream[0]} re-makes", True
        if why is not None:
            stale.add(job.name)
        verdicts.append(JobState(job, why, inherited))
    return verdicts


def sync(params: Params, params_file: str, dry_run: bool = False) -> list[JobState]:
    verdicts = judge(params)
    current = [v.job for v in verdicts if v.why is None]
    stale = [v.job for v in verdicts if v.why is not None]
    if not dry_run:
        _mark_stale(stale)
        _mark_current(current, params_file)
    print(_text(verdicts, dry_run), flush=True)
    return verdicts


def _text(verdicts: list[JobState], dry_run: bool) -> str:
    current = sum(v.why is None for v in verdicts)
    lines = [
        f"l2tww sync: {current} of {len(verdicts)} jobs current" + ("" if dry_run else ", marked so for Snakemake")
    ]
    own = [v for v in verdicts if v.why is not None and not v.inherited]
    inherited = Counter(v.job.rule for v in verdicts if v.inherited)
    if own:
        done = "" if dry_run else "outputs removed, "
        lines.append(
            f"{len(own) + sum(inherited.values())} stale ({done}for `snakemake all` or `dvc repro` to re-make):"
        )
        lines += [f"  {v.job.name}: {v.why}" for v in own]
    if inherited:
        counts = ", ".join(f"{rule} {n}" for rule, n in inherited.items())
        lines.append(f"  and the jobs that read what those re-make ({counts})")
    return "\n".join(lines)


def _snakemake(args: list[str], params_file: str) -> None:
    """Run snakemake here with the params sync judged by (a file other than params.yaml is passed
    as --configfile, which replaces params.yaml as the Snakefile reads it)."""
    config = [] if Path(params_file).resolve() == Path("params.yaml").resolve() else ["--configfile", params_file]
    cmd = ["snakemake", "--quiet=all", *config, *args]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
        raise RuntimeError(f"sync: `{' '.join(cmd[:8])} ...` failed (exit {done.returncode}); its output is above")


def _mark_stale(jobs: list[PlannedJob]) -> None:
    for job in jobs:
        for out in job.outputs:
            Path(out).unlink(missing_ok=True)


def _mark_current(jobs: list[PlannedJob], params_file: str) -> None:
    if jobs:
        outputs = [out for job in jobs for out in job.outputs]
        _snakemake(["--touch", "--forceall", "--rerun-incomplete", "--cores", "all", *outputs], params_file)
