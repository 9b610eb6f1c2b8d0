"""Artifacts cannot run code (issue 32): a pickle whose `__reduce__` would run a command, planted at
each path the pipeline loads, is refused in one line by the step that loads it, and the command
never runs. A full unpickle (weights_only=False) anywhere on these paths would create the canary."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from l2tww import config, io
from l2tww.config import Run
from l2tww.models.cifar_resnet import CifarResNet
from l2tww.models.tv_resnet import TorchvisionResNet
from l2tww.training.weights import load_weights

from .test_trainer import _prepare_run


class _Plant:
    """Unpickling this calls os.system(f"touch {canary}")."""

    def __init__(self, canary: Path):
        self.canary = canary

    def __reduce__(self):
        return (os.system, (f"touch {self.canary}",))


def _plant(path: Path, canary: Path, wrap: bool = True) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = _Plant(canary)
    # shaped like the file it replaces, so only the safe loader stands between it and the command
    torch.save({"state_dict": payload, "target": payload} if wrap else payload, path)


def _refused_in_one_line(text: str, path: Path) -> None:
    lines = [line for line in text.strip().splitlines() if line.startswith("l2tww: error:") or str(path) in line]
    assert len(lines) == 1, text
    assert str(path) in lines[0] and "refused unread (nothing in it ran" in lines[0], text


def test_the_planted_pickle_runs_its_command_under_a_full_unpickle(tmp_path: Path):
    """The control: the payload is live, so the tests below would see the canary if a loader ran it."""
    canary = tmp_path / "canary"
    _plant(tmp_path / "evil.pt", canary)
    torch.load(tmp_path / "evil.pt", weights_only=False)
    assert canary.exists()


@pytest.fixture
def params_file(tiny, tmp_path: Path) -> Path:
    raw = copy.deepcopy(tiny.data)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _train(params_file: Path, method: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "l2tww.cli", "--params", str(params_file), "train", "animal", method]
    return subprocess.run([*cmd, "--n", "5", "--seed", "0"], capture_output=True, text=True)


@pytest.mark.integration
@pytest.mark.parametrize("where", ["prepared data", "checkpoint", "source model"])
def test_training_refuses_a_planted_pickle(params_file: Path, tmp_path: Path, where: str):
    params = config.load(params_file)
    run = Run("animal", "fm_single" if where == "source model" else "scratch", 5, 0)
    _prepare_run(params, run)
    results = Path(params["results_root"])
    path = {
        "prepared data": Path(params["data_root"]) / "prepared" / "animal_mnist" / "data.pt",
        "checkpoint": results / "runs" / run.relpath / "checkpoint.pt",
        "source model": results / "sources" / "digits" / "model.pt",
    }[where]
    canary = tmp_path / "canary"
    _plant(path, canary)
    result = _train(params_file, run.method)
    assert result.returncode == 2, result.stderr
    _refused_in_one_line(result.stderr, path)
    assert not canary.exists()


@pytest.mark.integration
def test_the_report_refuses_a_planted_run_model(tiny, tmp_path: Path):
    from l2tww.report.saliency import load_trained
    from l2tww.stages.inputs import run_inputs
    from l2tww.stages.train import train_run

    run = Run("animal", "scratch", 5, 0)
    _prepare_run(tiny, run)
    metrics = train_run(tiny, run)
    run_dir = Path(tiny["results_root"]) / "runs" / run.relpath
    assert io.load_torch(run_dir / "model.pt")["target"]  # what l2tww writes loads safely
    canary = tmp_path / "canary"
    _plant(run_dir / "model.pt", canary)
    with pytest.raises(ValueError) as err:
        load_trained({**metrics, "dir": str(run_dir), "inputs": run_inputs(tiny, run)})
    _refused_in_one_line(str(err.value), run_dir / "model.pt")
    assert not canary.exists()


@pytest.mark.parametrize(
    "fmt, model",
    [
        ("state_dict", lambda: CifarResNet(8, 10)),
        ("official_checkpoint", lambda: CifarResNet(8, 10)),  # configured without a sha256
        ("torchvision", lambda: TorchvisionResNet(18, 1000)),
    ],
)
def test_foreign_weight_files_are_read_without_running_them(tmp_path: Path, fmt: str, model):
    path, canary = tmp_path / "weights.pth", tmp_path / "canary"
    _plant(path, canary)
    with pytest.raises(ValueError) as err:
        load_weights(model(), {"format": fmt, "path": str(path)}, tmp_path / "cache")
    _refused_in_one_line(str(err.value), path)
    assert not canary.exists()


def test_data_releases_are_unpickled_with_an_allowlist(tmp_path: Path):
    import pickle

    import numpy as np

    canary = tmp_path / "canary"
    with pytest.raises(ValueError, match="posix.system is not allowed") as err:
        io.safe_unpickle(pickle.dumps({"data": _Plant(canary)}), "cifar-10-batches-py/data_batch_1")
    assert str(err.value).count("\n") == 0 and not canary.exists()
    batch = {"data": np.arange(6, dtype=np.uint8).reshape(2, 3), "labels": [0, 1]}
    for protocol in (2, pickle.HIGHEST_PROTOCOL):  # CIFAR's release is a protocol-2 pickle
        back = io.safe_unpickle(pickle.dumps(batch, protocol=protocol), "x")
        assert np.array_equal(back["data"], batch["data"]) and back["labels"] == [0, 1]
