"""Several seeds per training job (runtime.runs_per_job): how runs are grouped, that one process
training them in turn gives the numbers of one process each, and the rules Snakemake gets."""
from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from l2tww import config, io
from l2tww.stages.pretrain import pretrain_source
from l2tww.stages.split import make_split

from .conftest import tiny_raw
from .test_workflow import make_project, sh

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
    assert [[r.run_id for r in job] for job in jobs] == [
        ["animal-scratch-n5-s0", "animal-scratch-n5-s1"], ["animal-scratch-n5-s2"],
        ["animal-fm_single-n5-s0", "animal-fm_single-n5-s1"], ["animal-fm_single-n5-s2"],
        ["animal-scratch-n10-s0"],
    ]
    one_each = _matrix(1)
    assert [job for job in one_each.run_jobs()] == [(run,) for run in one_each.runs()]


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
    assert io.read_json(roots["together"][1] / "n5-s0/history.json") != io.read_json(roots["together"][1] / "n5-s1/history.json")


@pytest.mark.integration
def test_snakemake_gets_one_rule_per_job_that_trains_its_own_runs(tmp_path: Path):
    root = make_project(tmp_path / "project")
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["runtime"]["runs_per_job"] = 2
    params["targets"]["animal"]["runs"] = [{"methods": ["scratch", "fm_single"], "n_per_class": [5], "seeds": [0, 1, 2]}]
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    out = sh(["snakemake", "-n", "-p", "--cores", "2", "all"], root).stdout
    jobs = {block.split(":\n", 1)[0]: block for block in out.split("rule ")[1:]}
    for method in ("scratch", "fm_single"):  # each job runs its own runs (a loop variable bound late would not)
        first, last = jobs[f"train_animal_{method}_n5_s0"], jobs[f"train_animal_{method}_n5_s2"]
        assert f"output: results/runs/animal/{method}/n5-s0/metrics.json, results/runs/animal/{method}/n5-s1/metrics.json\n" in first
        assert f"train animal {method} --n 5 --seed 0 1 > logs/train/animal/{method}/n5-s0-s1.log 2>&1" in first
        assert f"train animal {method} --n 5 --seed 2 > logs/train/animal/{method}/n5-s2.log 2>&1" in last
    assert all("priority: 100" in jobs[rule] for rule in ("prepare", "split_base", "split", "pretrain"))  # the gates first
    # Executed, each job must train its own runs: a dry run prints the command as bound when the
    # rule was defined, but a job formats it when it runs.
    sh(["snakemake", "--cores", "2", "runs_all"], root)
    for method in ("scratch", "fm_single"):
        for seed in (0, 1, 2):
            assert io.read_json(root / f"results/runs/animal/{method}/n5-s{seed}/metrics.json")["run_id"] == f"animal-{method}-n5-s{seed}"
        log = (root / f"logs/train/animal/{method}/n5-s0-s1.log").read_text()
        assert f"[l2tww] animal-{method}-n5-s0" in log and f"[l2tww] animal-{method}-n5-s1" in log
