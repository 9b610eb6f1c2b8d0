"""Your own images (`builder: image_folder`): the tree the checks read, the fingerprint the plan
reads, and what prepare writes (manifest, tensors or image files) and the loaders then read."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from l2tww import config
from l2tww.data.embedded import mnist5k
from l2tww.data.tree_scan import IMAGE_EXTENSIONS, scan_tree
from l2tww.stages.prepare import dataset_stats, prepare_dataset
from l2tww.stages.split import make_split

_DIGITS: dict = {}


def digits() -> tuple[np.ndarray, np.ndarray]:
    """MNIST-5k's 28 x 28 digits (installed with the project), loaded once."""
    if not _DIGITS:
        d = mnist5k(Path("unused"))
        _DIGITS["x"], _DIGITS["y"] = d["train_x"][:, 0, 2:-2, 2:-2], d["train_y"]  # the unpadded 28 px digit
    return _DIGITS["x"], _DIGITS["y"]


def write_image_folder(root: Path, classes: int = 3, per_class: int = 12, test: int = 0, start: int = 0) -> Path:
    """root/train/digit<c>/<i>.{png,jpg} (PNG and JPEG alternate), and root/test/ with `test` per class."""
    x, y = digits()
    for c in range(classes):
        members = np.flatnonzero(y == c)[start:]
        for pool, count, offset in (("train", per_class, 0), ("test", test, per_class)):
            for i in range(count):
                path = Path(root) / pool / f"digit{c}" / f"{i:03d}.{'png' if i % 2 == 0 else 'jpg'}"
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(x[members[offset + i]]).save(path)
    return Path(root)


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def own_params(tmp_path: Path, root: Path, image_size: int = 16, **dataset) -> config.Params:
    raw = {
        "schema_version": 1,
        "runtime": {"device": "cpu"},
        "data_root": str(tmp_path / "data"),
        "results_root": str(tmp_path / "results"),
        "datasets": {
            "own": {
                "builder": "image_folder",
                "root": str(root),
                "val": {"per_class": 2},
                "test": {"per_class": 2},
                "image_size": image_size,
                "normalize": {"mean": [0.5] * 3, "std": [0.25] * 3},
                **dataset,
            }
        },
        "recipes": {"r": {"epochs": 1, "batch_size": 4, "lr": 0.1}},
        "sources": {"s": {"dataset": "own", "arch": {"name": "cifar_resnet", "depth": 8, "width": 4}, "recipe": "r"}},
        "methods": {"scratch": {"kind": "scratch"}},
        "targets": {
            "own": {
                "dataset": "own",
                "arch": {"name": "vgg_bn", "cfg": [4, "M", 8, "M"]},
                "recipe": "r",
                "sources": ["s"],
                "overlap": "allowed",
                "runs": [{"methods": ["scratch"], "n_per_class": [3], "seeds": [0]}],
            }
        },
    }
    return config.from_mapping(raw)


# -- the tree ------------------------------------------------------------------------------------
def test_image_extensions_are_torchvisions():
    from torchvision.datasets.folder import IMG_EXTENSIONS

    assert IMAGE_EXTENSIONS == IMG_EXTENSIONS


def test_the_tree_lists_imagefolders_images_in_its_order(tmp_path):
    from torchvision.datasets.folder import find_classes, make_dataset

    root = write_image_folder(tmp_path / "imgs", per_class=4, test=2)
    nested = root / "train" / "digit1" / "more" / "000.PNG"  # a sub-folder and an upper-case suffix count
    nested.parent.mkdir()
    Image.new("L", (5, 5)).save(nested, format="PNG")
    (root / "train" / "digit0" / "notes.txt").write_text("not an image")
    (root / "train" / ".ipynb_checkpoints").mkdir()  # hidden: not a class
    tree = scan_tree(root)
    classes = [c for c in find_classes(root / "train")[0] if not c.startswith(".")]
    assert list(tree.classes) == classes == ["digit0", "digit1", "digit2"]
    expected = make_dataset(str(root / "train"), {c: i for i, c in enumerate(classes)}, extensions=IMAGE_EXTENSIONS)
    assert [(str(root / im.path), im.label) for im in tree.train] == expected
    assert tree.per_class() == {"digit0": 4, "digit1": 5, "digit2": 4} and tree.smallest_class() == ("digit0", 4)
    assert tree.per_class("test") == {"digit0": 2, "digit1": 2, "digit2": 2}
    facts = tree.facts(32)
    assert (facts.channels, facts.num_classes, facts.min_train_per_class, facts.has_test, facts.storage) == (
        3,
        3,
        4,
        True,
        "tensor",
    )
    assert tree.facts(224).storage == "folder" and scan_tree(write_image_folder(tmp_path / "b", 2, 3)).test is None


@pytest.mark.parametrize(
    "make,expected",
    [
        (lambda r: None, "no such folder"),
        (lambda r: (r / "images").mkdir(parents=True), "no train/ folder"),
        (lambda r: (r / "train" / "cat").mkdir(parents=True), "no images"),
        (lambda r: (write_image_folder(r, 2, 2, test=1), (r / "test" / "dog").mkdir()), "test/dog: class 'dog'"),
        (
            lambda r: (write_image_folder(r, 2, 2, test=1), *[p.unlink() for p in (r / "test" / "digit1").iterdir()]),
            "no test images of class 'digit1'",
        ),
    ],
    ids=["missing root", "no train", "no images", "test class not in train", "test lacks a class"],
)
def test_a_bad_tree_is_one_line_naming_the_folder(tmp_path, make, expected):
    root = tmp_path / "imgs"
    make(root)
    with pytest.raises(ValueError) as info:
        scan_tree(root)
    assert str(root) in str(info.value) and expected in str(info.value) and "\n" not in str(info.value)


def test_the_fingerprint_changes_with_any_image_and_nothing_else(tmp_path):
    root = write_image_folder(tmp_path / "imgs", 2, 3)
    before = scan_tree(root).fingerprint()
    assert scan_tree(root).fingerprint() == before  # nothing touched
    (root / "train" / "digit0" / "README.md").write_text("a note")  # not an image
    assert scan_tree(root).fingerprint() == before
    image = root / "train" / "digit0" / "001.jpg"
    stat = image.stat()
    changed = []
    Image.fromarray(digits()[0][100]).save(root / "train" / "digit0" / "new.png")  # added
    changed.append(scan_tree(root).fingerprint())
    (root / "train" / "digit0" / "new.png").unlink()  # removed again
    assert scan_tree(root).fingerprint() == before
    data = bytearray(image.read_bytes())
    data[-3] ^= 0xFF  # the same size, other bytes (a rewrite moves the modification time)
    image.write_bytes(bytes(data))
    os.utime(image, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    changed.append(scan_tree(root).fingerprint())
    (root / "train" / "digit1" / "000.png").unlink()  # removed
    changed.append(scan_tree(root).fingerprint())
    assert len({before, *changed}) == 4


# -- prepare ---------------------------------------------------------------------------------------
def test_a_truncated_image_stops_prepare_in_one_line_naming_it(tmp_path):
    root = write_image_folder(tmp_path / "imgs", 2, 8)
    truncate(root / "train" / "digit1" / "003.jpg")
    params = own_params(tmp_path, root)
    with pytest.raises(ValueError) as info:
        prepare_dataset(params, "own")
    message = str(info.value)
    assert message.startswith(f"{root}/train/digit1/003.jpg: unreadable or truncated image (")
    assert "skip_unreadable: true" in message and "\n" not in message
    assert not (tmp_path / "data" / "prepared" / "own" / "meta.json").exists()


def test_prepare_records_every_image_and_skips_and_counts_the_unreadable(tmp_path):
    root = write_image_folder(tmp_path / "imgs", 3, 8)
    truncate(root / "train" / "digit1" / "003.jpg")
    (root / "train" / "digit2" / "007.jpg").write_bytes(b"not an image at all")
    params = own_params(tmp_path, root, skip_unreadable=True)
    meta = prepare_dataset(params, "own")
    out = tmp_path / "data" / "prepared" / "own"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"] == {"train": 22, "test": None, "skipped_unreadable": 2}
    assert [s["path"] for s in manifest["skipped_unreadable"]] == ["train/digit1/003.jpg", "train/digit2/007.jpg"]
    assert all("0x" not in s["reason"] for s in manifest["skipped_unreadable"])  # no memory address: deterministic
    assert len(manifest["images"]) == 22
    for entry in manifest["images"]:
        data = (root / entry["path"]).read_bytes()
        assert entry["size"] == len(data) and entry["sha256"] == hashlib.sha256(data).hexdigest()
    assert meta["provenance"]["skipped_unreadable"] == 2 and meta["train_labels"].count(1) == 7
    tensors = torch.load(out / "data.pt")
    assert tensors["train_x"].shape == (22, 3, 16, 16) and tensors["train_x"].dtype == torch.uint8
    # what the stats print is what was stored: the same images at the same size
    x = tensors["train_x"].double() / 255
    text = dataset_stats(params, "own")
    assert "20 images" not in text and "2 unreadable skipped" in text
    stats = yaml.safe_load(text.splitlines()[1])["normalize"]
    assert stats["mean"] == pytest.approx(x.mean(dim=(0, 2, 3)).tolist(), abs=1e-4)
    assert stats["std"] == pytest.approx(x.std(dim=(0, 2, 3), unbiased=False).tolist(), abs=1e-4)


def test_a_class_left_without_a_readable_image_is_refused(tmp_path):
    root = write_image_folder(tmp_path / "imgs", 2, 8)
    for image in (root / "train" / "digit1").iterdir():
        truncate(image)
    with pytest.raises(ValueError, match="no train image of class 'digit1' is left"):
        prepare_dataset(own_params(tmp_path, root, skip_unreadable=True), "own")


def test_a_large_image_folder_keeps_its_files_and_loads_through_the_folder_loader(tmp_path):
    from l2tww.data.loader import open_split

    root = write_image_folder(tmp_path / "imgs", 3, 6, test=2)
    nested = root / "train" / "digit0" / "sub" / "000.png"  # same name as digit0/000.png, another folder
    nested.parent.mkdir()
    Image.fromarray(digits()[0][200]).save(nested)
    params = own_params(
        tmp_path, root, image_size=72, eval_resize=80, augment={"random_resized_crop": 72, "hflip": True}
    )
    meta = prepare_dataset(params, "own")
    out = tmp_path / "data" / "prepared" / "own"
    assert meta["storage"] == "folder" and meta["provenance"]["counts"] == {"train": 19, "test": 6}
    for image in scan_tree(root).train + scan_tree(root).test:
        assert (out / image.path).read_bytes() == (root / image.path).read_bytes()  # byte for byte
    make_split(params, "own")
    split = make_split(params, "own", 3, 0)
    data = open_split(config.Layout.prepared_files(out), split, params["datasets"]["own"], 4, torch.device("cpu"))
    x, y = next(data.train.epoch(torch.Generator().manual_seed(0)))
    assert x.shape == (4, 3, 72, 72) and data.num_classes == 3 and len(data.test) == 6
    assert sorted(data.test.labels.tolist()) == [0, 0, 1, 1, 2, 2]


def test_without_a_test_folder_test_images_are_held_out_of_train_per_class(tmp_path):
    root = write_image_folder(tmp_path / "imgs", 3, 8)
    params = own_params(tmp_path, root)
    prepare_dataset(params, "own")
    base = json.loads(make_split(params, "own").read_text())
    labels = np.asarray(json.loads((tmp_path / "data/prepared/own/meta.json").read_text())["train_labels"])
    assert base["test"]["pool"] == "train" and np.bincount(labels[base["test"]["indices"]]).tolist() == [2, 2, 2]
    parts = [set(base[p]["indices"]) for p in ("train", "val", "test")]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])


def test_the_prepared_identity_follows_the_images_and_how_they_are_stored(tmp_path):
    from l2tww.stages.identity import digest, prepare_identity, split_identity

    root = write_image_folder(tmp_path / "imgs", 2, 8)
    first = own_params(tmp_path, root)
    before = prepare_identity(first, "own")
    assert set(before) == {"builder", "code", "images", "read"} and before["read"]["storage"] == "tensor"
    assert prepare_identity(own_params(tmp_path, root), "own") == before  # nothing touched
    assert prepare_identity(own_params(tmp_path, root, skip_unreadable=True), "own") != before
    assert prepare_identity(own_params(tmp_path, root, image_size=24), "own") != before  # resized when prepared
    Image.fromarray(digits()[0][300]).save(root / "train" / "digit0" / "extra.png")
    after = own_params(tmp_path, root)
    assert prepare_identity(after, "own") != before
    assert digest(split_identity(after, "own", 3, 0)) != digest(split_identity(first, "own", 3, 0))  # downstream too


def test_check_warns_that_test_is_unused_when_the_folder_has_its_own_test_images(tmp_path):
    from l2tww.stages.check import check_warnings

    assert check_warnings(own_params(tmp_path, write_image_folder(tmp_path / "a", 2, 8))) == []
    warnings = check_warnings(own_params(tmp_path, write_image_folder(tmp_path / "b", 2, 8, test=2)))
    assert len(warnings) == 1 and warnings[0].startswith("datasets.own.test: not used:") and "/b/test" in warnings[0]
