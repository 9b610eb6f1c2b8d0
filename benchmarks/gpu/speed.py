"""Timed rows: s/iter, peak memory and the loss of training iterations, as the trainer runs them
(sources' no-grad forward + the method's train_step, under the run's autocast).

32 px: scratch, L2T-ww exact and fast x fp32 (TF32 off, the paper's numbers), tf32, bf16 (autocast;
forced on for a CPU device so the toy form takes the same path), channels_last (fp32) and
deterministic (fp32 with `runtime.deterministic`: its x fp32 is the mode's cost). Every row
starts from the same weights and sees the same batches, so its loss is compared with the fp32 row
of its mode: at the first iteration (the same weights: precision alone) and averaged over the row
(the trajectories drift apart). 224 px: cub200's ResNet18 from the ResNet34, batch 64, fp32, on
generated JPEGs through the image-folder loader (its decode and workers are inside s/iter, as in a
run); checked: every batch is (64, 3, 224, 224) and the loss falls.
s/iter: wall clock after the warm-up, CUDA synchronised at both ends. Peak memory: CUDA max
allocated within the row; on a CPU the process's peak resident set since the row started.
"""

from __future__ import annotations

import atexit
import math
import os
import shutil
import tempfile
import time
from pathlib import Path

import torch

from l2tww.training.runtime import autocast, peak_memory_mb, reset_peak_memory, set_deterministic, set_precision

from .setting import (
    TARGET_32,
    TARGET_224,
    Setting,
    folder_loader,
    fresh,
    num_classes,
    placed,
    sgd,
    stream,
    synchronize,
    synthetic,
    train_loader,
    write_jpegs,
)

VARIANTS = ("fp32", "tf32", "bf16", "channels_last", "deterministic")
DETERMINISTIC_CUBLAS = (":4096:8", ":16:8")  # the two settings cuBLAS documents as deterministic
# The 224 px rows' SGD lr: s/iter and memory do not depend on it, and at the recipe's 0.1 (momentum
# 0.9) a fresh ResNet18's loss first rises (measured in the toy form: 5.1 -> 9.4 over 4 batches),
# so only a smaller lr lets "the loss falls" test the loader's images and labels.
LR224 = 0.01


def iterate(
    setting: Setting, params, target, mode, source, size, batch, iters, warmup, variant="fp32", loader=None, lr=None
) -> dict:
    """Train `iters` iterations (the first `warmup` untimed); s/iter, peak MB, the losses and the
    batch shapes that were not (batch, 3, size, size). `loader`: the batches' loader (default: the
    synthetic tensors through the on-device loader)."""
    device = setting.device
    precision = variant if variant in ("tf32", "bf16") else "fp32"
    channels_last = variant == "channels_last"
    set_precision(precision)
    workspace = os.environ.get("CUBLAS_WORKSPACE_CONFIG")
    set_deterministic(variant == "deterministic")
    try:
        narrow = setting.sizes.narrow if size == 32 else 1
        model, method = fresh(params, target, mode, source, size, narrow)
        model, method = model.to(device), method.to(device)
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
        sources = [placed(source, device)] if method.needs_sources else []
        if loader is None:
            images, labels = synthetic(
                num_classes(params, target), batch * setting.sizes.distinct_batches, seed=0, size=size
            )
            loader = train_loader(params, target, images, labels, batch, device, channels_last)
        batches = stream(loader)
        optimizer = sgd(params, target, model, method)
        for group in optimizer.param_groups:
            group["lr"] = lr or group["lr"]
        synchronize(device)
        reset_peak_memory(device)
        losses, shapes, start = [], [], time.perf_counter()
        for i in range(warmup + iters):
            if i == warmup:
                synchronize(device)
                start = time.perf_counter()
            x, y = next(batches)
            if tuple(x.shape) != (batch, 3, size, size):
                shapes.append(list(x.shape))
            with torch.no_grad(), autocast(device, precision, cpu=True):
                outs = [s(x) for s in sources]
            with autocast(device, precision, cpu=True):
                terms = method.train_step(model, x, y, outs, optimizer)
            losses.append(terms["loss"].detach().float())  # no sync per step: stacked at the end
        synchronize(device)
        seconds = (time.perf_counter() - start) / iters
    finally:
        set_precision("fp32")
        set_deterministic(False)  # the presets' default, as every other row runs
        if workspace is None:  # set_deterministic's cuBLAS setting leaves with the row
            os.environ.pop("CUBLAS_WORKSPACE_CONFIG", None)
    return {
        "s_per_iter": seconds,
        "peak_mb": peak_memory_mb(device),
        "losses": torch.stack(losses).cpu().tolist(),
        "wrong_shapes": shapes,
    }


def falls(losses: list[float]) -> tuple[float, float, bool]:
    """Mean loss of the first and the last quarter, and whether it is finite and fell."""
    q = max(1, len(losses) // 4)
    first, last = sum(losses[:q]) / q, sum(losses[-q:]) / q
    return first, last, all(math.isfinite(v) for v in losses) and last < first


def row32(setting: Setting, mode: str, variant: str, done: dict) -> dict:
    """One 32 px row; `done` holds the finished rows by (mode, variant) for the comparisons."""
    sizes = setting.sizes
    source = None if mode == "scratch" else setting.source32()  # scratch runs without the released file
    out = iterate(
        setting, setting.params, TARGET_32, mode, source, 32, sizes.batch32, sizes.iters32,
        sizes.warmup, variant,
    )  # fmt: skip
    losses = out.pop("losses")
    first, last, fell = falls(losses)
    out.update(loss_first=first, loss_last=last)
    scratch = done.get(("scratch", variant))
    out["x_scratch"] = out["s_per_iter"] / scratch["s_per_iter"] if scratch else None
    ref = done.get((mode, "fp32"))
    if ref is not None and variant != "fp32":
        out["x_fp32"] = out["s_per_iter"] / ref["s_per_iter"]  # the variant's speed-up (< 1) or cost
        out["dloss_first"] = abs(losses[0] - ref["losses"][0])
        out["dloss_mean"] = sum(abs(a - b) for a, b in zip(losses, ref["losses"])) / len(losses)
    out["ok"] = fell and not out["wrong_shapes"]  # training on learnable data: the loss falls
    if variant == "deterministic":  # cuBLAS is repeatable only with its workspace set before CUDA starts
        out["cublas_at_cuda_start"] = setting.cublas_at_cuda_start
        out["ok"] &= setting.cublas_at_cuda_start in DETERMINISTIC_CUBLAS
    done[(mode, variant)] = {**out, "losses": losses}
    return out


def row224(setting: Setting, mode: str, done: dict) -> dict:
    """One 224 px row on generated JPEGs through the image-folder loader (written once per script)."""
    sizes = setting.sizes
    source, _ = setting.source224()
    if "jpegs" not in done:
        folder = Path(tempfile.mkdtemp(prefix="l2tww-gpu-jpegs-"))
        atexit.register(shutil.rmtree, folder, True)
        done["jpegs"] = write_jpegs(folder, sizes.batch224 * sizes.distinct_batches, sizes.jpeg224)
    loader = folder_loader(
        setting.params224, TARGET_224, done["jpegs"], sizes.batch224, sizes.size224, setting.device, sizes.workers224
    )
    out = iterate(
        setting, setting.params224, TARGET_224, mode, source, sizes.size224, sizes.batch224, sizes.iters224,
        sizes.warmup224, loader=loader, lr=LR224,
    )  # fmt: skip
    losses = out.pop("losses")
    first, last, fell = falls(losses)
    out.update(loss_first=first, loss_last=last, loader=f"image folder, {len(done['jpegs'])} JPEGs")
    scratch = done.get(("scratch", "224"))
    out["x_scratch"] = out["s_per_iter"] / scratch["s_per_iter"] if scratch else None
    out["ok"] = fell and not out["wrong_shapes"]
    done[(mode, "224")] = out
    return out
