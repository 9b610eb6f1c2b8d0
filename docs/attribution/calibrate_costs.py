"""Issue 19 design: per-run training cost in CPU seconds, for the confirmation budget.

The design runs' time_per_epoch_s is wall time, and the shared 2-core machine was busy with
another engineer's test suite while they ran (1.2-2x inflated, varying). This re-trains seed 0
(a design seed) of each arm once, in this process, with the trainer's clock switched to
time.process_time (CPU time of this process; torch runs 1 thread), so time_per_epoch_s x epochs is
the core-seconds of training an idle core would take. The accuracies must equal the design runs'
(same seed, same code): checked here.

    PYTHONPATH=src python docs/attribution/calibrate_costs.py OUT.csv target:method:N ...
"""

from __future__ import annotations

import csv
import json
import sys
import time
import types
from pathlib import Path

import yaml

import l2tww.train as T
from l2tww.cli import main as cli

T.time = types.SimpleNamespace(perf_counter=time.process_time)  # the trainer's only clock

ROOT = Path(__file__).resolve().parents[2]
d1 = yaml.safe_load((ROOT / "workflow/presets/embedded-design.yaml").read_text())
d2 = yaml.safe_load((ROOT / "workflow/presets/embedded-design-dose.yaml").read_text())
params = d1
params["methods"].update(d2["methods"])
for k in ("target_long",):  # variant (d), dropped from D2 before it ran
    if k in d2["recipes"]:
        params["recipes"][k] = d2["recipes"][k]
if "fashion_long" in d2["targets"]:
    params["targets"]["fashion_long"] = d2["targets"]["fashion_long"]
params["results_root"] = "results/calib"
params.pop("claims", None)
ppath = ROOT / "results/calib/params.yaml"
ppath.parent.mkdir(parents=True, exist_ok=True)
(ROOT / "results/calib/sources").exists() or (ROOT / "results/calib/sources").symlink_to(
    ROOT / "results/design/sources"
)
ppath.write_text(yaml.safe_dump(params))

out = Path(sys.argv[1])
rows = []
for spec in sys.argv[2:]:
    target, method, n = spec.split(":")
    t0 = time.process_time()
    rc = cli(["--params", str(ppath), "train", target, method, "--n", n, "--seed", "0"])
    assert rc in (0, None), (spec, rc)
    m = json.loads((ROOT / f"results/calib/runs/{target}/{method}/n{n}-s0/metrics.json").read_text())
    dpath = ROOT / f"results/design/runs/{target}/{method}/n{n}-s0/metrics.json"
    d = json.loads(dpath.read_text()) if dpath.exists() else None
    same = None if d is None else (m["test_acc"], m["val_acc"]) == (d["test_acc"], d["val_acc"])
    rows.append(
        {
            "target": target,
            "method": method,
            "n_per_class": n,
            "seed": 0,
            "epochs": m["epochs"],
            "cpu_time_per_epoch_s": m["time_per_epoch_s"],
            "cpu_train_s": m["train_time_s"],
            "process_cpu_s": time.process_time() - t0,
            "same_accuracy_as_design": same,
        }
    )
    print(rows[-1], flush=True)
with open(out, "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
