"""What every loader gives the trainer: the three loaders of a split (`SplitData`) and the batches of
one training epoch (`draw_batches`). A loader (data/loader.py's TensorLoader, data/folder_loader.py's
FolderLoader) has `epoch(generator)` yielding normalised (x: (B, C, H, W), y: (B,)) batches, `len()`
and `labels`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Protocol

import torch


class Loader(Protocol):
    labels: torch.Tensor

    def __len__(self) -> int: ...

    def epoch(self, generator: torch.Generator | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]: ...


def draw_batches(loader, generator: torch.Generator, steps: int | None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """One training epoch: one pass over `loader` (steps None), or exactly `steps` batches.

    With `steps`, passes follow each other, each reshuffled and re-augmented by the same
    generator, so a tiny low-data split (N = 5 per class: one batch per pass) trains for as many
    steps as asked between two evaluations, and the batches still depend on (seed, epoch) alone.
    """
    if steps is None:
        yield from loader.epoch(generator)
        return
    done = 0
    while done < steps:
        before = done
        for batch in loader.epoch(generator):
            yield batch
            done += 1
            if done == steps:
                return
        if done == before:
            raise ValueError(f"steps_per_epoch: the train split ({len(loader)} images) yields no batch")


@dataclass
class SplitData:
    """The three loaders of one split file, plus what model construction needs."""

    train: Loader
    val: Loader
    test: Loader
    num_classes: int
    image_shape: tuple[int, int, int]  # (C, H, W) fed to the networks
