"""GPU hours of a preset's whole run matrix, from FLOPs counted on this machine (docs/paper-presets.md).

    python benchmarks/preset_cost.py                                     # workflow/presets/paper.yaml
    python benchmarks/preset_cost.py --params workflow/presets/paper-224px.yaml --tflops 40

Method (a measurement plus one stated assumption):
1. For every distinct (target, sources, method) of the preset, one real training iteration — the
   sources' no-grad forwards plus the method's `train_step` (for L2T: the real step, the T-step
   look-ahead and the exact hypergradient's double backwards) — runs on the CPU under
   torch.utils.flop_counter.FlopCounterMode at a small batch; conv/matmul FLOPs are linear in the
   batch, so they are scaled to the recipe's batch. One eval forward per image is counted the same way.
2. FLOPs of a run = epochs x (train batches x iteration FLOPs + val images x eval FLOPs)
   + test images x eval FLOPs (tested once, on the best-val weights). Train sizes come from the
   preset's splits (the authors' files, val hold-outs, N per class).
3. GPU hours = FLOPs / an assumed sustained throughput per precision (--tflops-fp32, -tf32, -bf16;
   no GPU has run this project, so none of them is measured). The presets run IEEE fp32
   (runtime.precision: fp32, TF32 off), which is the headline column:
   - fp32 10 TFLOP/s: an A100's IEEE float32 peak is 19.5 TFLOP/s (CUDA cores, no tensor cores);
     assumed half of it sustained by cuDNN's float32 convolutions;
   - tf32 20 TFLOP/s: about what an A100 sustains training ResNet-50 with TF32 convolutions, ~800
     img/s x 24.6 GFLOP per image (~13 % of its 156 TFLOP/s TF32 peak);
   - bf16 40 TFLOP/s: assumed twice TF32's (mixed-precision ResNet-50 training is quoted at 2-3x
     TF32's images/s on an A100).
   Scale a column by the assumption / yours.
4. The loader: 224 px runs decode JPEGs on the CPU (data/folder_loader.py). A run cannot go faster than
   its loader delivers images: (epochs x (train + val) + test) images / (runtime.workers x
   --loader-rate images/s per worker). --loader-rate defaults to 60, one worker's rate measured by
   benchmarks/bench_loader.py on this project's 2-core machine (docs/gpu.md). Each run counts
   max(GPU hours, loader hours): the workers overlap the GPU. 32 px data sits on the device.
Only conv/matmul FLOPs are counted (FlopCounterMode's set); elementwise work and the meta-step's
many small kernels are not, so read the L2T hours as a lower bound.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import defaultdict
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from l2tww import config  # noqa: E402
from l2tww.catalog import BUILDERS  # noqa: E402
from l2tww.data.paper_datasets import COUNTS  # noqa: E402
from l2tww.methods import MethodSpec, build_method  # noqa: E402
from l2tww.models import (
    build_model,  # noqa: E402
    net_shapes,  # noqa: E402
)

PROBE_BATCH = 2  # small enough for 224px L2T on a laptop CPU; FLOPs scale linearly with it
PRECISIONS = {"fp32": 10.0, "tf32": 20.0, "bf16": 40.0}  # assumed sustained TFLOP/s (module doc, 3.)
LOADER_RATE = 60.0  # images/s one decoding worker delivers (bench_loader.py here, docs/gpu.md)


def _flops(fn) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def iteration(params: config.Params, target: str, method: str, batch: int):
    """(step, evaluate, models): one training iteration of `target` x `method` on a random batch of
    `batch` images on the CPU, and one eval forward, as the trainer runs them."""
    tcfg = params["targets"][target]
    ds = params["datasets"][tcfg["dataset"]]
    size = ds["image_size"]
    torch.manual_seed(0)
    spec = params.method_spec(target, method) if method != "source" else MethodSpec(name="scratch", kind="scratch")
    sources = []
    if spec.kind != "scratch":
        for s in tcfg["sources"]:
            scfg = params["sources"][s]
            sources.append(
                build_model(
                    scfg["arch"], BUILDERS[params["datasets"][scfg["dataset"]]["builder"]].num_classes, 3
                ).eval()
            )
    model = build_model(tcfg["arch"], BUILDERS[ds["builder"]].num_classes, 3)
    meth = build_method(spec, net_shapes(model, sources, (3, size, size)))
    opt = torch.optim.SGD(
        list(model.parameters()) + list(meth.student_parameters()), lr=0.1, momentum=0.9, weight_decay=1e-4
    )
    x = torch.randn(batch, 3, size, size)  # (B, C, H, W)
    y = torch.randint(0, BUILDERS[ds["builder"]].num_classes, (batch,))

    def step():
        with torch.no_grad():
            src = [s(x) for s in sources]
        meth.train_step(model, x, y, src, opt)

    def evaluate():
        model.eval()
        with torch.no_grad():
            model(x)
            for s in sources:  # the val pass also runs the sources when the method observes
                s(x)

    return step, evaluate, [model, meth, *sources]


def iteration_flops(params: config.Params, target: str, method: str) -> tuple[float, float]:
    """(FLOPs of one training iteration, FLOPs of one eval forward), per image."""
    step, evaluate, _ = iteration(params, target, method, PROBE_BATCH)
    return _flops(step) / PROBE_BATCH, _flops(evaluate) / PROBE_BATCH


def split_sizes(params: config.Params, dataset: str, n: int | None) -> tuple[int, int, int]:
    """(train, val, test) images of the split a run reads."""
    ds = params["datasets"][dataset]
    counts = COUNTS[ds["builder"]]
    classes = counts["classes"]
    if "official_splits" in ds:
        prefix = "dog" if ds["builder"] == "dogs" else ds["builder"]
        sizes = [
            len(json.loads((REPO / ds["official_splits"] / f"{prefix}-{p}.json").read_text())["indices"])
            for p in ("train", "val", "test")
        ]
        train, val, test = sizes
    else:
        held = ds["val"].get("per_class") or round(ds["val"]["fraction"] * counts["train"] / classes)
        train, val, test = counts["train"] - held * classes, held * classes, counts["test"]
    if n is not None:
        frac = ds["low_data_val_fraction"]
        k = max(1, round(frac * n)) if frac is not None else 0
        train, val = (n - k) * classes, (k * classes if frac is not None else val)
    return train, val, test


def run_flops(recipe: dict, per_iter: float, per_eval: float, sizes: tuple[int, int, int]) -> float:
    train, val, test = sizes
    batches = math.ceil(train / recipe["batch_size"])
    return recipe["epochs"] * (batches * recipe["batch_size"] * per_iter + val * per_eval) + test * per_eval


def loader_hours(params: config.Params, dataset: str, recipe: dict, sizes: tuple[int, int, int], rate: float) -> float:
    """Hours the run's JPEG loader needs at `rate` images/s per worker (0 for on-device tensors)."""
    if params["datasets"][dataset]["image_size"] < 224:
        return 0.0
    train, val, test = sizes
    images = recipe["epochs"] * (train + val) + test
    return images / (max(1, params["runtime"]["workers"]) * rate) / 3600


def run_hours(flops: float, loader_h: float, tflops: dict[str, float]) -> dict[str, float]:
    """GPU hours per precision, never below the loader's."""
    return {p: max(flops / (t * 1e12 * 3600), loader_h) for p, t in tflops.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default=str(REPO / "workflow" / "presets" / "paper.yaml"))
    for precision, tflops in PRECISIONS.items():
        ap.add_argument(
            f"--tflops-{precision}", type=float, default=tflops, help=f"assumed sustained {precision} TFLOP/s"
        )
    ap.add_argument("--loader-rate", type=float, default=LOADER_RATE, help="images/s per decoding worker")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--scale", choices=("32px", "224px"), help="only the runs at this image size")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    tflops = {p: getattr(args, f"tflops_{p}") for p in PRECISIONS}
    params = config.load(args.params)
    cache: dict[tuple, tuple[float, float]] = {}
    # (scale, method) -> [runs, GFLOP/img-iter, FLOPs, {precision: GPU h}, loader h]
    rows: dict[tuple[str, str], list] = defaultdict(lambda: [0, 0.0, 0.0, dict.fromkeys(PRECISIONS, 0.0), 0.0])

    def add(row: list, flops: float, loader_h: float) -> None:
        row[0] += 1
        row[2] += flops
        row[4] += loader_h
        for p, h in run_hours(flops, loader_h, tflops).items():
            row[3][p] += h

    def measured(target, method):
        t = params["targets"][target]
        key = (
            json.dumps(t["arch"], sort_keys=True),
            tuple(t["sources"]),
            json.dumps(params["methods"].get(method), sort_keys=True),
            params["datasets"][t["dataset"]]["image_size"],
            json.dumps(t["pairs"], sort_keys=True),
        )
        if key not in cache:
            cache[key] = iteration_flops(params, target, method)
        return cache[key]

    def in_scale(dataset: str) -> bool:
        return args.scale is None or args.scale == f"{params['datasets'][dataset]['image_size']}px"

    for run in params.runs():
        t = params["targets"][run.target]
        if not in_scale(t["dataset"]):
            continue
        per_iter, per_eval = measured(run.target, run.method)
        scale = f"{params['datasets'][t['dataset']]['image_size']}px"
        row = rows[(scale, run.method)]
        row[1] = max(row[1], per_iter / 1e9)  # the costliest variant (e.g. two sources)
        recipe, sizes = params["recipes"][t["recipe"]], split_sizes(params, t["dataset"], run.n_per_class)
        add(
            row,
            run_flops(recipe, per_iter, per_eval, sizes),
            loader_hours(params, t["dataset"], recipe, sizes, args.loader_rate),
        )
    for name in params.pretrained_sources():  # source pretraining: a scratch run of the source arch
        s = params["sources"][name]
        ds = params["datasets"][s["dataset"]]
        if not in_scale(s["dataset"]):
            continue
        probe = config.from_mapping(
            {
                **params.data,
                "targets": {
                    "probe": {
                        "dataset": s["dataset"],
                        "arch": s["arch"],
                        "recipe": s["recipe"],
                        "sources": [name],
                        "runs": [{"methods": ["scratch"], "seeds": [0]}],
                        "overlap": "allowed",  # a probe of the source on its own data, not a transfer
                    }
                },
            }
        )
        per_iter, per_eval = iteration_flops(probe, "probe", "scratch")
        row = rows[(f"{ds['image_size']}px", f"pretrain {name}")]
        row[1] = per_iter / 1e9
        recipe, sizes = params["recipes"][s["recipe"]], split_sizes(params, s["dataset"], s.get("n_per_class"))
        add(
            row,
            run_flops(recipe, per_iter, per_eval, sizes),
            loader_hours(params, s["dataset"], recipe, sizes, args.loader_rate),
        )
    print(render(rows, args, tflops))
    return 0


def render(rows: dict, args, tflops: dict[str, float]) -> str:
    assumed = ", ".join(f"{p} {t:g}" for p, t in tflops.items())
    workers = "runtime.workers of the preset"
    lines = [
        f"preset: {args.params}   torch {torch.__version__}",
        f"assumed sustained TFLOP/s (not measured: no GPU has run this project): {assumed}; loader "
        f"{args.loader_rate:g} images/s per worker x {workers} (224 px only; measured on this project's CPU)",
        f"{'scale':6} {'method':32} {'runs':>5} {'GFLOP/img/iter':>15} {'PFLOP total':>12} {'loader h':>9} "
        + " ".join(f"{'GPU h ' + p:>11}" for p in tflops),
    ]
    totals = dict.fromkeys(tflops, 0.0)
    for (scale, method), (runs, g, flops, hours, loader_h) in sorted(rows.items()):
        for p in tflops:
            totals[p] += hours[p]
        lines.append(
            f"{scale:6} {method:32} {runs:5d} {g:15.2f} {flops / 1e15:12.1f} {loader_h:9.1f} "
            + " ".join(f"{hours[p]:11.1f}" for p in tflops)
        )
    lines.append(
        f"{'total':6} {'':32} {sum(r[0] for r in rows.values()):5d} {'':15} "
        f"{sum(r[2] for r in rows.values()) / 1e15:12.1f} {sum(r[4] for r in rows.values()):9.1f} "
        + " ".join(f"{totals[p]:11.1f}" for p in tflops)
    )
    lines.append("GPU h: per run max(FLOPs / the precision's throughput, loader h); the presets run fp32 (IEEE)")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
