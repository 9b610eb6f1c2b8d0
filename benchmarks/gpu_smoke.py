"""The GPU acceptance script (issue 21): is the CUDA path right, and what does it cost? docs/gpu.md.

    python benchmarks/gpu_smoke.py --json benchmarks/results/gpu-<date>.json   # one GPU, <= 8 min
    python benchmarks/gpu_smoke.py --device cpu --ci                           # toy form, CPU, CI

Rows, in order (the cap stops the script and the table names what it did not reach):
  precision probe     fp32 is IEEE float32 on the device (a matmul and a convolution vs float64),
                      and torch's switches read back say so (ieee) and say tf32 under tf32
  parity              one exact L2T-ww iteration (32 px, VGG9-BN from the released ResNet32, 15
                      pairs, one batch, the same weights) on the device in float64 (checked), fp32
                      and TF32, and on the CPU in float32, against the CPU in float64
  exact vs fast       the two hypergradients from the same state: cosine per meta-parameter group,
                      checked >= 0.9 at lr 1e-4 (where they must agree), reported at the recipe's lr
  end to end          `l2tww train` with `runtime.device: auto` on a tiny params file; its
                      metrics.json names the device, precision and deterministic flag
  resume ...          2 epochs, killed after epoch 0 and resumed, against an uninterrupted run:
                      bit-equal with `deterministic: true`; the difference reported without
  32px MODE VARIANT   scratch, L2T-ww exact, fast x fp32, tf32, bf16, channels_last: s/iter, x
                      scratch, peak memory, the loss against fp32 on the same batches
  224px MODE          cub200's ResNet18 from the ResNet34, 16 pairs, batch 64, fp32, on generated
                      JPEGs through the image-folder loader: batch shapes and a falling loss checked
Rows needing the released ResNet32 refuse to run without it (one line: the file, how to get it).
The toy form (--ci) runs every row at toy size on one CPU thread; its numbers say nothing about a GPU.
Exit status 0 when every row ran and passed its checks.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

# cuBLAS reads its workspace setting when CUDA starts, so the deterministic rows' setting must be in
# place before anything touches CUDA (select_device does): set here, before torch is imported.
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

import torch

REPO = Path(__file__).resolve().parents[1]
for path in (REPO / "src", REPO / "benchmarks"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from gpu import endtoend, parity, speed  # noqa: E402
from gpu.budget import PASSING, Budget  # noqa: E402
from gpu.setting import MODES, TOY, Setting, Sizes, default_source_weights  # noqa: E402
from gpu.table import render  # noqa: E402

from l2tww import config  # noqa: E402
from l2tww.training.runtime import check_device, select_device, set_deterministic, set_precision  # noqa: E402

CAP_S = 480  # 8 minutes on one GPU


TOY_NONDETERMINISTIC = (
    "toy form on a CPU: its kernels are deterministic either way, so this row would repeat the one above "
    "with a flag that changes nothing (3 more processes); it runs on a GPU"
)


def rows(setting: Setting, tiny: endtoend.Tiny, toy: bool) -> list[tuple[str, Callable[[], dict]]]:
    """(name, row) in the order they run: correctness first, then cost."""
    done: dict = {}
    cpu_toy = toy and setting.device.type == "cpu"
    out = [
        ("precision probe", lambda: parity.precision_probe(setting)),
        ("parity", lambda: parity.parity(setting)),
        ("exact vs fast", lambda: parity.exact_vs_fast(setting)),
        ("end to end", lambda: endtoend.end_to_end(tiny)),
        ("resume deterministic", lambda: endtoend.resume(tiny, True)),
        (
            "resume not deterministic",
            lambda: {"skipped": TOY_NONDETERMINISTIC} if cpu_toy else endtoend.resume(tiny, False),
        ),
    ]
    for variant in speed.VARIANTS:  # fp32 first: the other variants compare with it
        for mode in MODES:  # scratch first: the ratios divide by it
            out.append((f"32px {mode} {variant}", lambda m=mode, v=variant: speed.row32(setting, m, v, done)))
    for mode in MODES:
        out.append((f"224px {mode}", lambda m=mode: _with_source(speed.row224(setting, m, done), setting)))
    return out


def _with_source(row: dict, setting: Setting) -> dict:
    return {**row, "source": setting.source224()[1]}


def run(args) -> dict:
    threads = torch.get_num_threads()
    if args.threads:
        torch.set_num_threads(args.threads)
    set_deterministic(False)  # as a training job with the presets' runtime (cuDNN autotuning on)
    set_precision("fp32")
    # What the deterministic rows check: the cuBLAS setting CUDA starts with (None: CUDA had started).
    cublas = None if torch.cuda.is_initialized() else os.environ.get("CUBLAS_WORKSPACE_CONFIG")
    device = select_device(args.device)
    setting = Setting(device, TOY if args.ci else Sizes(), Path(args.source_weights), args.resnet34_weights)
    setting.cublas_at_cuda_start = cublas
    budget = Budget(args.cap)
    try:
        with tempfile.TemporaryDirectory(prefix="l2tww-gpu-") as tmp:
            tiny = endtoend.Tiny(Path(tmp), setting.sizes.resume_steps, budget)
            selected = [
                (n, r)
                for n, r in rows(setting, tiny, args.ci)
                if not args.only or any(n.startswith(o) for o in args.only)
            ]
            results = [budget.run(name, row) for name, row in selected]
    finally:
        torch.set_num_threads(threads)  # a caller's (e.g. pytest's) setting outlives the script
    return {
        "date": time.strftime("%Y-%m-%d"),
        "form": "toy form (--ci): code paths only, not costs" if args.ci else "full size",
        "cap_s": args.cap,
        "machine": {
            "device": str(device),
            "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.machine(),
            "torch": torch.__version__,
            "cuda": torch.version.cuda if device.type == "cuda" else None,
            "threads": args.threads or threads,
        },
        "sizes": dataclasses.asdict(setting.sizes),
        "source_weights": str(args.source_weights),
        "notes": notes(setting),
        "memory": "CUDA max allocated per row" if device.type == "cuda" else "process peak RSS since the row started",
        "rows": results,
        "ok": bool(results) and all(r["status"] in PASSING for r in results),
    }


def notes(setting: Setting) -> list[str]:
    """Which weights the rows ran with (the 224 px rows name theirs)."""
    if "32" in setting._sources:
        return [f"32 px source: the authors' released ResNet32, {setting.source_weights} (sha256 checked)"]
    return []


def parse(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda", help="cuda, cuda:N, auto or cpu (default cuda)")
    ap.add_argument("--ci", action="store_true", help="toy form: every row's code path at toy size, one thread")
    ap.add_argument("--source-weights", help="the authors' released TinyImageNet ResNet32 file (default: see docs)")
    ap.add_argument("--resnet34-weights", type=Path, help="torchvision's ImageNet ResNet34 file for the 224px rows")
    ap.add_argument("--only", type=lambda s: s.split(","), help="comma-separated row-name prefixes, e.g. parity,224px")
    ap.add_argument("--cap", type=float, default=CAP_S, help=f"seconds before the script stops itself ({CAP_S})")
    ap.add_argument("--threads", type=int, help="torch CPU threads (default: torch's; --ci: 1)")
    ap.add_argument("--json", type=Path, help="also write the result here")
    args = ap.parse_args(argv)
    try:
        check_device(args.device)
    except RuntimeError as exc:
        ap.error(f"--device {args.device}: {str(exc).split(': ', 1)[-1]}")
    if args.source_weights is None:
        args.source_weights = str(default_source_weights(config.load(REPO / "workflow" / "presets" / "paper.yaml")))
    if args.ci and args.threads is None:
        args.threads = 1  # two threads on a shared 2-core machine wait on each other
    return args


def main(argv=None) -> int:
    args = parse(argv)
    result = run(args)
    print(render(result), flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
