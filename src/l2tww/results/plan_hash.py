"""The plan you can verify: a hash of params.yaml's `claims` section, recorded in the section itself
(`claims.plan.hash`), and the first git commit that contained it.

The hash covers every role and every plan key except `plan.hash` itself: canonical JSON (sorted keys,
no spaces), SHA-256, first 16 hex digits. `l2tww check` and tests/test_plan_hash.py refuse a claims
section whose recorded hash is not its own, so no role, gate, margin or seed rule changes without the
hash changing, and `git log -S<hash>` finds the commit that fixed the plan: every summary records
it, and the report prints "plan fixed at <commit, date>; first confirmation run <date>". A plan
that is changed after its confirmation run has a new hash whose first commit comes after the run.
"""

from __future__ import annotations

import copy
import hashlib
import json
import subprocess
from collections.abc import Mapping
from pathlib import Path

HASH_KEY = "hash"


def plan_hash(claims: Mapping) -> str:
    """The hash of a claims section (roles and plan), without plan.hash."""
    body = copy.deepcopy(dict(claims))
    if isinstance(body.get("plan"), dict):
        body["plan"] = {k: v for k, v in body["plan"].items() if k != HASH_KEY}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def hash_problem(claims: Mapping | None, where: str = "params.yaml: ") -> str | None:
    """One line when the claims section's recorded hash is missing or not its own; None when it matches
    (or there is no claims section)."""
    if not claims:
        return None
    recorded, actual = (claims.get("plan") or {}).get(HASH_KEY), plan_hash(claims)
    if recorded is None:
        return f"{where}claims.plan.hash missing: the plan's hash is {actual} (record it to fix the plan)"
    if recorded != actual:
        return (
            f"{where}claims.plan.hash {recorded} is not the claims section's hash {actual}: the plan changed; "
            "record the new hash (and say why in the plan's history)"
        )
    return None


def _oldest(git_args: list[str], repo: str | Path) -> tuple[str, str] | None:
    """(commit, ISO date) of the first line `git log --reverse <git_args>` prints; None outside a git
    checkout or when git finds nothing."""
    try:
        out = subprocess.run(
            ["git", "log", "--reverse", "--format=%H %cI", *git_args],
            cwd=repo,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout.split("\n")[0]
    except (OSError, subprocess.SubprocessError):
        return None
    if not out.strip():
        return None
    commit, date = out.split(" ", 1)
    return commit, date.strip()


def first_commit(value: str, repo: str | Path = ".") -> tuple[str, str] | None:
    """(commit, ISO date) of the oldest commit that added `value` to a YAML file of the repository
    (git log -S, oldest first): params.yaml or a preset, whichever file the claims live in, and
    whatever copy of it a job reads (Snakemake's jobs read an untracked effective params file).
    None outside a git checkout or before the plan is committed."""
    return _oldest([f"-S{value}", "--", ":(top)*.yaml"], repo)


def first_commit_after(commit: str, path: str | Path, repo: str | Path = ".") -> tuple[str, str] | None:
    """(commit, ISO date) of the oldest commit after `commit` (on its descendants' path) that changed
    `path`: the first confirmation run's results, when `path` is the summary's runs.csv."""
    return _oldest(["--ancestry-path", f"{commit}..HEAD", "--", str(path)], repo)


def plan_record(claims: Mapping | None, repo: str | Path = ".") -> dict | None:
    """What a summary records of the plan: its hash, status, and the first commit containing the hash."""
    if not claims:
        return None
    h = plan_hash(claims)
    found = first_commit(h, repo)
    return {
        "hash": h,
        "status": (claims.get("plan") or {}).get("status", "confirmation"),
        "first_commit": found[0] if found else None,
        "first_commit_date": found[1] if found else None,
    }
