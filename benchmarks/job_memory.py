"""Each training job's GPU memory, estimated on the CPU (no GPU has run this project; docs/cluster.md).

    python benchmarks/job_memory.py         # paper.yaml's jobs -> workflow/cluster/gpu-memory.yaml

For every distinct (target, method) of the preset (as benchmarks/preset_cost.py groups them):
1. Measured (with glibc's mmap threshold fixed at 128 kB, so that freed tensors leave the
   resident set): one training iteration (benchmarks/preset_cost.iteration: the sources' forwards and
   the method's train_step; for L2T the look-ahead and the exact hypergradient's graphs) after one
   untimed warm-up, at two batches (224 px: 2 and 4; 32 px: 8 and 32). Its working memory is the
   growth of the process's peak resident set during the iteration (Linux VmHWM, reset before it)
   over the resident set before it; per image = the slope between the two, the rest fixed.
2. Weights: 4 bytes x (3 x the trainable parameters: weights, gradients, momentum; + the frozen
   sources' parameters).
3. Assumed (not measured): on a GPU the same tensors, at the recipe's batch, plus 20 % for the
   caching allocator's fragmentation, plus 1,500 MB for the CUDA context and cuDNN's workspace.
The workflow reads the file (l2tww.stages.gpu_memory): every training job carries its estimate as
the resource `gpu_mem_mb`, which the SLURM profile turns into a request (docs/cluster.md).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from pathlib import Path

import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "benchmarks"))

from preset_cost import iteration  # noqa: E402

from l2tww import config  # noqa: E402
from l2tww.training.runtime import peak_memory_mb, reset_peak_memory  # noqa: E402

CPU = torch.device("cpu")
FRAGMENTATION = 1.2  # assumed: PyTorch's caching allocator holds ~20 % more than the live tensors
CUDA_OVERHEAD_MB = 1500  # assumed: CUDA context (~500 MB) + cuDNN/cuBLAS workspaces
OUT = REPO / "workflow" / "cluster" / "gpu-memory.yaml"


def _resident_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("/proc/self/status: no VmRSS (Linux only)")


def working_mb(params, target: str, method: str, batch: int) -> tuple[float, float]:
    """(peak growth of the resident set during one iteration at `batch`, MB of weights)."""
    step, _, modules = iteration(params, target, method, batch)
    step()  # warm-up: lazily built kernels and caches are not the iteration's
    gc.collect()
    before = _resident_mb()
    reset_peak_memory(CPU)
    step()
    peak = peak_memory_mb(CPU)
    trainable = sum(p.numel() for m in modules for p in m.parameters() if p.requires_grad)
    frozen = sum(p.numel() for m in modules for p in m.parameters() if not p.requires_grad)
    return max(0.0, peak - before), 4 * (3 * trainable + frozen) / 2**20


def kind(params, method: str) -> str:
    """The method's kind, and for L2T its hypergradient (l2tww.stages.gpu_memory matches on it)."""
    spec = params["methods"][method]
    return f"{spec['kind']}:{spec.get('hypergradient', 'exact')}" if spec["kind"] == "l2t" else spec["kind"]


def estimate(params, target: str, method: str) -> dict:
    # 32 px: batches 8 and 32, so that the difference stands above the allocator's noise (batches 2
    # and 4 measured 0 MB per image for some cells); 224 px: 2 and 4, which a CPU can still hold.
    lo, hi = (2, 4) if params["datasets"][params["targets"][target]["dataset"]]["image_size"] >= 224 else (8, 32)
    small, weights = working_mb(params, target, method, lo)
    large, _ = working_mb(params, target, method, hi)
    per_image = max(0.0, (large - small) / (hi - lo))
    fixed = max(0.0, small - lo * per_image)
    batch = params["recipes"][params["targets"][target]["recipe"]]["batch_size"]
    gpu = (fixed + per_image * batch + weights) * FRAGMENTATION + CUDA_OVERHEAD_MB
    return {"per_image_mb": round(per_image, 1), "fixed_mb": round(fixed), "weights_mb": round(weights), "batch": batch,
            "gpu_mb": int(round(gpu, -2))}  # fmt: skip


def main(argv=None) -> int:
    if os.environ.get("MALLOC_MMAP_THRESHOLD_") is None:
        # glibc keeps freed blocks in its heap and raises its mmap threshold as it goes, so a second
        # iteration reuses the first one's memory and the resident set shows no growth; a fixed
        # threshold maps every block >= 128 kB on its own and unmaps it when freed.
        env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072"}
        os.execve(sys.executable, [sys.executable, __file__, *(sys.argv[1:] if argv is None else argv)], env)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default=str(REPO / "workflow" / "presets" / "paper.yaml"))
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--missing", action="store_true", help="keep --out's cells, measure only the preset's new ones")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    params = config.load(args.params)
    table: dict[str, dict] = yaml.safe_load(args.out.read_text()) if args.missing and args.out.is_file() else {}
    seen: dict[tuple, dict] = {}  # datasets of one image size differ in their classifier only: measured once
    size = lambda t: params["datasets"][t["dataset"]]["image_size"]
    start = time.perf_counter()
    for run in params.runs():
        name = f"{run.target}/{run.method}"
        if name in table:
            continue
        t = params["targets"][run.target]
        key = (
            repr(t["arch"]),
            tuple(t["sources"]),
            repr(params["methods"][run.method]),
            size(t),
            repr(t["pairs"]),
        )
        if key not in seen:
            seen[key] = estimate(params, run.target, run.method)
            print(f"{name:40} {seen[key]}", flush=True)
        size_ = params["datasets"][t["dataset"]]["image_size"]
        table[name] = {**seen[key], "image_size": size_, "kind": kind(params, run.method)}
    header = (
        f"# Written by benchmarks/job_memory.py from {Path(args.params).relative_to(REPO)} on "
        f"{time.strftime('%Y-%m-%d')}, torch {torch.__version__}, CPU (no GPU measured): per (target/method),\n"
        f"# gpu_mb = (fixed + per_image x batch + weights) x {FRAGMENTATION} + {CUDA_OVERHEAD_MB} (assumed factors;"
        " the script's doc). Read by l2tww.stages.gpu_memory.\n"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(header + yaml.safe_dump(table, sort_keys=True))
    print(f"{args.out}: {len(table)} cells, {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
