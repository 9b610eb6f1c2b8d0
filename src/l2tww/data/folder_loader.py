"""Loaders for image-folder datasets (224 px: CUB-200, Dogs, MIT67, Stanford40, your own), spec §5.

- train: RandomResizedCrop(224) (default scale/ratio) + horizontal flip; eval: Resize(256) +
  CenterCrop(224); both then ImageNet normalisation from the dataset config.
- Worker processes decode JPEGs (`runtime.workers`; the official code's num_workers=0 made 224 px
  runs data-bound, spec §9), pinned memory on CUDA.
- Reproducible augmentation: the trainer's per-epoch generator draws the shuffle *and* one seed
  per image; the image's random crop/flip are drawn from that seed, so the batches of an epoch do
  not depend on the number of workers, and a resumed run replays them.
Exposes the TensorLoader interface the trainer uses: `epoch(generator)`, `__len__`, `labels`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import torch
from torch.utils.data import DataLoader, Dataset

from .batches import SplitData


class _Images(Dataset):
    """The `indices` of an ImageFolder pool; items are (index, seed) -> (image, label)."""

    def __init__(self, samples: list[tuple[str, int]], transform):
        self.samples, self.transform = samples, transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, item: tuple[int, int | None]):
        from torchvision.datasets.folder import default_loader

        index, seed = item
        path, label = self.samples[index]
        image = default_loader(path)  # PIL, converted to RGB
        if seed is None:
            return self.transform(image), label
        # Seed torch's RNG for this image only: the transforms draw from the global generator.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return self.transform(image), label


class _Batches:
    """Batch sampler: shuffled with the epoch generator (train) or in order (eval)."""

    def __init__(self, n: int, batch_size: int, train: bool):
        self.n, self.batch_size, self.train = n, batch_size, train
        self.generator: torch.Generator | None = None

    def __iter__(self):
        if self.train:
            order = torch.randperm(self.n, generator=self.generator).tolist()
            seeds = torch.randint(0, 2**62, (self.n,), generator=self.generator).tolist()
        else:
            order, seeds = list(range(self.n)), [None] * self.n
        for start in range(0, self.n, self.batch_size):
            batch = list(zip(order[start : start + self.batch_size], seeds[start : start + self.batch_size]))
            if self.train and len(batch) == 1 and self.n > 1:
                break  # BatchNorm in train mode cannot use a batch of one image (as TensorLoader)
            yield batch

    def __len__(self) -> int:
        return -(-self.n // self.batch_size)


def _worker_init(_: int) -> None:
    torch.set_num_threads(1)  # decoding is per process; intra-op threads would oversubscribe


class FolderLoader:
    def __init__(
        self, samples, transform, batch_size: int, train: bool, device: torch.device, workers: int, channels_last: bool
    ):
        self.labels = torch.tensor([y for _, y in samples], dtype=torch.int64, device=device)  # (N,), for evaluate()
        self.device, self.channels_last = device, channels_last
        self.batches = _Batches(len(samples), batch_size, train)
        self.loader = DataLoader(
            _Images(samples, transform),
            batch_sampler=self.batches,
            num_workers=workers,
            pin_memory=device.type == "cuda",
            persistent_workers=workers > 0,
            worker_init_fn=_worker_init if workers else None,
        )

    def __len__(self) -> int:
        return len(self.labels)

    def epoch(self, generator: torch.Generator | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        if self.batches.train and generator is None:
            generator = torch.Generator().manual_seed(0)
        self.batches.generator = generator
        for x, y in self.loader:
            x = x.to(self.device, non_blocking=True)  # (B, 3, 224, 224)
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            yield x, y.to(self.device, non_blocking=True)


def transforms_for(dataset_cfg: dict, train: bool):
    """Spec §5's 224px transforms, sized from the dataset config."""
    from torchvision import transforms as T

    size = dataset_cfg["image_size"]
    aug = dataset_cfg.get("augment", {})
    norm = T.Normalize(dataset_cfg["normalize"]["mean"], dataset_cfg["normalize"]["std"])
    if train:
        steps = [T.RandomResizedCrop(aug.get("random_resized_crop", size))]
        if aug.get("hflip"):
            steps.append(T.RandomHorizontalFlip())
    else:
        steps = [T.Resize(dataset_cfg.get("eval_resize", size)), T.CenterCrop(size)]
    return T.Compose(steps + [T.ToTensor(), norm])


def open_folder_split(
    prepared_dir: Path,
    meta_file: Path,
    meta: dict,
    split: dict,
    dataset_cfg: dict,
    batch_size: int,
    device: torch.device,
    workers: int = 0,
    eval_batch_size: int = 256,
    channels_last: bool = False,
) -> SplitData:
    from torchvision.datasets.folder import IMG_EXTENSIONS, make_dataset

    classes = list(meta["classes"])
    pools = {}
    for pool in ("train", "test"):
        if meta[f"{pool}_labels"] is None:  # an image folder without test/: test is held out of train
            continue
        folder = Path(prepared_dir) / pool
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder}: missing; re-run `l2tww prepare {meta['dataset']}`")
        samples = make_dataset(str(folder), {c: i for i, c in enumerate(classes)}, extensions=IMG_EXTENSIONS)
        if [y for _, y in samples] != list(meta[f"{pool}_labels"]):
            raise ValueError(
                f"{folder}: its images no longer match {meta_file} ({len(samples)} images); re-run "
                f"`l2tww prepare {meta['dataset']}`"
            )
        pools[pool] = samples
    loaders = {}
    for part in ("train", "val", "test"):
        pool, indices = split[part]["pool"], split[part]["indices"]
        if indices and max(indices) >= len(pools[pool]):
            raise ValueError(
                f"split {part}: index {max(indices)} out of range for pool {pool!r} of size {len(pools[pool])}"
            )
        train = part == "train"
        loaders[part] = FolderLoader(
            [pools[pool][i] for i in indices],
            transforms_for(dataset_cfg, train),
            batch_size if train else eval_batch_size,
            train,
            device,
            workers,
            channels_last,
        )
    size = dataset_cfg["image_size"]
    return SplitData(loaders["train"], loaders["val"], loaders["test"], len(classes), (3, size, size))
