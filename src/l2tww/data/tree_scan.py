"""The folder tree of an `image_folder` dataset, read without opening an image (no torch, no PIL).

The layout is torchvision's ImageFolder: `<root>/train/<class>/...` and, optionally,
`<root>/test/<class>/...`. Classes are the sub-folders of train/, sorted (hidden ones, such as
`.ipynb_checkpoints`, are not classes); a file is an image by its extension (torchvision's
IMG_EXTENSIONS, any case), in its class folder or any folder below it, listed in ImageFolder's order
(folders walked sorted, files sorted). A test/ folder must hold the same classes.

What the config checks and the plan need, at the cost of one `stat` per image and no read:
- the facts catalog.BUILDERS holds for the built-in datasets (`ImageTree.facts`);
- a fingerprint of every image's relative path, size and modification time (`fingerprint`): the
  prepared dataset's identity at plan time. Adding, removing or rewriting an image changes it; so
  does `touch` or a copy that resets modification times (`cp -a` and `rsync -a` keep them), which
  re-prepares the same images once. Hashing every image at every plan would cost a full read of
  the folder per `snakemake -n`; the sha256 of each image is in prepare's manifest instead.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from ..catalog import BuilderInfo, folder_storage

# torchvision.datasets.folder.IMG_EXTENSIONS (a test keeps the two equal), here without importing torch
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
POOLS = ("train", "test")


class TreeImage(NamedTuple):  # a tuple, not a dataclass: a folder may hold 10^5 of them
    path: str  # relative to the root, with "/": "train/cat/001.jpg"
    label: int  # index into ImageTree.classes
    size: int  # bytes
    mtime_ns: int


@dataclass(frozen=True)
class ImageTree:
    root: str  # as the params give it
    classes: tuple[str, ...]
    train: tuple[TreeImage, ...]
    test: tuple[TreeImage, ...] | None  # None: no test/ folder (a seeded hold-out of train instead)

    def pool(self, name: str) -> tuple[TreeImage, ...] | None:
        return self.train if name == "train" else self.test

    def per_class(self, pool: str = "train") -> dict[str, int]:
        counts = dict.fromkeys(self.classes, 0)
        for image in self.pool(pool) or ():
            counts[self.classes[image.label]] += 1
        return counts

    def smallest_class(self) -> tuple[str, int]:
        """The train class with the fewest images (the first such in class order) and its count."""
        counts = self.per_class("train")
        name = min(counts, key=lambda c: counts[c])
        return name, counts[name]

    def facts(self, image_size: int) -> BuilderInfo:
        """What catalog.BUILDERS says of a built-in dataset. Images are read as RGB: 3 channels."""
        return BuilderInfo(
            3, len(self.classes), self.smallest_class()[1], self.test is not None, folder_storage(image_size)
        )

    def fingerprint(self) -> str:
        """sha256 over (path, size, modification time) of every image: cheap, and changed by any
        added, removed or rewritten image (see the module docstring)."""
        lines = "".join(f"{i.path}\t{i.size}\t{i.mtime_ns}\n" for i in self.train + (self.test or ()))
        return hashlib.sha256(lines.encode()).hexdigest()[:16]


def is_image(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS)


def _class_folders(folder: Path) -> list[str]:
    return sorted(e.name for e in os.scandir(folder) if e.is_dir() and not e.name.startswith("."))


def _images(root: Path, pool: str, classes: list[str]) -> list[TreeImage]:
    # plain strings and os.stat: pathlib's objects cost more than the stat itself at 10^5 files
    out, start = [], len(str(root)) + 1
    for label, name in enumerate(classes):
        class_dir = os.path.join(root, pool, name)
        if not os.path.isdir(class_dir):
            continue
        for folder, _, files in sorted(os.walk(class_dir, followlinks=True)):  # ImageFolder's order
            for file in sorted(files):
                if is_image(file):
                    path = os.path.join(folder, file)
                    stat = os.stat(path)
                    out.append(TreeImage(path[start:].replace(os.sep, "/"), label, stat.st_size, stat.st_mtime_ns))
    return out


def scan_tree(root: str | Path) -> ImageTree:
    """The tree under `root`, or a ValueError with one line naming what is wrong."""
    top = Path(root)
    if not top.is_dir():
        raise ValueError(f"{root}: no such folder")
    if not (top / "train").is_dir():
        raise ValueError(f"{root}: no train/ folder; expected {root}/train/<class>/<image> (torchvision's ImageFolder)")
    classes = _class_folders(top / "train")
    train = _images(top, "train", classes)
    if not train:
        raise ValueError(
            f"{root}/train: no images (files ending in {', '.join(IMAGE_EXTENSIONS)}) in class folders "
            f"{root}/train/<class>/"
        )
    test = None
    if (top / "test").is_dir():
        extra = [c for c in _class_folders(top / "test") if c not in classes]
        if extra:
            raise ValueError(f"{root}/test/{extra[0]}: class {extra[0]!r} is not in {root}/train")
        test = _images(top, "test", classes)
        have = {image.label for image in test}
        missing = [c for i, c in enumerate(classes) if i not in have]
        if missing:
            raise ValueError(
                f"{root}/test: no test images of class {missing[0]!r}; a test/ folder needs every class of train/ "
                "(or remove test/ to hold test images out of train/)"
            )
    return ImageTree(str(root), tuple(classes), tuple(train), None if test is None else tuple(test))
