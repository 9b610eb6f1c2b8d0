"""The facts of a dataset that the config checks need: catalog.BUILDERS' for a built-in builder,
its folder tree's for an image folder (data/tree_scan.py, read once per params load), and the
checks only an image folder has."""

from __future__ import annotations

from typing import Any, Iterator, Mapping

from ..catalog import BUILDERS, IMAGE_FOLDER, TENSOR_MAX_SIZE, BuilderInfo, folder_storage
from ..data.tree_scan import ImageTree, scan_tree


def dataset_info(ds: Mapping[str, Any], tree: ImageTree | None) -> BuilderInfo:
    """What catalog.BUILDERS holds for a built-in builder; for an image folder, its tree's facts."""
    return tree.facts(ds["image_size"]) if ds["builder"] == IMAGE_FOLDER else BUILDERS[ds["builder"]]


def scan_folders(datasets: Mapping[str, Any]) -> dict[str, ImageTree]:
    """The tree of every image_folder dataset (one stat per image, no image opened), or a
    ValueError naming the dataset's root: missing, no train/ folder, no images, a test class not in train."""
    trees = {}
    for name, ds in datasets.items():
        if ds["builder"] == IMAGE_FOLDER:
            try:
                trees[name] = scan_tree(ds["root"])
            except (ValueError, OSError) as exc:
                raise ValueError(f"datasets.{name}.root: {exc}") from None
    return trees


def smallest_class(ds: dict, tree: ImageTree | None) -> str:
    if tree is None:
        return f"the smallest class of {ds['builder']!r}"
    return f"class {tree.smallest_class()[0]!r} of {tree.root}/train"


def folder_refs(name: str, ds: dict) -> Iterator[str]:
    """Keys only an image folder reads, and augmentations its storage (catalog.folder_storage) applies."""
    if ds["builder"] != IMAGE_FOLDER:
        for key in ("root", "skip_unreadable"):
            if key in ds:
                yield f"datasets.{name}.{key}: only builder image_folder reads it ({ds['builder']!r} is built in)"
        return
    aug, size = ds["augment"], ds["image_size"]
    if folder_storage(size) == "tensor":
        if "random_resized_crop" in aug:
            yield (
                f"datasets.{name}.augment.random_resized_crop: an image folder at image_size {size} (<= "
                f"{TENSOR_MAX_SIZE}) is stored as tensors and augmented with crop_padding and hflip; "
                f"random_resized_crop needs image_size > {TENSOR_MAX_SIZE}"
            )
        if "eval_resize" in ds:
            yield (
                f"datasets.{name}.eval_resize: an image folder at image_size {size} is resized once, when prepared; "
                f"eval_resize applies from image_size > {TENSOR_MAX_SIZE}"
            )
    elif aug.get("crop_padding"):
        yield (
            f"datasets.{name}.augment.crop_padding: an image folder at image_size {size} (> {TENSOR_MAX_SIZE}) is "
            "augmented with random_resized_crop and hflip; crop_padding needs image_size <= "
            f"{TENSOR_MAX_SIZE}"
        )
