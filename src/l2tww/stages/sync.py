"""`l2tww sync`: after `dvc pull` (or any copy of results from another clone), tell Snakemake which
pulled outputs are current, from the identities the outputs record rather than from file dates or
Snakemake's local metadata, which a clone does not have.

Snakemake (9.x) on a clone without .snakemake/metadata decides by file dates alone: a pull writes
files in its own order, so inputs look newer than outputs and everything re-runs, and with no
metadata no params, code or input trigger can fire. So each job of the plan (`plan.planned_jobs`:
the jobs of `snakemake all`, in DAG order) is

- current: its outputs exist, each recorded identity equals the one the current params and code
  give it, and no job it reads from is stale. `snakemake --touch --forceall <their outputs>` dates
  them in DAG order and records Snakemake's metadata (params, code), so a later edit of a param
  re-runs exactly the jobs it changes, as on the clone that made them;
- absent: none of its outputs is here (data a remote does not hold, say). Left to Snakemake, which
  makes a missing file when a job that runs needs it (at once for the summary and the report,
  which `all` asks for) and, like any missing intermediate, not otherwise;
- stale: an identity differs, an output or a file its identity vouches for is missing, or it reads
  from a stale job (which Snakemake re-runs, and then everything after it). Its outputs are
  removed, as Snakemake removes them before re-making them: a missing output is the one reason
  Snakemake heeds without metadata whatever the dates (a `prepare` reads no file; a job whose input
  is missing is not planned by dates). A training job's output is only its record: its runs stay,
  and `l2tww train` keeps those whose own metrics.json is current.

No content changes: `dvc status` after sync says what it said after the pull, plus the removed
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

CURRENT, ABSENT, STALE = "current", "absent", "stale"


@dataclass(frozen=True)
class JobState:
    job: PlannedJob
    state: str  # CURRENT, ABSENT or STALE
    why: str = ""  # a stale job's reason
    inherited: bool = False  # stale only because a job it reads from is


def judge(params: Params) -> list[JobState]:
    """Each job of the plan, in DAG order: current, absent or stale, and why."""
    jobs = planned_jobs(params)
    producer = {out: job for job in jobs for out in job.outputs}
    stale: set[str] = set()
    states = []
    for job in jobs:
        missing = [out for out in job.outputs if not Path(out).exists()]
        if len(missing) == len(job.outputs):
            states.append(JobState(job, ABSENT))
            continue
        why = f"{missing[0]} is missing" if missing else None
        why = why or next((r for r in map(stale_reason, job.recorded) if r is not None), None)
        upstream = [producer[f].name for f in job.inputs if f in producer and producer[f].name in stale]
        if why is None and upstream:
            states.append(JobState(job, STALE, f"reads what {upstream[0]} re-makes", inherited=True))
        else:
            states.append(JobState(job, CURRENT) if why is None else JobState(job, STALE, why))
        if states[-1].state == STALE:
            stale.add(job.name)
    return states


def sync(params: Params, params_file: str, dry_run: bool = False) -> list[JobState]:
    states = judge(params)
    if not dry_run:
        for s in states:
            if s.state == STALE:
                for out in s.job.outputs:
                    Path(out).unlink(missing_ok=True)
        current = [out for s in states if s.state == CURRENT for out in s.job.outputs]
        if current:
            _touch(current, params_file)
    print(_text(states, dry_run), flush=True)
    return states


def _text(states: list[JobState], dry_run: bool) -> str:
    count = Counter(s.state for s in states)
    marked = "" if dry_run else ", marked so for Snakemake"
    lines = [f"l2tww sync: {count[CURRENT]} of {len(states)} jobs current{marked}"]
    if count[ABSENT]:
        rules = Counter(s.job.rule for s in states if s.state == ABSENT)
        lines.append(f"{count[ABSENT]} absent, made by Snakemake when a job that runs needs them: {_counts(rules)}")
    if count[STALE]:
        removed = "" if dry_run else "outputs removed, "
        lines.append(f"{count[STALE]} stale ({removed}for `snakemake all` or `dvc repro` to re-make):")
        lines += [f"  {s.job.name}: {s.why}" for s in states if s.state == STALE and not s.inherited]
        inherited = Counter(s.job.rule for s in states if s.inherited)
        if inherited:
            lines.append(f"  and the jobs that read what those re-make: {_counts(inherited)}")
    return "\n".join(lines)


def _counts(rules: Counter) -> str:
    return ", ".join(f"{rule} {n}" for rule, n in rules.items())


def _touch(outputs: list[str], params_file: str) -> None:
    """`snakemake --touch --forceall` on `outputs`, with the params sync judged by (a file other
    than params.yaml is passed as --configfile, which replaces params.yaml as the Snakefile reads
    it). Jobs upstream of them are current or absent; Snakemake skips the absent files."""
    config = [] if Path(params_file).resolve() == Path("params.yaml").resolve() else ["--configfile", params_file]
    cmd = ["snakemake", "--quiet=all", *config, "--touch", "--forceall", "--rerun-incomplete", "--cores", "all"]
    done = subprocess.run(cmd + outputs, capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
        raise RuntimeError(f"sync: `{' '.join(cmd)} <outputs>` failed (exit {done.returncode}); its output is above")
