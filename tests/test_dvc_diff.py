"""`dvc params diff` and `dvc metrics diff` across two commits, with the project's own dvc.yaml.

A contract test: dvc.yaml must declare the params sections the runs read and the git-tracked
results/summary/metrics.json (cache: false) as metrics, so any clone can diff two revisions
without a DVC remote. Runs in a throw-away git repo; no stage is run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
ENV = {
    **os.environ,
    "DVC_NO_ANALYTICS": "1",
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.org",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.org",
}

pytestmark = [pytest.mark.integration, pytest.mark.skipif(shutil.which("git") is None, reason="git is needed")]


def _run(cwd: Path, *cmd: str) -> str:
    out = subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, f"{' '.join(cmd)}: {out.stderr}"
    return out.stdout


def _dvc(cwd: Path, *args: str) -> str:
    return _run(cwd, sys.executable, "-m", "dvc", *args)


def _metrics(acc: float) -> dict:
    """The shape summarize.py writes: target -> method -> n<N> -> numbers."""
    return {"animal": {"fm_single": {"n25": {"test_acc": acc, "test_acc_std": 1.0, "seeds": 3}}}}


def _commit(repo: Path, beta: float, acc: float, message: str) -> None:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["methods"]["fm_single"]["beta"] = beta
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    metrics = repo / "results" / "summary" / "metrics.json"
    metrics.parent.mkdir(parents=True, exist_ok=True)
    metrics.write_text(json.dumps(_metrics(acc), indent=2))
    _run(repo, "git", "add", "-A")
    _run(repo, "git", "commit", "-q", "-m", message)


def test_params_and_metrics_diff_between_commits(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    _run(repo, "git", "init", "-q")
    _dvc(repo, "init", "-q")
    _dvc(repo, "config", "core.analytics", "false")
    shutil.copy(REPO / "dvc.yaml", repo / "dvc.yaml")
    _commit(repo, 0.5, 75.0, "first")
    _commit(repo, 1.0, 77.5, "second")

    params = json.loads(_dvc(repo, "params", "diff", "HEAD~1", "HEAD", "--json"))
    beta = params["params.yaml"]["methods.fm_single.beta"]
    assert (beta["old"], beta["new"]) == (0.5, 1.0)

    metrics = json.loads(_dvc(repo, "metrics", "diff", "HEAD~1", "HEAD", "--json"))
    acc = metrics["results/summary/metrics.json"]["animal.fm_single.n25.test_acc"]
    assert (acc["old"], acc["new"], acc["diff"]) == (75.0, 77.5, 2.5)

    shown = json.loads(_dvc(repo, "metrics", "show", "--json"))  # the workspace = the second commit
    assert "77.5" in json.dumps(shown)
