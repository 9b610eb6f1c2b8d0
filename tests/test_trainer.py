"""The training loop: schedule, best-val selection, resume, determinism, non-finite losses."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from l2tww import config
from l2tww.config import Run
from l2tww.io import load_torch, read_json
from l2tww.stages.split import make_split
from l2tww.stages.train import train_run
from l2tww.training import trainer as train


def test_cosine_schedule_is_stepped_after_each_epoch():
    recipe = {"lr": 0.1, "epochs": 200, "schedule": {"name": "cosine"}}
    assert train.lr_at(0, recipe) == pytest.approx(0.1)
    assert train.lr_at(199, recipe) == pytest.approx(6.2e-6, rel=0.01)
    assert train.lr_at(100, recipe) == pytest.approx(0.05)


def test_step_schedule_drops_at_fractions_of_the_epochs():
    recipe = {"lr": 0.1, "epochs": 8, "schedule": {"name": "step", "milestones": [0.5, 0.75], "gamma": 0.1}}
    assert [round(train.lr_at(e, recipe), 6) for e in range(8)] == [0.1] * 4 + [0.01] * 2 + [0.001] * 2


def _prepare_run(params, run: Run):
    dataset = params["targets"][run.target]["dataset"]
    make_split(params, dataset)
    make_split(params, dataset, run.n_per_class, run.seed)


def _with_epochs(params, epochs):
    raw = copy.deepcopy(params.data)
    raw["recipes"]["target"]["epochs"] = epochs
    return config.from_mapping(raw)


def test_resume_after_interruption_gives_the_uninterrupted_result(tiny, monkeypatch):
    params = _with_epochs(tiny, 3)
    run = Run("animal", "scratch", 5, 0)
    _prepare_run(params, run)
    reference = train_run(params, run)
    run_dir = params["results_root"] + "/runs/" + run.relpath
    reference_model = load_torch(f"{run_dir}/model.pt")
    import shutil

    shutil.rmtree(run_dir)

    real_evaluate = train.evaluate
    calls = {"n": 0}

    def crash_in_second_epoch(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:  # epoch 0: val; epoch 1: val -> crash before its checkpoint
            raise KeyboardInterrupt("simulated kill")
        return real_evaluate(*args, **kwargs)

    monkeypatch.setattr(train, "evaluate", crash_in_second_epoch)
    with pytest.raises(KeyboardInterrupt):
        train_run(params, run)
    assert load_torch(f"{run_dir}/checkpoint.pt")["epoch"] == 1
    monkeypatch.setattr(train, "evaluate", real_evaluate)

    resumed = train_run(params, run)
    assert resumed == reference
    resumed_model = load_torch(f"{run_dir}/model.pt")
    for key, tensor in reference_model["target"].items():
        assert torch.equal(tensor, resumed_model["target"][key]), key
    history = read_json(f"{run_dir}/history.json")
    assert [row["epoch"] for row in history] == [0, 1, 2]


def test_same_seed_same_metrics_other_seed_differs(tiny):
    params = tiny
    a, b = Run("animal", "scratch", 5, 0), Run("animal", "scratch", 5, 1)
    for run in (a, b):
        _prepare_run(params, run)
    first = train_run(params, a)
    import shutil

    shutil.rmtree(params["results_root"] + "/runs/" + a.relpath)
    assert train_run(params, a) == first
    train_run(params, b)
    # The seed drives the init, the split and the batch order, so the training itself must differ
    # (the run ids always do; accuracies on 50 images may tie).
    losses = [
        [row["train_loss"] for row in read_json(f"{params['results_root']}/runs/{run.relpath}/history.json")]
        for run in (a, b)
    ]
    assert len(losses[0]) == len(losses[1]) == 2 and all(x != y for x, y in zip(*losses)), losses


def test_metrics_name_the_epoch_and_carry_their_evidence(tiny):
    run = Run("animal", "scratch", 5, 0)
    _prepare_run(tiny, run)
    metrics = train_run(tiny, run)
    assert metrics["selection"].startswith("test top-1 at the best-val epoch")
    assert 0 <= metrics["best_epoch"] <= metrics["last_epoch"] == 1
    history = read_json(tiny["results_root"] + "/runs/" + run.relpath + "/history.json")
    assert max(row["val_acc"] for row in history) == metrics["val_acc"]
    assert history[metrics["best_epoch"]]["test_acc"] == metrics["test_acc"]
    assert metrics["execution"] == {
        **metrics["execution"],
        "device": "cpu",
        "precision": "fp32",
        "precision_switches": {"matmul": "ieee", "conv": "ieee", "float32_matmul_precision": "highest"},
        "deterministic": False,
    }
    assert {"torch", "python", "device_name"} <= set(metrics["execution"])
    timing = read_json(
        tiny["results_root"] + "/runs/" + run.relpath + "/timing.json"
    )  # this execution's facts, outside metrics.json
    assert (
        {"git_sha", "host", "pid"} <= set(timing["machine"])
        and len(timing["epoch_times_s"]) == 2
        and timing["peak_memory_mb"] > 0
    )
    assert not {"time_per_epoch_s", "peak_memory_mb", "machine"} & set(metrics) and all(
        "time_s" not in row for row in history
    )


def test_non_finite_loss_stops_with_the_epoch_and_keeps_the_last_checkpoint(tiny, monkeypatch):
    params = _with_epochs(tiny, 3)
    run = Run("animal", "scratch", 5, 0)
    _prepare_run(params, run)
    from l2tww.methods.scratch import Scratch

    real_step = Scratch.train_step
    steps = {"n": 0}

    def poisoned(self, *args, **kwargs):
        terms = real_step(self, *args, **kwargs)
        steps["n"] += 1
        if steps["n"] > 2:  # epoch 0 has 2 steps (50 images, batch 32); poison epoch 1
            terms["loss"] = terms["loss"] * math.nan
        return terms

    monkeypatch.setattr(Scratch, "train_step", poisoned)
    with pytest.raises(train.NonFiniteLoss, match="non-finite loss at epoch 1 step 0"):
        train_run(params, run)
    assert load_torch(params["results_root"] + "/runs/" + run.relpath + "/checkpoint.pt")["epoch"] == 1
