"""`l2tww summarize`: every run of the matrix -> results/summary/ (with the claims table and the
meta-net diagnostics, from params.yaml's `claims:` roles and plan)."""

from __future__ import annotations

from pathlib import Path

from ..config import Params
from ..config.layout import IDENTITY_FILE, Layout
from ..io import read_json, write_json
from ..results import claims, diagnostics, plan_hash
from ..results.summary import write_summary
from ..results.verdicts import ClaimRow, plan_from, to_json
from .identity import digest, summary_identity


def collect_runs(params: Params) -> list[dict]:
    """metrics.json of every run of the matrix, in params order, with its folder, current label
    and this machine's timing.json (None for a run made elsewhere, e.g. pulled from a remote)."""
    runs = []
    for run in params.runs():
        folder = params.layout.run_dir(run.relpath)
        metrics = read_json(Layout.metrics(folder), f"metrics of {run.run_id}")
        timing_file = Layout.timing(folder)
        timing = read_json(timing_file, f"timing of {run.run_id}") if timing_file.exists() else None
        files = {"dir": str(folder), "history": str(Layout.history(folder))}  # what the report reads beside metrics
        runs.append({**metrics, "label": params.label(run.method), **files, "timing": timing})
    return runs


def _transfer(run: dict) -> dict | None:
    """The learned weighting at the run's best-val epoch, beside its state before training."""
    path = Layout.transfer(run["dir"])
    if not path.exists():
        return None
    return diagnostics.transfer_at(read_json(path, f"transfer statistics of {run['run_id']}"), run["best_epoch"])


def _arm(value) -> tuple[str, str] | None:
    return None if value is None else tuple(value)


def claims_spec(params: Params) -> claims.ClaimsSpec | None:
    """params.yaml's `claims:` roles as the library's ClaimsSpec (the same names); None without them."""
    roles = params.data.get("claims")
    if not roles:
        return None
    single = ("l2tww", "scratch", "frozen", "fm_all_to_all", "what", "what_control", "reference", "multi_source")
    plan = roles.get("plan", {})
    return claims.ClaimsSpec(
        **{role: _arm(roles.get(role)) for role in (*single, "fast", "exact", "holdout")},
        baselines=tuple(tuple(a) for a in roles.get("baselines", [])),
        single_sources=tuple(tuple(a) for a in roles.get("single_sources", [])),
        plan=plan_from(plan),
    )


def claim_rows(params: Params, runs: list[dict]) -> tuple[list[ClaimRow], list[diagnostics.DiagnosticRow]]:
    """The claims table and the meta-net diagnostics of params' `claims` roles (empty without them)."""
    spec = claims_spec(params)
    if spec is None:
        return [], []
    arms = {
        role: arm for role, arm in (("l2tww", spec.l2tww), ("frozen", spec.frozen), ("holdout", spec.holdout)) if arm
    }
    records = [{**r, "transfer": _transfer(r)} for r in runs]
    return claims.claims_table(runs, spec), diagnostics.diagnostics_table(records, arms, spec.plan.level)


def summarize(params: Params) -> Path:
    """The summary files, then identity.json: the identity they were made under, written last."""
    runs = collect_runs(params)
    rows, diag = claim_rows(params, runs)
    # the plan's hash and the first commit that contained it: the plan can be shown to precede the runs
    origin = Path(params.origin).resolve()
    plan = plan_hash.plan_record(params.data.get("claims"), origin.parent)
    write_summary(runs, params.layout.summary_outputs(), to_json(rows), diagnostics.to_json(diag), plan)
    write_json(params.layout.summary_file(IDENTITY_FILE), {"identity": digest(summary_identity(params))})
    return params.layout.summary_dir()
