"""`l2tww summarize`: every run of the matrix -> results/summary/ (with the claims table)."""

from __future__ import annotations

from pathlib import Path

from ..config import Params
from ..config.layout import IDENTITY_FILE, TIMING_FILE
from ..io import read_json, write_json
from ..results import claims
from ..results.summary import write_summary
from .identity import digest, summary_identity


def collect_runs(params: Params) -> list[dict]:
    """metrics.json of every run of the matrix, in params order, with its folder, current label
    and this machine's timing.json (None for a run made elsewhere, e.g. pulled from a remote)."""
    runs = []
    for run in params.runs():
        folder = params.layout.run_dir(run.relpath)
        metrics = read_json(folder / "metrics.json", f"metrics of {run.run_id}")
        timing = read_json(folder / TIMING_FILE, f"timing of {run.run_id}") if (folder / TIMING_FILE).exists() else None
        runs.append({**metrics, "label": params.label(run.method), "dir": str(folder), "timing": timing})
    return runs


def _transfer(run: dict) -> dict | None:
    """The learned weighting at the run's best-val epoch, beside its state before training."""
    path = Path(run["dir"]) / "transfer.json"
    if not path.exists():
        return None
    return claims.transfer_at(read_json(path, f"transfer statistics of {run['run_id']}"), run["best_epoch"])


def claim_rows(params: Params, runs: list[dict]) -> list[claims.ClaimRow]:
    """The claims table of params' `claims` roles (empty without them)."""
    roles = params.data.get("claims")
    if not roles:
        return []
    spec = claims.ClaimsSpec(
        l2t=tuple(roles["l2tww"]),
        scratch=tuple(roles["scratch"]) if "scratch" in roles else None,
        baselines=tuple(tuple(a) for a in roles.get("baselines", [])),
        multi_source=tuple(roles["multi_source"]) if "multi_source" in roles else None,
        single_sources=tuple(tuple(a) for a in roles.get("single_sources", [])),
        fast=tuple(roles["fast"]) if "fast" in roles else None,
        exact=tuple(roles["exact"]) if "exact" in roles else None,
        reference=tuple(roles["reference"]) if "reference" in roles else None,
    )
    return claims.claims_table([{**r, "transfer": _transfer(r)} for r in runs], spec)


def summarize(params: Params) -> Path:
    """The summary files, then identity.json: the identity they were made under, written last."""
    runs = collect_runs(params)
    out = write_summary(runs, params.layout.summary_dir(), claims.to_json(claim_rows(params, runs)))
    write_json(out / IDENTITY_FILE, {"identity": digest(summary_identity(params))})
    return out
