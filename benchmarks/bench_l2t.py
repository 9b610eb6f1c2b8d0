"""Cost of one L2T-ww iteration over one scratch iteration, measured in one run (issue 7).

    python benchmarks/bench_l2t.py                 # both settings, 2 threads
    python benchmarks/bench_l2t.py --setting embedded --iters 5
    python benchmarks/bench_l2t.py --iters 1 --batch 8    # the cheapest form (tests/test_scripts.py)

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


def measure(setting: str, mode: str, threads: int, iters: int, target_name: str | None, batch_size: int | None) -> dict:
    import torch

    from l2tww import config
    from l2tww.config.params import method_defaults
    from l2tww.methods import MethodSpec, Pair, build_method
    from l2tww.models import VGG9, build_model, net_shapes

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    if setting == "paper32":
        source = build_model({"name": "cifar_resnet", "depth": 32}, 200, 3)
        target = build_model({"name": "vgg_bn", "cfg": VGG9}, 100, 3)
        shape, classes, batch = (3, 32, 32), 100, 128
        pairs = tuple(Pair(0, s, t) for s in (4, 9, 14) for t in range(5))
        hparams = method_defaults("l2t", "all_to_all")  # the official defaults (spec §3-5)
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
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    def step():
        with torch.no_grad():
            outs = [source(x)] if method.needs_sources else []
        method.train_step(target, x, y, outs, optimizer)

    block = spec.hparams.get("meta_every", 1) if mode == "configured" else 1
    for _ in range(2 * block):  # warm-up (allocator, mkldnn kernels): the first two steps run slow
        step()
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        for _ in range(block):
            step()
        times.append((time.perf_counter() - start) / block)
    per_iter = min(times)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "setting": setting,
        "mode": mode,
        "method": spec.name,
        "hparams": {k: spec.hparams.get(k) for k in ("hypergradient", "meta_every")},
        "s_per_iter": per_iter,
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
    parser.add_argument("--one", nargs=2, metavar=("SETTING", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one[0], args.one[1], args.threads, args.iters, args.target, args.batch)))
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


if __name__ == "__main__":
    main()
