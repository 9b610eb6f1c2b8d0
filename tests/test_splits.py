"""Split files: class-balanced, disjoint, deterministic; low-data subsets nest for one seed."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from l2tww.data.splits import base_split, low_data_split

LABELS = np.repeat(np.arange(4), 30)  # 4 classes x 30 images
META = {"builder": "mnist5k", "train_labels": LABELS.tolist(), "test_labels": None}
CFG = {"val": {"per_class": 3}, "test": {"per_class": 5}}


def _ids(part):
    return set(part["indices"])


def test_base_split_is_balanced_disjoint_and_deterministic():
    split = base_split(META, CFG, seed=0)
    train, val, test = (_ids(split[p]) for p in ("train", "val", "test"))
    assert not (train & val) and not (train & test) and not (val & test)
    assert len(train | val | test) == len(LABELS)
    assert Counter(LABELS[list(val)]) == {c: 3 for c in range(4)}
    assert Counter(LABELS[list(test)]) == {c: 5 for c in range(4)}
    assert split == base_split(META, CFG, seed=0)
    assert split != base_split(META, CFG, seed=1)


def test_official_test_set_is_kept_whole():
    meta = {**META, "test_labels": [0, 1, 2, 3] * 5}
    split = base_split(meta, {"val": {"fraction": 0.1}}, seed=0)
    assert split["test"] == {"pool": "test", "indices": list(range(20))}
    assert Counter(LABELS[split["val"]["indices"]]) == {c: 3 for c in range(4)}


def test_low_data_subsets_are_balanced_seeded_and_nested():
    base = base_split(META, CFG, seed=0)
    small = low_data_split(base, META, 4, seed=7, val_fraction=None)
    large = low_data_split(base, META, 10, seed=7, val_fraction=None)
    assert Counter(LABELS[small["train"]["indices"]]) == {c: 4 for c in range(4)}
    assert _ids(small["train"]) <= _ids(large["train"]) <= _ids(base["train"])
    assert small["val"] == base["val"] and small["test"] == base["test"]
    assert low_data_split(base, META, 4, seed=8, val_fraction=None)["train"] != small["train"]
    assert low_data_split(base, META, 4, seed=7, val_fraction=None) == small


def test_low_data_val_fraction_takes_val_from_the_subset():
    base = base_split(META, CFG, seed=0)
    split = low_data_split(base, META, 10, seed=0, val_fraction=0.1)
    assert Counter(LABELS[split["val"]["indices"]]) == {c: 1 for c in range(4)}
    assert Counter(LABELS[split["train"]["indices"]]) == {c: 9 for c in range(4)}
    assert not (_ids(split["val"]) & _ids(split["train"]))


def test_too_large_n_is_a_clear_error():
    base = base_split(META, CFG, seed=0)
    with pytest.raises(ValueError, match="n_per_class: 50 exceeds the 22 train images of class 0"):
        low_data_split(base, META, 50, seed=0, val_fraction=None)


@pytest.mark.parametrize("preset", ["paper.yaml", "paper-32px.yaml"])
def test_paper_low_data_trains_on_exactly_n_per_class_with_a_disjoint_val(preset, tmp_path):
    """Issue 14: the paper's N is the number of *training* images per class; val must not be
    carved out of it. Split files built with the preset's CIFAR-10 settings on a CIFAR-10-sized
    synthetic meta (10 classes x 5,000 train images, 10,000 test), written and read back as JSON."""
    from l2tww import config
    from l2tww.io import read_json, write_json

    from .conftest import REPO

    params = config.load(REPO / "workflow" / "presets" / preset)
    cfg = params["datasets"]["cifar10"]
    labels = np.random.default_rng(0).permutation(np.repeat(np.arange(10), 5000))
    meta = {"builder": "cifar10", "train_labels": labels.tolist(), "test_labels": [0] * 10000}
    write_json(tmp_path / "base.json", base_split(meta, cfg, params["split_seed"], "cifar10"))
    base = read_json(tmp_path / "base.json")
    ns = sorted({n for block in params["targets"]["cifar10_lowdata"]["runs"] for n in block["n_per_class"]})
    assert ns == [50, 100, 250, 500, 1000]
    for n in ns:
        for seed in (0, 1, 2):
            path = tmp_path / f"n{n}-s{seed}.json"
            write_json(path, low_data_split(base, meta, n, seed, cfg["low_data_val_fraction"], "cifar10"))
            split = read_json(path)
            assert Counter(labels[split["train"]["indices"]]) == {c: n for c in range(10)}, (n, seed)
            assert not (_ids(split["train"]) & _ids(split["val"]))
            assert split["val"] == base["val"] and Counter(labels[split["val"]["indices"]]) == {
                c: 500 for c in range(10)
            }
            assert split["test"] == {"pool": "test", "indices": list(range(10000))}


def test_partition_parts_are_disjoint_balanced_and_independent_of_the_split_seed():
    # Protects the source/target separation: a source on part 0 and a target on part 1 of one
    # builder must never share a train image, and each part must keep every class in proportion.
    cfg = {"val": {"per_class": 2}, "test": {"per_class": 3}}
    parts = [
        base_split(META, {**cfg, "partition": {"seed": 5, "fractions": [0.4, 0.6], "part": k}}, seed=s)
        for k, s in ((0, 0), (1, 9))  # different split seeds: the cut must not depend on them
    ]
    used = [_ids(p["train"]) | _ids(p["val"]) | _ids(p["test"]) for p in parts]
    assert not (used[0] & used[1])
    assert used[0] | used[1] == set(range(len(LABELS)))
    assert Counter(LABELS[list(used[0])]) == {c: 12 for c in range(4)}
    assert Counter(LABELS[list(used[1])]) == {c: 18 for c in range(4)}
    again = base_split(META, {**cfg, "partition": {"seed": 5, "fractions": [0.4, 0.6], "part": 1}}, seed=0)
    assert _ids(again["train"]) | _ids(again["val"]) | _ids(again["test"]) == used[1]


def test_partition_keeps_the_official_test_set_whole():
    meta = {**META, "test_labels": [0, 1, 2, 3] * 5}
    split = base_split(
        meta, {"val": {"per_class": 1}, "partition": {"seed": 0, "fractions": [0.5, 0.5], "part": 1}}, seed=0
    )
    assert split["test"] == {"pool": "test", "indices": list(range(20))}
    assert len(split["train"]["indices"]) == 4 * 14


def test_a_class_too_small_to_split_is_named_by_its_folder_name():
    labels = [0] * 3 + [1] * 9
    meta = {"builder": "image_folder", "classes": ["cat", "dog"], "train_labels": labels, "test_labels": None}
    cfg = {"val": {"per_class": 2}, "test": {"per_class": 2}}
    with pytest.raises(ValueError, match=r"datasets.mine.val: 2 per class leaves no training images in class 'cat'"):
        base_split(meta, cfg, 0, "mine")
