"""Shared fixtures: the tiny config, embedded datasets prepared once per test session, and the
tiny pipeline in a temporary copy of the project, run once by Snakemake."""

from __future__ import annotations

import copy
import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from l2tww import config
from l2tww.stages.prepare import prepare_dataset

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "fixtures" / "tiny-params.yaml"


def tiny_raw() -> dict:
    return yaml.safe_load(TINY.read_text())


@pytest.fixture(scope="session")
def prepared_root(tmp_path_factory) -> Path:
    """data/ with animal_mnist and mnist5k prepared (the two fast embedded datasets)."""
    root = tmp_path_factory.mktemp("prepared")
    raw = tiny_raw()
    raw["data_root"] = str(root / "data")
    params = config.from_mapping(raw)
    for name in ("animal_mnist", "mnist5k"):
        prepare_dataset(params, name)
    return root / "data"


def tiny_in(folder: Path, prepared_root: Path) -> config.Params:
    """The tiny params with data, results and reports under `folder` (the data a private copy)."""
    raw = tiny_raw()
    data = folder / "data"
    shutil.copytree(prepared_root, data)
    raw["data_root"] = str(data)
    raw["results_root"] = str(folder / "results")
    raw["reports_root"] = str(folder / "reports")
    return config.from_mapping(raw)


@pytest.fixture
def tiny(tmp_path, prepared_root) -> config.Params:
    """The tiny params with its own results folder and a private copy of the prepared data."""
    return tiny_in(tmp_path, prepared_root)


def with_changes(params: config.Params, **changes) -> config.Params:
    raw = copy.deepcopy(params.data)
    raw.update(changes)
    return config.from_mapping(raw)


# -- the workflow in a temporary copy of the project (tests/test_workflow.py, test_share.py, ...) --

BIN = str(Path(sys.executable).parent)
# What a project needs to run: the workflow and the package (its schema and report templates inside).
PROJECT_FILES = ["Snakefile", "dvc.yaml", ".dvcignore", "workflow", "src"]


def sh(cmd: list[str], cwd: Path, check: bool = True, timeout: int = 900) -> subprocess.CompletedProcess:
    # The copy's own src/ comes first, so its code (edited by a test) is what runs and is hashed.
    env = {
        **os.environ,
        "PYTHONPATH": str(cwd / "src"),
        "PATH": f"{BIN}:{os.environ['PATH']}",
        "DVC_NO_ANALYTICS": "1",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env, timeout=timeout)
    if check and result.returncode != 0:
        logs = (
            "\n".join(f"--- {p}\n{p.read_text()[-2000:]}" for p in sorted((cwd / "results/logs").rglob("*.log")))
            if (cwd / "results/logs").exists()
            else ""
        )
        raise AssertionError(
            f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}\n{logs}"
        )
    return result


def make_project(root: Path, git: bool = False) -> Path:
    root.mkdir(parents=True)
    for name in PROJECT_FILES:
        src = REPO / name
        if not src.exists():
            continue
        dst = root / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(src, dst)
    shutil.copy2(TINY, root / "params.yaml")
    if git:
        sh(["git", "init", "-q"], root)
        (root / ".gitignore").write_text("__pycache__/\n*.egg-info/\n")
        sh(["dvc", "init", "-q"], root)
        sh(["git", "add", "-A"], root)
        sh(["git", "commit", "-qm", "init"], root)
    return root


def stand_in_sources(root: Path, params: str) -> None:
    """A released source the project's `params` (a path inside `root`) reads from disk, stood in by a
    placeholder file whose sha256 replaces the released one in that copy: the Snakefile's planning
    refuses a missing or wrong source file, and a test that only plans need not have the real one."""
    path = root / params
    text = path.read_text()
    for file, sha in set(re.findall(r"path: ([^,}\s]+), sha256: ([0-9a-f]{64})", text)):
        (root / file).parent.mkdir(parents=True, exist_ok=True)
        (root / file).write_bytes(b"stand-in for " + file.encode())
        text = text.replace(sha, hashlib.sha256((root / file).read_bytes()).hexdigest())
    path.write_text(text)


def planned_jobs(root: Path) -> dict[str, int]:
    """Job counts per rule of a dry run (empty when nothing is to be done)."""
    return job_counts(sh(["snakemake", "-n", "--cores", "2", "all"], root).stdout)


def job_counts(out: str) -> dict[str, int]:
    """Job counts per rule in the output of `snakemake -n`."""
    table = re.search(r"job\s+count\n[-\s]+\n(.*?)\ntotal", out, re.S)
    if not table:
        assert "Nothing to be done" in out, out
        return {}
    return {line.split()[0]: int(line.split()[1]) for line in table.group(1).splitlines() if line.strip()}


@pytest.fixture(scope="session")
def snakemade(tmp_path_factory) -> Path:
    """The tiny pipeline run once by Snakemake, for the workflow tests (which copy it before editing)."""
    root = make_project(tmp_path_factory.mktemp("sm") / "project")
    sh(["snakemake", "--cores", "2", "all"], root)
    return root


# -- tiers (README: Tests) ---------------------------------------------------------------------------
# `make test-fast` leaves out the `slow` and `integration` tests. Besides the explicit marks, a test
# is marked by what it reaches: the tiny pipeline run by Snakemake (`snakemade`: integration) or the
# prepared tiny data (`tiny`, `prepared_root`: training or preparing, slow).
SLOW_FIXTURES = {"tiny", "prepared_root", "fixture_results"}
# Under pytest-xdist the files whose tests read `snakemade` run on one worker, so the pipeline is
# made once per session (xdist's own `xdist_group` does not group under pytest 9.2: it renames a
# test's node id, which pytest now derives otherwise).
SNAKEMADE_FILES = ("tests/test_workflow.py", "tests/test_share.py")


def pytest_collection_modifyitems(config, items):
    for item in items:
        names = set(item.fixturenames)
        if "snakemade" in names:
            if item.nodeid.split("::", 1)[0] not in SNAKEMADE_FILES:
                raise pytest.UsageError(f"{item.nodeid} reads snakemade: list its file in conftest.SNAKEMADE_FILES")
            item.add_marker(pytest.mark.integration)
        elif names & SLOW_FIXTURES and item.get_closest_marker("integration") is None:
            item.add_marker(pytest.mark.slow)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """xdist's load scheduling, with the SNAKEMADE_FILES as one unit of work."""
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SnakemadeOnOneWorker(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return "snakemade" if nodeid.split("::", 1)[0] in SNAKEMADE_FILES else nodeid

    return SnakemadeOnOneWorker(config, log)
