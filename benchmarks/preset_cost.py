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
3. GPU hours = FLOPs / the sustained throughput given by --tflops (default 20 TFLOP/s: about what
   an A100 sustains training ResNet-50 with cuDNN TF32 convolutions, ~800 img/s x 24.6 GFLOP per
   image, i.e. ~13% of its 156 TFLOP/s TF32 peak). The FLOP count is measured; the throughput is
   the assumption: scale the hours by 20 / yours.
   Only conv/matmul FLOPs are counted (FlopCounterMode's set); elementwise work, data loading and
   the meta-step's many small kernels are not, so read the L2T hours as a lower bound.
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


def _flops(fn) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def iteration_flops(params: config.Params, target: str, method: str) -> tuple[float, float]:
    """(FLOPs of one training iteration, FLOPs of one eval forward), per image."""
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
    x = torch.randn(PROBE_BATCH, 3, size, size)  # (B, C, H, W)
    y = torch.randint(0, BUILDERS[ds["builder"]].num_classes, (PROBE_BATCH,))

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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default=str(REPO / "workflow" / "presets" / "paper.yaml"))
    ap.add_argument("--tflops", type=float, default=20.0, help="assumed sustained GPU throughput, TFLOP/s")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    params = config.load(args.params)
    cache: dict[tuple, tuple[float, float]] = {}
    rows: dict[tuple[str, str], list] = defaultdict(
        lambda: [0, 0.0, 0.0]
    )  # (scale, method) -> runs, GFLOP/img-iter, FLOPs

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

    for run in params.runs():
        t = params["targets"][run.target]
        per_iter, per_eval = measured(run.target, run.method)
        scale = f"{params['datasets'][t['dataset']]['image_size']}px"
        row = rows[(scale, run.method)]
        row[0] += 1
        row[1] = max(row[1], per_iter / 1e9)  # the costliest variant (e.g. two sources)
        row[2] += run_flops(
            params["recipes"][t["recipe"]], per_iter, per_eval, split_sizes(params, t["dataset"], run.n_per_class)
        )
    for name in params.pretrained_sources():  # source pretraining: a scratch run of the source arch
        s = params["sources"][name]
        ds = params["datasets"][s["dataset"]]
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
                    }
                },
            }
        )
        per_iter, per_eval = iteration_flops(probe, "probe", "scratch")
        row = rows[(f"{ds['image_size']}px", f"pretrain {name}")]
        row[0] += 1
        row[1] = per_iter / 1e9
        row[2] += run_flops(
            params["recipes"][s["recipe"]], per_iter, per_eval, split_sizes(params, s["dataset"], s.get("n_per_class"))
        )
    rate = args.tflops * 1e12 * 3600
    print(f"preset: {args.params}   assumed sustained throughput: {args.tflops:g} TFLOP/s   torch {torch.__version__}")
    print(
        f"{'scale':6} {'method':32} {'runs':>5} {'GFLOP/img/iter':>15} {'PFLOP total':>12} {'GPU h/run':>10} "
        f"{'GPU h':>9}"
    )
    total = 0.0
    for (scale, method), (runs, g, flops) in sorted(rows.items()):
        hours = flops / rate
        total += hours
        print(f"{scale:6} {method:32} {runs:5d} {g:15.2f} {flops / 1e15:12.1f} {hours / runs:10.2f} {hours:9.1f}")
    print(
        f"{'total':6} {'':32} {sum(r[0] for r in rows.values()):5d} {'':15} "
        f"{sum(r[2] for r in rows.values()) / 1e15:12.1f} {'':10} {total:9.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
