"""Issue 29's design phase (docs/study-plan.md, sections 3-6): the choices of the confirmation plan,
from the design runs of workflow/presets/study-design.yaml (seeds 2000-2019 only).

    python docs/study/design_analysis.py [--runs CSV] [--results DIR] [--budget CPU_S]

Reads the design summary's runs.csv and cost.csv (copied to docs/study/design-runs.csv and
design-cost.csv) and, for the N = 5 lambda diagnostic, the runs' transfer.json under --results (the
design's results root; optional). Costs are training seconds per epoch (1 thread: CPU-seconds); arms of
the N = 5 table the design did not run are priced from the embedded default's checked-in cost.csv,
scaled by the design/checked-in ratio of the arms both have (the design runs with channels_last).
Prints markdown. The rules were written (this file, the plan's sections 3-6) before any design run
finished; they read validation accuracy for every choice and the test differences' SDs only to size
the confirmation:

- N: the smallest candidate N whose training set holds at least 4 batches (N = 25 holds 3.9 and is
  not a candidate) with a design-val mean of L2T-ww - scratch >= 1.5 points; none: N = 50, flagged.
- The best baseline at that N: the candidate with the best design-val mean (N = 50's if N = 100).
- Per gate-2 row: the SD of its paired TEST difference on the design seeds, its upper 95% bound, and
  the smallest n at which decide.py's rule at level / k has 80% power both to say "supported" at
  +effect and "equivalent" at 0 (l2tww.statistics.power); gate 1: one-sided at the level.
- The confirmation's seeds: one n for the primary arms, the largest the CPU budget of `make
  reproduce` buys after the descriptive N = 5 table (3 seeds per arm) and the gate-1 reference (5
  seeds), with each row's planned power at that n. Where that n leaves rows under-powered, the
  primary rows go to `make study` (issue 29: <= 60 min on idle 2 cores) at --study-seeds seeds: their
  powers and the study's estimated time are printed.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
from collections import defaultdict
from pathlib import Path

import numpy as np

from l2tww.results import diagnostics
from l2tww.statistics import power

HERE = Path(__file__).resolve().parent
DESIGN_SEEDS = range(2000, 2020)
BATCH, CLASSES, MIN_BATCHES = 64, 10, 4
N_CANDIDATES = [50, 100]  # N = 25: 250 images, 3.9 batches of 64
GAIN_MIN = 1.5  # design-val L2T-ww - scratch a candidate N must show
BASELINE_CANDIDATES = ["lwf_at", "fm_one_to_one"]
LEVEL, POWER = 0.05, 0.8
MARGIN, EFFECT = 1.0, 1.5
GATE1 = {"transfers_at_all": ("finetune", "scratch", 5.0)}  # row: (A, B, effect)
GATE2 = {  # row: (A, B); B "best" = the best baseline on design val
    "l2tww_vs_scratch": ("l2tww", "scratch"),
    "learning_helps": ("l2tww", "l2tww_frozen"),
    "learned_what": ("l2tw_one_to_one", "fm_one_to_one"),
    "learned_where": ("l2tww", "fm_all_to_all"),
    "l2tww_vs_best_baseline": ("l2tww", "best"),
}
# The descriptive N = 5 table of the confirmation (3 seeds each): Table 1's methods, the controls,
# fast, holdout, the second source alone and multi-source (target, method).
TABLE_N5 = [
    ("fashion", m)
    for m in (
        "scratch lwf at lwf_at fm_single fm_one_to_one l2tw_single l2tw_one_to_one l2tww l2tww_fast "
        "l2tww_frozen fm_all_to_all l2tww_holdout"
    ).split()
] + [("fashion_from_digits", "l2tww"), ("fashion_multi", "l2tww"), ("fashion_finetune", "finetune")]
TABLE_SEEDS, REFERENCE_SEEDS = 3, 5


EPOCHS = 8  # the target recipe's: a run's training cost is EPOCHS x time_per_epoch_s


def read_csv(path: Path) -> list[dict]:
    return list(csv.DictReader(path.read_text().splitlines()))


def load(path: Path) -> dict:
    """(method, N) -> {seed: row} of the design runs (the finetune target's method is `finetune`)."""
    cells: dict = defaultdict(dict)
    outside = sorted({int(r["seed"]) for r in read_csv(path)} - set(DESIGN_SEEDS))
    if outside:
        raise SystemExit(f"{path}: seed {outside[0]} is not a design seed (2000-2019)")
    for r in read_csv(path):
        cells[(r["method"], int(r["n_per_class"]))][int(r["seed"])] = {
            "test": float(r["test_acc"]),
            "val": float(r["val_acc"]),
        }
    return dict(cells)


WALL_PER_CPU_S = 0.73  # the last reproduce on idle 2 cores: 484 s of Snakemake for 660 training CPU-s


def load_costs(design: Path, checked_in: Path) -> tuple[dict, float]:
    """(target, method, N) -> training CPU-seconds per run ((target, method, None): any N's), in the
    design's units, and the design's contention factor: design / checked-in cost of the cells both
    have (the design shared the cores with other work; the checked-in costs are from idle cores)."""
    mine = {
        (r["target"], r["method"], int(r["n_per_class"])): EPOCHS * float(r["time_per_epoch_s"])
        for r in read_csv(design)
    }
    old = {
        (r["target"], r["method"], int(r["n_per_class"])): EPOCHS * float(r["time_per_epoch_s"])
        for r in read_csv(checked_in)
    }
    both = [k for k in mine if k in old]
    scale = statistics.fmean(mine[k] / old[k] for k in both) if both else 1.0
    costs = {**{k: v * scale for k, v in old.items()}, **mine}
    for (t, m, _), v in list(costs.items()):
        costs.setdefault((t, m, None), v)
    return costs, scale


def paired(cells, a, b, n, field) -> np.ndarray:
    ca, cb = cells.get((a, n), {}), cells.get((b, n), {})
    return np.array([ca[s][field] - cb[s][field] for s in sorted(set(ca) & set(cb))])


def choose_n(cells) -> tuple[int, str]:
    for n in N_CANDIDATES:
        batches = n * CLASSES / BATCH
        gain = paired(cells, "l2tww", "scratch", n, "val")
        if batches >= MIN_BATCHES and len(gain) and gain.mean() >= GAIN_MIN:
            return n, f"N = {n}: {batches:.1f} batches, design-val L2T-ww − scratch {gain.mean():+.2f} ≥ {GAIN_MIN}"
    return N_CANDIDATES[
        0
    ], f"no candidate N passed; N = {N_CANDIDATES[0]} (flagged: gate 2's L2T-ww > scratch may fail)"


def best_baseline(cells, n) -> str:
    at = n if all((m, n) in cells for m in BASELINE_CANDIDATES) else N_CANDIDATES[0]
    return max(BASELINE_CANDIDATES, key=lambda m: statistics.fmean(r["val"] for r in cells[(m, at)].values()))


def lambda_rows(results: Path) -> list[str]:
    """The lambda diagnostic of the design runs: same-batch vs holdout at N = 5, same-batch at larger N."""
    out = [
        "| arm | N | runs | epochs with mean λ falling | runs ending below their start | mean Δ mean λ |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for method, n in (("l2tww", 5), ("l2tww_holdout", 5), ("l2tww", 50), ("l2tww", 100)):
        moves = []
        for metrics in sorted((results / "runs" / "fashion" / method).glob(f"n{n}-s*/metrics.json")):
            m = json.loads(metrics.read_text())
            log = json.loads((metrics.parent / "transfer.json").read_text())
            moves.append(diagnostics.lambda_direction(diagnostics.transfer_at(log, m["best_epoch"])))
        if moves:
            fell, epochs = sum(m[0] for m in moves), sum(m[1] for m in moves)
            below = sum(m[2] < 0 for m in moves)
            mean = statistics.fmean(m[2] for m in moves)
            out.append(f"| {method} | {n} | {len(moves)} | {fell}/{epochs} | {below}/{len(moves)} | {mean:+.3f} |")
    return out


def f2(x: float) -> str:
    return f"{x:+.2f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=Path, default=HERE / "design-runs.csv")
    ap.add_argument("--results", type=Path, default=None, help="the design's results root (for the λ diagnostic)")
    ap.add_argument("--costs", type=Path, default=HERE / "design-cost.csv")
    ap.add_argument(  # the checked-in cost.csv when the design ran (the default's later ones price other cells)
        "--checked-in-costs", type=Path, default=HERE.parent / "attribution" / "embedded-cost-1603c1a.csv"
    )
    ap.add_argument("--budget", type=float, default=1300.0, help="training CPU-seconds `make reproduce` may take")
    ap.add_argument("--study-seeds", type=int, default=40, help="seeds per primary arm of `make study`")
    args = ap.parse_args()
    cells = load(args.runs)
    costs, contention = load_costs(args.costs, args.checked_in_costs)

    def cost(method, n=None, target=None):
        target = target or ("fashion_finetune" if method == "finetune" else "fashion")
        return costs.get((target, method, n), float("nan"))

    print("## Design cells (mean over design seeds)\n")
    print("| method | N | seeds | val | test | CPU-s per run |\n|---|---:|---:|---:|---:|---:|")
    for (m, n), runs in sorted(cells.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        val = statistics.fmean(r["val"] for r in runs.values())
        test = statistics.fmean(r["test"] for r in runs.values())
        print(f"| {m} | {n} | {len(runs)} | {val:.2f} | {test:.2f} | {cost(m, n):.1f} |")

    n, why = choose_n(cells)
    best = best_baseline(cells, n)
    print(f"\n## Choices (validation only)\n\n- {why}\n- best baseline: {best} (design val)\n")
    k = len(GATE2)
    print(f"## Rows at N = {n} (test differences on design seeds; power at level {LEVEL}/{k} per gate-2 row)\n")
    print("| gate | row | design n | val mean | test mean | SD | SD 95% upper | effect | margin | n for 80% |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    rows = {}
    for gate, table in (("1", GATE1), ("2", GATE2)):
        for row, spec in table.items():
            a, b = spec[0], best if spec[1] == "best" else spec[1]
            effect = spec[2] if gate == "1" else EFFECT
            d, v = paired(cells, a, b, n, "test"), paired(cells, a, b, n, "val")
            if len(d) < 3:
                print(f"| {gate} | {row}@n{n} | {len(d)} | | | | | | | too few design seeds |")
                continue
            sd = float(np.std(d, ddof=1))
            up = power.sd_upper(sd, len(d))
            need = (
                power.planned_n(effect, up, LEVEL, POWER)
                if gate == "1"
                else power.planned_n_decide(effect, MARGIN, up, LEVEL / k, POWER)
            )
            rows[row] = (gate, a, b, effect, sd, up, len(d))
            print(
                f"| {gate} | {row}@n{n} | {len(d)} | {f2(v.mean())} | {f2(d.mean())} | {sd:.2f} | {up:.2f} | "
                f"{effect} | {MARGIN} | {need} |"
            )

    primary = sorted({m for g, a, b, *_ in rows.values() if g == "2" for m in (a, b)})
    per_seed = sum(cost(m, n) for m in primary)
    table = sum(cost(m, 5, t) for t, m in TABLE_N5)
    fixed = TABLE_SEEDS * table + REFERENCE_SEEDS * cost("finetune", n)
    seeds = int((args.budget - fixed) // per_seed)
    print(
        f"\n## Confirmation seeds (budget {args.budget:.0f} CPU-s of training runs)\n\n"
        f"- N = 5 table, {TABLE_SEEDS} seeds per arm, and gate 1's reference at {REFERENCE_SEEDS}: {fixed:.0f} CPU-s "
        "(arms the design did not run priced from the checked-in cost.csv, scaled)\n"
        f"- primary arms at N = {n} ({', '.join(primary)}): {per_seed:.1f} CPU-s per seed → **{seeds} seeds**\n"
    )
    print("| row | n | power supported at +effect | power equivalent at 0 |\n|---|---:|---:|---:|")
    for row, (gate, _a, _b, effect, _sd, up, _n) in rows.items():
        m = REFERENCE_SEEDS if gate == "1" else seeds
        if gate == "1":
            print(f"| {row}@n{n} | {m} | {power.power_one_sided(m, effect, up, LEVEL):.2f} | (gatekeeper) |")
        else:
            sup, eq = power.power_decide(m, effect, MARGIN, up, LEVEL / k)
            print(f"| {row}@n{n} | {m} | {sup:.2f} | {eq:.2f} |")
    study = args.study_seeds * per_seed + REFERENCE_SEEDS * cost("finetune", n)
    minutes = study / contention * WALL_PER_CPU_S / 60
    print(
        f"\n## `make study`: the primary rows at {args.study_seeds} seeds\n\n"
        f"- {study:.0f} training CPU-s in the design's units; / {contention:.2f} (the design's contention) × "
        f"{WALL_PER_CPU_S} wall-s per CPU-s ≈ **{minutes:.0f} min** of training jobs on idle 2 cores\n"
    )
    print("| row | n | power supported at +effect | power equivalent at 0 |\n|---|---:|---:|---:|")
    for row, (gate, _a, _b, effect, _sd, up, _n) in rows.items():
        if gate == "2":
            sup, eq = power.power_decide(args.study_seeds, effect, MARGIN, up, LEVEL / k)
            print(f"| {row}@n{n} | {args.study_seeds} | {sup:.2f} | {eq:.2f} |")
    if args.results:
        print("\n## Which way the meta-steps move λ (design seeds)\n")
        print("\n".join(lambda_rows(args.results)))
        hold = paired(cells, "l2tww_holdout", "l2tww", 5, "val")
        if len(hold):
            print(
                f"\nholdout − same-batch, design val at N = 5: {f2(hold.mean())} "
                f"(SD {np.std(hold, ddof=1):.2f}, {len(hold)} seeds)"
            )


if __name__ == "__main__":
    main()
