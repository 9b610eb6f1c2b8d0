"""Several seeds per training job (runtime.runs_per_job): how runs are grouped, that one process
training them in turn gives the numbers of one process each, the one `train` rule Snakemake gets
whatever the grouping (the SLURM profile's resources reach every job), and that a job killed in
its third run keeps its two finished runs when it reruns (issue 20)."""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from l2tww import config, io
from l2tww.stages.pretrain import pretrain_source
from l2tww.stages.split import make_split

from .conftest import tiny_raw
from .test_workflow import REPO, make_project, sh

L2T = {"kind": "l2t", "pairs": "single", "where": False, "meta_every": 1}


def _matrix(runs_per_job: int) -> config.Params:
    raw = tiny_raw()
    raw["runtime"]["runs_per_job"] = runs_per_job
    raw["targets"]["animal"]["runs"] = [
        {"methods": ["scratch", "fm_single"], "n_per_class": [5], "seeds": [0, 1, 2]},
        {"methods": ["scratch"], "n_per_class": [10], "seeds": [0]},
    ]
    return config.from_mapping(raw)


def test_a_job_holds_up_to_runs_per_job_seeds_of_one_cell_in_matrix_order():
    jobs = _matrix(2).run_jobs()
    assert [job.tag for job in jobs] == [
        "animal/scratch/n5-s0-1",
        "animal/scratch/n5-s2",
        "animal/fm_single/n5-s0-1",
        "animal/fm_single/n5-s2",
        "animal/scratch/n10-s0",
    ]
    assert [[r.run_id for r in job.runs] for job in jobs] == [
        ["animal-scratch-n5-s0", "animal-scratch-n5-s1"],
        ["animal-scratch-n5-s2"],
        ["animal-fm_single-n5-s0", "animal-fm_single-n5-s1"],
        ["animal-fm_single-n5-s2"],
        ["animal-scratch-n10-s0"],
    ]
    one_each = _matrix(1)
    assert [job.runs for job in one_each.run_jobs()] == [(run,) for run in one_each.runs()]
    with pytest.raises(config.ConfigError, match="no training job 'animal/scratch/n5-s0-2'"):
        _matrix(2).job("animal/scratch/n5-s0-2")
    # A rule's wildcards name the job itself; the tag is only what the command line carries.
    for job in jobs:
        assert _matrix(2).job_at(**job.wildcards) == job == _matrix(2).job(job.tag)
    with pytest.raises(config.ConfigError, match="no training job 'animal/scratch/n5-s0-2'"):
        _matrix(2).job_at("animal", "scratch", "n5", "0-2")


@pytest.mark.parametrize(
    "seeds,tag", [([0, 1, 2, 3, 4], "0-4"), ([7], "7"), ([0, 2, 3, 9], "0+2-3+9"), ([1001, 1000], "1000-1001")]
)
def test_seed_tags_name_runs_of_consecutive_seeds(seeds, tag):
    import re

    from l2tww.config.layout import SEEDS_PATTERN, seeds_tag

    assert seeds_tag(seeds) == tag and re.fullmatch(SEEDS_PATTERN, tag)


def _cli(params: Path, *args) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "l2tww.cli", "--params", str(params), "train", "animal", "l2tw", "--n", "5", *args]
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


@pytest.mark.integration
def test_seeds_trained_in_turn_by_one_process_equal_a_process_each(tiny, tmp_path: Path):
    """Catches state that leaks from one run into the next inside a process (an RNG not reseeded,
    a cache keyed too loosely, a meta-optimizer or step counter shared across runs)."""
    raw = copy.deepcopy(tiny.data)
    raw["methods"]["l2tw"] = L2T
    roots = {}
    for name in ("together", "apart"):
        raw["results_root"] = str(tmp_path / name)
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(raw))
        params = config.load(path)
        make_split(params, "mnist5k")
        make_split(params, "mnist5k", 30, 0)
        pretrain_source(params, "digits")  # the same file in both roots: same seed, same CPU
        make_split(params, "animal_mnist")
        for seed in (0, 1):
            make_split(params, "animal_mnist", 5, seed)
        roots[name] = (path, Path(raw["results_root"]) / "runs" / "animal" / "l2tw")

    together = _cli(roots["together"][0], "--seed", "0", "1")
    assert together.returncode == 0, together.stderr
    assert "[l2tww] animal-l2tw-n5-s0" in together.stdout and "[l2tww] animal-l2tw-n5-s1" in together.stdout
    for seed in (0, 1):
        assert _cli(roots["apart"][0], "--seed", str(seed)).returncode == 0
    for seed in (0, 1):
        a, b = (roots[k][1] / f"n5-s{seed}" for k in ("together", "apart"))
        assert io.read_json(a / "metrics.json") == io.read_json(b / "metrics.json")
        ma, mb = (io.load_torch(d / "model.pt")["target"] for d in (a, b))
        assert all(torch.equal(ma[k], mb[k]) for k in ma)
    # The two seeds did differ (else the comparison above could not see a leak).
    assert io.read_json(roots["together"][1] / "n5-s0/history.json") != io.read_json(
        roots["together"][1] / "n5-s1/history.json"
    )


def _project(tmp_path: Path, runs_per_job: int, seeds=(0, 1, 2)) -> Path:
    root = make_project(tmp_path / "project")
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["runtime"]["runs_per_job"] = runs_per_job
    params["targets"]["animal"]["runs"] = [
        {"methods": ["scratch", "fm_single"], "n_per_class": [5], "seeds": list(seeds)}
    ]
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    return root


def _jobs(dry_run: str) -> list[str]:
    return [block for block in dry_run.split("rule ")[1:] if block.startswith("train:")]


@pytest.mark.integration
def test_one_train_rule_whatever_the_grouping_and_each_job_trains_its_own_runs(tmp_path: Path):
    root = _project(tmp_path, 2)
    out = sh(["snakemake", "-n", "-p", "--cores", "2", "all"], root).stdout
    jobs = {block.split("output: ", 1)[1].split("\n", 1)[0]: block for block in _jobs(out)}
    assert len(jobs) == 4
    for method in ("scratch", "fm_single"):
        first, last = (
            jobs[f"results/runs/animal/{method}/n5-s0-1.json"],
            jobs[f"results/runs/animal/{method}/n5-s2.json"],
        )
        assert f"train --job animal/{method}/n5-s0-1 > results/logs/train/animal/{method}/n5-s0-1.log 2>&1" in first
        assert f"train --job animal/{method}/n5-s2 > results/logs/train/animal/{method}/n5-s2.log 2>&1" in last
    blocks = out.split("rule ")
    assert all(
        "priority: 100" in b for b in blocks if b.split(":", 1)[0] in ("prepare", "split_base", "split", "pretrain")
    )  # the gates first
    # Executed, each job must train its own runs and record them.
    sh(["snakemake", "--cores", "2", "runs_all"], root)
    for method in ("scratch", "fm_single"):
        for seed in (0, 1, 2):
            assert (
                io.read_json(root / f"results/runs/animal/{method}/n5-s{seed}/metrics.json")["run_id"]
                == f"animal-{method}-n5-s{seed}"
            )
        record = io.read_json(root / f"results/runs/animal/{method}/n5-s0-1.json")
        assert record["job"] == f"animal/{method}/n5-s0-1" and set(record["runs"]) == {
            f"animal-{method}-n5-s0",
            f"animal-{method}-n5-s1",
        }
        log = (root / f"results/logs/train/animal/{method}/n5-s0-1.log").read_text()
        assert f"[l2tww] animal-{method}-n5-s0" in log and f"[l2tww] animal-{method}-n5-s1" in log


@pytest.mark.integration
@pytest.mark.parametrize("runs_per_job", [1, 3])
def test_the_slurm_profile_gives_every_training_job_its_train_resources(tmp_path: Path, runs_per_job):
    """set-resources matches rule names: generated rule names (train_<run id>) once got the 4 GB /
    30 min defaults and no GPU. Every job of the one `train` rule gets the profile's block."""
    root = _project(tmp_path, runs_per_job)
    profile = yaml.safe_load((REPO / "workflow/profiles/slurm/config.yaml").read_text())["set-resources"]["train"]
    out = sh(["snakemake", "-n", "all", "--profile", "workflow/profiles/slurm"], root).stdout
    jobs = _jobs(out)
    assert len(jobs) == (6 if runs_per_job == 1 else 2)
    for block in jobs:
        resources = dict(item.split("=", 1) for item in block.split("resources: ", 1)[1].split("\n", 1)[0].split(", "))
        assert {k: str(v) for k, v in profile.items() if k != "runtime"} == {
            k: resources[k] for k in profile if k != "runtime"
        }, block
        assert resources["runtime"] == str(profile["runtime"])


@pytest.mark.integration
def test_a_job_killed_in_its_third_run_keeps_its_two_finished_runs(tmp_path: Path):
    root = _project(tmp_path, 3)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["targets"]["animal"]["runs"] = [{"methods": ["scratch"], "n_per_class": [5], "seeds": [0, 1, 2]}]
    params["recipes"]["target"]["epochs"] = 6  # long enough to be killed inside the third run
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    sh(["snakemake", "--cores", "1", "data_all"], root)
    runs = root / "results/runs/animal/scratch"
    env = {
        **os.environ,
        "PYTHONPATH": str(root / "src"),
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "DVC_NO_ANALYTICS": "1",
    }
    proc = subprocess.Popen(
        ["snakemake", "--cores", "1", "runs_all"],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.time() + 300
        while not (runs / "n5-s2" / "checkpoint.pt").exists():  # the third run has finished an epoch
            assert proc.poll() is None and time.time() < deadline, "the job ended before its third run checkpointed"
            time.sleep(0.05)
        # The job's process dies (killed, out of time, node lost); Snakemake sees the job fail.
        subprocess.run(["pkill", "-KILL", "-f", "train --job animal/scratch/n5-s0-2"], check=True)
        assert proc.wait(timeout=120) != 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert not (runs / "n5-s2" / "metrics.json").exists() and not (runs / "n5-s0-2.json").exists()
    finished = {seed: (runs / f"n5-s{seed}" / "metrics.json").stat().st_mtime_ns for seed in (0, 1)}
    sh(["snakemake", "--cores", "1", "--rerun-incomplete", "runs_all"], root)
    log = (root / "results/logs/train/animal/scratch/n5-s0-2.log").read_text()
    assert log.count("finished earlier with this identity, kept") == 2 and "resuming" in log
    assert {
        seed: (runs / f"n5-s{seed}" / "metrics.json").stat().st_mtime_ns for seed in (0, 1)
    } == finished  # not retrained
    assert io.read_json(runs / "n5-s2" / "metrics.json")["run_id"] == "animal-scratch-n5-s2"


def test_a_job_freezes_only_survivors_out_of_the_collectors_reach(tiny):
    """train_runs moves long-lived objects out of the garbage collector's reach (gc.freeze, issue
    28), but only after collecting: cyclic garbage left before the job (or by a run) must still be
    freed, not frozen for the rest of the process. Catches a freeze without the collection first."""
    import gc
    import weakref

    from l2tww.stages.train import train_runs

    class Node:
        pass

    cycle = Node()
    cycle.self = cycle
    alive = weakref.ref(cycle)
    del cycle  # garbage now, but only a collection can free it (a reference cycle)
    gc.unfreeze()
    try:
        train_runs(tiny, [])
        assert alive() is None
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
