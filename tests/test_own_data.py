"""Your own data end to end (issue 22): a folder of images the test writes itself (3 classes x 12
PNG/JPEG digits of MNIST-5k, one truncated) through check -> prepare -> split -> train (scratch,
FM, L2T-ww from a state_dict source) -> summarize -> report with Snakemake on the CPU; what
re-plans when the folder changes; a source file of another architecture; the two presets.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
import yaml
from PIL import Image

from .conftest import stand_in_sources
from .test_image_folder import digits, truncate, write_image_folder
from .test_presets import dry_run
from .test_workflow import make_project, planned_jobs, sh

pytestmark = pytest.mark.integration

SOURCE_ARCH = {"name": "cifar_resnet", "depth": 8, "width": 4}
TRUNCATED = "own-images/train/digit1/003.jpg"
OWN = {
    "schema_version": 1,
    "runtime": {"device": "cpu", "threads": 1},
    "datasets": {
        "own": {
            "builder": "image_folder",
            "root": "own-images",  # relative to the project, as a user writes it
            "val": {"per_class": 2},
            "test": {"per_class": 3},  # no test/ folder: held out of train/
            "image_size": 16,
            "normalize": {"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]},
            "augment": {"crop_padding": 2, "hflip": True},
        }
    },
    "recipes": {"target": {"epochs": 1, "steps_per_epoch": 2, "batch_size": 8, "lr": 0.05}},
    "sources": {
        "mine": {"dataset": "own", "arch": SOURCE_ARCH, "weights": {"format": "state_dict", "path": "source.pt"}}
    },
    "methods": {
        "scratch": {"kind": "scratch"},
        "fm_single": {"kind": "fm", "pairs": "single"},
        "l2tww": {"kind": "l2t", "pairs": "all_to_all"},
    },
    "targets": {
        "own": {
            "dataset": "own",
            "arch": {"name": "vgg_bn", "cfg": [4, "M", 8, "M"]},
            "recipe": "target",
            "sources": ["mine"],
            "pairs": {"single": [[2, 1]], "all_to_all": {"source": [1, 2], "target": [0, 1]}},
            "runs": [{"methods": ["scratch", "fm_single", "l2tww"], "n_per_class": [5], "seeds": [0]}],
        }
    },
    "claims": {"l2tww": ["own", "l2tww"], "scratch": ["own", "scratch"], "baselines": [["own", "fm_single"]]},
}


def _source(path: Path, **arch) -> None:
    from l2tww.models import build_model

    torch.manual_seed(0)
    torch.save(build_model({**SOURCE_ARCH, **arch}, 3, 3).state_dict(), path)


def _params(root: Path, **dataset) -> None:
    raw = yaml.safe_load(yaml.safe_dump(OWN))
    raw["datasets"]["own"].update(dataset)
    (root / "params.yaml").write_text(yaml.safe_dump(raw))


@pytest.fixture(scope="module")
def own_run(tmp_path_factory) -> tuple[Path, object, str]:
    """The project after a first run that stops at the truncated image, and a second with
    skip_unreadable: true: (root, l2tww check's result, the failed prepare's log)."""
    root = make_project(tmp_path_factory.mktemp("own") / "project")
    write_image_folder(root / "own-images", classes=3, per_class=12)
    truncate(root / TRUNCATED)
    _source(root / "source.pt")
    _params(root)
    checked = sh(["l2tww", "check"], root)
    failed = sh(["snakemake", "--cores", "2", "all"], root, check=False)
    assert failed.returncode != 0
    log = (root / "results/logs/prepare/own.log").read_text()
    # The failed job's error line is in Snakemake's own output, not only in its log (issue 31).
    assert log.splitlines()[-1] in failed.stderr and "l2tww: job prepare failed" in failed.stderr, failed.stderr
    _params(root, skip_unreadable=True)
    sh(["snakemake", "--cores", "2", "all"], root)
    return root, checked, log


def test_check_reads_the_tree_and_a_truncated_image_stops_prepare_in_one_line(own_run):
    _, checked, log = own_run
    assert checked.stdout.strip() == "params.yaml: ok (3 runs)"  # the tree is fine; its images are not read
    assert log.count("\n") == 1, log
    assert log.startswith(f"l2tww: error: {TRUNCATED}: unreadable or truncated image (")
    assert "set datasets.own.skip_unreadable: true" in log


def test_with_skip_unreadable_the_run_finishes_and_manifest_and_report_count_it(own_run):
    root, _, _ = own_run
    manifest = yaml.safe_load((root / "data/prepared/own/manifest.json").read_text())
    assert manifest["counts"] == {"train": 35, "test": None, "skipped_unreadable": 1}
    assert [s["path"] for s in manifest["skipped_unreadable"]] == ["train/digit1/003.jpg"]
    summary = (root / "results/summary/summary.csv").read_text().splitlines()
    assert {line.split(",")[1] for line in summary[1:]} == {"scratch", "fm_single", "l2tww"}
    report = (root / "reports/summary.md").read_text()
    assert "**1 unreadable image skipped**" in report and "35 images in train/" in report
    assert "No paper numbers apply" in report and "your own images are not the paper's data" in report
    claims = yaml.safe_load((root / "results/summary/metrics.json").read_text())["claims"]  # the table, unchanged
    assert {"l2tww_vs_scratch@n5", "l2tww_vs_best_baseline@n5"} <= set(claims)
    assert "(`l2tww_vs_scratch@n5`) | l2tww − scratch on own, N=5 |" in report
    html = (root / "reports/l2tww-report.html").read_text()
    assert "unreadable image skipped" in html and "No paper numbers apply" in html


def test_touching_nothing_plans_nothing(own_run):
    assert planned_jobs(own_run[0]) == {}


@pytest.mark.parametrize("change", ["add", "remove", "rewrite"])
def test_a_changed_image_replans_prepare_and_everything_downstream(own_run, tmp_path, change):
    project = tmp_path / "changed"
    shutil.copytree(own_run[0], project, symlinks=True)  # copy2 keeps every modification time
    folder = project / "own-images/train/digit2"
    if change == "add":
        Image.fromarray(digits()[0][4000]).save(folder / "new.png")
    elif change == "remove":
        (folder / "004.png").unlink()
    else:
        Image.fromarray(digits()[0][4000]).save(folder / "004.png")
    downstream = {"split_base": 1, "split": 1, "train": 3, "summarize": 1, "report": 1, "all": 1}
    assert planned_jobs(project) == {"prepare": 1, **downstream}


def test_a_state_dict_source_of_another_arch_is_refused_in_one_line_naming_the_key(own_run, tmp_path):
    project = tmp_path / "other-arch"
    shutil.copytree(own_run[0], project, symlinks=True)
    _source(project / "source.pt", depth=14)
    expected = "l2tww: error: params.yaml: sources.mine.weights: source.pt: does not fit the configured architecture"
    checked = sh(["l2tww", "check"], project, check=False)
    assert checked.returncode == 2 and checked.stderr.count("\n") == 1
    assert checked.stderr.startswith(expected) and "unexpected blocks2.0.conv1.weight" in checked.stderr
    # ... and at load time, by the first job that reads it (the new file is a new source identity)
    trained = sh(["l2tww", "train", "own", "fm_single", "--n", "5", "--seed", "0"], project, check=False)
    last = trained.stderr.strip().splitlines()[-1]
    assert trained.returncode == 2 and last.startswith("l2tww: error: source.pt: does not fit"), trained.stderr
    assert "unexpected blocks2.0.conv1.weight" in last


@pytest.mark.parametrize("preset,runs", [("own-data-224px.yaml", 108), ("own-data-32px.yaml", 99)])
def test_the_presets_pass_check_and_dry_run_against_a_folder(tmp_path, preset, runs):
    root = make_project(tmp_path / "project")
    for cls in ("cat", "dog"):  # empty files: check and the plan read the tree, not the images
        (root / "my-images/train" / cls).mkdir(parents=True)
        for i in range(40):  # val 5 + test 10 + N 25
            (root / "my-images/train" / cls / f"{i:03d}.jpg").touch()
    stand_in_sources(root, f"workflow/presets/{preset}")
    assert sh(["l2tww", "--params", f"workflow/presets/{preset}", "check"], root).stdout.endswith(f"({runs} runs)\n")
    jobs = dry_run(root, preset)
    train = [j for j in jobs if j["rule"] == "train"]
    assert len(train) == runs and {j["wildcards"]["dataset"] for j in jobs if j["rule"] == "prepare"} == {"mydata"}
    assert {j["wildcards"]["method"] for j in train} >= {"l2tww", "l2tww_frozen", "fm_all_to_all", "scratch"}
    assert {j["wildcards"]["ntag"] for j in train} == {"n10", "n25", "nall"}
