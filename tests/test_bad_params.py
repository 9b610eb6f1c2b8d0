"""Malformed params files: each exits 2 with one line naming the key and the bad value."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from l2tww import cli
from l2tww.io import write_json

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
    ("datasets.mnist5k.root", "my-images", ["datasets.mnist5k.root", "only builder image_folder reads it"]),
    ("datasets.mnist5k.builder", "image_folder", ["datasets.mnist5k", "'root' is a required property"]),
    ("sources.digits.weights", {"format": "state_dict"}, ["sources.digits.weights", "'path' is a required"]),
    (
        "sources.digits.weights",
        {"format": "state_dict", "path": "mine.pt", "url": "https://example.org/mine.pt"},
        ["sources.digits.weights.url", "state_dict reads the local file"],
    ),
    (
        "sources.digits.weights",
        {"format": "state_dict", "path": "no/such/source.pt"},
        ["sources.digits.weights", "no/such/source.pt", "not found"],
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


def _tree(root: Path, train: dict[str, int] | None, test: dict[str, int] | None = None) -> None:
    """An image folder's tree of empty files: `check` reads names and sizes, never an image."""
    if train is None:
        return
    (root / "train").mkdir(parents=True)
    for pool, counts in (("train", train), ("test", test or {})):
        for cls, n in counts.items():
            (root / pool / cls).mkdir(parents=True, exist_ok=True)
            for i in range(n):
                (root / pool / cls / f"{i:03d}.jpg").touch()


# (what is wrong, train tree, test tree, changes to the image folder dataset, substrings; {root} is the folder)
FOLDER_CASES = [
    ("missing root", None, None, {}, ["datasets.animal_mnist.root", "{root}: no such folder"]),
    ("no images", {}, None, {}, ["datasets.animal_mnist.root", "{root}/train: no images"]),
    (
        "class too small",
        {"cat": 3, "dog": 9},
        None,
        {},
        ["datasets.animal_mnist", "val + test hold out 4 images per class", "class 'cat' of {root}/train has 3"],
    ),
    (
        "N too large",
        {"cat": 8, "dog": 9},
        None,
        {},
        ["targets.animal.runs[0].n_per_class", "5 exceeds the 4 train images", "class 'cat' of {root}/train has 8"],
    ),
    (
        "a test class not in train",
        {"cat": 12, "dog": 12},
        {"cat": 2, "dog": 2, "emu": 2},
        {},
        ["datasets.animal_mnist.root", "{root}/test/emu: class 'emu' is not in {root}/train"],
    ),
    (
        "one normalisation value for RGB",
        {"cat": 12},
        None,
        {"normalize": {"mean": [0.2], "std": [0.3, 0.3, 0.3]}},
        ["datasets.animal_mnist.normalize.mean", "3 channel(s)"],
    ),
    (
        "random_resized_crop at 32 px",
        {"cat": 12},
        None,
        {"augment": {"random_resized_crop": 32}},
        ["datasets.animal_mnist.augment.random_resized_crop", "stored as tensors", "image_size > 64"],
    ),
    (
        "crop_padding at 224 px",
        {"cat": 12},
        None,
        {"image_size": 224, "augment": {"crop_padding": 4}},
        ["datasets.animal_mnist.augment.crop_padding", "image_size <= 64"],
    ),
]


def _check(tmp_path: Path, raw: dict, capsys) -> str:
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(raw))
    assert cli.main(["--params", str(params), "check"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"l2tww: error: {params}: "), err
    return err[len(f"l2tww: error: {params}: ") :]


@pytest.mark.parametrize("what,train,test,changes,expected", FOLDER_CASES, ids=[c[0] for c in FOLDER_CASES])
def test_a_bad_image_folder_exits_2_with_one_line(tmp_path: Path, capsys, what, train, test, changes, expected):
    root = tmp_path / "my-images"
    _tree(root, train, test)
    raw = tiny_raw()
    raw["datasets"]["animal_mnist"] = {
        "builder": "image_folder",
        "root": str(root),
        "val": {"per_class": 2},
        "test": {"per_class": 2},
        "normalize": {"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]},
        **changes,
    }
    message = _check(tmp_path, raw, capsys)
    for fragment in expected:
        assert fragment.format(root=root) in message, (fragment, message)


def test_a_state_dict_source_of_another_arch_is_refused_by_check_naming_the_key(tmp_path: Path, capsys):
    from l2tww.models import build_model

    raw = tiny_raw()
    arch = raw["sources"]["digits"]["arch"]  # cifar_resnet depth 8 on mnist5k: 10 classes, 1 channel
    torch.save(build_model({**arch, "depth": 14}, 10, 1).state_dict(), tmp_path / "deeper.pt")
    torch.save(build_model(arch, 10, 1).state_dict(), tmp_path / "right.pt")
    raw["sources"]["digits"]["weights"] = {"format": "state_dict", "path": str(tmp_path / "deeper.pt")}
    message = _check(tmp_path, raw, capsys)
    assert message.startswith(f"sources.digits.weights: {tmp_path / 'deeper.pt'}: does not fit")
    assert "unexpected blocks2.0.conv1.weight" in message
    raw["sources"]["digits"]["weights"]["path"] = str(tmp_path / "right.pt")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    assert cli.main(["--params", str(tmp_path / "params.yaml"), "check"]) == 0


def test_check_reports_every_problem_at_once_each_with_its_file(tmp_path: Path, capsys):
    """A trimmed preset meets all its problems in one `check` (issue 31): one line per problem."""
    raw = tiny_raw()
    raw["targets"]["animal"]["recipe"] = "nope"
    raw["datasets"]["animal_mnist"]["normalize"]["mean"] = [0.1, 0.2]
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(raw))
    assert cli.main(["--params", str(params), "check"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2 and all(line.startswith(f"l2tww: error: {params}: ") for line in lines), lines
    assert any("targets.animal.recipe: unknown recipe 'nope'" in line for line in lines)
    assert any("datasets.animal_mnist.normalize.mean" in line for line in lines)


def test_images_a_previous_prepare_skipped_count_against_their_class_at_check(tmp_path: Path, capsys):
    """skip_unreadable: a class that the skipped images take below val + test + N is refused by check,
    naming the class and the file (issue 31: split failed later, naming `class 0`)."""
    root = tmp_path / "my-images"
    _tree(root, {"cat": 9, "dog": 12})  # val 2 + test 2 + N 5 = 9: no image to spare in cat
    raw = tiny_raw()
    raw["data_root"] = str(tmp_path / "data")
    raw["datasets"]["animal_mnist"] = {
        "builder": "image_folder",
        "root": str(root),
        "val": {"per_class": 2},
        "test": {"per_class": 2},
        "skip_unreadable": True,
        "normalize": {"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]},
    }
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(raw))
    assert cli.main(["--params", str(params), "check"]) == 0  # nothing prepared yet: nothing known
    capsys.readouterr()
    skipped = {"skipped_unreadable": [{"path": "train/cat/003.jpg", "reason": "truncated"}]}
    write_json(tmp_path / "data/prepared/animal_mnist/manifest.json", skipped)
    message = _check(tmp_path, raw, capsys)
    assert message.startswith("datasets.animal_mnist: class 'cat' keeps 8 of its 9 images"), message
    assert "train/cat/003.jpg" in message and "needs 9" in message
