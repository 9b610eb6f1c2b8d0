"""Faults a long cluster run meets: kills, partial writes, corrupt files, parallel jobs."""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from l2tww import io
from l2tww.config import Run

from .test_trainer import _prepare_run

pytestmark = pytest.mark.integration


def _params_file(tiny, tmp_path: Path, epochs: int) -> Path:
    raw = copy.deepcopy(tiny.data)
    raw["recipes"]["target"]["epochs"] = epochs
    raw["recipes"]["source"]["epochs"] = epochs
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _cli(params: Path, *args) -> list[str]:
    return [sys.executable, "-m", "l2tww.cli", "--params", str(params), *args]


def _kill_after_epoch(cmd: list[str], checkpoint: Path, epoch: int) -> None:
    """Start `cmd`, SIGKILL it once its checkpoint records `epoch` finished epochs (mid-epoch)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    try:
        while time.time() < deadline:
            if checkpoint.exists():
                try:
                    if io.load_torch(checkpoint)["epoch"] >= epoch:
                        break
                except (ValueError, FileNotFoundError):
                    pass
            if proc.poll() is not None:
                pytest.fail(f"{cmd} finished before it could be killed")
            time.sleep(0.01)
        else:
            pytest.fail("no checkpoint appeared")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.mark.parametrize("stage", ["train", "pretrain"])
def test_sigkill_then_rerun_resumes_to_the_uninterrupted_result(tiny, tmp_path: Path, stage: str):
    from l2tww import config
    from l2tww.stages.split import make_split

    params_path = _params_file(tiny, tmp_path, epochs=30)
    params = config.load(params_path)
    if stage == "train":
        run = Run("animal", "scratch", 5, 0)
        _prepare_run(params, run)
        out = Path(params["results_root"]) / "runs" / run.relpath
        cmd = _cli(params_path, "train", "animal", "scratch", "--n", "5", "--seed", "0")
    else:
        make_split(params, "mnist5k")
        make_split(params, "mnist5k", 30, 0)
        out = Path(params["results_root"]) / "sources" / "digits"
        cmd = _cli(params_path, "pretrain", "digits")

    assert subprocess.run(cmd, capture_output=True).returncode == 0
    reference = io.read_json(out / "metrics.json")
    reference_model = io.load_torch(out / "model.pt")["target"]
    for name in ("metrics.json", "model.pt", "history.json"):
        (out / name).unlink()

    _kill_after_epoch(cmd, out / "checkpoint.pt", epoch=3)
    assert not (out / "metrics.json").exists()
    rerun = subprocess.run(cmd, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert "resuming" in rerun.stdout
    assert io.read_json(out / "metrics.json") == reference
    resumed_model = io.load_torch(out / "model.pt")["target"]
    assert all(torch.equal(reference_model[k], resumed_model[k]) for k in reference_model)
    assert not (out / "checkpoint.pt").exists()  # discarded once the metrics are written


def test_a_write_that_dies_leaves_the_old_file_and_no_temp(tmp_path: Path, monkeypatch):
    target = tmp_path / "metrics.json"
    io.write_json(target, {"v": 1})

    def dying_dump(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(io.json, "dumps", dying_dump)
    with pytest.raises(OSError):
        io.write_json(target, {"v": 2})
    assert io.read_json(target) == {"v": 1}
    assert list(tmp_path.iterdir()) == [target]


def test_truncated_data_and_checkpoints_give_one_clear_line(tiny, tmp_path: Path):
    params_path = _params_file(tiny, tmp_path, epochs=2)
    from l2tww import config

    params = config.load(params_path)
    run = Run("animal", "scratch", 5, 0)
    _prepare_run(params, run)
    data_pt = Path(params["data_root"]) / "prepared" / "animal_mnist" / "data.pt"
    data_pt.write_bytes(data_pt.read_bytes()[:1000])
    result = subprocess.run(
        _cli(params_path, "train", "animal", "scratch", "--n", "5", "--seed", "0"), capture_output=True, text=True
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert f"{data_pt}: prepared dataset is corrupt or truncated" in result.stderr

    meta = data_pt.with_name("meta.json")
    meta.write_text(meta.read_text()[:50])
    result = subprocess.run(_cli(params_path, "split", "animal_mnist"), capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"l2tww: error: {meta}: ") and "is not valid JSON" in result.stderr


def test_corrupt_checkpoint_is_named(tiny, tmp_path: Path):
    params_path = _params_file(tiny, tmp_path, epochs=2)
    from l2tww import config

    params = config.load(params_path)
    run = Run("animal", "scratch", 5, 0)
    _prepare_run(params, run)
    ckpt = Path(params["results_root"]) / "runs" / run.relpath / "checkpoint.pt"
    ckpt.parent.mkdir(parents=True)
    ckpt.write_bytes(b"PK\x03\x04 not a checkpoint")
    result = subprocess.run(
        _cli(params_path, "train", "animal", "scratch", "--n", "5", "--seed", "0"), capture_output=True, text=True
    )
    assert result.returncode == 2 and f"{ckpt}: checkpoint is corrupt or truncated" in result.stderr
