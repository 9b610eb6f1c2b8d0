"""The paper's datasets (spec §6): download, verify, extract, and build them for `prepare`.

Tensor builders (32 px: CIFAR-10/100, STL-10, TinyImageNet) take `raw_dir` and return uint8
arrays train_x/test_x (N, 3, 32, 32), labels, classes and provenance. Sample order is
torchvision's (data_batch_1..5 then test_batch; STL's train_X.bin / test_X.bin), so the authors'
split indices (workflow/splits/official) point at the same images.
Folder builders (224 px: CUB-200, Stanford Dogs, MIT67, Stanford40) take `(raw_dir, out_dir)` and
write `<out_dir>/{train,test}/<class>/<img>` from the official split lists; labels follow
torchvision ImageFolder's order (classes sorted, files sorted), which the authors' CUB/Dogs split
indices assume.

Resizing (STL-10 96 -> 32, TinyImageNet 64 -> 32): PIL bilinear with PIL's antialiasing, i.e.
exactly torchvision's `Resize(32)` on a PIL image, which the official STL pipeline applies to every
image (spec §5). It is deterministic, so doing it once here gives the same uint8 images. For
TinyImageNet the authors' method is unknown (spec §6); we choose the same resize.

Overrides (tests, local mirrors): `L2TWW_DATA_MIRROR=<base url>` fetches every file as
`<base>/<dataset>/<file name>`; `L2TWW_EXPECTED_COUNTS=<json file>` replaces the expected counts
of a mirror that holds a subset ({"cub200": {"classes": 3, "train": 6, "test": 6}}).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Callable

import numpy as np

from ..io import safe_unpickle
from .download import extract, fetch

# dataset -> file name -> canonical URL. Expected hashes live in the lock file (workflow/checksums.json):
# the md5s torchvision and the dataset pages publish, and sha256s recorded on first download.
URLS = {
    "cifar10": {"cifar-10-python.tar.gz": "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"},
    "cifar100": {"cifar-100-python.tar.gz": "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"},
    "stl10": {"stl10_binary.tar.gz": "http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz"},
    "tinyimagenet": {"tiny-imagenet-200.zip": "http://cs231n.stanford.edu/tiny-imagenet-200.zip"},
    "cub200": {"CUB_200_2011.tgz": "https://data.caltech.edu/records/65de6-vp158/files/CUB_200_2011.tgz?download=1"},
    "dogs": {
        "images.tar": "http://vision.stanford.edu/aditya86/ImageNetDogs/images.tar",
        "lists.tar": "http://vision.stanford.edu/aditya86/ImageNetDogs/lists.tar",
    },
    "mit67": {
        "indoorCVPR_09.tar": "http://groups.csail.mit.edu/vision/LabelMe/NewImages/indoorCVPR_09.tar",
        "TrainImages.txt": "http://web.mit.edu/torralba/www/TrainImages.txt",
        "TestImages.txt": "http://web.mit.edu/torralba/www/TestImages.txt",
    },
    "stanford40": {
        "Stanford40_JPEGImages.zip": "http://vision.stanford.edu/Datasets/Stanford40_JPEGImages.zip",
        "Stanford40_ImageSplits.zip": "http://vision.stanford.edu/Datasets/Stanford40_ImageSplits.zip",
    },
}
# Spec §6 counts, checked after extraction.
COUNTS = {
    "cifar10": {"classes": 10, "train": 50000, "test": 10000},
    "cifar100": {"classes": 100, "train": 50000, "test": 10000},
    "stl10": {"classes": 10, "train": 5000, "test": 8000},
    "tinyimagenet": {"classes": 200, "train": 100000, "test": 10000},
    "cub200": {"classes": 200, "train": 5994, "test": 5794},
    "dogs": {"classes": 120, "train": 12000, "test": 8580},
    "mit67": {"classes": 67, "train": 5360, "test": 1340},
    "stanford40": {"classes": 40, "train": 4000, "test": 5532},
}
SIZE = 32  # the 32px setting's input size
POOL_NAMES = ("train", "test")  # the folders a folder dataset's prepared copy has


def _download(raw_dir: Path, dataset: str, name: str) -> Path:
    mirror = os.environ.get("L2TWW_DATA_MIRROR")
    url = f"{mirror.rstrip('/')}/{dataset}/{name}" if mirror else URLS[dataset][name]
    return fetch(url, Path(raw_dir) / name, key=f"{dataset}/{name}")


def _check_counts(dataset: str, classes: int, train: int, test: int) -> dict:
    expected = COUNTS[dataset]
    if os.environ.get("L2TWW_EXPECTED_COUNTS"):
        path = Path(os.environ["L2TWW_EXPECTED_COUNTS"])
        expected = json.loads(path.read_text()).get(dataset, expected)
    got = {"classes": classes, "train": train, "test": test}
    for key in ("classes", "train", "test"):
        if got[key] != expected[key]:
            raise ValueError(
                f"{dataset}: {got[key]} {key} after extraction, expected {expected[key]} (spec §6); the download is "
                "incomplete or not the official release"
            )
    return got


def _resize(images: np.ndarray, size: int = SIZE) -> np.ndarray:
    """(N, 3, H, W) uint8 -> (N, 3, size, size): PIL bilinear + antialias = torchvision Resize on PIL."""
    from PIL import Image

    if images.shape[2:] == (size, size):
        return images
    out = np.empty((len(images), 3, size, size), dtype=np.uint8)
    for i, img in enumerate(images):
        pil = Image.fromarray(np.ascontiguousarray(img.transpose(1, 2, 0)))
        out[i] = np.asarray(pil.resize((size, size), Image.BILINEAR)).transpose(2, 0, 1)
    return out


def _tensor_result(dataset, train_x, train_y, test_x, test_y, classes, archives, **extra) -> dict:
    counts = _check_counts(dataset, len(classes), len(train_y), len(test_y))
    return {
        "train_x": train_x,
        "train_y": np.asarray(train_y, dtype=np.int64),
        "test_x": test_x,
        "test_y": np.asarray(test_y, dtype=np.int64),
        "classes": list(classes),
        "provenance": {
            "archives": sorted(a.name for a in archives),
            "counts": counts,
            **extra,
        },  # names, not paths: the same bytes on any machine
    }


# --------------------------------------------------------------------------------------------
# 32 px tensor datasets
# --------------------------------------------------------------------------------------------


def _unpickle(path: Path) -> dict:
    # The CIFAR release is a set of Python pickles; the archive's hash was verified before this, and
    # the extracted files are read with an allowlist of array types all the same (io.safe_unpickle).
    return safe_unpickle(path.read_bytes(), str(path))


def cifar10(raw_dir: Path) -> dict:
    archive = _download(raw_dir, "cifar10", "cifar-10-python.tar.gz")
    root = extract(archive, Path(raw_dir) / "extracted") / "cifar-10-batches-py"
    train = [_unpickle(root / f"data_batch_{i}") for i in range(1, 6)]
    test = _unpickle(root / "test_batch")
    x = np.concatenate([b["data"] for b in train]).reshape(-1, 3, 32, 32)
    y = np.concatenate([b["labels"] for b in train])
    classes = _unpickle(root / "batches.meta")["label_names"]
    return _tensor_result("cifar10", x, y, test["data"].reshape(-1, 3, 32, 32), test["labels"], classes, [archive])


def cifar100(raw_dir: Path) -> dict:
    archive = _download(raw_dir, "cifar100", "cifar-100-python.tar.gz")
    root = extract(archive, Path(raw_dir) / "extracted") / "cifar-100-python"
    train, test = _unpickle(root / "train"), _unpickle(root / "test")
    classes = _unpickle(root / "meta")["fine_label_names"]
    return _tensor_result(
        "cifar100",
        train["data"].reshape(-1, 3, 32, 32),
        train["fine_labels"],
        test["data"].reshape(-1, 3, 32, 32),
        test["fine_labels"],
        classes,
        [archive],
    )


def stl10(raw_dir: Path) -> dict:
    archive = _download(raw_dir, "stl10", "stl10_binary.tar.gz")
    wanted = {
        "train_X.bin",
        "train_y.bin",
        "test_X.bin",
        "test_y.bin",
        "class_names.txt",
    }  # not the 2.6 GB unlabeled set
    root = extract(archive, Path(raw_dir) / "extracted", members=lambda n: Path(n).name in wanted) / "stl10_binary"

    def images(name):  # stored column-major per channel, as torchvision reads them
        return np.fromfile(root / name, dtype=np.uint8).reshape(-1, 3, 96, 96).transpose(0, 1, 3, 2)

    def labels(name):  # 1-based on disk
        return np.fromfile(root / name, dtype=np.uint8).astype(np.int64) - 1

    classes = (root / "class_names.txt").read_text().split()
    return _tensor_result(
        "stl10",
        _resize(images("train_X.bin")),
        labels("train_y.bin"),
        _resize(images("test_X.bin")),
        labels("test_y.bin"),
        classes,
        [archive],
        resize="96->32, PIL bilinear with antialias (torchvision Resize(32) on PIL)",
    )


def _read_rgb(paths: list[Path]) -> np.ndarray:
    from PIL import Image

    out = []
    for p in paths:
        with Image.open(p) as img:  # some TinyImageNet images are grayscale
            out.append(np.asarray(img.convert("RGB")).transpose(2, 0, 1))
    return np.stack(out) if out else np.empty((0, 3, 64, 64), np.uint8)


def tinyimagenet(raw_dir: Path) -> dict:
    """Train: train/<wnid>/images/*.JPEG; test pool: the labelled val set (its test set has no labels)."""
    archive = _download(raw_dir, "tinyimagenet", "tiny-imagenet-200.zip")
    root = extract(archive, Path(raw_dir) / "extracted", members=lambda n: "/test/" not in n) / "tiny-imagenet-200"
    classes = sorted((root / "wnids.txt").read_text().split())
    index = {c: i for i, c in enumerate(classes)}
    train_paths, train_y = [], []
    for c in classes:
        files = sorted((root / "train" / c / "images").glob("*.JPEG"))
        train_paths += files
        train_y += [index[c]] * len(files)
    rows = sorted(
        line.split("\t")[:2] for line in (root / "val" / "val_annotations.txt").read_text().splitlines() if line.strip()
    )
    test_paths = [root / "val" / "images" / name for name, _ in rows]
    test_y = [index[wnid] for _, wnid in rows]
    return _tensor_result(
        "tinyimagenet",
        _resize(_read_rgb(train_paths)),
        train_y,
        _resize(_read_rgb(test_paths)),
        test_y,
        classes,
        [archive],
        resize="64->32, PIL bilinear with antialias (choice: the authors' method is unknown, spec §6)",
        test_pool="official val set",
    )


# --------------------------------------------------------------------------------------------
# 224 px image-folder datasets
# --------------------------------------------------------------------------------------------


def _copy_rgb(src: Path, dst: Path) -> Path:
    """RGB JPEGs are copied byte for byte; anything else (gray, CMYK, GIF, PNG) is converted to RGB
    and stored losslessly as PNG, so ImageFolder's loader always sees what the spec asks (§6)."""
    from PIL import Image

    with Image.open(src) as img:
        if img.format == "JPEG" and img.mode == "RGB":
            shutil.copyfile(src, dst)
            return dst
        dst = dst.with_suffix(".png")
        img.convert("RGB").save(dst, format="PNG")
        return dst


def _write_folders(
    dataset: str, out_dir: Path, parts: dict[str, list[tuple[Path, str]]], convert: bool = False
) -> dict:
    """An official release's (image, class) lists into `<out_dir>/<part>/<class>/`, counts checked."""
    return write_folders(
        dataset,
        out_dir,
        parts,
        place=_copy_rgb if convert else _copy,
        check=lambda classes, train, test: _check_counts(dataset, classes, train, test),
    )


def _copy(src: Path, dst: Path) -> Path:
    shutil.copyfile(src, dst)
    return dst


def write_folders(
    dataset: str,
    out_dir: Path,
    parts: dict[str, list[tuple]],
    place: Callable[[Path, Path], object],
    classes: list[str] | None = None,
    check: Callable[[int, int, int], dict] | None = None,
) -> dict:
    """Write (image, class[, name]) lists into `<out_dir>/<part>/<class>/<name or the image's file
    name>` via a staging folder renamed into place, then read labels back in ImageFolder order.

    `place(src, dst)` writes one image at `dst` (or beside it under another suffix) or skips it.
    `classes`: the label order (default: the class folders found, which must agree across parts;
    with `classes` given, a class left without an image in a part is an error). `check(classes,
    train, test)` may refuse the counts before anything is swapped in. Returns the builder's dict
    (labels, no pixels; test_y None without a test part)."""
    from torchvision.datasets.folder import IMG_EXTENSIONS, make_dataset

    out_dir = Path(out_dir)
    staging = out_dir / f".staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    missing = [str(item[0]) for items in parts.values() for item in items if not item[0].is_file()]
    if missing:
        raise FileNotFoundError(
            f"{dataset}: {len(missing)} listed images are missing (from the archive, or removed since the folder was "
            f"read), e.g. {missing[0]}"
        )
    try:
        for part, items in parts.items():
            for src, cls, *name in items:
                dst = staging / part / cls / (name[0] if name else src.name)
                dst.parent.mkdir(parents=True, exist_ok=True)
                place(src, dst)
        labels, fixed = {}, classes is not None
        for part in parts:
            if not fixed:
                found = sorted(d.name for d in (staging / part).iterdir() if d.is_dir())
                if classes is not None and found != classes:
                    raise ValueError(
                        f"{dataset}: train and test folders hold different classes ({len(classes)} vs {len(found)})"
                    )
                classes = found
            (staging / part).mkdir(parents=True, exist_ok=True)
            samples = make_dataset(
                str(staging / part),
                {c: i for i, c in enumerate(classes)},
                extensions=IMG_EXTENSIONS,
                allow_empty=fixed,
            )
            labels[part] = [y for _, y in samples]
            empty = [c for i, c in enumerate(classes) if i not in set(labels[part])]
            if empty:  # only with `classes` given: make_dataset refuses an empty class otherwise
                raise ValueError(f"{dataset}: no {part} image of class {empty[0]!r} is left to prepare")
        test = labels.get("test")
        counts = {"classes": len(classes), "train": len(labels["train"]), "test": None if test is None else len(test)}
        if check is not None:
            counts = check(len(classes), len(labels["train"]), len(test or []))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)  # nothing half-written is left behind
        raise
    for part in POOL_NAMES:  # complete: swap the parts in (a part no longer written is removed)
        shutil.rmtree(out_dir / part, ignore_errors=True)
        if part in parts:
            (staging / part).replace(out_dir / part)
    staging.rmdir()
    return {
        "classes": classes,
        "train_y": np.asarray(labels["train"], np.int64),
        "test_y": None if test is None else np.asarray(test, np.int64),
        "provenance": {"counts": counts, "layout": "<root>/{train,test}/<class>/<img>"},
    }


def cub200(raw_dir: Path, out_dir: Path) -> dict:
    archive = _download(raw_dir, "cub200", "CUB_200_2011.tgz")
    root = extract(archive, Path(raw_dir) / "extracted") / "CUB_200_2011"
    paths = dict(line.split() for line in (root / "images.txt").read_text().splitlines() if line.strip())
    is_train = dict(line.split() for line in (root / "train_test_split.txt").read_text().splitlines() if line.strip())
    parts = {"train": [], "test": []}
    for image_id, rel in paths.items():
        parts["train" if is_train[image_id] == "1" else "test"].append((root / "images" / rel, rel.split("/")[0]))
    return _write_folders("cub200", out_dir, parts)


def _mat_paths(path: Path) -> list[str]:
    """Stanford Dogs' `file_list`: a MATLAB cell array of 'n02085620-Chihuahua/n02085620_5927.jpg'."""
    from scipy.io import loadmat

    cells = loadmat(path)["file_list"].ravel()
    return [str(np.asarray(c).ravel()[0]) for c in cells]


def dogs(raw_dir: Path, out_dir: Path) -> dict:
    images = extract(_download(raw_dir, "dogs", "images.tar"), Path(raw_dir) / "images") / "Images"
    lists = extract(_download(raw_dir, "dogs", "lists.tar"), Path(raw_dir) / "lists")
    parts = {
        part: [(images / rel, rel.split("/")[0]) for rel in _mat_paths(lists / f"{part}_list.mat")]
        for part in ("train", "test")
    }
    return _write_folders("dogs", out_dir, parts)


def mit67(raw_dir: Path, out_dir: Path) -> dict:
    images = extract(_download(raw_dir, "mit67", "indoorCVPR_09.tar"), Path(raw_dir) / "extracted") / "Images"
    parts = {}
    for part, name in (("train", "TrainImages.txt"), ("test", "TestImages.txt")):
        lines = _download(raw_dir, "mit67", name).read_text().splitlines()
        parts[part] = [(images / rel.strip(), rel.strip().split("/")[0]) for rel in lines if rel.strip()]
    return _write_folders("mit67", out_dir, parts, convert=True)


def stanford40(raw_dir: Path, out_dir: Path) -> dict:
    images = (
        extract(_download(raw_dir, "stanford40", "Stanford40_JPEGImages.zip"), Path(raw_dir) / "images") / "JPEGImages"
    )
    splits = (
        extract(_download(raw_dir, "stanford40", "Stanford40_ImageSplits.zip"), Path(raw_dir) / "splits")
        / "ImageSplits"
    )
    parts = {"train": [], "test": []}
    for part in parts:
        for lst in sorted(splits.glob(f"*_{part}.txt")):  # one list per action: <action>_train.txt
            action = lst.name[: -len(f"_{part}.txt")]
            parts[part] += [(images / name.strip(), action) for name in lst.read_text().splitlines() if name.strip()]
    return _write_folders("stanford40", out_dir, parts)
