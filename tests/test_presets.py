"""The paper presets as Snakemake plans them (issue 14): every 32 px run from the authors' released
TinyImageNet ResNet32, and the multi-source runs beside their single-source arms and baselines.

A real `snakemake -n all --configfile <preset>` in a temporary copy of the project; the jobs are
read from its output and their sources from the effective params file the jobs' CLI reads.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

import pytest
import yaml

from l2tww import cli

from .conftest import REPO, stand_in_sources
from .test_workflow import make_project, sh

pytestmark = pytest.mark.integration  # Snakemake dry-runs of the presets

RELEASED = "data/raw/weights/tinyimagenet-200-resnet32.pth.tar"


def dry_run(root: Path, preset: str) -> list[dict]:
    """The planned jobs: {"rule", "input": [...], "output": [...], "wildcards": {...}} each."""
    out = sh(["snakemake", "-n", "all", "--configfile", f"workflow/presets/{preset}"], root).stdout
    jobs, job = [], None
    for line in out.splitlines():
        if m := re.match(r"^(?:local)?rule (\w+):$", line):
            job = {"rule": m.group(1), "input": [], "output": [], "wildcards": {}}
            jobs.append(job)
        elif job and (m := re.match(r"^\s+(input|output|wildcards): (.*)$", line)):
            key, value = m.groups()
            if key == "wildcards":
                job[key] = dict(part.split("=", 1) for part in value.split(", "))
            else:
                job[key] = value.split(", ")
        elif not line.startswith(" "):
            job = None
    assert jobs, out
    return jobs


@pytest.fixture(scope="module")
def planned(tmp_path_factory) -> dict:
    """preset -> (jobs, the effective params the jobs read)."""
    out = {}
    for preset in ("paper.yaml", "paper-32px.yaml"):
        root = make_project(tmp_path_factory.mktemp(preset.removesuffix(".yaml")) / "project")
        stand_in_sources(root, f"workflow/presets/{preset}")
        # The released file waits on a shelf named by L2TWW_WEIGHTS_DIR, not at its path, as on a
        # machine that has it elsewhere: planning accepts it and the fetch rule that copies it is planned.
        shelf = root.parent / "shelf"
        shelf.mkdir()
        (root / RELEASED).rename(shelf / Path(RELEASED).name)
        with pytest.MonkeyPatch.context() as env:
            env.setenv("L2TWW_WEIGHTS_DIR", str(shelf))
            jobs = dry_run(root, preset)
        out[preset] = (jobs, yaml.safe_load((root / ".snakemake/l2tww/params.yaml").read_text()))
    return out


def _train(jobs):
    return [j for j in jobs if j["rule"] == "train"]


@pytest.mark.parametrize("preset", ["paper.yaml", "paper-32px.yaml"])
def test_every_32px_transfer_run_reads_the_released_tinyimagenet_resnet32(planned, preset):
    jobs, params = planned[preset]
    shipped = yaml.safe_load((REPO / "workflow/presets" / preset).read_text())  # the copy's sha256 stands in
    released_sha = json.loads((REPO / "workflow/checksums.json").read_text())[
        "weights/tinyimagenet-200-resnet32.pth.tar"
    ]["sha256"]
    # No TinyImageNet source is pretrained, and TinyImageNet is not even prepared: the file is the source.
    assert {j["wildcards"]["source"] for j in jobs if j["rule"] == "pretrain"} == {"cifar10_r32"}
    assert "tinyimagenet" not in {j["wildcards"]["dataset"] for j in jobs if j["rule"] == "prepare"}
    from_tinyimagenet = set()
    for job in _train(jobs):
        target = params["targets"][job["wildcards"]["target"]]
        if params["datasets"][target["dataset"]]["image_size"] != 32:
            continue
        assert not any("/sources/tinyimagenet" in path for path in job["input"]), job
        for name in target["sources"]:
            src = params["sources"][name]
            if src["dataset"] == "tinyimagenet":
                from_tinyimagenet.add(job["wildcards"]["target"])
                weights = shipped["sources"][name]["weights"]
                assert weights == {"format": "official_checkpoint", "path": RELEASED, "sha256": released_sha}, name
                assert src["weights"]["path"] == RELEASED and (RELEASED in job["input"]) == (
                    job["wildcards"]["method"] != "scratch"
                ), job  # the file is an input of every run that loads it: missing, nothing is planned
    # Every 32 px target transfers from it, except the multi-source experiment's CIFAR-10-only arm.
    targets32 = {t for t, c in params["targets"].items() if params["datasets"][c["dataset"]]["image_size"] == 32}
    assert from_tinyimagenet == targets32 - {"stl10_cifar10"}
    assert {"cifar100", "stl10", "cifar10_lowdata", "stl10_multi"} <= from_tinyimagenet


@pytest.mark.parametrize("preset", ["paper.yaml", "paper-32px.yaml"])
def test_multi_source_runs_are_planned_beside_single_source_arms_and_baselines(planned, preset):
    jobs, params = planned[preset]
    runs = defaultdict(set)  # (target, method) -> {(N tag, seed)}
    for job in _train(jobs):
        w = job["wildcards"]
        runs[(w["target"], w["method"])].add((w["ntag"], w["seeds"]))  # a job per run in the paper presets
    multi = params["targets"]["stl10_multi"]
    assert multi["sources"] == ["tinyimagenet_r32_official", "cifar10_r32"]
    three_seeds = {("nall", s) for s in "012"}
    for method in ("scratch", "fm_single", "fm_one_to_one", "l2tww"):
        assert runs[("stl10_multi", method)] == three_seeds, method
    # Each transfer method of the multi-source target also runs from each source alone, on the
    # same data, architecture, pair sets, N and seeds: the single-source arms.
    for method in ("fm_single", "fm_one_to_one", "l2tww"):
        for source in multi["sources"]:
            arms = [
                t
                for t, c in params["targets"].items()
                if c["sources"] == [source]
                and (c["dataset"], c["arch"], c["pairs"]) == (multi["dataset"], multi["arch"], multi["pairs"])
                and runs[(t, method)] >= runs[("stl10_multi", method)]
            ]
            assert arms, (method, source)
    # The CIFAR-10 arm waits for the CIFAR-10 source's pretraining.
    arm = next(j for j in _train(jobs) if j["wildcards"]["target"] == "stl10_cifar10")
    assert any(p.endswith("sources/cifar10_r32/model.pt") for p in arm["input"])


def test_the_paper_preset_plans_its_controls_and_its_decision_plan_validates(planned, tmp_path, monkeypatch):
    """Issue 29: the paper preset answers "does learning what and where matter" where the paper made
    its claim: the two controls run on the low-data target at the plan's N, paired seed for seed with
    L2T-ww, and the plan's gates and hash pass `l2tww check`."""
    jobs, params = planned["paper.yaml"]
    runs = defaultdict(set)
    for job in _train(jobs):
        w = job["wildcards"]
        runs[(w["target"], w["method"])].add((w["ntag"], w["seeds"]))
    ten = {(f"n{n}", str(s)) for n in (50, 250) for s in range(10)}
    for method in ("l2tww_frozen", "fm_all_to_all", "fm_one_to_one", "l2tw_one_to_one", "l2tww", "scratch"):
        assert ten <= runs[("cifar10_lowdata", method)], method
    claims = params["claims"]
    assert (claims["frozen"], claims["fm_all_to_all"]) == (
        ["cifar10_lowdata", "l2tww_frozen"],
        ["cifar10_lowdata", "fm_all_to_all"],
    )
    assert [g["name"] for g in claims["plan"]["gates"]] == ["transfers", "attribution"]
    root = make_project(tmp_path / "project")  # check reads the released file: a stand-in serves
    stand_in_sources(root, "workflow/presets/paper.yaml")
    monkeypatch.chdir(root)
    assert cli.main(["--params", "workflow/presets/paper.yaml", "check"]) == 0


@pytest.mark.parametrize("preset", ["paper.yaml", "paper-32px.yaml"])
def test_released_weights_are_fetched_by_their_own_local_rules_before_the_jobs_that_load_them(planned, preset):
    """Issue 30: a training job never downloads (it may run on a node without internet); one local
    rule per released file does, and every transfer job from that source waits for it."""
    jobs, params = planned[preset]
    fetched = {j["rule"].removeprefix("fetch_weights_"): j["output"] for j in jobs if j["rule"].startswith("fetch_")}
    expected = {"tinyimagenet_r32_official": [RELEASED]}
    if preset == "paper.yaml":
        expected["imagenet_r34"] = ["data/raw/weights-imagenet_r34/resnet34-b627a593.pth"]
    assert set(fetched) == set(expected)
    assert fetched["tinyimagenet_r32_official"] == [RELEASED]
    files = {s: out[0] for s, out in fetched.items()}
    for job in _train(jobs):
        target = params["targets"][job["wildcards"]["target"]]
        transfer = params["methods"][job["wildcards"]["method"]]["kind"] != "scratch"
        for source in target["sources"]:
            if source in files:
                assert (files[source] in job["input"]) == transfer, job
