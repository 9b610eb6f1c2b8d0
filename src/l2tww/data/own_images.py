"""Your own images (`builder: image_folder`): read, check, record and store a folder tree.

Every image of the tree (data/tree_scan.py) is read once: its bytes are hashed (sha256) and
decoded completely with PIL, so a truncated or unreadable file stops prepare with one line naming
it. With `skip_unreadable: true` such a file is left out and counted, in the manifest and in
meta.json's provenance (which the report shows). `manifest.json`, beside meta.json, lists the
relative path, size and sha256 of every image prepared, and every image skipped with the reason.

Storage (catalog.folder_storage):
- up to 64 px, like CIFAR: one uint8 tensor file (N, 3, S, S). Each image is converted to RGB, its
  shorter side resized to S (PIL bilinear with antialiasing, torchvision's Resize(S) on a PIL image)
  and centre-cropped to S x S (CenterCrop's rounding), so the aspect ratio is kept.
- larger (224 px): the image files themselves, byte for byte as hashed, under
  `<out>/{train,test}/<class>/` (paper_datasets.write_folders, as for the paper's 224 px datasets),
  decoded at each epoch by data/folder_loader.py's loader.
`channel_stats` gives the per-channel mean and std of the train images at the stored size
(`l2tww prepare <dataset> --stats`).
"""

from __future__ import annotations

import hashlib
import io
import math
import re
from pathlib import Path
from typing import Callable

import numpy as np

from ..io import write_json
from .tree_scan import POOLS, ImageTree, TreeImage


class UnreadableImage(ValueError):
    """An image file PIL cannot decode completely (truncated, corrupt, not an image, no access)."""

    def __init__(self, where: str, reason: str):
        super().__init__(f"{where}: unreadable or truncated image ({reason})")
        self.reason = reason


def _reason(exc: BaseException) -> str:
    # PIL names the BytesIO object it read from, with its memory address: not part of the reason.
    text = re.sub(r"\s*<[^>]* at 0x[0-9a-fA-F]+>", "", str(exc).splitlines()[0] if str(exc) else "")
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def read_image(root: Path, image: TreeImage):
    """(bytes, RGB PIL image) of one image of the tree, or UnreadableImage naming its file."""
    from PIL import Image

    path = Path(root) / image.path
    try:
        data = path.read_bytes()
        with Image.open(io.BytesIO(data)) as img:
            img.load()  # decodes every pixel: a truncated file fails here, not at Image.open
            return data, img.convert("RGB")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise UnreadableImage(str(path), _reason(exc)) from None


def fit(img, size: int):
    """Shorter side to `size` (torchvision Resize(size): the longer side truncated), then the centre
    size x size crop (torchvision CenterCrop's rounding)."""
    from PIL import Image

    w, h = img.size
    if (w, h) == (size, size):
        return img
    if w <= h:
        nw, nh = size, int(size * h / w)
    else:
        nw, nh = int(size * w / h), size
    img = img.resize((nw, nh), Image.BILINEAR)
    left, top = int(round((nw - size) / 2.0)), int(round((nh - size) / 2.0))
    return img.crop((left, top, left + size, top + size))


def _every_class(dataset: str, pool: str, classes: tuple[str, ...], labels: list[int]) -> None:
    empty = [c for i, c in enumerate(classes) if i not in set(labels)]
    if empty:
        raise ValueError(f"{dataset}: no {pool} image of class {empty[0]!r} is left to prepare (all unreadable)")


def _tensors(dataset: str, tree: ImageTree, size: int, read: Callable) -> dict:
    out = {"classes": list(tree.classes)}
    for pool in POOLS:
        images = tree.pool(pool)
        out[f"{pool}_x"] = out[f"{pool}_y"] = None
        if images is None:
            continue
        xs, ys = [], []
        for image in images:
            got = read(image)
            if got is not None:
                xs.append(np.asarray(fit(got[1], size), dtype=np.uint8).transpose(2, 0, 1))  # (3, S, S)
                ys.append(image.label)
        _every_class(dataset, pool, tree.classes, ys)
        out[f"{pool}_x"], out[f"{pool}_y"] = np.stack(xs), np.asarray(ys, np.int64)  # (N, 3, S, S), (N,)
    return out


def _folders(dataset: str, tree: ImageTree, out_dir: Path, read: Callable) -> dict:
    from .paper_datasets import write_folders

    root = Path(tree.root)
    by_file, parts = {}, {}
    for pool in POOLS:
        images = tree.pool(pool)
        if images is None:
            continue
        parts[pool] = []
        for image in images:
            by_file[root / image.path] = image
            within_class = image.path.split("/", 2)[2]  # "train/<class>/<this>": sub-folders kept
            parts[pool].append((root / image.path, tree.classes[image.label], within_class))

    def place(src: Path, dst: Path) -> None:
        got = read(by_file[src])
        if got is not None:
            dst.write_bytes(got[0])  # the bytes hashed into the manifest, not a second read

    return write_folders(dataset, out_dir, parts, place=place, classes=list(tree.classes))


def build_image_folder(
    dataset: str, tree: ImageTree, files: dict[str, Path], image_size: int, storage: str, skip_unreadable: bool
) -> dict:
    """Read every image of `tree`, write the manifest (and the image folders, for folder storage)
    to `files` (config/layout.py: prepared_files); returns the builder's dict for store.write_prepared."""
    out_dir, manifest = Path(files["dir"]), Path(files["manifest"])
    images, skipped = [], []

    def read(image: TreeImage):
        try:
            data, rgb = read_image(Path(tree.root), image)
        except UnreadableImage as exc:
            if not skip_unreadable:
                raise ValueError(f"{exc}; fix or remove it, or set datasets.{dataset}.skip_unreadable: true") from None
            skipped.append({"path": image.path, "reason": exc.reason})
            return None
        images.append({"path": image.path, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()})
        return data, rgb

    built = _tensors(dataset, tree, image_size, read) if storage == "tensor" else _folders(dataset, tree, out_dir, read)
    counts = {pool: None if built[f"{pool}_y"] is None else len(built[f"{pool}_y"]) for pool in POOLS}
    write_json(
        manifest,
        {
            "dataset": dataset,
            "images": sorted(images, key=lambda e: e["path"]),
            "skipped_unreadable": sorted(skipped, key=lambda e: e["path"]),
            "counts": {**counts, "skipped_unreadable": len(skipped)},
        },
    )
    built["provenance"] = {
        "counts": counts,
        "skipped_unreadable": len(skipped),
        "manifest": manifest.name,  # relative to the prepared folder
        "storage": storage
        if storage == "folder"
        else f"tensor: shorter side to {image_size} px (PIL bilinear, antialiased), centre crop",
    }
    return built


def channel_stats(tree: ImageTree, image_size: int, skip_unreadable: bool) -> dict:
    """Per-channel mean and std (of pixel values in [0, 1]) over every train/ image at the stored
    size (shorter side to `image_size`, centre crop), accumulated in float64."""
    sums, squares, pixels, skipped = np.zeros(3), np.zeros(3), 0, 0
    for image in tree.train:
        try:
            _, rgb = read_image(Path(tree.root), image)
        except UnreadableImage:
            if not skip_unreadable:
                raise
            skipped += 1
            continue
        x = np.asarray(fit(rgb, image_size), dtype=np.float64) / 255  # (S, S, 3)
        sums += x.sum(axis=(0, 1))
        squares += (x * x).sum(axis=(0, 1))
        pixels += x.shape[0] * x.shape[1]
    if not pixels:
        raise ValueError(f"{tree.root}/train: no readable image to compute statistics from")
    mean = sums / pixels
    std = [math.sqrt(max(v, 0.0)) for v in squares / pixels - mean**2]
    return {
        "mean": [round(float(m), 4) for m in mean],
        "std": [round(s, 4) for s in std],
        "images": len(tree.train) - skipped,
        "skipped_unreadable": skipped,
    }
