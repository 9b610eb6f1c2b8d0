"""`l2tww summarize`: every run of the matrix -> results/summary/."""
from __future__ import annotations

from pathlib import Path

from ..config import Params
from ..io import read_json
from ..summarize import write_summary


def collect_runs(params: Params) -> list[dict]:
    """metrics.json of every run of the matrix, in params order, with its folder and current label."""
    runs = []
    for run in params.runs():
        folder = params.layout.run_dir(run.relpath)
        metrics = read_json(folder / "metrics.json", f"metrics of {run.run_id}")
        runs.append({**metrics, "label": params.label(run.method), "dir": str(folder)})
    return runs


def summarize(params: Params) -> Path:
    return write_summary(collect_runs(params), params.layout.summary_dir())
