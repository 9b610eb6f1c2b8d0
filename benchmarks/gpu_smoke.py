"""GPU smoke run of the paper's 32 px setting (issue 14): does the CUDA path work, what does it cost?

    python benchmarks/gpu_smoke.py                          # CUDA: 300 iterations per row, batch 128
    python benchmarks/gpu_smoke.py --device cpu --ci        # CI-sized (seconds): the same table

Setting: the preset's target (default workflow/presets/paper.yaml's cifar100: VGG9-BN, its
recipe's batch and SGD) and its source, the TinyImageNet ResNet32: the authors' released file at
the preset's path (sha256-checked; --source-weights for another place), else a random-init
ResNet32, said in the output (s/iter and memory do not depend on the weights; the losses do).
Data: --batches synthetic batches (a smooth pattern per class + noise, uint8), on the device,
through the project's tensor loader (on-device zero-pad crop, flip, normalisation), cycled.

Rows: scratch, L2T-ww exact and fast (the preset's l2tww: all-to-all pairs, T = 2, a meta-step on
every batch), each with bf16 autocast off and on (the trainer's autocast; on the CPU it is forced
on, so the CPU form takes the same code path):
- s/iter: wall clock after --warmup iterations, CUDA synchronised at both ends; x scratch (same bf16);
- peak MB: CUDA max allocated within the row (reset per row); on the CPU the process's max RSS so
  far (a process-wide maximum that cannot be reset: it only grows down the table);
- CE first -> last: mean train CE over the first and the last quarter of the row's iterations;
  the check "loss decreases" is last < first (and finite).
Resume: the project's Trainer (checkpoint per epoch, dvclive) trains L2T-ww exact for 2 epochs on
the same synthetic data; a second run is interrupted after epoch 0's checkpoint and resumed. The
resumed run must train only the missing epoch and end at the uninterrupted run's weights:
bit-exact on the CPU; within --resume-atol on CUDA, whose kernels are not bit-deterministic.
--channels-last puts the target and the batches in channels_last (the runtime switch).
Exit status 1 when a check fails; --json writes the rows and checks for the record.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
if str(REPO / "src") not in sys.path:
    sys.path.insert(0, str(REPO / "src"))

from l2tww import config  # noqa: E402
from l2tww.catalog import BUILDERS  # noqa: E402
from l2tww.data.batches import SplitData  # noqa: E402
from l2tww.data.loader import TensorLoader  # noqa: E402
from l2tww.methods import MethodSpec, build_method  # noqa: E402
from l2tww.models import (  # noqa: E402
    VGG9,
    build_model,
    net_shapes,  # noqa: E402
)
from l2tww.training.runtime import autocast, peak_memory_mb, reset_peak_memory, seed_everything, select_device  # noqa: E402
from l2tww.training.sources import freeze  # noqa: E402
from l2tww.training.trainer import FitConfig, Trainer, epoch_generator  # noqa: E402

MODES = ("scratch", "exact", "fast")
# --ci: seconds on a CPU. The target's widths / 8 (the source stays the released ResNet32): the
# code path is the same, the costs are not the paper's.
# One CPU thread: on a shared CI machine two threads wait on each other (measured here: 5x slower).
CI = {"iters": 3, "warmup": 1, "batches": 1, "batch_size": 4, "narrow": 8, "threads": 1}
GPU = {"iters": 300, "warmup": 10, "batches": 4, "narrow": 1}  # batch size: the recipe's (128)


class Interrupted(Exception):
    """Raised in the interrupted run's second epoch, after epoch 0's checkpoint is written."""


# -- setting ------------------------------------------------------------------------------------
def load_sources(
    params: config.Params, target: str, device: torch.device, override: str | None, calibration: list[torch.Tensor]
) -> tuple[list, list[str]]:
    """The target's sources: released weights where configured and present, else random init
    with BatchNorm statistics from the `calibration` batches."""
    from l2tww.training.weights import load_weights

    sources, notes = [], []
    for name in params["targets"][target]["sources"]:
        cfg = params["sources"][name]
        classes = BUILDERS[params["datasets"][cfg["dataset"]]["builder"]].num_classes
        model = build_model(cfg["arch"], classes, 3)
        weights = dict(cfg.get("weights", {}))
        if override:
            weights.update(format=weights.get("format", "official_checkpoint"), path=override)
        path = _resolve(weights.get("path"))
        if weights and path is not None and path.is_file():
            info = load_weights(model, {**weights, "path": str(path)}, Path(tempfile.gettempdir()))
            notes.append(
                f"source {name}: released weights {path} (epoch {info.get('epoch')}, val {info.get('best_val')}, test "
                f"{info.get('test')})"
            )
        else:
            where = (
                f"{weights['path']} not found" if weights.get("path") else "pretrained by the workflow, not loaded here"
            )
            notes.append(
                f"source {name}: random-init {cfg['arch']['name']}, BatchNorm statistics of the synthetic data "
                f"({where}): "
                "s/iter and memory hold, the losses are not the real ones"
            )
            model = calibrate(model.to(device), calibration)
        sources.append(freeze(model.to(device)))
    return sources, notes


@torch.no_grad()
def calibrate(model, batches: list[torch.Tensor]):
    """BatchNorm running statistics from `batches` (cumulative average): without them a fresh
    ResNet32's eval-mode features grow block by block and the matching losses explode."""
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None
    model.train()
    for x in batches:
        model(x)
    return model


def _resolve(path: str | None) -> Path | None:
    if not path:
        return None
    p = Path(path)
    return p if p.is_absolute() or p.exists() else REPO / p


def synthetic(classes: int, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, 3, 32, 32) uint8 images and (n,) labels: a smooth random pattern per class + noise,
    learnable in a few steps and robust to the 4 px crops."""
    gen = torch.Generator().manual_seed(seed)
    patterns = F.interpolate(
        torch.rand(classes, 3, 4, 4, generator=gen), size=(32, 32), mode="bilinear", align_corners=False
    )
    labels = torch.randperm(n, generator=gen) % classes
    noisy = patterns[labels] * 200 + 28 + torch.randn(n, 3, 32, 32, generator=gen) * 20
    return noisy.clamp(0, 255).to(torch.uint8), labels


def loader(
    images, labels, batch: int, ds: dict, device: torch.device, train: bool, channels_last: bool
) -> TensorLoader:
    mean = torch.tensor(ds["normalize"]["mean"], device=device).view(1, -1, 1, 1)
    std = torch.tensor(ds["normalize"]["std"], device=device).view(1, -1, 1, 1)
    aug = ds.get("augment", {})
    return TensorLoader(
        images.to(device),
        labels.to(device),
        batch,
        mean,
        std,
        train=train,
        crop_padding=aug.get("crop_padding", 0),
        hflip=aug.get("hflip", False),
        channels_last=channels_last,
    )


def method_spec(params: config.Params, target: str, mode: str) -> MethodSpec:
    if mode == "scratch":
        return MethodSpec("scratch", "scratch")
    spec = params.method_spec(target, "l2tww")
    return MethodSpec(spec.name, spec.kind, spec.pairs, {**spec.hparams, "hypergradient": mode, "meta_every": 1})


def narrowed(arch: dict, divisor: int) -> dict:
    """The target architecture with its conv widths divided by `divisor` (the CI form's 8)."""
    if divisor == 1:
        return arch
    if arch["name"] != "vgg_bn":
        raise ValueError(f"--narrow applies to a vgg_bn target, not {arch['name']}")
    return {**arch, "cfg": [c if c == "M" else max(1, c // divisor) for c in arch.get("cfg", VGG9)]}


def fresh(params, target: str, mode: str, sources, device, channels_last: bool, narrow: int = 1):
    """A seeded target and method, as `l2tww train` builds them."""
    tcfg = params["targets"][target]
    classes = BUILDERS[params["datasets"][tcfg["dataset"]]["builder"]].num_classes
    seed_everything(0)
    model = build_model(narrowed(tcfg["arch"], narrow), classes, 3).to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    spec = method_spec(params, target, mode)
    method = build_method(spec, net_shapes(model, sources if spec.kind != "scratch" else [], (3, 32, 32))).to(device)
    return model, method


# -- the timed rows --------------------------------------------------------------------------------
def timed_row(params, target, mode, bf16, sources, train: TensorLoader, device, args) -> dict:
    recipe = params["recipes"][params["targets"][target]["recipe"]]
    model, method = fresh(params, target, mode, sources, device, args.channels_last, args.narrow)
    opt = torch.optim.SGD(
        list(model.parameters()) + list(method.student_parameters()),
        lr=recipe["lr"],
        momentum=recipe["momentum"],
        weight_decay=recipe["weight_decay"],
        nesterov=False,
    )
    srcs = sources if method.needs_sources else []

    def batches():
        epoch = 0
        while True:
            yield from train.epoch(epoch_generator(0, epoch))
            epoch += 1

    stream = batches()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    reset_peak_memory(device)
    ces, start = [], None
    for i in range(args.iters):
        if i == args.warmup:
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start = time.perf_counter()
        x, y = next(stream)
        with torch.no_grad(), autocast(device, "bf16" if bf16 else "fp32", cpu=True):
            outs = [s(x) for s in srcs]
        with autocast(device, "bf16" if bf16 else "fp32", cpu=True):
            terms = method.train_step(model, x, y, outs, opt)
        ces.append(terms["ce"].detach().float())  # no sync per step: stacked at the end
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    per_iter = (time.perf_counter() - start) / (args.iters - args.warmup)
    ce = torch.stack(ces).cpu()
    q = max(1, args.iters // 4)
    first, last = ce[:q].mean().item(), ce[-q:].mean().item()
    return {
        "mode": mode,
        "bf16": bf16,
        "s_per_iter": per_iter,
        "peak_mb": peak_memory_mb(device),
        "ce_first": first,
        "ce_last": last,
        "loss_decreases": bool(torch.isfinite(ce).all()) and last < first,
    }


# -- resume ----------------------------------------------------------------------------------------
def resume_check(params, target, sources, data: SplitData, device, args, folder: Path) -> dict:
    tcfg = params["targets"][target]
    recipe = {**params["recipes"][tcfg["recipe"]], "epochs": 2, "batch_size": data.train.batch_size}

    def trainer(name: str) -> Trainer:
        model, method = fresh(params, target, "exact", sources, device, args.channels_last, args.narrow)
        return Trainer(
            model,
            method,
            sources,
            data,
            FitConfig(recipe, folder / name, 0, device, "fp32", {"run_id": f"smoke-{name}"}),
        )

    reference = trainer("uninterrupted")
    ref_metrics = reference.fit().metrics
    real_epoch = data.train.epoch
    calls = {"n": 0}

    def counted(generator=None, interrupt_at=None):
        calls["n"] += 1
        if calls["n"] == interrupt_at:
            raise Interrupted
        return real_epoch(generator)

    try:
        data.train.epoch = lambda generator=None: counted(generator, interrupt_at=2)
        try:
            trainer("resumed").fit()
            raise AssertionError("the interrupted run was not interrupted")
        except Interrupted:
            pass
        calls["n"] = 0
        data.train.epoch = lambda generator=None: counted(generator)
        resumed = trainer("resumed")
        metrics = resumed.fit().metrics
    finally:
        del data.train.epoch  # back to the class's method
    pairs = [
        (a, b)
        for m_ref, m_res in ((reference.target, resumed.target), (reference.method, resumed.method))
        for a, b in zip(m_ref.state_dict().values(), m_res.state_dict().values())
    ]
    diff = max(
        ((a.double() - b.double()).abs().max().item() for a, b in pairs if a.is_floating_point() and a.numel()),
        default=0.0,
    )
    atol = 0.0 if device.type == "cpu" else args.resume_atol
    # On the CPU the resumed run must also select the same epoch with the same val accuracy.
    same_selection = device.type != "cpu" or (metrics["best_epoch"], metrics["val_acc"]) == (
        ref_metrics["best_epoch"],
        ref_metrics["val_acc"],
    )
    ok = calls["n"] == 1 and diff <= atol and same_selection and math.isfinite(metrics["test_acc"])
    return {"epochs_after_resume": calls["n"], "max_abs_diff": diff, "atol": atol, "ok": ok}


# -- main --------------------------------------------------------------------------------------------
def run(args) -> dict:
    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        return _run(args, select_device(args.device))
    finally:
        torch.set_num_threads(threads)  # a caller's (e.g. pytest's) setting outlives the smoke run


def _run(args, device: torch.device) -> dict:
    params = config.load(args.params)
    tcfg = params["targets"][args.target]
    ds = params["datasets"][tcfg["dataset"]]
    classes = BUILDERS[ds["builder"]].num_classes
    images, labels = synthetic(classes, args.batches * args.batch_size, seed=0)
    train = loader(images, labels, args.batch_size, ds, device, True, args.channels_last)
    sources, notes = load_sources(
        params, args.target, device, args.source_weights, [x for x, _ in train.epoch(epoch_generator(0, 0))]
    )
    rows = []
    for bf16 in (False, True):
        for mode in MODES:
            try:
                rows.append(timed_row(params, args.target, mode, bf16, sources, train, device, args))
            except Exception as exc:  # a smoke run reports every broken row, not just the first
                rows.append({"mode": mode, "bf16": bf16, "error": one_line(exc)})
    val_x, val_y = synthetic(classes, args.batch_size, seed=1)
    data = SplitData(
        train,
        *(loader(val_x, val_y, args.batch_size, ds, device, False, args.channels_last) for _ in range(2)),
        classes,
        (3, 32, 32),
    )
    with tempfile.TemporaryDirectory(prefix="l2tww-smoke-") as tmp:
        try:
            resume = resume_check(params, args.target, sources, data, device, args, Path(tmp))
        except Exception as exc:
            resume = {"ok": False, "error": one_line(exc)}
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else (platform.processor() or platform.machine())
    return {
        "date": time.strftime("%Y-%m-%d"),
        "device": str(device),
        "device_name": name,
        "torch": torch.__version__,
        "cuda": torch.version.cuda if device.type == "cuda" else None,
        "threads": torch.get_num_threads(),
        "params": str(args.params),
        "target": args.target,
        "batch_size": args.batch_size,
        "batches": args.batches,
        "iters": args.iters,
        "warmup": args.warmup,
        "narrow": args.narrow,
        "channels_last": args.channels_last,
        "notes": notes,
        "rows": rows,
        "resume": resume,
        "ok": all(r.get("loss_decreases") for r in rows) and resume["ok"],
    }


def one_line(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"[:160]


def table(result: dict) -> str:
    scratch = {r["bf16"]: r["s_per_iter"] for r in result["rows"] if r["mode"] == "scratch" and "error" not in r}
    memory = "CUDA max allocated" if result["device"].startswith("cuda") else "process max RSS so far"
    lines = [
        f"{result['date']}  {result['device']} ({result['device_name']}), torch {result['torch']}"
        + (f", CUDA {result['cuda']}" if result["cuda"] else "")
        + f", {result['threads']} threads",
        f"{result['params']} target {result['target']}: batch {result['batch_size']} x {result['batches']} synthetic "
        "batches, "
        f"{result['iters']} iterations per row ({result['warmup']} warm-up), channels_last "
        f"{'on' if result['channels_last'] else 'off'}"
        + (f", target widths / {result['narrow']} (CI form: not the paper's costs)" if result["narrow"] != 1 else ""),
        *result["notes"],
        f"{'mode':<8} {'bf16':<5} {'s/iter':>9} {'x scratch':>10} {'peak MB':>9}   {'CE first -> last':<17} loss "
        "decreases",
    ]
    for r in result["rows"]:
        if "error" in r:
            lines.append(f"{r['mode']:<8} {'on' if r['bf16'] else 'off':<5} FAILED: {r['error']}")
            continue
        ratio = f"{r['s_per_iter'] / scratch[r['bf16']]:>10.1f}" if r["bf16"] in scratch else f"{'-':>10}"
        lines.append(
            f"{r['mode']:<8} {'on' if r['bf16'] else 'off':<5} {r['s_per_iter']:>9.4f} {ratio} "
            f"{r['peak_mb']:>9.0f}   {r['ce_first']:>6.3f} -> {r['ce_last']:<6.3f}  "
            f"{'ok' if r['loss_decreases'] else 'FAILED'}"
        )
    res = result["resume"]
    resume = (
        f"FAILED: {res['error']}"
        if "error" in res
        else f"{'ok' if res['ok'] else 'FAILED'}; {res['epochs_after_resume']} epoch(s) trained after resuming (1 "
        "expected); "
        f"final weights max |diff| vs uninterrupted {res['max_abs_diff']:.3g} (allowed {res['atol']:g})"
    )
    lines += [
        f"peak MB: {memory}",
        f"resume (L2T-ww exact, 2 epochs, interrupted after epoch 0): {resume}",
        "checks: " + ("all passed" if result["ok"] else "FAILED"),
    ]
    return "\n".join(lines)


def parse(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default=str(REPO / "workflow" / "presets" / "paper.yaml"))
    ap.add_argument("--target", default="cifar100", help="a 32 px target of the preset (default cifar100)")
    ap.add_argument("--device", default="cuda", help="cuda, cuda:N, auto or cpu (default cuda)")
    ap.add_argument("--ci", action="store_true", help=f"CI-sized: {CI} unless given")
    ap.add_argument("--iters", type=int, help=f"iterations per row (default {GPU['iters']})")
    ap.add_argument("--warmup", type=int, help=f"untimed first iterations per row (default {GPU['warmup']})")
    ap.add_argument("--batches", type=int, help=f"distinct synthetic batches, cycled (default {GPU['batches']})")
    ap.add_argument("--batch-size", type=int, help="default: the target recipe's")
    ap.add_argument("--narrow", type=int, help="divide the target's conv widths by this (default 1; --ci: 8)")
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--threads", type=int, help="torch CPU threads (default: the preset's runtime.threads; --ci: 1)")
    ap.add_argument("--source-weights", help="the released source file, if not at the preset's path")
    ap.add_argument(
        "--resume-atol",
        type=float,
        default=1e-4,
        help="CUDA only: allowed max |diff| of resumed vs uninterrupted weights",
    )
    ap.add_argument("--json", type=Path, help="also write the result here")
    args = ap.parse_args(argv)
    sizes = {**GPU, **(CI if args.ci else {})}
    for key, value in sizes.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    params = config.load(args.params)
    if args.target not in params["targets"]:
        ap.error(f"--target {args.target}: not a target of {args.params}; expected one of {sorted(params['targets'])}")
    size = params["datasets"][params["targets"][args.target]["dataset"]]["image_size"]
    if size != 32:
        ap.error(f"--target {args.target}: a 32 px target is needed, its dataset is {size} px")
    if args.batch_size is None:
        args.batch_size = params["recipes"][params["targets"][args.target]["recipe"]]["batch_size"]
    if args.threads is None:
        args.threads = params["runtime"]["threads"]
    if not 0 < args.warmup < args.iters:
        ap.error(f"--warmup {args.warmup} must be at least 1 and below --iters {args.iters}")
    return args


def main(argv=None) -> int:
    args = parse(argv)
    result = run(args)
    print(table(result), flush=True)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
