"""The paper's dataset builders on miniature archives with the real structure (a few images per
class, the same list/.mat/pickle/binary formats), served from 127.0.0.1 to the real download code
through L2TWW_DATA_MIRROR; counts, layout, order, RGB conversion, atomicity, the folder loader."""

from __future__ import annotations

import io
import json
import pickle
import tarfile
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from l2tww.config import Layout
from l2tww.data.folder_loader import open_folder_split
from l2tww.data.store import prepare
from l2tww.io import load_torch, read_json

from .test_download import serve

RNG = np.random.default_rng(0)


def _img(size=8, mode="RGB", fmt="JPEG") -> bytes:
    arr = RNG.integers(0, 255, (size, size, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).convert(mode).save(buf, format=fmt)
    return buf.getvalue()


def _tar(members: dict[str, bytes], mode="w:gz") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _mat(paths: list[str]) -> bytes:
    from scipy.io import savemat

    cells = np.empty((len(paths), 1), dtype=object)
    for i, p in enumerate(paths):
        cells[i, 0] = np.array([p])
    buf = io.BytesIO()
    savemat(buf, {"file_list": cells, "labels": np.arange(len(paths))[:, None]})
    return buf.getvalue()


def _cifar(folder, train_files, test_file, meta_file, label_key, names_key, k):
    def batch(n):
        return pickle.dumps(
            {"data": RNG.integers(0, 255, (n, 3072), dtype=np.uint8), label_key: list(RNG.integers(0, k, n))}
        )

    members = {f"{folder}/{f}": batch(4) for f in train_files}
    members[f"{folder}/{test_file}"] = batch(3)
    members[f"{folder}/{meta_file}"] = pickle.dumps({names_key: [f"c{i}" for i in range(k)]})
    return _tar(members)


def archives() -> tuple[dict[str, bytes], dict[str, dict]]:
    """Mirror files {"/<dataset>/<file>": bytes} and their expected counts."""
    files, counts = {}, {}
    files["/cifar10/cifar-10-python.tar.gz"] = _cifar(
        "cifar-10-batches-py",
        [f"data_batch_{i}" for i in range(1, 6)],
        "test_batch",
        "batches.meta",
        "labels",
        "label_names",
        10,
    )
    counts["cifar10"] = {"classes": 10, "train": 20, "test": 3}
    files["/cifar100/cifar-100-python.tar.gz"] = _cifar(
        "cifar-100-python", ["train"], "test", "meta", "fine_labels", "fine_label_names", 100
    )
    counts["cifar100"] = {"classes": 100, "train": 4, "test": 3}
    stl = {
        f"stl10_binary/{p}_X.bin": RNG.integers(0, 255, n * 3 * 96 * 96, dtype=np.uint8).tobytes()
        for p, n in (("train", 5), ("test", 4))
    }
    stl.update(
        {f"stl10_binary/{p}_y.bin": bytes([1 + i % 10 for i in range(n)]) for p, n in (("train", 5), ("test", 4))}
    )
    stl["stl10_binary/class_names.txt"] = "\n".join(f"c{i}" for i in range(10)).encode()
    stl["stl10_binary/unlabeled_X.bin"] = b"never extracted"
    files["/stl10/stl10_binary.tar.gz"] = _tar(stl)
    counts["stl10"] = {"classes": 10, "train": 5, "test": 4}
    wnids = ["n02", "n01", "n03"]
    tiny = {
        "tiny-imagenet-200/wnids.txt": "\n".join(wnids).encode(),
        "tiny-imagenet-200/test/images/test_0.JPEG": _img(64),
    }
    for w in wnids:
        for i in range(2):
            tiny[f"tiny-imagenet-200/train/{w}/images/{w}_{i}.JPEG"] = _img(64, mode="L" if i else "RGB")
    tiny["tiny-imagenet-200/val/val_annotations.txt"] = (
        b"val_1.JPEG\tn03\t0\t0\t63\t63\nval_0.JPEG\tn01\t0\t0\t63\t63\n"
    )
    tiny.update({f"tiny-imagenet-200/val/images/val_{i}.JPEG": _img(64) for i in range(2)})
    files["/tinyimagenet/tiny-imagenet-200.zip"] = _zip(tiny)
    counts["tinyimagenet"] = {"classes": 3, "train": 6, "test": 2}
    # CUB: images.txt + train_test_split.txt; 3 classes x 3 images, 2 train / 1 test each
    classes = ["002.Laysan_Albatross", "001.Black_footed_Albatross", "003.Sooty_Albatross"]
    cub, ids, split = {"attributes.txt": b""}, [], []
    for c in classes:
        for j in range(3):
            rel = f"{c}/{c.split('.')[1]}_{j}.jpg"
            cub[f"CUB_200_2011/images/{rel}"] = _img()
            ids.append(f"{len(ids) + 1} {rel}")
            split.append(f"{len(split) + 1} {int(j < 2)}")
    cub["CUB_200_2011/images.txt"] = "\n".join(ids).encode()
    cub["CUB_200_2011/train_test_split.txt"] = "\n".join(split).encode()
    files["/cub200/CUB_200_2011.tgz"] = _tar(cub)
    counts["cub200"] = {"classes": 3, "train": 6, "test": 3}
    dogs_cls = ["n02085620-Chihuahua", "n02085782-Japanese_spaniel"]
    rels = {c: [f"{c}/{c.split('-')[0]}_{j}.jpg" for j in range(3)] for c in dogs_cls}
    files["/dogs/images.tar"] = _tar({f"Images/{r}": _img() for rs in rels.values() for r in rs}, mode="w")
    files["/dogs/lists.tar"] = _tar(
        {
            "train_list.mat": _mat([r for rs in rels.values() for r in rs[:2]]),
            "test_list.mat": _mat([rs[2] for rs in rels.values()]),
            "file_list.mat": _mat([]),
        },
        mode="w",
    )
    counts["dogs"] = {"classes": 2, "train": 4, "test": 2}
    mit = {
        "Images/bar/b0.jpg": _img(mode="L"),
        "Images/bar/b1.jpg": _img(fmt="PNG"),
        "Images/bar/b2.jpg": _img(),
        "Images/kitchen/k0.jpg": _img(),
        "Images/kitchen/k1.jpg": _img(mode="CMYK"),
        "Images/kitchen/k2.jpg": _img(),
    }
    files["/mit67/indoorCVPR_09.tar"] = _tar(mit, mode="w")
    files["/mit67/TrainImages.txt"] = b"bar/b0.jpg\r\nbar/b1.jpg\r\nkitchen/k0.jpg\r\nkitchen/k1.jpg\r\n"
    files["/mit67/TestImages.txt"] = b"bar/b2.jpg\r\nkitchen/k2.jpg\r\n"
    counts["mit67"] = {"classes": 2, "train": 4, "test": 2}
    actions = ["riding_a_bike", "applauding"]
    files["/stanford40/Stanford40_JPEGImages.zip"] = _zip(
        {f"JPEGImages/{a}_{j:03d}.jpg": _img() for a in actions for j in range(1, 4)}
    )
    splits = {
        "ImageSplits/actions.txt": b"action_name\tnumber_of_images\n",
        "ImageSplits/train.txt": b"",
        "ImageSplits/test.txt": b"",
    }
    for a in actions:
        splits[f"ImageSplits/{a}_train.txt"] = f"{a}_001.jpg\n{a}_002.jpg\n".encode()
        splits[f"ImageSplits/{a}_test.txt"] = f"{a}_003.jpg\n".encode()
    files["/stanford40/Stanford40_ImageSplits.zip"] = _zip(splits)
    counts["stanford40"] = {"classes": 2, "train": 4, "test": 2}
    return files, counts


@pytest.fixture(scope="module")
def mirror(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mirror")
    files, counts = archives()
    (tmp / "counts.json").write_text(json.dumps(counts))
    with serve(files) as (url, server):
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("L2TWW_DATA_MIRROR", url)
            mp.setenv("L2TWW_EXPECTED_COUNTS", str(tmp / "counts.json"))
            mp.setenv("L2TWW_CHECKSUMS", str(tmp / "checksums.json"))
            yield {"server": server, "counts": counts, "lock": tmp / "checksums.json"}


@pytest.mark.parametrize("name", ["cifar10", "cifar100", "stl10", "tinyimagenet"])
def test_tensor_datasets(mirror, tmp_path, name):
    meta = prepare(name, name, tmp_path / "raw", Layout.prepared_files(tmp_path / "prepared"))
    data = load_torch(tmp_path / "prepared" / "data.pt")
    c = mirror["counts"][name]
    assert data["train_x"].shape == (c["train"], 3, 32, 32) and data["test_x"].shape == (c["test"], 3, 32, 32)
    assert data["train_x"].dtype == torch.uint8 and len(meta["classes"]) == c["classes"]
    assert len(meta["train_labels"]) == c["train"] and len(meta["test_labels"]) == c["test"]
    assert read_json(tmp_path / "prepared" / "meta.json")["storage"] == "tensor"
    assert f"{name}/" in "".join(json.loads(mirror["lock"].read_text()))  # sha256 recorded on first download


def test_cifar_order_is_torchvision_order(mirror, tmp_path):
    prepare("cifar10", "cifar10", tmp_path / "raw", Layout.prepared_files(tmp_path / "prepared"))
    root = tmp_path / "raw" / "extracted" / "cifar-10-batches-py"
    first = pickle.loads((root / "data_batch_1").read_bytes(), encoding="latin1")
    last = pickle.loads((root / "data_batch_5").read_bytes(), encoding="latin1")
    data = load_torch(tmp_path / "prepared" / "data.pt")
    assert np.array_equal(data["train_x"][0].numpy().ravel(), first["data"][0])
    assert np.array_equal(data["train_x"][-1].numpy().ravel(), last["data"][-1])


def test_stl_skips_unlabeled_and_tiny_labels_follow_annotations(mirror, tmp_path):
    prepare("stl10", "stl10", tmp_path / "s" / "raw", Layout.prepared_files(tmp_path / "s" / "prepared"))
    assert not list((tmp_path / "s" / "raw").rglob("unlabeled_X.bin"))
    meta = prepare("tiny", "tinyimagenet", tmp_path / "t" / "raw", Layout.prepared_files(tmp_path / "t" / "prepared"))
    assert meta["classes"] == ["n01", "n02", "n03"] and meta["test_labels"] == [0, 2]  # val_0 -> n01, val_1 -> n03


@pytest.mark.parametrize("name", ["cub200", "dogs", "mit67", "stanford40"])
def test_folder_datasets(mirror, tmp_path, name):
    out = tmp_path / "prepared"
    meta = prepare(name, name, tmp_path / "raw", Layout.prepared_files(out))
    c = mirror["counts"][name]
    assert (
        meta["storage"] == "folder"
        and len(meta["classes"]) == c["classes"]
        and meta["classes"] == sorted(meta["classes"])
    )
    for part in ("train", "test"):
        files = sorted(p.relative_to(out / part) for p in (out / part).rglob("*") if p.is_file())
        assert len(files) == c[part] == len(meta[f"{part}_labels"])
        assert [meta["classes"][y] for y in meta[f"{part}_labels"]] == [f.parts[0] for f in files]  # ImageFolder order
    assert not list(out.glob(".staging-*"))
    if name == "mit67":  # gray, PNG-in-.jpg and CMYK images became RGB PNGs; RGB JPEGs are copied as is
        names = {p.name: p for part in ("train", "test") for p in (out / part).rglob("*.*")}
        assert {"b0.png", "b1.png", "k1.png", "k0.jpg"} <= set(names)
        assert all(Image.open(p).mode == "RGB" for p in names.values())


def test_count_mismatch_and_truncated_archive_leave_no_output(mirror, tmp_path, monkeypatch):
    counts = dict(mirror["counts"], cub200={"classes": 3, "train": 7, "test": 3})
    (tmp_path / "counts.json").write_text(json.dumps(counts))
    monkeypatch.setenv("L2TWW_EXPECTED_COUNTS", str(tmp_path / "counts.json"))
    with pytest.raises(ValueError, match="cub200: 6 train after extraction, expected 7"):
        prepare("cub200", "cub200", tmp_path / "raw", Layout.prepared_files(tmp_path / "prepared"))
    assert sorted(p.name for p in (tmp_path / "prepared").iterdir()) == []
    good = mirror["server"].files["/cub200/CUB_200_2011.tgz"]
    mirror["server"].files["/trunc/cub200/CUB_200_2011.tgz"] = good[: len(good) // 2]
    monkeypatch.setenv("L2TWW_DATA_MIRROR", _url(mirror) + "/trunc")
    monkeypatch.setenv("L2TWW_CHECKSUMS", str(tmp_path / "lock.json"))
    with pytest.raises(ValueError, match="truncated or corrupt archive"):
        prepare("cub200", "cub200", tmp_path / "raw2", Layout.prepared_files(tmp_path / "prepared2"))
    assert not (tmp_path / "prepared2").exists() or not any((tmp_path / "prepared2").iterdir())
    assert not (tmp_path / "raw2" / "extracted").exists()


def _url(mirror) -> str:
    host, port = mirror["server"].server_address[:2]
    return f"http://{host}:{port}"


def test_folder_loader_batches_labels_and_determinism(mirror, tmp_path):
    out = tmp_path / "prepared"
    meta = prepare("cub200", "cub200", tmp_path / "raw", Layout.prepared_files(out))
    split = {
        "train": {"pool": "train", "indices": list(range(6))},
        "val": {"pool": "train", "indices": [0, 3]},
        "test": {"pool": "test", "indices": [0, 1, 2]},
    }
    cfg = {
        "image_size": 16,
        "eval_resize": 18,
        "normalize": {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
        "augment": {"random_resized_crop": 16, "hflip": True},
    }
    data = open_folder_split(out, Layout.prepared_meta(out), meta, split, cfg, 4, torch.device("cpu"), 0, 2)
    assert data.image_shape == (3, 16, 16) and data.num_classes == 3 and len(data.test) == 3
    assert data.test.labels.tolist() == meta["test_labels"]
    batches = [(x.shape, y.tolist()) for x, y in data.test.epoch()]
    assert batches == [((2, 3, 16, 16), meta["test_labels"][:2]), ((1, 3, 16, 16), meta["test_labels"][2:])]

    def run(d, seed):
        return [x for x, _ in d.train.epoch(torch.Generator().manual_seed(seed))]

    a, b = run(data, 1), run(data, 1)
    assert all(torch.equal(x, y) for x, y in zip(a, b)) and not torch.equal(a[0], run(data, 2)[0])
    workers = open_folder_split(
        out, Layout.prepared_meta(out), meta, split, cfg, 4, torch.device("cpu"), 2, 2
    )  # augmentation independent of workers
    assert all(torch.equal(x, y) for x, y in zip(a, run(workers, 1)))
