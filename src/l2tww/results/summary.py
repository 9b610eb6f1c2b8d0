"""Aggregate per-run metrics into results/summary/ (mean, sample std and 95% t-interval over seeds).

- runs.csv: one row per run (every number labelled with the epoch it comes from); git-tracked, so
  `l2tww compare REV_A REV_B` pairs any two commits' results by seed.
- summary.csv: one row per target x method x N: test accuracy mean ± std and 95% CI, cost.
- lowdata.csv: test accuracy vs N per method (for `dvc plots`).
- metrics.json: the same means, nested, the claims table under `claims` and the meta-net
  diagnostics under `diagnostics`, each keyed by its row id; git-tracked, so `dvc metrics diff`
  works on any clone.
- cost.csv: time per epoch and peak memory per cell, from the runs' timing.json. The only file
  here that differs at every execution: the others are the same bytes at every rerun (DVC hashes
  them), so timings stay out of them.
"""

from __future__ import annotations

import csv
import io
import statistics
from pathlib import Path

from ..io import write_json, write_text
from ..statistics import stats
from .cells import group_cells, n_tag, n_text, parse_n

RUN_FIELDS = [
    "run_id",
    "target",
    "method",
    "label",
    "n_per_class",
    "seed",
    "test_acc",
    "val_acc",
    "best_epoch",
    "last_epoch",
    "last_val_acc",
]
SUMMARY_FIELDS = [
    "target",
    "method",
    "label",
    "n_per_class",
    "seeds",
    "test_acc_mean",
    "test_acc_std",
    "test_acc_ci95_low",
    "test_acc_ci95_high",
    "val_acc_mean",
    "selection",
]
COST_FIELDS = ["target", "method", "n_per_class", "seeds_timed", "time_per_epoch_s", "peak_memory_mb"]


def _csv(rows: list[dict], fields: list[str]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def aggregate(runs: list[dict]) -> list[dict]:
    rows = []
    for (target, method, n), members in group_cells(runs).items():
        tests = [m["test_acc"] for m in members]
        ci = stats.mean_ci(tests)
        rows.append(
            {
                "target": target,
                "method": method,
                "label": members[0]["label"],
                "n_per_class": n_text(n),
                "seeds": len(members),
                "test_acc_mean": round(statistics.fmean(tests), 4),
                "test_acc_std": round(ci.std, 4),
                "test_acc_ci95_low": None if ci.low is None else round(ci.low, 4),
                "test_acc_ci95_high": None if ci.high is None else round(ci.high, 4),
                "val_acc_mean": round(statistics.fmean(m["val_acc"] for m in members), 4),
                "selection": members[0]["selection"],
            }
        )
    return rows


def cost(runs: list[dict]) -> list[dict]:
    """Per cell: mean time per epoch and max peak memory over the runs timed on this machine."""
    rows = []
    for (target, method, n), members in group_cells(runs).items():
        timed = [m["timing"] for m in members if m.get("timing")]
        rows.append(
            {
                "target": target,
                "method": method,
                "n_per_class": n_text(n),
                "seeds_timed": len(timed),
                "time_per_epoch_s": round(statistics.fmean(t["time_per_epoch_s"] for t in timed), 4) if timed else None,
                "peak_memory_mb": round(max(t["peak_memory_mb"] for t in timed), 1) if timed else None,
            }
        )
    return rows


def write_summary(
    runs: list[dict],
    files: dict[str, Path],
    claims: dict | None = None,
    diagnostics: dict | None = None,
    plan: dict | None = None,
) -> None:
    """Write the summary files of `runs` (each run's metrics), the claims table, the meta-net
    diagnostics (each {id: row}) and the plan's record (plan_hash.plan_record) to `files`
    ({"runs", "summary", "cost", "lowdata", "metrics"}: path)."""
    rows = aggregate(runs)
    for r in runs:
        r.setdefault("n_per_class", None)
    write_text(files["runs"], _csv([{**r, "n_per_class": n_text(r["n_per_class"])} for r in runs], RUN_FIELDS))
    write_text(files["summary"], _csv(rows, SUMMARY_FIELDS))
    write_text(files["cost"], _csv(cost(runs), COST_FIELDS))
    write_text(
        files["lowdata"],
        _csv(
            [r for r in rows if r["n_per_class"] != "all"],
            ["target", "method", "n_per_class", "test_acc_mean", "test_acc_std"],
        ),
    )
    nested: dict = {}
    for r in rows:
        cell = nested.setdefault(r["target"], {}).setdefault(r["method"], {})
        cell[n_tag(parse_n(r["n_per_class"]))] = {
            "test_acc": r["test_acc_mean"],
            "test_acc_std": r["test_acc_std"],
            "test_acc_ci95": [r["test_acc_ci95_low"], r["test_acc_ci95_high"]],
            "seeds": r["seeds"],
        }
    if claims:
        nested["claims"] = claims
    if diagnostics:
        nested["diagnostics"] = diagnostics
    if plan:
        nested["plan"] = plan
    write_json(files["metrics"], nested)
