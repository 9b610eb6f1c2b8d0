"""Which commit a summary's runs were made at, against the plan's commit (issue 29, item 7).

A report is rendered before its results are committed, so "the first commit of runs.csv after the
plan" (plan_hash.first_commit_after) does not exist yet when the confirmation's own report is made.
Every run records the commit it ran at in its timing.json (`machine.git_sha`, `machine.git_dirty`):
that commit's date is a lower bound of when the run was made, and whether it descends from the
plan's first commit says whether the plan can have preceded the run.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from ..config import Layout
from ..io import read_json


def _git(args: list[str], repo: Path) -> subprocess.CompletedProcess | None:
    try:
        return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None


def commits_of(runs: list[dict]) -> dict[str, bool]:
    """commit -> whether any run made at it had uncommitted changes, over the runs' timing.json."""
    made: dict[str, bool] = {}
    for run in runs:
        path = Layout.timing(run["dir"])
        if not path.exists():
            continue
        machine = read_json(path, f"timing of {run.get('run_id', run['dir'])}").get("machine") or {}
        if machine.get("git_sha"):
            made[machine["git_sha"]] = made.get(machine["git_sha"], False) or bool(machine.get("git_dirty"))
    return made


def runs_after_plan(plan_commit: str, runs: list[dict], repo: Path) -> str | None:
    """ "made at <commit> (committed <date>), after the plan" for the oldest commit the runs were
    made at; "NOT after the plan: ..." when one of them does not descend from the plan's commit;
    None when no run names a commit git knows (no timing.json, or outside the repository)."""
    dated = []
    for sha, dirty in commits_of(runs).items():
        shown = _git(["show", "-s", "--format=%cI", sha], repo)
        if shown is None or shown.returncode != 0:
            continue
        ancestor = _git(["merge-base", "--is-ancestor", plan_commit, sha], repo)
        dated.append((shown.stdout.strip(), sha, dirty, ancestor is not None and ancestor.returncode == 0))
    if not dated:
        return None
    before = [d for d in dated if not d[3]]
    date, sha, dirty, _ = min(before or dated)
    where = f"made at {sha[:10]} (committed {date}{'; with uncommitted changes' if dirty else ''})"
    return f"NOT after the plan: runs {where}" if before else f"{where}, after the plan"
