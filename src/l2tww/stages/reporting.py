"""`l2tww report`: resolve the params into a plain ReportContext and render it."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from ..catalog import IMAGE_FOLDER
from ..config import Layout, Params
from ..config.layout import IDENTITY_FILE, RUNS_CSV
from ..io import read_json, write_json
from ..report.context import ReportContext
from ..report.render import render
from ..results import plan_hash
from ..results.cells import n_order
from .identity import digest, report_identity
from .inputs import run_inputs
from .run_provenance import runs_after_plan
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


def report_context(params: Params, made_from: str | None = None) -> ReportContext:
    """Every run's metrics (fails with one line if one is missing) beside how it was made.
    `made_from`: the params file(s) to name (Snakemake's jobs read an effective copy)."""
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
        origin=made_from or str(params.origin),
        results_root=str(params.layout.results),
        targets=targets,
        methods=params["methods"],
        runs=runs,
        claims=[asdict(row) for row in rows],
        diagnostics=[asdict(row) for row in diagnostics],
        roles={k: v for k, v in params.data.get("claims", {}).items() if k != "plan"},
        data=image_folders_read(params),
        plan=plan_of(params, runs),
    )


def plan_of(params: Params, runs: list[dict] | None = None) -> dict | None:
    """The plan's record (hash, status, first commit) and the date the summary's runs.csv was first
    committed after it: "plan fixed at <commit, date>; first confirmation run <date>". Before that
    commit exists (the confirmation's own report), the commit the runs record they were made at.
    `runs_made`: that record whenever the runs have one, so a later confirmation of the same plan
    (a replication on new seeds) says which runs its numbers are, not only when the first one ran."""
    origin = Path(params.origin).resolve()
    record = plan_hash.plan_record(params.data.get("claims"), origin.parent)
    if record is None:
        return None
    runs_csv = params.layout.summary_file(RUNS_CSV).resolve()
    after = record["first_commit"] and plan_hash.first_commit_after(record["first_commit"], runs_csv, origin.parent)
    made = (record["first_commit"] and runs and runs_after_plan(record["first_commit"], runs, origin.parent)) or None
    return {**record, "first_run_date": after[1] if after else made, "runs_made": made}


def image_folders_read(params: Params) -> dict:
    """What prepare read from each target's image folder (its meta.json): counts, unreadable images
    skipped, where the manifest is. Built-in datasets: nothing to say."""
    out = {}
    for dataset in dict.fromkeys(t["dataset"] for t in params["targets"].values()):
        cfg = params["datasets"][dataset]
        if cfg["builder"] != IMAGE_FOLDER:
            continue
        meta = read_json(params.layout.prepared_marker(dataset), f"prepared {dataset}")["provenance"]
        manifest = params.layout.prepared(dataset) / meta["manifest"]
        out[dataset] = {
            "root": cfg["root"],
            "counts": meta["counts"],
            "skipped_unreadable": meta["skipped_unreadable"],
            # no machine path in the report: an absolute data_root is shown from prepared/ on
            "manifest": str(manifest if not manifest.is_absolute() else manifest.relative_to(manifest.parents[2])),
        }
    return out


def make_report(params: Params, out_dir: str | Path | None = None, made_from: str | None = None) -> Path:
    """The rendered report, then identity.json: the identity it was made under, written last."""
    context = report_context(params, made_from)  # before starting a kernel: a missing run fails fast
    out = render(context, Layout.report_outputs(out_dir if out_dir is not None else params.layout.reports))
    write_json(out / IDENTITY_FILE, {"identity": digest(report_identity(params))})
    return out
