"""Cost of one L2T-ww iteration over one scratch iteration, measured in one run (issue 7).

    python benchmarks/bench_l2t.py                 # both settings, 2 threads
    python benchmarks/bench_l2t.py --setting embedded --iters 5
    python benchmarks/bench_l2t.py --iters 1 --batch 8    # the cheapest form (tests/test_scripts.py)
    python benchmarks/bench_l2t.py --setting paper32 --threads 1 --baseline adbd49e   # and that commit's code

--baseline REV checks REV out (a temporary `git worktree`) and times the same modes with its code
(this file's measurement, PYTHONPATH=<it>/src), each mode alternating between the two, and prints
this checkout's CPU time over REV's (process CPU per iteration, 1 thread: a shared machine stretches
wall time far more than CPU time). --channels-last runs this checkout's networks and batches in NHWC
(runtime.channels_last's lever; REV's rows stay as they are).

Settings: (a) the paper's 32px setting: ResNet32 -> VGG9-BN, 15 pairs {4,9,14} x {0..4}, T = 2,
batch 128, 3x32x32, 100 classes; (b) the embedded default from params.yaml (its first target that
runs method `l2tww`, or --target; its batch size). --batch overrides both settings' batch size.
Sources are random-initialised (cost does not depend on weights).
Modes: scratch; exact and fast with a meta-step on every batch (meta_every 1, the paper's);
"configured", the embedded method exactly as params.yaml sets it (meta_every k there: timed in
blocks of k batches, one meta-step each, and reported per batch). Each (setting, mode) runs in
its own process so its peak memory (max RSS) is its own; timing starts after two warm-up blocks.
Reported: the fastest block (a shared machine adds only positive noise) and the median.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def embedded_target(params) -> str:
    """The first target of the embedded default that runs method `l2tww`."""
    for run in params.runs():
        if run.method == "l2tww":
            return run.target
    raise SystemExit(f"{params.origin}: no target runs method l2tww; name one with --target")


def _method_defaults():
    """config's method_defaults at this revision or an older one (--baseline): issue 27 moved it from
    l2tww.config.params to l2tww.config.validation."""
    try:
        from l2tww.config.validation import method_defaults
    except ImportError:
        from l2tww.config.params import method_defaults
    return method_defaults


def measure(
    setting: str,
    mode: str,
    threads: int,
    iters: int,
    target_name: str | None,
    batch_size: int | None,
    channels_last: bool = False,
) -> dict:
    import torch

    from l2tww import config
    from l2tww.methods import MethodSpec, Pair, build_method
    from l2tww.models import VGG9, build_model, net_shapes
    from l2tww.stages.common import device_for

    # the process set up as a training job sets its own (threads; at HEAD also the allocator)
    device_for({"device": "cpu", "threads": threads, "deterministic": False, "precision": "fp32"})
    torch.manual_seed(0)
    if setting == "paper32":
        source = build_model({"name": "cifar_resnet", "depth": 32}, 200, 3)
        target = build_model({"name": "vgg_bn", "cfg": VGG9}, 100, 3)
        shape, classes, batch = (3, 32, 32), 100, 128
        pairs = tuple(Pair(0, s, t) for s in (4, 9, 14) for t in range(5))
        hparams = _method_defaults()("l2t", "all_to_all")  # the official defaults (spec §3-5)
        spec = MethodSpec("l2tww", "l2t", pairs, hparams)
    else:
        params = config.load(REPO / "params.yaml")
        target_name = target_name or embedded_target(params)
        tcfg = params["targets"][target_name]
        src_cfg = params["sources"][tcfg["sources"][0]]
        source = build_model(src_cfg["arch"], 10, 1)
        target = build_model(tcfg["arch"], 10, 1)
        shape, classes, batch = (1, 32, 32), 10, params["recipes"][tcfg["recipe"]]["batch_size"]
        spec = params.method_spec(target_name, "l2tww")
    batch = batch_size or batch
    source.eval()
    if mode == "scratch":
        spec = MethodSpec("scratch", "scratch")
    elif mode in ("exact", "fast"):  # a meta-step on every batch, as in the paper
        spec = MethodSpec(spec.name, spec.kind, spec.pairs, {**spec.hparams, "hypergradient": mode, "meta_every": 1})
    # "configured": the method exactly as params.yaml sets it (embedded: meta_every 2)
    method = build_method(spec, net_shapes(target, [source], shape))
    optimizer = torch.optim.SGD(
        list(target.parameters()) + method.student_parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4
    )
    x, y = torch.randn(batch, *shape), torch.randint(0, classes, (batch,))
    if channels_last:
        target, source = (m.to(memory_format=torch.channels_last) for m in (target, source))
        x = x.contiguous(memory_format=torch.channels_last)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    def step():
        with torch.no_grad():
            outs = [source(x)] if method.needs_sources else []
        method.train_step(target, x, y, outs, optimizer)

    block = spec.hparams.get("meta_every", 1) if mode == "configured" else 1
    for _ in range(2 * block):  # warm-up (allocator, mkldnn kernels): the first two steps run slow
        step()
    times, cpu_times = [], []
    for _ in range(iters):
        start, cpu = time.perf_counter(), time.process_time()
        for _ in range(block):
            step()
        times.append((time.perf_counter() - start) / block)
        cpu_times.append((time.process_time() - cpu) / block)
    per_iter = min(times)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "setting": setting,
        "mode": mode,
        "method": spec.name,
        "hparams": {k: spec.hparams.get(k) for k in ("hypergradient", "meta_every")},
        "s_per_iter": per_iter,
        "cpu_s_per_iter": min(cpu_times),  # what --baseline compares: a busy machine stretches wall time
        "s_per_iter_median": sorted(times)[len(times) // 2],
        "peak_rss_mb": peak_mb,
        "rss_growth_mb": (peak_mb * 1024 - rss_before) / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setting", choices=["paper32", "embedded", "both"], default="both")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--iters", type=int, default=5, help="timed iterations (blocks) per (setting, mode); embedded: 5x as many"
    )
    parser.add_argument("--target", help="embedded setting: the target (default: the first that runs l2tww)")
    parser.add_argument("--batch", type=int, help="batch size of both settings (default: 128 and the recipe's)")
    parser.add_argument("--baseline", metavar="REV", help="also time REV's code (a git worktree), interleaved")
    parser.add_argument("--channels-last", action="store_true", help="NHWC networks and batches (this checkout)")
    parser.add_argument("--one", nargs=2, metavar=("SETTING", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one = measure(args.one[0], args.one[1], args.threads, args.iters, args.target, args.batch, args.channels_last)
        print(json.dumps(one))
        return
    if args.baseline:
        compare(args)
        return
    settings = ["paper32", "embedded"] if args.setting == "both" else [args.setting]
    import platform

    import torch

    print(
        f"torch {torch.__version__}, {platform.processor() or platform.machine()}, {args.threads} threads, "
        f"{args.iters} timed iterations (embedded: {5 * args.iters}), fastest and median"
    )
    print(f"{'setting':<10} {'mode':<10} {'s/iter':>8} {'x scratch':>10} {'median':>8} {'peak RSS MB':>12}")
    for setting in settings:
        rows = {}
        modes = ("scratch", "exact", "fast") + (("configured",) if setting == "embedded" else ())
        for mode in modes:
            iters = args.iters * (5 if setting == "embedded" else 1)  # embedded steps are short: more of them
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--one",
                    setting,
                    mode,
                    "--threads",
                    str(args.threads),
                    "--iters",
                    str(iters),
                    *(["--target", args.target] if args.target else []),
                    *(["--batch", str(args.batch)] if args.batch else []),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            rows[mode] = json.loads(out.stdout.strip().splitlines()[-1])
        for mode, row in rows.items():
            ratio = row["s_per_iter"] / rows["scratch"]["s_per_iter"]
            note = "" if mode == "scratch" else f"  (meta_every {row['hparams']['meta_every']})"
            print(
                f"{setting:<10} {mode:<10} {row['s_per_iter']:>8.3f} {ratio:>10.1f} {row['s_per_iter_median']:>8.3f} "
                f"{row['peak_rss_mb']:>12.0f}{note}"
            )


def _one(setting: str, mode: str, args, src: Path, channels_last: bool) -> dict:
    iters = args.iters * (5 if setting == "embedded" else 1)
    cmd = [sys.executable, __file__, "--one", setting, mode, "--threads", str(args.threads), "--iters", str(iters)]
    cmd += ["--target", args.target] * bool(args.target) + ["--batch", str(args.batch)] * bool(args.batch)
    env = {**os.environ, "PYTHONPATH": str(src / "src")}
    out = subprocess.run(cmd + ["--channels-last"] * channels_last, capture_output=True, text=True, env=env, cwd=src)
    if out.returncode != 0:
        raise SystemExit(f"{setting} {mode} at {src}: failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def compare(args) -> None:
    """Each (setting, mode) at REV, then here, alternating; the ratio of the fastest blocks."""
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix="bench-l2t-"))
    rev = tmp / "rev"
    subprocess.run(["git", "worktree", "add", "--detach", "-f", str(rev), args.baseline], cwd=REPO, check=True)
    try:
        settings = ["paper32", "embedded"] if args.setting == "both" else [args.setting]
        print(
            f"{args.threads} threads, {args.iters} timed iterations, fastest; HEAD channels_last {args.channels_last}"
        )
        print(f"{'setting':<10} {'mode':<10} {args.baseline + ' CPU-s':>14} {'HEAD CPU-s':>11} {'HEAD/base':>10}")
        for setting in settings:
            for mode in ("scratch", "exact", "fast"):
                base = _one(setting, mode, args, rev, False)
                head = _one(setting, mode, args, REPO, args.channels_last)
                b, h = base["cpu_s_per_iter"], head["cpu_s_per_iter"]
                print(f"{setting:<10} {mode:<10} {b:>14.3f} {h:>11.3f} {h / b:>10.2f}", flush=True)
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(rev)], cwd=REPO)


if __name__ == "__main__":
    main()
