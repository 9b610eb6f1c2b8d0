"""Minibatches for training and evaluation.

Tensor datasets (the embedded ones, CIFAR, STL, TinyImageNet) live on the training device as uint8
and are augmented there, batch-wise: no DataLoader, no per-image Python. Folder datasets (224 px)
use torchvision's ImageFolder with worker processes (`data/folder_loader.py`). Both yield normalised
float batches (x: (B, C, H, W), y: (B,)) from `epoch(generator)`; the generator, seeded per epoch by
the trainer, drives shuffling and augmentation, so a resumed run replays the same batches.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import torch
import torch.nn.functional as F

from ..io import load_torch, read_json
from .batches import SplitData

EVAL_BATCH_SIZE = 512  # runtime.eval_batch_size's default: the batches every checked-in result was evaluated in


def random_crop(x: torch.Tensor, padding: int, generator: torch.Generator) -> torch.Tensor:
    """Zero-pad by `padding` and crop back to the input size at a random offset per image (spec §5)."""
    b, _, h, w = x.shape
    padded = F.pad(x, (padding, padding, padding, padding))
    dy = torch.randint(0, 2 * padding + 1, (b,), generator=generator, device=generator.device).to(x.device)
    dx = torch.randint(0, 2 * padding + 1, (b,), generator=generator, device=generator.device).to(x.device)
    rows = (dy[:, None] + torch.arange(h, device=x.device))[:, :, None]  # (B, H, 1)
    cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, :]  # (B, 1, W)
    batch = torch.arange(b, device=x.device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)  # (B, C, H, W)


def random_hflip(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    flip = torch.rand(x.shape[0], generator=generator, device=generator.device).to(x.device) < 0.5
    return torch.where(flip[:, None, None, None], x.flip(3), x)


@dataclass
class TensorLoader:
    images: torch.Tensor  # (N, C, H, W) uint8, on the device
    labels: torch.Tensor  # (N,) int64, on the device
    batch_size: int
    mean: torch.Tensor  # (1, C, 1, 1)
    std: torch.Tensor
    train: bool = False
    crop_padding: int = 0
    hflip: bool = False
    channels_last: bool = False

    def __len__(self) -> int:
        return len(self.labels)

    def epoch(self, generator: torch.Generator | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.labels)
        order = torch.randperm(n, generator=generator) if self.train else torch.arange(n)
        for start in range(0, n, self.batch_size):
            idx = order[start : start + self.batch_size]
            if self.train and len(idx) == 1 and n > 1:
                break  # BatchNorm in train mode cannot use a batch of one image
            idx = idx.to(self.images.device)
            x = self.images[idx].float().div_(255)
            if self.train and self.crop_padding:
                x = random_crop(x, self.crop_padding, generator)
            if self.train and self.hflip:
                x = random_hflip(x, generator)
            x = (x - self.mean) / self.std
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            yield x, self.labels[idx]


def _select(tensors: dict, meta: dict, part: dict, path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    pool = part["pool"]
    key = f"{pool}_x"
    if key not in tensors:
        raise ValueError(f"{path}: split uses pool {pool!r}, which the prepared data does not have")
    labels = torch.tensor(meta[f"{pool}_labels"], dtype=torch.int64)
    idx = torch.tensor(part["indices"], dtype=torch.int64)
    if len(idx) and int(idx.max()) >= len(labels):
        raise ValueError(f"{path}: index {int(idx.max())} out of range for pool {pool!r} of size {len(labels)}")
    return tensors[key][idx], labels[idx]


def tensor_loader(
    images: torch.Tensor,
    labels: torch.Tensor,
    dataset_cfg: dict,
    batch_size: int,
    device: torch.device,
    train: bool,
    channels_last: bool = False,
) -> TensorLoader:
    """An on-device loader of uint8 images with the dataset's normalisation and, when training, its
    crop and flip."""
    norm = dataset_cfg["normalize"]
    aug = dataset_cfg.get("augment", {})
    return TensorLoader(
        images.to(device),
        labels.to(device),
        batch_size,
        torch.tensor(norm["mean"], device=device).view(1, -1, 1, 1),
        torch.tensor(norm["std"], device=device).view(1, -1, 1, 1),
        train=train,
        crop_padding=aug.get("crop_padding", 0),
        hflip=aug.get("hflip", False),
        channels_last=channels_last,
    )


def open_split(
    prepared: dict[str, Path],
    split_file: Path,
    dataset_cfg: dict,
    batch_size: int,
    device: torch.device,
    channels_last: bool = False,
    workers: int = 0,
    eval_batch_size: int = EVAL_BATCH_SIZE,
) -> "SplitData":
    """Loaders for "train" (augmented, shuffled), "val" and "test" (eval transform). `prepared`: the
    prepared folder "dir" and its "meta" and "tensors" files (config/layout.py: prepared_files)."""
    meta = read_json(prepared["meta"], "prepared dataset metadata")
    split = read_json(split_file, "split file")
    if meta["storage"] == "folder":
        from .folder_loader import open_folder_split

        return open_folder_split(
            Path(prepared["dir"]),
            Path(prepared["meta"]),
            meta,
            split,
            dataset_cfg,
            batch_size,
            device,
            workers,
            eval_batch_size,
            channels_last,
        )
    tensors = load_torch(prepared["tensors"], "prepared dataset")
    loaders = {}
    for part in ("train", "val", "test"):
        x, y = _select(tensors, meta, split[part], Path(split_file))
        train = part == "train"
        batch = batch_size if train else eval_batch_size
        loaders[part] = tensor_loader(x, y, dataset_cfg, batch, device, train, channels_last)
    return SplitData(
        loaders["train"], loaders["val"], loaders["test"], len(meta["classes"]), tuple(meta["image_shape"])
    )
