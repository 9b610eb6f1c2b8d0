"""Parity rows: is fp32 what runs, and does the device compute the exact L2T-ww iteration the CPU
computes? Plus the exact against the fast hypergradient (docs/gpu.md, "What each row means").

precision probe: a matmul and a convolution on the device with `runtime.precision` fp32 and tf32,
against float64: fp32 must be IEEE float32 (relative error <= 1e-4; TF32's 10-bit mantissa gives
~1e-3), and the switches `set_precision` sets are read back: under fp32 they must say ieee (matmul,
cuDNN convolution) and "highest", under tf32 tf32 and "high" (a CPU's error cannot tell TF32 from
IEEE, the switches can).

parity: one iteration = `L2T.train_step` as training runs it (spec §4): the real SGD step on
CE + L_wfm at the recipe's lr 0.1, the T = 2 look-ahead, the exact hypergradient, Adam on the
meta-nets. Every run starts from the same seeded target and meta-nets, the released source and one
batch, each cast to its dtype, and is compared with the CPU in float64 after the step, per group
(the target's weights; the meta-nets' parameters):

    max relative error = max |a - ref| / max |ref|   (over all of the group's elements)

and for the hypergradient itself (what Adam read) its norm-wise relative error and cosine.
Checked: the device in float64 (the reference's arithmetic, so the kernels must compute the same
iteration: <= 1e-4). Reported: the device in fp32 (TF32 off) and with TF32, and the CPU in float32
beside them: float32 cannot be held to 1e-4 on this iteration, on any device. It amplifies rounding
enormously (the look-ahead's lr-0.1 steps on an L_wfm near 100, through train-mode BatchNorm).
Measured on the CPU at full width, batch 32 (docs/gpu.md): float64 target weights perturbed by 1e-7
move the float64 hypergradient by 30 % (norm); the CPU's float32 differs from float64 by 65 % at
lr 0.1 and by 5 % at lr 0.01; Adam's first step (about lr x sign) then flips some meta-parameter
updates, 2e-4 of the largest meta-parameter. That fp32 is IEEE float32 on the device is what the
precision probe checks.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from l2tww.training.runtime import set_precision, tf32_state

from .setting import TARGET_32, Setting, fresh, placed, sgd, stream, synthetic, train_loader

PARITY_TOL = 1e-4  # the device in float64 against the CPU in float64, after the step
SMALL_LR = 1e-4  # exact vs fast checked here: fast is the leading order in the lr, so they must agree
COSINE_MIN = 0.9  # per group at SMALL_LR; measured in CPU float32: toy >= 0.995, full size >= 0.950 (docs/gpu.md)
PROBE_TOL = 1e-4  # IEEE float32 matmul / convolution against float64 (TF32: ~1e-3)


def batch(setting: Setting, n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """One augmented, normalised float32 batch on the CPU (exact in float64 too)."""
    images, labels = synthetic(100, n, seed)
    return next(stream(train_loader(setting.params, TARGET_32, images, labels, n, torch.device("cpu"))))


def one_step(setting: Setting, mode: str, x, y, device, dtype, precision: str = "fp32", lr=None) -> dict:
    """{"target", "meta", "hyper"}: name -> float64 CPU tensor, after one train_step (at `lr`, else
    the recipe's)."""
    set_precision(precision)
    try:
        model, method = fresh(setting.params, TARGET_32, mode, setting.source32(), 32, setting.sizes.narrow)
        model, method = model.to(device=device, dtype=dtype), method.to(device=device, dtype=dtype)
        source = placed(setting.source32(), device, dtype)
        x, y = x.to(device=device, dtype=dtype), y.to(device)
        with torch.no_grad():
            outs = [source(x)]
        optimizer = sgd(setting.params, TARGET_32, model, method)
        for group in optimizer.param_groups:
            group["lr"] = lr or group["lr"]
        method.train_step(model, x, y, outs, optimizer)
    finally:
        set_precision("fp32")
    meta = dict(method.meta.named_parameters())
    return {
        "target": {n: p.detach().double().cpu() for n, p in model.named_parameters()},
        "meta": {n: p.detach().double().cpu() for n, p in meta.items()},
        "hyper": {n: p.grad.detach().double().cpu() for n, p in meta.items()},
    }


def max_rel(a: dict, ref: dict) -> float:
    diff = max((a[k] - ref[k]).abs().max().item() for k in ref)
    scale = max(ref[k].abs().max().item() for k in ref)
    return diff / scale if scale else diff


def flat(tensors: dict, names=None) -> torch.Tensor:
    return torch.cat([tensors[k].flatten() for k in (names or tensors)])


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    denom = a.norm() * b.norm()
    return (a @ b / denom).item() if denom > 0 else float("nan")


def errors(run: dict, ref: dict) -> dict:
    h, h_ref = flat(run["hyper"]), flat(ref["hyper"])
    return {
        "target_max_rel": max_rel(run["target"], ref["target"]),
        "meta_max_rel": max_rel(run["meta"], ref["meta"]),
        "hyper_norm_rel": ((h - h_ref).norm() / h_ref.norm()).item(),
        "hyper_cosine": cosine(h, h_ref),
    }


def parity(setting: Setting) -> dict:
    """The device in float64 (checked), in fp32 and with TF32, and the CPU in float32, against the
    CPU in float64. On a CPU device the device's runs are the CPU's (the toy form takes the path)."""
    x, y = batch(setting, setting.sizes.parity_batch)
    cpu, device = torch.device("cpu"), setting.device
    ref = one_step(setting, "exact", x, y, cpu, torch.float64)
    runs = {
        "float64": ref if device.type == "cpu" else one_step(setting, "exact", x, y, device, torch.float64),
        "fp32": one_step(setting, "exact", x, y, device, torch.float32),
        "tf32": one_step(setting, "exact", x, y, device, torch.float32, "tf32"),
    }
    runs["cpu_fp32"] = runs["fp32"] if device.type == "cpu" else one_step(setting, "exact", x, y, cpu, torch.float32)
    out = {"batch": len(y), "lr": sgd_lr(setting), **{k: errors(v, ref) for k, v in runs.items()}}
    out.update(checked="float64", tolerance=PARITY_TOL)
    out["ok"] = all(out["float64"][k] <= PARITY_TOL for k in ("target_max_rel", "meta_max_rel", "hyper_norm_rel"))
    return out


def sgd_lr(setting: Setting) -> float:
    return setting.params["recipes"][setting.params["targets"][TARGET_32]["recipe"]]["lr"]


def _rel(a: torch.Tensor, ref: torch.Tensor) -> float:
    return ((a.double().cpu() - ref).norm() / ref.norm()).item()


def precision_probe(setting: Setting) -> dict:
    """Norm-wise relative error of a matmul and a 3x3 convolution (K = 512 and 1152 products per
    output) on the device, per precision, against float64 on the CPU."""
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(512, 512, generator=gen), torch.randn(512, 512, generator=gen)
    x, w = torch.randn(4, 128, 16, 16, generator=gen), torch.randn(128, 128, 3, 3, generator=gen)
    mm_ref, conv_ref = a.double() @ b.double(), F.conv2d(x.double(), w.double(), padding=1)
    device, out = setting.device, {}
    for precision in ("fp32", "tf32"):
        set_precision(precision)
        try:
            out[precision] = {
                "matmul": _rel(a.to(device) @ b.to(device), mm_ref),
                "conv": _rel(F.conv2d(x.to(device), w.to(device), padding=1), conv_ref),
                "switches": tf32_state(),
            }
        finally:
            set_precision("fp32")
    out["tolerance"] = PROBE_TOL
    out["switches_ok"] = switches_read(out["fp32"]["switches"], "fp32") and switches_read(
        out["tf32"]["switches"], "tf32"
    )
    out["ok"] = max(out["fp32"]["matmul"], out["fp32"]["conv"]) <= PROBE_TOL and out["switches_ok"]
    return out


def switches_read(switches: dict, precision: str) -> bool:
    """Whether the switches say what `precision` set: TF32 off (ieee, highest) under fp32, on under tf32."""
    mode, matmul = ("tf32", "high") if precision == "tf32" else ("ieee", "highest")
    return (switches["matmul"], switches["conv"], switches["float32_matmul_precision"]) == (mode, mode, matmul)


def group_of(name: str) -> str:
    """ "what.3.weight" -> "what.weight": one group per kind of meta-parameter, over the pairs."""
    parts = name.split(".")
    return f"{parts[0]}.{parts[-1]}"


def exact_vs_fast(setting: Setting) -> dict:
    """Cosine of the fast (leading-order in the lr) and the exact hypergradient, per group, from the
    same state and batch on the device in fp32: checked at SMALL_LR, where the two must agree
    (cosine >= COSINE_MIN per group), reported at the recipe's lr (where they need not)."""
    x, y = batch(setting, setting.sizes.batch32, seed=2)
    out: dict = {"batch": len(y), "checked_lr": SMALL_LR, "cosine_min": COSINE_MIN}
    finite = True
    for lr in (sgd_lr(setting), SMALL_LR):
        exact, fast = (
            one_step(setting, m, x, y, setting.device, torch.float32, lr=lr)["hyper"] for m in ("exact", "fast")
        )
        groups: dict[str, list[str]] = {}
        for name in exact:
            groups.setdefault(group_of(name), []).append(name)
        cos = {g: cosine(flat(exact, names), flat(fast, names)) for g, names in groups.items()}
        cos["all"] = cosine(flat(exact), flat(fast))
        out[f"cosine_lr_{lr:g}"] = cos
        # A non-finite cosine of a group that has a gradient is a broken path.
        finite &= all(math.isfinite(cos[g]) for g, names in groups.items() if flat(exact, names).abs().max() > 0)
    # At the recipe's lr fast drops terms of higher order in the lr: reported only. At SMALL_LR the
    # two computations of one hypergradient must agree; one that is wrong on the device does not.
    small = out[f"cosine_lr_{SMALL_LR:g}"]
    out["ok"] = finite and all(c >= COSINE_MIN for c in small.values())
    return out
