"""The two sides of `l2tww compare`: a results file at a git revision, in the working tree, or in
another checkout, read into per-seed records (and a metrics.json's claims table).

The per-seed file is git-tracked (CSV with a header, or a JSON list of records): a revision's copy
is read with `git show REV:PATH`; revision None means the file in the working tree, and a
directory means another checkout's copy (e.g. the same commit re-run on another machine).
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
from pathlib import Path, PurePosixPath

from .cells import parse_n


def _record(raw: dict, where: str) -> dict:
    out = dict(raw)
    for key in ("target", "method", "seed", "test_acc"):
        if raw.get(key) in (None, ""):
            raise ValueError(f"{where}: key {key} missing")
    try:
        out["n_per_class"], out["seed"], out["test_acc"] = (
            parse_n(raw.get("n_per_class")),
            int(raw["seed"]),
            float(raw["test_acc"]),
        )
    except (TypeError, ValueError):
        raise ValueError(
            f"{where}: n_per_class={raw.get('n_per_class')!r} seed={raw['seed']!r} test_acc={raw['test_acc']!r}: "
            "expected integers and a number"
        ) from None
    return out


def parse_records(text: str, name: str) -> list[dict]:
    """Per-run records from CSV (by header) or a JSON list; `name` ends in .csv or .json."""
    if name.endswith(".json"):
        data = json.loads(text)
        if not isinstance(data, list):
            raise ValueError(f"{name}: expected a JSON list of per-run records, got {type(data).__name__}")
        return [_record(r, f"{name}: record {i}") for i, r in enumerate(data)]
    if name.endswith(".csv"):
        return [_record(r, f"{name}: row {i + 2}") for i, r in enumerate(csv.DictReader(io.StringIO(text)))]
    raise ValueError(f"{name}: per-seed results must be .csv or .json")


def read_side(path: str, rev: str | None = None, repo: str | Path = ".", what: str = "file") -> tuple[str, str]:
    """(text, where) of `path` (relative to the repository root) at git revision `rev`, on disk if
    None, or in another checkout if `rev` is a directory."""
    if rev is None or Path(rev).is_dir():
        file = Path(repo if rev is None else rev) / path
        if not file.exists():
            raise FileNotFoundError(f"{file}: {what} not found")
        return file.read_text(), str(file)
    spec = f"{rev}:{PurePosixPath(Path(path).as_posix())}"
    done = subprocess.run(["git", "-C", str(repo), "show", spec], capture_output=True, text=True)
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or ["git show failed"])[0]
        raise FileNotFoundError(f"{spec}: {first}")
    return done.stdout, spec


def load_records(path: str, rev: str | None = None, repo: str | Path = ".") -> list[dict]:
    """Per-seed records of `path` at `rev` (see read_side)."""
    return parse_records(*read_side(path, rev, repo, "per-seed results"))


def load_claims(path: str, rev: str | None = None, repo: str | Path = ".") -> dict | None:
    """The claims table of the metrics.json at `path` and `rev`; None where it has none."""
    try:
        text, where = read_side(path, rev, repo)
    except FileNotFoundError:
        return None
    try:
        return json.loads(text).get("claims")
    except (json.JSONDecodeError, AttributeError):
        raise ValueError(f"{where}: expected a JSON object (the summary's metrics)") from None
