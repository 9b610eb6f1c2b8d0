"""`l2tww report`: resolve the params into a plain ReportContext and render it."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from ..config import Params
from ..config.layout import IDENTITY_FILE
from ..io import write_json
from ..report.context import ReportContext
from ..report.render import render
from ..results.cells import n_order
from .identity import digest, report_identity
from .inputs import run_inputs
from .summarize import claim_rows, collect_runs


def methods_of(params: Params, target: str) -> list[str]:
    """A target's methods in the order its run blocks list them (the params mapping's own key
    order is lost: validation round-trips it through a sorted YAML dump)."""
    return list(dict.fromkeys(m for block in params["targets"][target]["runs"] for m in block["methods"]))


def primary_n(params: Params, target: str) -> int | None:
    """The N at which a target runs the most methods (ties: the largest N): its Table-1 column."""
    count: dict = {}
    for block in params["targets"][target]["runs"]:
        for n in block["n_per_class"]:
            count.setdefault(n, set()).update(block["methods"])
    return max(count, key=lambda n: (len(count[n]), n_order(n)))


def report_context(params: Params) -> ReportContext:
    """Every run's metrics (fails with one line if one is missing) beside how it was made."""
    runs = [{**metrics, "inputs": run_inputs(params, run)} for run, metrics in zip(params.runs(), collect_runs(params))]
    rows, diagnostics = claim_rows(params, runs)
    targets = {
        name: {
            "dataset": t["dataset"],
            "builder": params["datasets"][t["dataset"]]["builder"],
            "arch": t["arch"],
            "sources": t["sources"],
            "methods": methods_of(params, name),
            "primary_n": primary_n(params, name),
            "source_builders": [params["datasets"][params["sources"][s]["dataset"]]["builder"] for s in t["sources"]],
        }
        for name, t in params["targets"].items()
    }
    return ReportContext(
        origin=str(params.origin),
        targets=targets,
        methods=params["methods"],
        runs=runs,
        claims=[asdict(row) for row in rows],
        diagnostics=[asdict(row) for row in diagnostics],
        roles={k: v for k, v in params.data.get("claims", {}).items() if k != "plan"},
    )


def make_report(params: Params, out_dir: str | Path | None = None) -> Path:
    """The rendered report, then identity.json: the identity it was made under, written last."""
    context = report_context(params)  # before starting a kernel: a missing run fails fast
    out = render(context, out_dir if out_dir is not None else params.layout.reports)
    write_json(out / IDENTITY_FILE, {"identity": digest(report_identity(params))})
    return out
