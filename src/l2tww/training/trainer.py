"""The generic training loop (spec §5), shared by source pretraining and every transfer method.

- SGD (momentum, weight decay, no Nesterov) over the target and the method's student parameters.
- The lr of epoch e is set before the epoch from `lr_at(e)`: the schedule is stepped *after* each
  epoch, so epoch 0 runs at the base lr (the official code's off-by-one on PyTorch >= 1.1 avoided).
- An epoch is one pass over the train split, or `steps_per_epoch` batches drawn over as many
  passes as needed (low-data runs: N = 5 per class is one batch per pass, so training is sized in
  steps while val is evaluated once per epoch).
- Each epoch: val top-1 (eval mode, no_grad); the test accuracy reported is the one at the best-val
  epoch (strict >, the earliest epoch wins ties). With `test_every_epoch: false` the best-val
  weights are kept and the test set is evaluated once, on them, after the last epoch: the same
  number with one test pass instead of one per epoch. The same test pass gives the per-class
  accuracy and the confusion matrix (evaluation.class_evidence), and metrics.json records
  the train/val/test image counts.
- A checkpoint after every epoch (atomic); a re-run resumes from it and, batches being seeded per
  (seed, epoch), ends with the same metrics as an uninterrupted run. A checkpoint is resumed only
  by a run with the same `fingerprint` (the run's identity and its input files, from the stages
  layer); any other starts afresh and says so.
- Per-epoch metrics are logged with dvclive under `live/`, rebuilt from the checkpoint's history on
  resume so the log never holds an epoch twice.
- What a fit returns is split in two: `metrics` (and history.json, model.pt) are a function of the
  run's identity on one machine kind, so a rerun writes the same bytes; `timing` (seconds, peak
  memory) differs at every execution and goes to timing.json, which no hash covers.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from ..data.batches import SplitData, draw_batches
from ..io import load_torch, save_torch, write_json
from ..methods import TransferMethod
from ..models import FeatureNet
from .evaluation import evaluate
from .runtime import autocast, peak_memory_mb, reset_peak_memory

SELECTION = "test top-1 at the best-val epoch (strict >, earliest epoch wins ties)"


class NonFiniteLoss(RuntimeError):
    pass


def lr_at(epoch: int, recipe: dict) -> float:
    """Learning rate of epoch `epoch` (0-based). Cosine: lr/2 (1 + cos(pi e / E)) (spec §5)."""
    base, epochs, sched = recipe["lr"], recipe["epochs"], recipe["schedule"]
    if sched["name"] == "cosine":
        return 0.5 * base * (1 + math.cos(math.pi * epoch / epochs))
    if sched["name"] == "step":
        passed = sum(epoch >= round(m * epochs) for m in sched["milestones"])
        return base * sched["gamma"] ** passed
    return base


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """One generator per (seed, epoch) drives shuffling and augmentation: resumable and repeatable."""
    gen = torch.Generator(device="cpu")
    gen.manual_seed(seed * 1_000_003 + epoch)
    return gen


@dataclass(frozen=True)
class FitFiles:
    """Where a fit writes (the stages name them: config/layout.py, fit_files)."""

    checkpoint: Path  # the last epoch's state, for a resume
    model: Path  # the best-val weights
    history: Path  # the per-epoch rows
    live: Path  # dvclive's folder


@dataclass(frozen=True)
class FitConfig:
    """Everything about one fit besides its networks and data."""

    recipe: dict  # epochs, lr, momentum, weight_decay, schedule, steps_per_epoch, test_every_epoch
    files: FitFiles
    seed: int  # seeds the batches and augmentation of every epoch
    device: torch.device
    precision: str = "fp32"  # runtime.precision: "bf16" autocasts the forward passes on CUDA
    record: dict = field(default_factory=dict)  # what the run is, copied into its metrics
    fingerprint: str = ""  # identity + input files: a checkpoint of another fingerprint is not resumed
    progress: bool = False  # a progress bar instead of one line per epoch


@dataclass(frozen=True)
class FitResult:
    metrics: dict  # deterministic: metrics.json
    timing: dict  # this execution's seconds and memory: timing.json


class Trainer:
    def __init__(
        self, target: FeatureNet, method: TransferMethod, sources: list[FeatureNet], data: SplitData, config: FitConfig
    ):
        self.target, self.method, self.sources, self.data, self.config = target, method, sources, data, config
        self.recipe, self.device = config.recipe, config.device
        self.optimizer = torch.optim.SGD(
            list(target.parameters()) + list(method.student_parameters()),
            lr=self.recipe["lr"],
            momentum=self.recipe["momentum"],
            weight_decay=self.recipe["weight_decay"],
            nesterov=False,
        )
        self.ckpt_path = Path(config.files.checkpoint)
        # What the method reads of the frozen sources per val batch, computed at the first val
        # evaluation and reused by every later one (evaluation.evaluate's source_cache).
        self.val_source_cache: list = []

    # -- checkpointing ---------------------------------------------------------------------
    def _state(self, epoch: int, best: dict, history: list, times: list) -> dict:
        return {
            "fingerprint": self.config.fingerprint,
            "epoch": epoch,
            "target": self.target.state_dict(),
            "method": self.method.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "method_extra": self.method.extra_state(),
            "best": best,
            "history": history,
            "epoch_times_s": times,
        }

    def _resume(self) -> tuple[int, dict, list, list]:
        fresh = (0, {"val_acc": -1.0, "epoch": None, "test_acc": None, "state": None}, [], [])
        if not self.ckpt_path.exists():
            return fresh
        ckpt = load_torch(self.ckpt_path, "checkpoint")
        if ckpt.get("fingerprint") != self.config.fingerprint:
            print(
                f"[l2tww] {self.ckpt_path}: made by a run of another identity (params, inputs or code changed); "
                "starting afresh",
                flush=True,
            )
            return fresh
        self.target.load_state_dict(ckpt["target"])
        self.method.load_state_dict(ckpt["method"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.method.load_extra_state(ckpt["method_extra"])
        print(f"[l2tww] resuming {self.ckpt_path} after epoch {ckpt['epoch']}", flush=True)
        return ckpt["epoch"], ckpt["best"], ckpt["history"], ckpt["epoch_times_s"]

    def _live(self, history: list):
        from dvclive import Live

        live = Live(dir=str(self.config.files.live), resume=False, dvcyaml=None, save_dvc_exp=False, report=None)
        for row in history:
            self._log_live(live, row)
        return live

    @staticmethod
    def _log_live(live, row: dict) -> None:
        for key in ("lr", "train_loss", "val_acc", "val_loss"):
            live.log_metric(key, row[key])
        if row.get("test_acc") is not None:
            live.log_metric("test_acc", row["test_acc"])
        live.next_step()

    # -- the loop --------------------------------------------------------------------------
    def fit(self) -> FitResult:
        reset_peak_memory(self.device)
        start_epoch, best, history, times = self._resume()
        epochs = self.recipe["epochs"]
        live = self._live(history)
        needs_sources = self.method.needs_sources
        observe = self.method.observes
        record, precision, progress = self.config.record, self.config.precision, self.config.progress
        bar = tqdm(
            range(start_epoch, epochs),
            desc=record.get("run_id", "train"),
            disable=not progress,
            initial=start_epoch,
            total=epochs,
        )
        for epoch in bar:
            t0 = time.perf_counter()
            lr = lr_at(epoch, self.recipe)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            self.target.train()
            gen = epoch_generator(self.config.seed, epoch)
            loss_sum = torch.zeros((), device=self.device)
            first_bad = torch.full((), -1, device=self.device, dtype=torch.long)
            steps = 0
            for x, y in draw_batches(self.data.train, gen, self.recipe.get("steps_per_epoch")):
                src = []
                if needs_sources:
                    with torch.no_grad(), autocast(self.device, precision):
                        src = [s(x) for s in self.sources]
                with autocast(self.device, precision):
                    terms = self.method.train_step(self.target, x, y, src, self.optimizer)
                loss = terms["loss"].float()
                finite = torch.isfinite(loss)
                first_bad = torch.where((~finite) & (first_bad < 0), torch.full_like(first_bad, steps), first_bad)
                loss_sum += torch.where(finite, loss, torch.zeros_like(loss))
                steps += 1
            if int(first_bad) >= 0:  # one sync per epoch, not per step
                raise NonFiniteLoss(
                    f"{record.get('run_id', 'run')}: non-finite loss at epoch {epoch} step {int(first_bad)}; "
                    f"the last good checkpoint (after epoch {epoch - 1}) is kept at {self.ckpt_path}"
                )
            val = evaluate(
                self.target,
                self.data.val,
                self.method,
                self.sources,
                observe=observe,
                source_cache=self.val_source_cache,
            )
            row = {
                "epoch": epoch,
                "lr": lr,
                "train_loss": loss_sum.item() / max(steps, 1),
                "val_acc": val["acc"],
                "val_loss": val["loss"],
                "test_acc": None,
            }
            improved = val["acc"] > best["val_acc"]
            test = None
            if self.recipe.get("test_every_epoch"):
                test = evaluate(self.target, self.data.test, classes=self.data.num_classes)
                row["test_acc"] = test["acc"]
            if improved:
                best = {
                    "val_acc": val["acc"],
                    "epoch": epoch,
                    "test_acc": row["test_acc"],
                    "test_classes": test and test["classes"],
                    "state": {
                        "target": copy.deepcopy(self.target.state_dict()),
                        "method": copy.deepcopy(self.method.state_dict()),
                    },
                }
            counted = self.method.epoch_statistics()
            if "transfer" in val or counted:
                row["transfer"] = {**val.get("transfer", {}), **counted}
            history.append(row)
            times.append(time.perf_counter() - t0)
            save_torch(self.ckpt_path, self._state(epoch + 1, best, history, times))
            self._log_live(live, row)
            bar.set_postfix(val=f"{val['acc']:.1f}", best=f"{best['val_acc']:.1f}@{best['epoch']}")
            if not progress:
                print(
                    f"[l2tww] epoch {epoch}: lr {lr:.4g} loss {row['train_loss']:.4f} val {val['acc']:.2f} best "
                    f"{best['val_acc']:.2f}@{best['epoch']}",
                    flush=True,
                )
        if best["test_acc"] is None:  # test once, on the best-val weights
            test = self._test_best(best)
            best["test_acc"], best["test_classes"] = test["acc"], test["classes"]
            history[best["epoch"]]["test_acc"] = best["test_acc"]
        live.end()
        return self._finish(best, history, times)

    def _test_best(self, best: dict) -> dict:
        last = copy.deepcopy(self.target.state_dict())
        self.target.load_state_dict(best["state"]["target"])
        result = evaluate(self.target, self.data.test, classes=self.data.num_classes)
        self.target.load_state_dict(last)
        return result

    def discard_checkpoint(self) -> None:
        """Called once the run's metrics are written: model.pt and history.json keep what matters."""
        self.ckpt_path.unlink(missing_ok=True)

    def _finish(self, best: dict, history: list, times: list) -> FitResult:
        last = history[-1]
        metrics = {
            **self.config.record,
            "test_acc": best["test_acc"],
            "val_acc": best["val_acc"],
            "best_epoch": best["epoch"],
            "selection": SELECTION,
            "last_epoch": last["epoch"],
            "last_val_acc": last["val_acc"],
            "epochs": self.recipe["epochs"],
            "student_params": sum(p.numel() for p in self.method.student_parameters()),
            "steps_per_epoch": self.recipe.get("steps_per_epoch"),
            "meta_params": sum(p.numel() for p in getattr(self.method, "meta_parameters", lambda: [])()),
            "images": {"train": len(self.data.train), "val": len(self.data.val), "test": len(self.data.test)},
            **best["test_classes"],  # test_class_acc and test_confusion, at the best-val weights as test_acc
        }
        timing = {
            "time_per_epoch_s": sum(times) / len(times),
            "train_time_s": sum(times),
            "epoch_times_s": times,
            "peak_memory_mb": peak_memory_mb(self.device),
        }
        save_torch(
            self.config.files.model,
            {"target": best["state"]["target"], "method": best["state"]["method"], "best_epoch": best["epoch"]},
        )
        write_json(self.config.files.history, history)
        return FitResult(metrics, timing)
