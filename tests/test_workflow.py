"""The workflow end to end on the tiny config: Snakemake and DVC routes, staleness, lint.

These run real subprocesses (snakemake, dvc, git) in a temporary copy of the project.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from .conftest import REPO, job_counts, make_project, planned_jobs, sh  # noqa: F401 (re-exported)

pytestmark = pytest.mark.integration

ARTIFACT_ROOTS = ["data/prepared", "data/splits", "results", "reports"]


def artifacts(root: Path) -> set[str]:
    found = set()
    for top in ARTIFACT_ROOTS:
        for path in (root / top).rglob("*"):
            rel = path.relative_to(root).as_posix()
            if (
                path.is_file()
                and not rel.startswith("reports/")
                or rel.startswith("reports/")
                and path.is_file()
                and not path.suffix == ".py"
            ):
                found.add(rel)
    return {a for a in found if not a.endswith(".gitignore")}


def test_snakemake_runs_the_tiny_pipeline_end_to_end(snakemade: Path):
    summary = (snakemade / "results/summary/summary.csv").read_text().splitlines()
    assert summary[0].startswith("target,method,label,n_per_class,seeds,test_acc_mean")
    assert {line.split(",")[1] for line in summary[1:]} == {"scratch", "fm_single"}
    assert (snakemade / "results/sources/digits/model.pt").exists()


def test_parallel_jobs_leave_their_own_logs_and_no_temp_files(snakemade: Path):
    logs = sorted(
        p.relative_to(snakemade / "results/logs").as_posix() for p in (snakemade / "results/logs").rglob("*.log")
    )
    assert "train/animal/scratch/n5-s0.log" in logs and "train/animal/fm_single/n5-s0.log" in logs
    for method in ("scratch", "fm_single"):
        text = (snakemade / "results/logs/train/animal" / method / "n5-s0.log").read_text()
        assert "epoch 1" in text and "Traceback" not in text
    leftovers = [p for p in snakemade.rglob("*.tmp") if ".snakemake" not in p.parts]
    assert not leftovers


def test_a_second_run_has_nothing_to_do(snakemade: Path):
    assert planned_jobs(snakemade) == {}


def test_editing_one_method_reruns_only_its_runs(snakemade: Path, tmp_path: Path):
    project = tmp_path / "edited"
    shutil.copytree(snakemade, project, symlinks=True)
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["methods"]["fm_single"]["beta"] = 1.0
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    jobs = planned_jobs(project)
    assert jobs.get("train") == 1  # fm_single only; scratch and the source stay
    assert "pretrain" not in jobs and "prepare" not in jobs and "split" not in jobs


def test_changing_precision_replans_the_training_jobs(snakemade: Path, tmp_path: Path):
    """runtime.precision is part of every run's identity (issue 21): tf32 re-runs the trainings
    (and the pretrained source), not the data preparation."""
    project = tmp_path / "tf32"
    shutil.copytree(snakemade, project, symlinks=True)
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["runtime"]["precision"] = "tf32"
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    jobs = planned_jobs(project)
    assert jobs.get("train") == 2 and jobs.get("pretrain") == 1, jobs  # scratch and fm_single; the source
    assert "prepare" not in jobs and "split" not in jobs


def _edit(project: Path, module: str, text: str) -> None:
    path = project / "src/l2tww" / module
    path.write_text(path.read_text() + text)


# (module edited, jobs the dry run must plan): a behaviour edit re-runs the jobs that execute the
# module and what depends on their outputs; a comment edit re-runs nothing.
CODE_EDITS = [
    ("methods/fm.py", "\nEDITED = True\n", {"train": 1, "summarize": 1, "report": 1, "all": 1}),
    ("training/trainer.py", "\nEDITED = True\n", {"pretrain": 1, "train": 2, "summarize": 1, "report": 1, "all": 1}),
    ("report/tables.py", "\nEDITED = True\n", {"report": 1, "all": 1}),
    ("methods/fm.py", "\n# a comment only\n", {}),
    ("training/trainer.py", "\n# a comment only\n", {}),
]


@pytest.mark.parametrize(
    "module,text,expected",
    CODE_EDITS,
    ids=[f"{m}:{'comment' if t.strip().startswith('#') else 'code'}" for m, t, _ in CODE_EDITS],
)
def test_a_code_edit_reruns_exactly_the_jobs_that_execute_it(snakemade: Path, tmp_path: Path, module, text, expected):
    project = tmp_path / "edited"
    shutil.copytree(snakemade, project, symlinks=True)
    _edit(project, module, text)
    assert planned_jobs(project) == expected


def test_lint_reports_nothing_but_deployment_advice():
    out = sh(["snakemake", "--lint"], REPO, check=False).stdout
    lints = {line.strip() for line in out.splitlines() if line.strip().startswith("* ")}
    assert lints <= {"* Specify a conda environment or container for each rule.:"}, lints


def test_dvc_repro_and_snakemake_make_the_same_artifacts(snakemade: Path, tmp_path: Path):
    project = make_project(tmp_path / "dvc", git=True)
    sh(["dvc", "repro"], project)
    assert artifacts(project) == artifacts(snakemade)
    status = sh(["dvc", "status"], project).stdout
    assert "changed" not in status, status
    assert planned_jobs(project) == {}  # DVC's commits leave Snakemake nothing to re-run
    # DVC's outs are exactly the folders Snakemake's targets live in.
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    declared = {
        next(iter(o)) if isinstance(o, dict) else o
        for s in stages.values()
        for o in s.get("outs", []) + s.get("metrics", []) + s.get("plots", [])
    }
    assert {
        "data/prepared",
        "data/splits",
        "results/sources",
        "results/runs",
        "results/summary/metrics.json",
    } <= declared
    # Editing a param: dvc repro re-runs only the affected job, and metrics diff shows it.
    sh(["git", "add", "-A"], project)
    sh(["git", "commit", "-qm", "baseline"], project)
    scratch = project / "results/runs/animal/scratch/n5-s0/metrics.json"
    before = scratch.stat().st_mtime_ns
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["methods"]["fm_single"]["beta"] = 3.0
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    sh(["dvc", "repro"], project)
    assert scratch.stat().st_mtime_ns == before
    assert "methods.fm_single.beta" in sh(["dvc", "params", "diff"], project).stdout
    diff = sh(["dvc", "metrics", "diff", "--all"], project).stdout
    assert "animal.fm_single.n5" in diff
    # Editing a method's code: dvc repro re-runs its runs (through Snakemake), nothing else, and
    # records a lock that dvc status then finds clean.
    sh(["git", "add", "-A"], project)
    sh(["git", "commit", "-qm", "beta"], project)
    fm = project / "results/runs/animal/fm_single/n5-s0/metrics.json"
    fm_before = fm.stat().st_mtime_ns
    _edit(project, "methods/fm.py", "\nEDITED = True\n")
    assert "changed deps" in sh(["dvc", "status"], project).stdout
    sh(["dvc", "repro"], project)
    assert fm.stat().st_mtime_ns != fm_before and scratch.stat().st_mtime_ns == before
    status = sh(["dvc", "status"], project).stdout
    assert "changed" not in status, status
    # A comment edit: DVC asks Snakemake, which runs nothing; the lock follows the new file.
    _edit(project, "methods/fm.py", "\n# a comment only\n")
    fm_after = fm.stat().st_mtime_ns
    sh(["dvc", "repro"], project)
    assert fm.stat().st_mtime_ns == fm_after
    assert "changed" not in sh(["dvc", "status"], project).stdout


def test_dvc_stage_deps_cover_the_code_of_their_jobs():
    """dvc.yaml lists directories; every module a stage's jobs execute must lie under one of them."""
    from l2tww import config
    from l2tww.stages import identity
    from l2tww.stages.codehash import module_file

    params = config.load(REPO / "params.yaml")
    run = params.runs()[0]
    dataset = params["targets"][run.target]["dataset"]
    code = {
        "data": identity.split_identity(params, dataset)["code"] | identity.prepare_identity(params, dataset)["code"],
        "sources": identity.source_identity(params, params.pretrained_sources()[0])["code"],
        "train": identity.run_identity(params, run)["code"],
        "summarize": identity.summary_identity(params)["code"],
        "report": identity.report_identity(params)["code"],
    }
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    for stage, modules in code.items():
        deps = [REPO / d for d in stages[stage]["deps"]]
        for module in modules:
            path = module_file(module)
            assert any(path == d or d in path.parents for d in deps), (stage, module)
