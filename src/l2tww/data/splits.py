"""Split index files (spec §5-6): a fixed base split per dataset and seeded N-per-class subsets.

A split file maps "train", "val", "test" to {"pool": "train" | "test", "indices": [...]}: indices
into the prepared dataset's train or test pool. Every draw is class-balanced and deterministic.
- base.json: val held out of the official train set (per_class or fraction of each class), test =
  the official test set, or held out of train where there is none; or the authors' split files.
  With `partition: {seed, fractions, part}` the official train pool is first cut, per class and
  with its own seed, into disjoint parts and only part `part` is used (val and any test hold-out
  come out of it): two datasets on one builder with the same seed and fractions but different
  parts never share a train image (a source and a target drawn from Fashion-MNIST).
- n<N>-s<seed>.json: N images per class drawn from base train with `seed`. For one seed the
  subsets nest (n10 is a prefix of n50 per class). With `low_data_val_fraction` set, that fraction
  of each class's N (at least 1) becomes val; else val stays base val. nall-s<seed>.json = base.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..io import read_json


def _by_class(labels: np.ndarray, indices: np.ndarray) -> dict[int, np.ndarray]:
    return {int(c): indices[labels[indices] == c] for c in np.unique(labels[indices])}


def class_name(meta: dict, c: int) -> str:
    """A class as errors name it: its folder name where the prepared dataset records one."""
    names = meta.get("classes") or []
    return repr(names[c]) if c < len(names) else str(c)


def _take_per_class(
    labels: np.ndarray, indices: np.ndarray, spec: dict, rng: np.random.Generator, what: str, meta: dict | None = None
):
    """Hold out spec (per_class | fraction) from each class of `indices`: returns (held, rest)."""
    held, rest = [], []
    for c, members in _by_class(labels, indices).items():
        members = rng.permutation(members)
        k = spec["per_class"] if "per_class" in spec else max(1, int(round(spec["fraction"] * len(members))))
        if k >= len(members):
            raise ValueError(
                f"{what}: {k} per class leaves no training images in class {class_name(meta or {}, c)} "
                f"({len(members)} images)"
            )
        held.append(members[:k])
        rest.append(members[k:])
    return np.sort(np.concatenate(held)), np.sort(np.concatenate(rest))


def partition_pool(labels: np.ndarray, spec: dict) -> np.ndarray:
    """The indices of part `spec["part"]` of a per-class cut of range(len(labels)) by `fractions`.

    Each class is permuted with `spec["seed"]` alone and cut at the rounded cumulative fractions,
    so every part is class-balanced, the parts are disjoint and cover the pool when the fractions
    sum to 1, and a part does not depend on anything but (labels, seed, fractions).
    """
    rng = np.random.default_rng(spec["seed"])
    bounds = np.cumsum([0.0, *spec["fractions"]])
    out = []
    for c in np.unique(labels):  # sorted: the rng stream is consumed in a fixed class order
        members = rng.permutation(np.flatnonzero(labels == c))
        lo, hi = (int(round(b * len(members))) for b in bounds[spec["part"] : spec["part"] + 2])
        out.append(members[lo:hi])
    return np.sort(np.concatenate(out))


def _pool(pool: str, indices) -> dict:
    return {"pool": pool, "indices": [int(i) for i in indices]}


def base_split(meta: dict, dataset_cfg: dict, seed: int, name: str = "dataset") -> dict:
    """The fixed train/val/test split of a prepared dataset."""
    if "official_splits" in dataset_cfg:
        return official_split(Path(dataset_cfg["official_splits"]), meta, name)
    labels = np.asarray(meta["train_labels"])
    rng = np.random.default_rng(seed)
    pool = partition_pool(labels, dataset_cfg["partition"]) if "partition" in dataset_cfg else np.arange(len(labels))
    if meta["test_labels"] is not None:
        test = _pool("test", range(len(meta["test_labels"])))
    elif "test" in dataset_cfg:
        held, pool = _take_per_class(labels, pool, dataset_cfg["test"], rng, f"datasets.{name}.test", meta)
        test = _pool("train", held)
    else:
        raise ValueError(
            f"datasets.{name}.test: {meta['builder']} has no official test set; give test: {{per_class: N}}"
        )
    val, train = _take_per_class(labels, pool, dataset_cfg["val"], rng, f"datasets.{name}.val", meta)
    return {"train": _pool("train", train), "val": _pool("train", val), "test": test, "seed": seed, "kind": "base"}


def official_split(folder: Path, meta: dict, name: str) -> dict:
    """The authors' split files `<prefix>-{train,val,test}.json` ({"classes", "indices"})."""
    prefix = meta["builder"] if meta["builder"] != "dogs" else "dog"
    out = {}
    for part, pool in (("train", "train"), ("val", "train"), ("test", "test")):
        data = read_json(folder / f"{prefix}-{part}.json", f"official {part} split of {name}")
        out[part] = _pool(pool, data["indices"])
    out.update(seed=None, kind="official")
    return out


def low_data_split(
    base: dict, meta: dict, n_per_class: int | None, seed: int, val_fraction: float | None, name: str = "dataset"
) -> dict:
    """N images per class from base train (None: all of base train)."""
    if n_per_class is None:
        return {**base, "n_per_class": None, "seed": seed, "kind": "full"}
    labels = np.asarray(meta["train_labels"])
    rng = np.random.default_rng(seed)
    train, val = [], []
    for c, members in _by_class(labels, np.asarray(base["train"]["indices"])).items():
        if n_per_class > len(members):
            raise ValueError(
                f"n_per_class: {n_per_class} exceeds the {len(members)} train images of class {class_name(meta, c)} "
                f"in {name}"
            )
        chosen = rng.permutation(members)[:n_per_class]
        if val_fraction is not None:
            k = max(1, int(round(val_fraction * n_per_class)))
            if k >= n_per_class:
                raise ValueError(
                    f"datasets.{name}.low_data_val_fraction: {val_fraction} of N={n_per_class} leaves no training "
                    "images"
                )
            val.append(chosen[:k])
            chosen = chosen[k:]
        train.append(chosen)
    out = {
        "train": _pool("train", np.sort(np.concatenate(train))),
        "val": _pool("train", np.sort(np.concatenate(val))) if val_fraction is not None else base["val"],
        "test": base["test"],
        "n_per_class": n_per_class,
        "seed": seed,
        "kind": "low_data",
    }
    return out
