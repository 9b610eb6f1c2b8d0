"""How close each arm's training steps run to this CPU's arithmetic rate, and so how much of the
matrix a cut that keeps the arithmetic could still remove (issue 28).

    python benchmarks/bench_ceiling.py                        # every arm; the matrix of params.yaml
    python benchmarks/bench_ceiling.py --matrix-rev adbd49e   # weighted by that commit's matrix
    python benchmarks/bench_ceiling.py --arms scratch l2tww --epochs 1   # the test's form

For each arm of benchmarks/bench_embedded.py (the same run: target, method, N = 5, seed 1000 of
params.yaml, random-initialised sources, the data prepared once into a temporary folder) the
networks are built as a training job builds them (runtime.channels_last included) and one epoch
of its training loop runs (steps_per_epoch batches drawn as the trainer draws them: the sources'
forwards without autograd, then the method's train_step; for L2T a meta-step every meta_every-th
batch), 1 thread, after one warm-up epoch:
  GFLOP/step - the multiply-adds x 2 of the convolutions and matrix products of the step, counted
               by torch.utils.flop_counter (elementwise work, BN, pooling and the copies count 0),
  ms/step    - process CPU time per step, the fastest of --repeat epochs,
  GFLOPS     - their ratio, and its share of this CPU's single-thread sgemm rate (1024^3),
  excess     - ms/step above what the step's FLOPs cost at the scratch arm's rate: time that is
               not convolution or matrix arithmetic done as efficiently as scratch's.
The matrix line sums (steps per run) x ms/step and x excess over the runs of the matrix: the
training loop's CPU-seconds, and the most of them that a cut keeping the arithmetic (no fewer
FLOPs) could remove if every step became as efficient as scratch's. It is a bound from one
measured rate, not a measurement of any cut.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_embedded as embedded  # noqa: E402  (the arms, their data and the matrix weights)

REPO = embedded.REPO


def sgemm_rate(size: int = 1024, repeat: int = 10) -> float:
    """GFLOPS of a float32 size^3 matrix product on one thread, the fastest of `repeat`."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        a @ b
        best = min(best, time.process_time() - start)
    return 2 * size**3 / best / 1e9


def arm_steps(arm: str, params, epochs: int, repeat: int) -> dict:
    """FLOPs and CPU time of one epoch of `arm`'s training loop (per step)."""
    from torch.utils.flop_counter import FlopCounterMode

    from l2tww.config import Run
    from l2tww.data.batches import draw_batches
    from l2tww.stages.common import device_for, open_data, place
    from l2tww.stages.inputs import run_inputs
    from l2tww.training.assemble import build_run
    from l2tww.training.runtime import autocast
    from l2tww.training.trainer import epoch_generator

    target_name, method_name = embedded.ARMS[arm]
    inputs = run_inputs(params, Run(target_name, method_name, embedded.N, embedded.SEED))
    runtime, recipe = params["runtime"], inputs["recipe"]
    device = device_for(runtime)
    data = open_data(inputs["data"], recipe["batch_size"], device, runtime)
    target, method, sources = build_run(
        inputs, data.num_classes, data.image_shape, device, inputs["seed"], lambda net: place(net, device, runtime)
    )
    method.initialize(target, sources)
    optimizer = torch.optim.SGD(
        list(target.parameters()) + list(method.student_parameters()),
        lr=recipe["lr"],
        momentum=recipe["momentum"],
        weight_decay=recipe["weight_decay"],
    )
    target.train()
    steps = recipe.get("steps_per_epoch") or len(data.train)

    def epoch(index: int) -> None:
        for x, y in draw_batches(data.train, epoch_generator(inputs["seed"], index), recipe.get("steps_per_epoch")):
            sources_out = []
            if method.needs_sources:
                with torch.no_grad(), autocast(device, runtime["precision"]):
                    sources_out = [s(x) for s in sources]
            method.train_step(target, x, y, sources_out, optimizer)

    epoch(0)  # warm-up: kernels chosen, buffers allocated
    with FlopCounterMode(display=False) as counter:
        epoch(1)
    best = float("inf")
    for index in range(2, 2 + max(repeat, 1) * epochs, epochs):
        start = time.process_time()
        for e in range(epochs):
            epoch(index + e)
        best = min(best, (time.process_time() - start) / epochs)
    return {"gflop": counter.get_total_flops() / steps / 1e9, "ms": best / steps * 1e3, "steps": steps}


def matrix_runs(rev: str | None, workdir: Path) -> dict[str, int]:
    """arm -> runs of the matrix of params.yaml (at `rev`, else this checkout's)."""
    if rev is None:
        path = REPO / "params.yaml"
    else:
        text = subprocess.run(
            ["git", "show", f"{rev}:params.yaml"], cwd=REPO, check=True, capture_output=True, text=True
        )
        path = workdir / f"params-{rev}.yaml"
        path.write_text(text.stdout)
    params = embedded._params(path, workdir, {}, matrix_only=rev is not None)
    return {arm: runs for arm, (runs, _) in embedded.matrix_weights(params).items()}


def table(rows: dict[str, dict], rate: float, runs: dict[str, int], steps_per_run: int, matrix: str) -> str:
    scratch_rate = rows["scratch"]["gflop"] / rows["scratch"]["ms"] * 1e3 if "scratch" in rows else rate
    head = f"{'arm':<11}{'GFLOP/step':>11}{'ms/step':>9}{'GFLOPS':>8}{'of sgemm':>9}{'excess ms':>10}{'runs':>6}"
    lines = [head, "-" * len(head)]
    loop = excess_total = 0.0
    for arm, row in rows.items():
        gflops = row["gflop"] / row["ms"] * 1e3
        excess = max(0.0, row["ms"] - row["gflop"] / scratch_rate * 1e3)
        lines.append(
            f"{arm:<11}{row['gflop']:>11.3f}{row['ms']:>9.1f}{gflops:>8.0f}{gflops / rate:>9.0%}{excess:>10.1f}"
            f"{runs.get(arm, 0):>6}"
        )
        loop += runs.get(arm, 0) * steps_per_run * row["ms"] / 1e3
        excess_total += runs.get(arm, 0) * steps_per_run * excess / 1e3
    lines.append(
        f"matrix ({matrix}, {sum(runs.get(a, 0) for a in rows)} runs of these arms, {steps_per_run} steps each): "
        f"training loop {loop:.0f} CPU-s, of which {excess_total:.0f} above scratch's {scratch_rate:.0f} GFLOPS"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arms", nargs="*", choices=list(embedded.ARMS), default=list(embedded.ARMS))
    parser.add_argument("--epochs", type=int, default=2, help="epochs per timed block")
    parser.add_argument("--repeat", type=int, default=2, help="timed blocks per arm; the fastest is kept")
    parser.add_argument("--matrix-rev", metavar="REV", help="weight the arms by this commit's matrix")
    parser.add_argument("--workdir", type=Path, help="prepared data and sources, kept between invocations")
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="bench-ceiling-") as tmp:
        workdir = args.workdir or Path(tmp)
        embedded.setup(workdir)
        params = embedded._params(REPO / "params.yaml", workdir, {})
        rate = sgemm_rate()
        rows = {}
        for arm in args.arms:
            rows[arm] = arm_steps(arm, params, args.epochs, args.repeat)
            print(f"[ceiling] {arm}: {rows[arm]['gflop']:.3f} GFLOP, {rows[arm]['ms']:.1f} ms per step", flush=True)
        runs = matrix_runs(args.matrix_rev, workdir)
        recipe = params["recipes"][params["targets"]["fashion"]["recipe"]]
        steps_per_run = recipe["epochs"] * recipe["steps_per_epoch"]
        runtime = yaml.safe_dump(params["runtime"], default_flow_style=True).strip()
        print(
            f"\nOne training step per arm, 1 thread, torch {torch.__version__}, "
            f"this CPU's sgemm {rate:.0f} GFLOPS; params.yaml runtime {runtime}"
        )
        print(table(rows, rate, runs, steps_per_run, f"params.yaml at {args.matrix_rev or 'this checkout'}"))


if __name__ == "__main__":
    main()
