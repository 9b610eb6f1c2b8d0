"""What the report reads: targets, methods and every finished run, as plain values (JSON)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class ReportContext:
    origin: str  # the params file the runs were made from
    targets: dict  # name -> {dataset, builder, arch, sources, source_builders, methods (in run-block order), primary_n}
    methods: dict  # name -> its params entry (kind, label, hyperparameters)
    runs: list  # each run's metrics.json, plus "dir" and "inputs" (stages.inputs.run_inputs)
    claims: list  # the claims table's rows (l2tww.results.verdicts.ClaimRow as dicts)
    diagnostics: list = field(default_factory=list)  # the meta-net diagnostics (results.diagnostics.DiagnosticRow)
    roles: dict = field(default_factory=dict)  # params.yaml's claims roles: role -> [target, method] or a list of them
    # image folders (your own images) -> {root, counts (per pool; test None: held out of train),
    # skipped_unreadable, manifest}: what prepare read, from its meta.json
    data: dict = field(default_factory=dict)
    results_root: str = "results"  # where the runs were read from (the params' results_root)
    # the plan's record (results.plan_hash.plan_record) plus first_run_date: when the summary's runs.csv
    # was first committed after the plan, and runs_made: the commit these runs record they ran at;
    # None without a claims section
    plan: dict | None = None

    def label(self, method: str) -> str:
        return self.methods[method].get("label", method)

    def kind(self, method: str) -> str:
        return self.methods[method]["kind"]

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(asdict(self)))

    @classmethod
    def load(cls, path: str | Path) -> "ReportContext":
        return cls(**json.loads(Path(path).read_text()))
