"""Issue 19, design phase: the tables of docs/attribution-plan.md, from the design runs (seeds 0-9).

    python docs/attribution/design_analysis.py [--d1 CSV] [--d2 CSV] [--main CSV]

Reads the per-seed results of D1 (workflow/presets/embedded-design.yaml) and D2
(workflow/presets/embedded-design-dose.yaml), as copied to docs/attribution/design-runs-d{1,2}.csv,
and prints markdown: per-arm means and costs, paired differences on val, the dose-response, the
choice rule applied, the design test SDs per family row with n_rule, and the confirmation matrix.
The rules it applies are section 2 of docs/attribution-plan.md, fixed before the runs. Only seeds
0-9 are accepted (any other seed is an error: they belong to the confirmation run).
Optional --main: the embedded default's checked-in runs.csv, for the bit-identity check.
"""

from __future__ import annotations

import argparse
import csv
import math
from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy import stats

from l2tww.statistics import power

HERE = Path(__file__).resolve().parent
DESIGN_SEEDS = set(range(10))
ALPHA, M, DELTA, POWER = 0.05, 12, 1.5, 0.8
BUDGET = 1800.0  # core-seconds of training for the confirmation (section 2.1.2)
TOST_ALPHA, TOST_MARGIN = 0.05, 1.5
CONFIRM_SEEDS_FROM = 1000
BASELINES = ["lwf", "at", "lwf_at", "fm_single", "fm_one_to_one", "l2tw_single", "l2tw_one_to_one"]


# -- data ---------------------------------------------------------------------------------------
def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def load(path: Path) -> dict:
    """(target, method, N) -> {seed: row}; test/val/cost as floats."""
    cells: dict = defaultdict(dict)
    for r in read_csv(path):
        seed = int(r["seed"])
        if seed not in DESIGN_SEEDS:
            raise SystemExit(f"{path}: seed {seed} is not a design seed (0-9)")
        epochs = int(r["last_epoch"]) + 1
        cells[(r["target"], r["method"], int(r["n_per_class"]))][seed] = {
            "test": float(r["test_acc"]),
            "val": float(r["val_acc"]),
            "epochs": epochs,
            "cost": float(r["time_per_epoch_s"]) * epochs,
            "best_epoch": int(r["best_epoch"]),
            "run_id": r["run_id"],
        }
    return dict(cells)


def merge(*parts: dict) -> dict:
    out: dict = {}
    for p in parts:
        for k, v in p.items():
            out.setdefault(k, {}).update(v)
    return out


def mean_of(cell: dict, field: str) -> float:
    return float(np.mean([r[field] for r in cell.values()]))


def paired(cells: dict, a, b, field: str) -> np.ndarray:
    """Per-seed a - b over the seeds both have (sorted by seed)."""
    ca, cb = cells[a], cells[b]
    seeds = sorted(set(ca) & set(cb))
    return np.array([ca[s][field] - cb[s][field] for s in seeds])


def paired_gain(cells: dict, field: str) -> np.ndarray:
    """(l2tww - scratch)@5 - (l2tww - scratch)@25, per seed."""
    g5 = {
        s: cells[("fashion", "l2tww", 5)][s][field] - cells[("fashion", "scratch", 5)][s][field]
        for s in set(cells[("fashion", "l2tww", 5)]) & set(cells[("fashion", "scratch", 5)])
    }
    g25 = {
        s: cells[("fashion", "l2tww", 25)][s][field] - cells[("fashion", "scratch", 25)][s][field]
        for s in set(cells[("fashion", "l2tww", 25)]) & set(cells[("fashion", "scratch", 25)])
    }
    return np.array([g5[s] - g25[s] for s in sorted(set(g5) & set(g25))])


def ci(d: np.ndarray, level: float = 0.95) -> tuple[float, float, float, float]:
    n = len(d)
    m, sd = float(d.mean()), float(d.std(ddof=1))
    h = float(stats.t.ppf((1 + level) / 2, n - 1)) * sd / math.sqrt(n)
    return m, sd, m - h, m + h


# -- power ----------------------------------------------------------------------------------------
def power_t(n: int, sd: float, delta: float = DELTA, alpha: float = ALPHA / M) -> float:
    """One-sided paired t-test at level alpha, true mean difference delta, SD sd (l2tww.statistics.power:
    the project's one home of the power formulas)."""
    return power.power_one_sided(n, delta, sd, alpha)


def n_rule(sd: float, nmax: int = 10000) -> int:
    for n in range(3, nmax):
        if power_t(n, sd) >= POWER:
            return n
    return nmax


def power_tost(n: int, sd: float, margin: float = TOST_MARGIN, alpha: float = TOST_ALPHA, true: float = 0.0) -> float:
    """Exact power of TOST (two one-sided paired t-tests at alpha): l2tww.statistics.power.power_tost."""
    return power.power_tost(n, margin, sd, alpha, true)


def n_tost(sd: float, nmax: int = 10000) -> int:
    for n in range(3, nmax):
        if power_tost(n, sd) >= POWER:
            return n
    return nmax


# -- the settings of D2 ---------------------------------------------------------------------------
# setting -> (label, meta-steps, meta_lr, steps, L2T-ww arm, frozen twin arm, scratch arm)
SETTINGS = {
    "a": (
        "current: meta_every 4, meta_lr 5e-3, 128 steps",
        32,
        5e-3,
        128,
        ("fashion", "l2tww", 5),
        ("fashion", "l2tww_frozen", 5),
        ("fashion", "scratch", 5),
    ),
    "b": (
        "meta_every 1, meta_lr 5e-3, 128 steps",
        128,
        5e-3,
        128,
        ("fashion", "l2tww_me1", 5),
        ("fashion", "l2tww_frozen_me1", 5),
        ("fashion", "scratch", 5),
    ),
    "c": (
        "meta_every 4, meta_lr 1.5e-2, 128 steps",
        32,
        1.5e-2,
        128,
        ("fashion", "l2tww_lr3x", 5),
        ("fashion", "l2tww_frozen", 5),
        ("fashion", "scratch", 5),
    ),
    "d": (
        "meta_every 4, meta_lr 5e-3, 256 steps",
        64,
        5e-3,
        256,
        ("fashion_long", "l2tww", 5),
        ("fashion_long", "l2tww_frozen", 5),
        ("fashion_long", "scratch", 5),
    ),
}

L2T_KINDS = {"l2tww", "l2tww_fast", "l2tw_single", "l2tw_one_to_one"}  # + multi/digits (method l2tww)


def is_l2t(arm) -> bool:
    return arm[1] in L2T_KINDS


COSTS: dict = {}  # (target, method, N) -> (idle-equivalent core-s per run, source); filled in main()
CALIB: dict = {}  # (target, method, N) -> CPU-time cost of seed 0 (calibrate_costs.py)


def ratio(a, b) -> float:
    """cost(a) / cost(b), like for like: both calibrated where both are, else the COSTS values."""
    if a in CALIB and b in CALIB:
        return CALIB[a] / CALIB[b]
    return COSTS[a][0] / COSTS[b][0]


def base_cost(arm) -> tuple[float, str]:
    if arm not in COSTS:
        raise KeyError(f"no idle-equivalent cost for {arm}")
    return COSTS[arm]


def arm_cost(cells: dict, arm, setting: str) -> tuple[float, str]:
    """Per-run training cost (idle core-seconds) of an arm of the confirmation at a setting
    (rule 2.1.2, with the idle-equivalent costs of section 3.0 in place of the design's wall times)."""
    base, how = base_cost(arm)
    if setting == "a":
        return base, how
    if setting == "c":
        if is_l2t(arm) and ("fashion", "l2tww_lr3x", 5) in COSTS:
            r = ratio(("fashion", "l2tww_lr3x", 5), ("fashion", "l2tww", 5))
            return (
                (base * r, f"{how} x {r:.2f}")
                if arm != ("fashion", "l2tww", 5)
                else (COSTS[("fashion", "l2tww_lr3x", 5)][0], "calibrated")
            )
        return base, how
    if setting == "d":
        long = ("fashion_long",) + arm[1:]
        if long in COSTS:
            return COSTS[long][0], COSTS[long][1]
        return 2 * base, f"2 x {how}"
    # (b)
    if arm == ("fashion", "l2tww", 5):
        return COSTS[("fashion", "l2tww_me1", 5)][0], COSTS[("fashion", "l2tww_me1", 5)][1]
    if arm == ("fashion", "l2tww_frozen", 5):
        return COSTS[("fashion", "l2tww_frozen_me1", 5)][0], COSTS[("fashion", "l2tww_frozen_me1", 5)][1]
    if arm[1] == "l2tww_frozen":
        r = ratio(("fashion", "l2tww_frozen_me1", 5), ("fashion", "l2tww_frozen", 5))
        return base * r, f"{how} x {r:.2f}"
    if is_l2t(arm):
        r = ratio(("fashion", "l2tww_me1", 5), ("fashion", "l2tww", 5))
        return base * r, f"{how} x {r:.2f}"
    return base, how


# -- the confirmation's arms and rows -------------------------------------------------------------
def confirmation_design(cells: dict, setting: str):
    """Arms (at setting (a)'s names) with roles, rows -> arms, the choices of rule 2.1.4."""

    def val_mean(arm):
        return mean_of(cells[arm], "val")

    best_bl = max(BASELINES, key=lambda m: val_mean(("fashion", m, 5)))
    singles = [("fashion", "l2tww", 5), ("fashion_from_digits", "l2tww", 5)]
    single = max(singles, key=val_mean)

    def A(m, n=5, t="fashion"):
        return (t, m, n)

    rows = {
        "transfers_at_all@n5": (A("finetune", 5, "fashion_finetune"), A("scratch")),
        "l2tww_vs_scratch@n5": (A("l2tww"), A("scratch")),
        "l2tww_vs_scratch@n25": (A("l2tww", 25), A("scratch", 25)),
        "learning_helps@n5": (A("l2tww"), A("l2tww_frozen")),
        "learning_helps@n25": (A("l2tww", 25), A("l2tww_frozen", 25)),
        "learned_what@n5": (A("l2tw_one_to_one"), A("fm_one_to_one")),
        "learned_where@n5": (A("l2tww"), A("fm_all_to_all")),
        "learned_where@n25": (A("l2tww", 25), A("fm_all_to_all", 25)),
        "l2tww_vs_best_baseline@n5": (A("l2tww"), A(best_bl)),
        "l2tww_vs_best_baseline@n25": (A("l2tww", 25), A("fm_one_to_one", 25)),
        "gain_grows": (A("l2tww"), A("scratch"), A("l2tww", 25), A("scratch", 25)),
        "multi_source@n5": (A("l2tww", 5, "fashion_multi"), single),
    }
    extra = {"fast_equals_exact@n5": (A("l2tww_fast"), A("l2tww"))}
    served = {a for r in list(rows.values()) + list(extra.values()) for a in r}
    table_only = [A(m) for m in BASELINES if A(m) not in served]
    if ("fashion_from_digits", "l2tww", 5) not in served:
        table_only.append(("fashion_from_digits", "l2tww", 5))
    return rows, extra, sorted(served), table_only, best_bl, single


def at_setting(arm, setting: str):
    """The design arm that plays `arm` at a setting (for SDs): the L2T-ww / frozen / scratch arms at N = 5
    of D2 where run there, else the arm itself at (a) (a proxy, flagged)."""
    _, _, _, _, l2t, frozen, scratch = SETTINGS[setting]
    swap = {("fashion", "l2tww", 5): l2t, ("fashion", "l2tww_frozen", 5): frozen, ("fashion", "scratch", 5): scratch}
    if setting != "a" and arm in swap:
        return swap[arm], False
    return arm, changes(arm, setting)


def changes(arm, setting: str) -> bool:
    """Whether the setting changes this arm's training: (d) every arm (256 steps); (b) every L2T arm,
    frozen included (its BN replay follows meta_every); (c) the learning L2T arms (meta_lr)."""
    if setting == "d":
        return True
    if setting == "b":
        return is_l2t(arm) or arm[1] == "l2tww_frozen"
    if setting == "c":
        return is_l2t(arm)
    return False


def minimal_cost(cells: dict, setting: str) -> float:
    _, _, served, table_only, _, _ = confirmation_design(cells, setting)
    return sum(5 * arm_cost(cells, a, setting)[0] for a in served) + sum(
        3 * arm_cost(cells, a, setting)[0] for a in table_only
    )


# -- markdown -------------------------------------------------------------------------------------
def name(arm) -> str:
    t, m, n = arm
    return (f"{m}" if t == "fashion" else f"{t}/{m}") + f"@{n}"


def f2(x) -> str:
    return f"{x:+.2f}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--d1", default=HERE / "design-runs-d1.csv", type=Path)
    ap.add_argument("--d2", default=HERE / "design-runs-d2.csv", type=Path)
    ap.add_argument("--main", default=None, type=Path, help="the embedded default's runs.csv (bit-identity check)")
    ap.add_argument(
        "--idle",
        default=HERE / "embedded-cost-1603c1a.csv",
        type=Path,
        help="the embedded cost per cell (make reproduce on the idle machine, results/summary/cost.csv as of "
        "1603c1a, the last default with this study's arms): idle cost per arm",
    )
    ap.add_argument("--calib", default=HERE / "design-costs.csv", type=Path, help="calibrate_costs.py's CPU-time costs")
    ap.add_argument("--metanets", default=HERE / "design-metanets.csv", type=Path, help="extract_metanets.py's table")
    args = ap.parse_args()
    idle = defaultdict(list)
    for r in read_csv(args.idle):  # the mean over the cell's timed seeds (runs.csv no longer holds times)
        if r["time_per_epoch_s"]:
            idle[(r["target"], r["method"], int(r["n_per_class"]))].append(float(r["time_per_epoch_s"]) * 8)
    calib = {}
    if args.calib.exists():
        for r in read_csv(args.calib):
            calib[(r["target"], r["method"], int(r["n_per_class"]))] = float(r["cpu_train_s"])
    CALIB.update(calib)
    for k, v in idle.items():
        COSTS[k] = (float(np.mean(v)), "idle")
    for k, v in calib.items():
        COSTS.setdefault(k, (v, "calibrated"))
    d1 = load(args.d1)
    d2 = load(args.d2) if args.d2.exists() else {}
    for k in set(d1) & set(d2):  # D2 reuses D1's cells: they must be the same numbers
        for s in set(d1[k]) & set(d2[k]):
            assert (d1[k][s]["test"], d1[k][s]["val"]) == (d2[k][s]["test"], d2[k][s]["val"]), (k, s)
    cells = merge(d1, d2)

    if args.main:
        ref = defaultdict(dict)
        for r in read_csv(args.main):
            ref[(r["target"], r["method"], int(r["n_per_class"]))][int(r["seed"])] = (
                float(r["test_acc"]),
                float(r["val_acc"]),
                int(r["best_epoch"]),
            )
        same = diff = 0
        bad = []
        for k, seeds in ref.items():
            for s, v in seeds.items():
                if k in cells and s in cells[k]:
                    c = cells[k][s]
                    if (c["test"], c["val"], c["best_epoch"]) == v:
                        same += 1
                    else:
                        diff += 1
                        bad.append((k, s, v, (c["test"], c["val"], c["best_epoch"])))
        print(
            f"## Bit-identity with the checked-in embedded results\n\n{same} runs identical (test, val, best epoch), "
            f"{diff} different."
        )
        for k, sd, ref_v, new_v in bad[:3]:
            print(f"- {name(k)} seed {sd}: checked-in (test, val, best epoch) {ref_v}, here {new_v}")
        if len(bad) > 3:
            print(
                f"- ... and {len(bad) - 3} more (per-cell paired shifts: `l2tww compare`, in docs/attribution-plan.md)"
            )
        print()

    print("## D1/D2: per arm (design seeds 0-9; test reported, never used to choose)\n")
    print(
        "| arm (target/method@N) | seeds | val mean | test mean | wall s per run (loaded machine) | idle-equivalent "
        "core-s per run (source) |"
    )
    print("|---|---|---|---|---|---|")
    for k in sorted(cells, key=lambda k: (k[2], k[0] != "fashion", k[0], k[1])):
        c = cells[k]
        ic = f"{COSTS[k][0]:.1f} ({COSTS[k][1]})" if k in COSTS else "–"
        print(
            f"| {name(k)} | {len(c)} | {mean_of(c, 'val'):.2f} | {mean_of(c, 'test'):.2f} | {mean_of(c, 'cost'):.1f} | "
            f"{ic} |"
        )
    anchors = [k for k in calib if k in idle]
    if anchors:
        print(
            "\nCalibration anchors (CPU-time cost of seed 0 vs the idle machine's mean): "
            + "; ".join(f"{name(k)} {calib[k]:.1f} vs {np.mean(idle[k]):.1f}" for k in anchors)
            + "."
        )

    print("\n## Paired differences on VAL (mean, SD, 95% t-interval, seeds with A > B)\n")
    print("| A − B | N | n | mean | SD | 95% CI | A > B |")
    print("|---|---|---|---|---|---|---|")
    pairs = [
        ("l2tww", "l2tww_frozen", 5),
        ("l2tww", "l2tww_frozen", 25),
        ("l2tw_one_to_one", "fm_one_to_one", 5),
        ("l2tww", "fm_all_to_all", 5),
        ("l2tww", "fm_all_to_all", 25),
        ("l2tww_frozen", "fm_all_to_all", 5),
        ("l2tww_frozen", "fm_all_to_all", 25),
        ("l2tww", "scratch", 5),
        ("l2tww", "scratch", 25),
        ("l2tww_frozen", "scratch", 5),
        ("l2tww_frozen", "scratch", 25),
        ("fm_all_to_all", "scratch", 5),
        ("fm_all_to_all", "scratch", 25),
        ("fm_all_to_all", "fm_one_to_one", 5),
        ("fm_all_to_all", "fm_one_to_one", 25),
        ("l2tww_fast", "l2tww", 5),
        ("l2tww_fast", "l2tww_frozen", 5),
        ("l2tww_me1", "l2tww", 5),
        ("l2tww_lr3x", "l2tww", 5),
    ]
    for a, b, n in pairs:
        A, B = ("fashion", a, n), ("fashion", b, n)
        if A in cells and B in cells:
            d = paired(cells, A, B, "val")
            m, sd, lo, hi = ci(d)
            print(
                f"| {a} − {b} | {n} | {len(d)} | {f2(m)} | {sd:.2f} | [{lo:+.2f}, {hi:+.2f}] | "
                f"{int((d > 0).sum())}/{len(d)} |"
            )

    print("\n## Dose-response at N = 5: L2T-ww − its frozen twin, VAL (dose = meta-steps x meta_lr)\n")
    print(
        "| setting | meta-steps | meta_lr | dose | L2T-ww val | twin val | diff mean | SD | 95% CI | > 0 | L2T-ww − "
        "scratch (val) | idle cost L2T-ww / twin (core-s) | minimal confirmation (core-s) | affordable |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    D = {}
    afford = {}
    for s, (label, steps_meta, lr, _steps, l2t, frozen, scratch) in SETTINGS.items():
        if l2t not in cells or frozen not in cells:
            print(f"| ({s}) {label} | {steps_meta} | {lr:g} | {steps_meta * lr:.2f} | not run | | | | | | | | | |")
            continue
        d = paired(cells, l2t, frozen, "val")
        m, sd, lo, hi = ci(d)
        g = paired(cells, l2t, scratch, "val").mean() if scratch in cells else float("nan")
        D[s] = m
        try:
            mc = minimal_cost(cells, s)
        except KeyError:
            mc = float("nan")
        afford[s] = mc <= BUDGET
        print(
            f"| ({s}) {label} | {steps_meta} | {lr:g} | {steps_meta * lr:.2f} | {mean_of(cells[l2t], 'val'):.2f} | "
            f"{mean_of(cells[frozen], 'val'):.2f} "
            f"| {f2(m)} | {sd:.2f} | [{lo:+.2f}, {hi:+.2f}] | {int((d > 0).sum())}/{len(d)} | {f2(g)} "
            f"| {COSTS.get(l2t, (float('nan'),))[0]:.1f} / {COSTS.get(frozen, (float('nan'),))[0]:.1f} | {mc:,.0f} | "
            f"{'yes' if afford[s] else 'no'} |"
        )
    if ("fashion_long", "scratch", 5) in cells:
        d = paired(cells, ("fashion_long", "scratch", 5), ("fashion", "scratch", 5), "val")
        m, sd, lo, hi = ci(d)
        print(f"\nScratch, 256 − 128 steps (val): {f2(m)} [{lo:+.2f}, {hi:+.2f}], SD {sd:.2f}.")
        d = paired(cells, ("fashion_long", "l2tww_frozen", 5), ("fashion", "l2tww_frozen", 5), "val")
        m, sd, lo, hi = ci(d)
        print(f"Frozen, 256 − 128 steps (val): {f2(m)} [{lo:+.2f}, {hi:+.2f}], SD {sd:.2f}.")
    if ("fashion", "l2tww_frozen_me1", 5) in cells:
        d = paired(cells, ("fashion", "l2tww_frozen_me1", 5), ("fashion", "l2tww_frozen", 5), "val")
        m, sd, lo, hi = ci(d)
        print(f"Frozen, BN replay every batch − every 4th (val): {f2(m)} [{lo:+.2f}, {hi:+.2f}], SD {sd:.2f}.")

    if args.metanets.exists():
        mv = defaultdict(list)
        for r in read_csv(args.metanets):
            mv[(r["target"], r["method"], int(r["n_per_class"]))].append(r)
        print("\nMeta-net movement at the best-val epoch (mean over runs; l2tww.claims.meta_movement):\n")
        print(
            "| arm | runs | largest entropy deficit | spread of λ change | largest λ change | dead λ (pair-runs) | "
            "mean λ before → after |"
        )
        print("|---|---|---|---|---|---|---|")
        for k in sorted(mv, key=lambda k: (k[2], k[0], k[1])):
            v = mv[k]

            def f(c, v=v):
                return np.mean([float(x[c]) for x in v])

            print(
                f"| {name(k)} | {len(v)} | {f('max_entropy_deficit'):.3f} | {f('lambda_spread'):.2f} | "
                f"{f('max_lambda_change'):.2f} "
                f"| {sum(int(x['dead_lambda']) for x in v)} | {f('lambda_init_mean'):.3f} → "
                f"{f('lambda_final_mean'):.3f} |"
            )

    # the choice rule (2.1.3)
    ok = {s: D[s] for s in D if afford.get(s)}
    chosen, why = "a", ""
    if ok:
        best = max(ok, key=ok.get)
        if ok[best] <= 0:
            why = f"no affordable setting has D > 0 (largest: ({best}) {f2(ok[best])})"
        elif best != "a" and ok[best] - D.get("a", -math.inf) < 0.5:
            why = f"the largest affordable D, ({best}) {f2(ok[best])}, exceeds D_a = {f2(D['a'])} by less than 0.5 pt"
        else:
            chosen, why = best, f"the largest affordable D: {f2(ok[best])}"
    print(f"\n**Choice rule 2.1.3:** affordable settings {sorted(ok)}; chosen ({chosen}): {why}.")

    rows, extra, served, table_only, best_bl, single = confirmation_design(cells, chosen)
    bl_vals = ", ".join(f"{m} {mean_of(cells[('fashion', m, 5)], 'val'):.2f}" for m in BASELINES)
    print(
        f"Rule 2.1.4: best baseline on val at N = 5: **{best_bl}** ({bl_vals}); "
        f"better single source on val: **{name(single)}** "
        f"(fashion {mean_of(cells[('fashion', 'l2tww', 5)], 'val'):.2f}, digits "
        f"{mean_of(cells[('fashion_from_digits', 'l2tww', 5)], 'val'):.2f})."
    )

    # design SDs per row on TEST at the chosen setting
    print(
        f"\n## Design test SDs per row at setting ({chosen}), n_rule (one-sided, level {ALPHA}/{M} = {ALPHA / M:.5f}, "
        f"delta {DELTA}, power {POWER})\n"
    )
    print("| row | A − B (design arms) | design mean (test) | design SD (test) | n_rule |")
    print("|---|---|---|---|---|")
    row_sd, row_rule = {}, {}
    for r, arms in list(rows.items()) + list(extra.items()):
        mapped = [at_setting(a, chosen) for a in arms]
        proxy = any(p for _, p in mapped)
        marms = [a for a, _ in mapped]
        if r == "gain_grows":
            if chosen == "a":
                d = paired_gain(cells, "test")
            else:  # the N = 5 side at the chosen setting, the N = 25 side at (a) (proxy)
                g5 = paired(cells, marms[0], marms[1], "test")
                g25 = paired(cells, arms[2], arms[3], "test")
                d = g5 - g25
                proxy = True
            desc = "(l2tww − scratch)@5 − (l2tww − scratch)@25"
        else:
            d = paired(cells, marms[0], marms[1], "test")
            desc = f"{name(marms[0])} − {name(marms[1])}"
        m, sd, _, _ = ci(d)
        row_sd[r] = sd
        row_rule[r] = n_tost(sd) if r in extra else n_rule(sd)
        note = " (SD from (a): not run at the chosen setting)" if proxy else ""
        print(f"| {r} | {desc}{note} | {f2(m)} | {sd:.2f} | {row_rule[r]}{' (TOST)' if r in extra else ''} |")

    # allocation (2.2, allocation rule)
    costs = {a: arm_cost(cells, a, chosen) for a in served + table_only}
    all_rows = {**rows, **extra}
    want = {a: max(row_rule[r] for r, arms in all_rows.items() if a in arms) for a in served}
    fixed = sum(3 * costs[a][0] for a in table_only)

    def total(cap):
        return fixed + sum(costs[a][0] * max(5, min(want[a], cap)) for a in served)

    cap = 5
    while total(cap + 1) <= BUDGET and cap < max(want.values()):
        cap += 1
    count = {a: max(5, min(want[a], cap)) for a in served}
    count.update({a: 3 for a in table_only})
    print(
        f"\n## Confirmation matrix at setting ({chosen}): seeds {CONFIRM_SEEDS_FROM}, {CONFIRM_SEEDS_FROM + 1}, ... "
        f"(prefixes); n_cap = {cap}\n"
    )
    print("| arm | serves | n wanted (max n_rule) | seeds | cost per run (core-s) | core-s |")
    print("|---|---|---|---|---|---|")
    tot = 0.0
    for a in served + table_only:
        c, how = costs[a]
        k = count[a]
        tot += c * k
        rs = ", ".join(r for r, arms in all_rows.items() if a in arms) or "table only"
        w = want.get(a, "–")
        print(
            f"| {name(a)} | {rs} | {w} | {k} ({CONFIRM_SEEDS_FROM}-{CONFIRM_SEEDS_FROM + k - 1}) | {c:.1f} ({how}) | "
            f"{c * k:,.0f} |"
        )
    print(f"| **total** | | | {sum(count.values())} runs | | **{tot:,.0f}** |")

    print(
        f"\n## Per row at the confirmation: n, n_rule, power at n (level {ALPHA}/{M}; TOST at {TOST_ALPHA}, "
        f"±{TOST_MARGIN})\n"
    )
    print(
        "| row | design SD | n_rule | n | power at n | power at n if tested at alpha = 0.05 (Holm's last) | "
        "affordable? |"
    )
    print("|---|---|---|---|---|---|---|")
    for r, arms in all_rows.items():
        n = min(count[a] for a in arms)
        sd = row_sd[r]
        if r in extra:
            p, p_last = power_tost(n, sd), float("nan")
        else:
            p, p_last = power_t(n, sd), power_t(n, sd, alpha=ALPHA)
        print(
            f"| {r} | {sd:.2f} | {row_rule[r]} | {n} | {p:.2f} | {'–' if r in extra else f'{p_last:.2f}'} | "
            f"{'yes' if n >= row_rule[r] else 'no'} |"
        )


if __name__ == "__main__":
    main()
