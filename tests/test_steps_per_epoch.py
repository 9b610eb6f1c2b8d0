"""`steps_per_epoch`: an epoch draws a fixed number of batches over repeated, reshuffled passes."""

from __future__ import annotations

import torch

from l2tww.data.batches import draw_batches
from l2tww.data.loader import TensorLoader
from l2tww.training.trainer import epoch_generator


def _loader(n: int, batch: int) -> TensorLoader:
    images = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 1, 4, 4).contiguous()
    return TensorLoader(images, torch.arange(n), batch, torch.zeros(1, 1, 1, 1), torch.ones(1, 1, 1, 1), train=True)


def test_steps_span_several_reshuffled_passes_and_repeat_per_seed_and_epoch():
    # Protects low-data training: N = 5 x 10 classes is one batch per pass, so an epoch of K steps
    # must be K batches, every pass a new permutation, the same for the same (seed, epoch).
    loader = _loader(10, 4)  # passes of 3 batches (4, 4, 2)
    batches = [y.tolist() for _, y in draw_batches(loader, epoch_generator(3, 7), 7)]
    assert [len(b) for b in batches] == [4, 4, 2, 4, 4, 2, 4]
    first, second = sum(batches[:3], []), sum(batches[3:6], [])
    assert sorted(first) == sorted(second) == list(range(10)) and first != second
    assert batches == [y.tolist() for _, y in draw_batches(loader, epoch_generator(3, 7), 7)]
    assert batches != [y.tolist() for _, y in draw_batches(loader, epoch_generator(3, 8), 7)]


def test_without_steps_an_epoch_is_one_pass():
    loader = _loader(10, 4)
    assert sum(len(y) for _, y in draw_batches(loader, epoch_generator(0, 0), None)) == 10


def test_trainer_runs_steps_per_epoch_batches(tiny, monkeypatch):
    # The trainer must take exactly epochs x steps_per_epoch optimizer steps.
    from l2tww.config import Run
    from l2tww.stages.split import make_split
    from l2tww.stages.train import train_run

    from .conftest import with_changes

    recipes = {k: dict(v) for k, v in tiny["recipes"].items()}
    target = next(iter(tiny["targets"]))
    recipe = tiny["targets"][target]["recipe"]
    recipes[recipe].update(epochs=2, steps_per_epoch=5)
    params = with_changes(tiny, recipes=recipes)
    for ds, n, seed in params.splits_needed():
        make_split(params, ds)
        make_split(params, ds, n, seed)
    calls = []
    real_step = torch.optim.SGD.step
    monkeypatch.setattr(torch.optim.SGD, "step", lambda self, *a, **k: (calls.append(1), real_step(self, *a, **k))[1])
    run = Run(target, "scratch", params.runs()[0].n_per_class, 0)
    train_run(params, run)
    assert len(calls) == 2 * 5
