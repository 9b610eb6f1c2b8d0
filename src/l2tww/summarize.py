"""Aggregate per-run metrics into results/summary/ (mean ± std over seeds, sample std, ddof=1).

- runs.csv: one row per run (every number labelled with the epoch it comes from).
- summary.csv: one row per target x method x N: test accuracy mean ± std over seeds, cost.
- lowdata.csv: test accuracy vs N per method (for `dvc plots`).
- metrics.json: the same means, nested, git-tracked, so `dvc metrics diff` works on any clone.
"""
from __future__ import annotations

import csv
import io
import statistics
from collections import defaultdict
from pathlib import Path

from .io import write_json, write_text

RUN_FIELDS = ["run_id", "target", "method", "label", "n_per_class", "seed", "test_acc", "val_acc", "best_epoch", "last_epoch", "last_val_acc", "time_per_epoch_s", "peak_memory_mb"]
SUMMARY_FIELDS = ["target", "method", "label", "n_per_class", "seeds", "test_acc_mean", "test_acc_std", "val_acc_mean", "time_per_epoch_s", "peak_memory_mb", "selection"]


def _csv(rows: list[dict], fields: list[str]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def _std(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


def aggregate(runs: list[dict]) -> list[dict]:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in runs:
        groups[(r["target"], r["method"], r["n_per_class"])].append(r)
    rows = []
    for (target, method, n), members in groups.items():
        tests = [m["test_acc"] for m in members]
        rows.append({
            "target": target, "method": method, "label": members[0]["label"],
            "n_per_class": "all" if n is None else n, "seeds": len(members),
            "test_acc_mean": round(statistics.fmean(tests), 4), "test_acc_std": round(_std(tests), 4),
            "val_acc_mean": round(statistics.fmean(m["val_acc"] for m in members), 4),
            "time_per_epoch_s": round(statistics.fmean(m["time_per_epoch_s"] for m in members), 4),
            "peak_memory_mb": round(max(m["peak_memory_mb"] for m in members), 1),
            "selection": members[0]["selection"],
        })
    return rows


def write_summary(runs: list[dict], out: Path) -> Path:
    """Write the summary files of `runs` (each run's metrics.json) into `out`."""
    rows = aggregate(runs)
    for r in runs:
        r.setdefault("n_per_class", None)
    write_text(out / "runs.csv", _csv([{**r, "n_per_class": "all" if r["n_per_class"] is None else r["n_per_class"]} for r in runs], RUN_FIELDS))
    write_text(out / "summary.csv", _csv(rows, SUMMARY_FIELDS))
    write_text(out / "lowdata.csv", _csv([r for r in rows if r["n_per_class"] != "all"], ["target", "method", "n_per_class", "test_acc_mean", "test_acc_std"]))
    nested: dict = {}
    for r in rows:
        cell = nested.setdefault(r["target"], {}).setdefault(r["method"], {})
        cell[f"n{r['n_per_class']}"] = {"test_acc": r["test_acc_mean"], "test_acc_std": r["test_acc_std"], "seeds": r["seeds"]}
    write_json(out / "metrics.json", nested)
    return out
