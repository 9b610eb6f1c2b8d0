"""Malformed params files: each exits 2 with one line naming the key and the bad value."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from l2tww import cli

from .conftest import tiny_raw


def _set(raw: dict, path: str, value) -> dict:
    *parents, last = path.split(".")
    node = raw
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if value is _DELETE:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return raw


_DELETE = object()

# (path to edit, new value, substrings the one-line error must contain)
CASES = [
    ("colour", "blue", ["<top level>", "'colour'"]),
    ("recipes.target.lrr", 0.1, ["recipes.target", "'lrr'"]),
    ("recipes.target.epochs", "ten", ["recipes.target.epochs", "'ten'"]),
    ("recipes.target.lr", -0.1, ["recipes.target.lr", "-0.1"]),
    ("recipes.target.momentum", 1.5, ["recipes.target.momentum", "1.5"]),
    ("recipes.target.lr", _DELETE, ["recipes.target", "'lr'"]),
    ("targets.animal.runs.0.n_per_class", [9999], ["targets.animal.runs[0].n_per_class", "9999"]),
    ("targets.animal.runs.0.methods", ["scratch", "fitnet"], ["targets.animal.runs[0].methods", "'fitnet'"]),
    ("targets.animal.runs.0.seeds", [-1], ["targets.animal.runs[0].seeds[0]", "-1"]),
    ("targets.animal.pairs.single", [[2, 9]], ["targets.animal.pairs.single", "target tap 9"]),
    ("targets.animal.pairs.single", [[7, 0]], ["targets.animal.pairs.single", "source tap 7"]),
    ("targets.animal.dataset", "cifar", ["targets.animal.dataset", "'cifar'"]),
    ("sources.digits.dataset", "svhn", ["sources.digits.dataset", "'svhn'"]),
    ("targets.animal.recipe", "long", ["targets.animal.recipe", "'long'"]),
    ("datasets.mnist5k.builder", "emnist", ["datasets.mnist5k.builder", "'emnist'"]),
    ("methods.fm_single.kind", "fitnets", ["methods.fm_single.kind", "'fitnets'"]),
    ("methods.fm_single.temperature", 2.0, ["methods.fm_single", "'temperature'"]),
    ("methods.fm_single.pairs", "all_to_all", ["targets.animal.pairs", "'all_to_all'"]),
    ("datasets.mnist5k.normalize.mean", [0.1, 0.2, 0.3], ["datasets.mnist5k.normalize.mean", "[0.1, 0.2, 0.3]"]),
    ("datasets.mnist5k.val", {"fraction": 1.5}, ["datasets.mnist5k.val", "1.5"]),
    ("runtime.device", "gpu", ["runtime.device", "'gpu'"]),
    ("schema_version", 2, ["schema_version", "2 given"]),
    ("recipes.target.lr", float("nan"), ["recipes.target.lr", "nan", "not a finite number"]),
    ("methods.fm_single.beta", float("inf"), ["methods.fm_single.beta", "inf", "not a finite number"]),
    ("datasets.animal_mnist.val.per_class", 5000, ["datasets.animal_mnist", "val + test hold out 5020", "has 812"]),
    ("recipes.target.steps_per_epoch", 0, ["recipes.target.steps_per_epoch", "0"]),
    (
        "datasets.animal_mnist.partition",
        {"seed": 0, "fractions": [0.5, 0.7], "part": 0},
        ["datasets.animal_mnist.partition.fractions", "[0.5, 0.7]", "at most 1"],
    ),
    (
        "datasets.animal_mnist.partition",
        {"seed": 0, "fractions": [0.5, 0.5], "part": 2},
        ["datasets.animal_mnist.partition.part", "2 out of range"],
    ),
    (
        "datasets.animal_mnist.partition",
        {"seed": 0, "fractions": [0.5, 0.5]},
        ["datasets.animal_mnist.partition", "'part'"],
    ),
    ("targets.animal.runs.0.seeds", [0, 0, 1], ["targets.animal.runs[0].seeds", "0 is listed twice"]),
    (
        "targets.animal.runs.0.methods",
        ["scratch", "fm_single", "scratch"],
        ["targets.animal.runs[0].methods", "'scratch' is listed twice"],
    ),
    (
        "targets.animal.runs",
        [
            {"methods": ["scratch"], "n_per_class": [5], "seeds": [0]},
            {"methods": ["scratch", "fm_single"], "n_per_class": [5], "seeds": [0]},
        ],
        ["targets.animal.runs[1]", "animal-scratch-n5-s0 is already in runs[0]"],
    ),
    (
        "sources.digits.dataset",
        "animal_mnist",
        ["targets.animal", "source 'digits'", "the same dataset", "overlap: allowed"],
    ),
]
if not torch.cuda.is_available():  # `check` must catch a device this machine lacks, not a job
    CASES.append(("runtime.device", "cuda", ["runtime.device", "'cuda'", "CUDA is not available"]))


@pytest.mark.parametrize("path,value,expected", CASES, ids=[c[0] + "=" + repr(c[1])[:20] for c in CASES])
def test_bad_params_exit_2_with_one_line(tmp_path: Path, capsys, path, value, expected):
    raw = _set(tiny_raw(), path, value)
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(raw))
    assert cli.main(["--params", str(params), "check"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith(f"l2tww: error: {params}: ")
    message = err[len(f"l2tww: error: {params}: ") :]
    for fragment in expected:
        assert fragment in message, (fragment, message)


def test_cases_cover_at_least_fifteen_faults():
    assert len(CASES) >= 15


def test_a_duplicated_yaml_key_is_refused_not_silently_overwritten(tmp_path: Path, capsys):
    text = yaml.safe_dump(tiny_raw()).replace("    lr: 0.05\n", "    lr: 0.05\n    lr: 0.5\n", 1)
    assert text.count("lr: 0.5\n") == 1
    params = tmp_path / "params.yaml"
    params.write_text(text)
    assert cli.main(["--params", str(params), "check"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"l2tww: error: {params}: line ") and "duplicate key 'lr'" in err, (
        err
    )
