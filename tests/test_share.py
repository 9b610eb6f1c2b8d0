"""Results travel (issue 23): one clone runs the tiny pipeline and pushes to a DVC remote; another
clones it, pulls and syncs (`l2tww sync`), and then re-runs nothing that is still current, while
what a param edit or a damaged artifact makes stale is planned, and nothing more.

Without sync Snakemake re-plans the pulled jobs on the second clone (pulled inputs look newer
than the outputs git checked out, and a clone has no .snakemake/metadata); the test checks that too,
so that it cannot pass by accident of file dates.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from l2tww import config
from l2tww.stages.plan import planned_jobs as plan_of

from .conftest import REPO, stand_in_sources
from .test_workflow import job_counts, make_project, planned_jobs, sh

pytestmark = pytest.mark.integration  # Snakemake plans and DVC remotes in scratch projects

CLEAN = "Data and pipelines are up to date."
# The tiny pipeline: prepare 2, split_base 2, split 2 (a source's and a target's), pretrain 1,
# train 2 (scratch, fm_single), summarize, report.
JOBS = 11


def _plan(root: Path) -> tuple[dict[str, int], set[str]]:
    """Job counts per rule of a dry run, and the training jobs' records it would write."""
    out = sh(["snakemake", "-n", "--cores", "2", "all"], root).stdout
    return job_counts(out), set(re.findall(r"output: (results/runs/\S+\.json)", out))


def _record_identity(path: Path, identity: str) -> None:
    """Edit the identity an artifact records, as a bad copy or a hand edit would. A new file: the
    pulled one may be a link into the DVC cache, which must stay intact."""
    data = json.loads(path.read_text())
    data["identity"] = identity
    path.unlink()
    path.write_text(json.dumps(data))


@pytest.mark.parametrize("params", ["tests/fixtures/tiny-params.yaml", "params.yaml", "workflow/presets/paper.yaml"])
def test_sync_walks_the_jobs_snakemake_plans(tmp_path: Path, params: str):
    """What sync checks and touches is what `snakemake all` runs: the same jobs, rules and outputs
    (a job sync did not know would be touched, unchecked, as an input of one it marks current)."""
    root = make_project(tmp_path / "p")
    shutil.copy2(REPO / params, root / "params.yaml")
    stand_in_sources(root, "params.yaml")
    out = sh(["snakemake", "-n", "all"], root).stdout
    # Downloads of released weights (fetch_weights_*) are Snakemake's alone: they carry no identity
    # and never travel through the remote, so a clone fetches its own and sync leaves them be.
    snakemake = sorted(
        (rule, tuple(sorted(outputs.split(", "))))
        for rule, outputs in re.findall(r"^rule (\w+):\n(?:    (?!output:).*\n)*    output: (.*)$", out, re.M)
        if not rule.startswith("fetch_weights_")
    )
    ours = sorted((job.rule, tuple(sorted(job.outputs))) for job in plan_of(config.load(REPO / params)))
    assert ours == snakemake


def test_a_pulled_clone_reruns_only_what_is_stale(snakemade: Path, tmp_path: Path):
    a = make_project(tmp_path / "a", git=True)
    shutil.copy2(REPO / ".gitignore", a / ".gitignore")  # the project's: results/summary tracked, logs not
    for top in ("data/prepared", "data/splits", "results", "reports"):  # the tiny pipeline's outputs (conftest)
        shutil.copytree(snakemade / top, a / top)
    sh(["dvc", "commit", "--force", "-q"], a)  # what the Snakefile's onsuccess hook records after a run
    assert planned_jobs(a) == {}
    sh(["dvc", "remote", "add", "-d", "shared", str(tmp_path / "remote")], a)
    sh(["dvc", "remote", "modify", "shared", "verify", "true"], a)  # the README's recipe: pulls are re-hashed
    sh(["git", "add", "-A"], a)
    sh(["git", "commit", "-qm", "results"], a)
    sh(["dvc", "push", "-q"], a)

    b = tmp_path / "b"
    sh(["git", "clone", "-q", str(a), str(b)], tmp_path)
    # Before the pull, the clone has the git-tracked summary and nothing it was made from: every job
    # runs, the summary's included (as `make reproduce` in a fresh clone), not just the report.
    every_job = {"prepare": 2, "split_base": 2, "split": 2, "pretrain": 1, "train": 2, "summarize": 1, "report": 1}
    assert _plan(b)[0] == {**every_job, "all": 1}
    sh(["dvc", "pull", "-q"], b)
    assert CLEAN in sh(["dvc", "status"], b).stdout  # everything a clone needs: in git or the remote
    assert "summarize" in planned_jobs(b)  # what sync is for: dates alone re-plan pulled jobs

    out = sh(["l2tww", "sync"], b).stdout
    assert f"{JOBS} of {JOBS} jobs current" in out and "stale" not in out, out
    assert planned_jobs(b) == {}
    assert CLEAN in sh(["dvc", "status"], b).stdout

    # A param edit after sync: Snakemake's params trigger (from the metadata sync recorded) plans
    # exactly that method's runs, the summary and the report; sync itself says the same.
    c = tmp_path / "c"
    shutil.copytree(b, c, symlinks=True)
    params = yaml.safe_load((c / "params.yaml").read_text())
    params["methods"]["fm_single"]["beta"] = 1.0
    (c / "params.yaml").write_text(yaml.safe_dump(params))
    expected = {"train": 1, "summarize": 1, "report": 1, "all": 1}
    assert _plan(c) == (expected, {"results/runs/animal/fm_single/n5-s0.json"})
    out = sh(["l2tww", "sync", "--dry-run"], c).stdout
    stale = {line.split(":")[0].strip() for line in out.splitlines() if line.startswith("  ")}
    assert stale == {"train animal/fm_single/n5-s0", "summarize", "report"}, out

    # Data the remote does not hold (a preset's, which only `dvc add`s its results folder): absent,
    # not stale; Snakemake makes it when a job that runs needs it, so nothing runs now.
    d = tmp_path / "d"
    shutil.copytree(b, d, symlinks=True)
    shutil.rmtree(d / "data")
    out = sh(["l2tww", "sync"], d).stdout
    assert f"{JOBS - 6} of {JOBS} jobs current" in out and "6 absent" in out and "stale" not in out, out
    assert planned_jobs(d) == {}

    # A pulled run whose metrics.json records another identity is stale, whatever its dates and
    # the metadata the first sync recorded here: its job, the summary and the report are planned.
    metrics = b / "results/runs/animal/scratch/n5-s0/metrics.json"
    _record_identity(metrics, "0" * 16)
    out = sh(["l2tww", "sync"], b).stdout
    assert f"{JOBS - 3} of {JOBS} jobs current" in out, out
    assert "train animal/scratch/n5-s0: results/runs/animal/scratch/n5-s0/metrics.json records identity 0000" in out
    assert _plan(b) == (expected, {"results/runs/animal/scratch/n5-s0.json"})

    # A stale prepared dataset (a job that reads no file) and everything made from it.
    (c / "params.yaml").write_text((b / "params.yaml").read_text())
    _record_identity(c / "data/prepared/mnist5k/meta.json", "0" * 16)
    assert "prepare mnist5k: data/prepared/mnist5k/meta.json records identity 0000" in sh(["l2tww", "sync"], c).stdout
    counts, trained = _plan(c)
    assert counts == {"prepare": 1, "split_base": 1, "split": 1, "pretrain": 1, **expected}
    assert trained == {"results/runs/animal/fm_single/n5-s0.json"}  # scratch reads no mnist5k

    # A remote object altered after the push (someone with write access to the remote): with
    # `verify = true` the pull re-hashes what it downloads and refuses the file instead of
    # checking it out, so no later stage ever loads it.
    remote_files = [f for f in (tmp_path / "remote").rglob("*") if f.is_file() and not f.name.endswith(".dir")]
    victim = max(remote_files, key=lambda f: f.stat().st_size)
    original = victim.read_bytes()
    middle = len(original) // 2
    altered = original[:middle] + bytes([original[middle] ^ 0xFF]) + original[middle + 1 :]
    victim.unlink()  # a new inode: the pushing clone's cache may share the old one
    victim.write_bytes(altered)
    e = tmp_path / "e"
    sh(["git", "clone", "-q", str(a), str(e)], tmp_path)
    pulled = sh(["dvc", "pull", "-q"], e, check=False)
    assert pulled.returncode != 0, pulled.stdout + pulled.stderr
    checked_out = [f for f in e.rglob("*") if f.is_file() and ".dvc" not in f.parts and ".git" not in f.parts]
    assert all(f.read_bytes() != altered for f in checked_out)
