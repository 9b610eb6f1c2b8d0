"""The prepare stage: builder -> `data/prepared/<dataset>/` (the artifact layout: config/layout.py).

Every dataset gets `meta.json` (classes, labels of each pool, provenance and, from the pipeline, the
identity it was prepared under), written last so its presence means the stage finished. Tensor
datasets also get `data.pt` (uint8 images (N, C, H, W)). Image folders (your own images) are built
by data/own_images.py and written by `write_prepared` the same way.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import torch

from ..catalog import BUILDERS
from ..io import save_torch, write_json


def _builder(name: str):
    """The builder function catalog.BUILDERS names; its module is imported on first use (the paper
    datasets' only for the paper presets)."""
    module = BUILDERS[name].module
    if module is None:
        raise ValueError(f"builder {name!r}: nothing to prepare (its classes only name a released source's head)")
    return getattr(importlib.import_module(f".{module}", __package__), name)


def prepare(dataset: str, builder: str, raw_dir: Path, files: dict[str, Path], identity: str | None = None) -> dict:
    """Build `dataset` with `builder` and write it to `files` (config/layout.py: prepared_files, its
    folder "dir", "meta", "tensors"). Returns the meta dict."""
    info = BUILDERS[builder]
    built = (
        _builder(builder)(Path(raw_dir))
        if info.storage == "tensor"
        else _builder(builder)(Path(raw_dir), Path(files["dir"]))
    )
    return write_prepared(dataset, builder, info.storage, built, files, identity)


def write_prepared(
    dataset: str, builder: str, storage: str, built: dict, files: dict[str, Path], identity: str | None = None
) -> dict:
    """A builder's result -> data.pt (tensor storage; a folder builder wrote its images already),
    then meta.json, which records `identity` (the pipeline's hash of what prepared it) where one is
    given. Returns the meta dict."""
    meta = {
        "dataset": dataset,
        "builder": builder,
        "storage": storage,
        "classes": list(built["classes"]),
        "train_labels": np.asarray(built["train_y"]).tolist(),
        "test_labels": None if built.get("test_y") is None else np.asarray(built["test_y"]).tolist(),
        "provenance": built.get("provenance", {}),
    }
    if identity is not None:
        meta["identity"] = identity
    if storage == "tensor":
        tensors = {"train_x": torch.from_numpy(np.ascontiguousarray(built["train_x"]))}
        if built.get("test_x") is not None:
            tensors["test_x"] = torch.from_numpy(np.ascontiguousarray(built["test_x"]))
        meta["image_shape"] = list(tensors["train_x"].shape[1:])
        save_torch(files["tensors"], tensors)
    write_json(files["meta"], meta)
    return meta
