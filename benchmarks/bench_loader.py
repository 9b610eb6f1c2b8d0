"""Images per second of the 224 px training loader, per worker count: would a GPU starve?

    python benchmarks/bench_loader.py                       # workers 0 2 4 8, 384 images, batch 64
    python benchmarks/bench_loader.py --workers 0 4 --images 256

The loader is the project's (data/folder_loader.py's FolderLoader with transforms_for(train=True): JPEG
decode, RandomResizedCrop(224), horizontal flip, ToTensor, normalisation, the per-image seeds of a
reproducible epoch), on synthetic JPEGs this script writes to a temporary folder: CUB-200-sized
(500 x 375 px, a smooth random pattern + noise, JPEG quality 90; real photographs decode at about
the same rate per pixel). Per worker count: one epoch to start the workers (not timed), then
--epochs timed epochs; images/s = images / seconds. A training job keeps up when

    images/s >= batch / (GPU s per iteration)        (64 / s_iter for the 224 px presets)

so the workers a preset needs are about that rate / the one-worker rate (docs/gpu.md: the rule,
and this machine's figures). Decoding is per process: more workers than free cores cannot help.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from l2tww import config  # noqa: E402
from l2tww.data.folder_loader import FolderLoader, transforms_for  # noqa: E402

SIZE = (500, 375)  # CUB-200's typical width x height


def write_jpegs(folder: Path, n: int, classes: int = 8, seed: int = 0) -> list[tuple[str, int]]:
    """n JPEGs in `classes` class folders: (path, label) samples as ImageFolder lists them."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    samples = []
    for i in range(n):
        label = i % classes
        coarse = rng.random((4, 4, 3)) * 255
        pattern = np.kron(coarse, np.ones((SIZE[1] // 4 + 1, SIZE[0] // 4 + 1, 1)))[: SIZE[1], : SIZE[0]]
        pixels = np.clip(pattern + rng.normal(0, 20, pattern.shape), 0, 255).astype(np.uint8)
        path = folder / f"c{label}" / f"{i:05d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(path, quality=90)
        samples.append((str(path), label))
    return samples


def images_per_second(samples, dataset_cfg: dict, batch: int, workers: int, epochs: int) -> float:
    loader = FolderLoader(
        samples, transforms_for(dataset_cfg, train=True), batch, True, torch.device("cpu"), workers, False
    )
    gen = torch.Generator().manual_seed(0)
    for _ in loader.epoch(gen):  # starts the (persistent) workers; not timed
        pass
    start = time.perf_counter()
    seen = 0
    for epoch in range(epochs):
        for x, _ in loader.epoch(torch.Generator().manual_seed(epoch + 1)):
            seen += len(x)
    seconds = time.perf_counter() - start
    del loader  # stops the workers before the next count
    return seen / seconds


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 2, 4, 8])
    ap.add_argument("--images", type=int, default=384)
    ap.add_argument("--epochs", type=int, default=2, help="timed epochs per worker count")
    ap.add_argument("--batch", type=int, default=64, help="the 224 px recipes' batch")
    ap.add_argument("--params", default=str(REPO / "workflow" / "presets" / "paper-224px.yaml"))
    args = ap.parse_args(argv)
    params = config.load(args.params)
    dataset_cfg = params["datasets"]["cub200"]
    torch.set_num_threads(1)  # the main process only collates; the workers decode
    # DataLoader warns when workers exceed the cores: the table says so on the row.
    warnings.filterwarnings("ignore", message="This DataLoader will create")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    with tempfile.TemporaryDirectory(prefix="l2tww-loader-") as tmp:
        samples = write_jpegs(Path(tmp), args.images)
        print(
            f"{args.images} synthetic {SIZE[0]}x{SIZE[1]} JPEGs, batch {args.batch}, {cores} CPU cores, "
            f"torch {torch.__version__}; transform: {args.params}'s cub200 train transform"
        )
        print(f"{'workers':>7} {'images/s':>9} {'s/batch':>8}  (a GPU iteration faster than s/batch waits for data)")
        for workers in args.workers:
            rate = images_per_second(samples, dataset_cfg, args.batch, workers, args.epochs)
            note = "  (more workers than cores: cannot help)" if workers > cores else ""
            print(f"{workers:>7} {rate:>9.1f} {args.batch / rate:>8.3f}{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
