"""Every artifact is a function of its inputs and code (issue 20): preparing a dataset, splitting it,
pretraining a source and training a run twice write the same bytes, so DVC records the same hashes
and a remote keeps one copy. Only timing.json (seconds, memory, host) may differ; it is dvcignored.
A random temp-file name reaching torch.save's archive, a timestamp or a pid in a hashed file, or a
machine path in meta.json fails here."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from l2tww.config import Run
from l2tww.stages.prepare import prepare_dataset
from l2tww.stages.pretrain import pretrain_source
from l2tww.stages.split import make_split
from l2tww.stages.train import train_run

from .conftest import with_changes


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "timing.json"
    }


def _twice(make, folder: Path) -> tuple[dict, dict]:
    make()
    first = _digests(folder)
    shutil.move(folder, folder.with_name(folder.name + "-first"))
    make()
    return first, _digests(folder)


def test_two_prepares_write_the_same_bytes(tiny):
    folder = Path(tiny["data_root"]) / "prepared" / "mnist5k"
    shutil.rmtree(folder)
    first, second = _twice(lambda: prepare_dataset(tiny, "mnist5k"), folder)
    assert first == second and {"data.pt", "meta.json"} <= set(first)


def test_two_splits_pretrains_and_runs_write_the_same_bytes(tiny):
    make_split(tiny, "mnist5k")
    src = tiny["sources"]["digits"]
    make_split(tiny, "mnist5k", src.get("n_per_class"), src["seed"])
    sources = tiny.layout.source_dir("digits")
    first, second = _twice(lambda: pretrain_source(tiny, "digits"), sources)
    assert first == second and {"model.pt", "metrics.json", "history.json"} <= set(first)
    assert (sources / "timing.json").exists()

    params = with_changes(tiny)
    run = Run("animal", "fm_single", 5, 0)
    make_split(params, "animal_mnist")
    split = params.layout.split("animal_mnist", 5, 0)
    make_split(params, "animal_mnist", 5, 0)
    split_bytes = split.read_bytes()
    make_split(params, "animal_mnist", 5, 0)
    assert split.read_bytes() == split_bytes
    out = params.layout.run_dir(run.relpath)
    first, second = _twice(lambda: train_run(params, run), out)
    assert first == second and {"model.pt", "metrics.json", "history.json"} <= set(first)
    assert any(name.startswith("live/") for name in first)  # dvclive's files too (no timestamps)
