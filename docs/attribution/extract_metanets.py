"""Issue 19 design: how far the meta-nets moved in each design L2T run, from its transfer.json.

    python docs/attribution/extract_metanets.py results/design docs/attribution/design-metanets.csv

Per run, at its best-val epoch (l2tww.results.diagnostics.meta_movement): the largest entropy deficit
1 - H/log C of the what-nets' channel weights over pairs, the spread and the largest size of the
relative lambda change (lambda_end - lambda_0) / lambda_0 over pairs, dead pairs (lambda = 0), and
the mean lambda before and after. Design seeds 0-9 only.
"""

import csv
import json
import sys
from pathlib import Path

from l2tww.results.diagnostics import meta_movement, transfer_at

root, out = Path(sys.argv[1]), Path(sys.argv[2])
rows = []
for t in sorted(root.glob("runs/*/*/n*-s*/transfer.json")):
    m = json.loads((t.parent / "metrics.json").read_text())
    assert m["seed"] in range(10), t
    log = json.loads(t.read_text())
    tr = transfer_at(log, m["best_epoch"])
    mv = meta_movement(tr)
    rows.append(
        {
            "target": m["target"],
            "method": m["method"],
            "n_per_class": m["n_per_class"],
            "seed": m["seed"],
            "best_epoch": m["best_epoch"],
            **{k: round(v, 5) for k, v in mv.items()},
            "lambda_init_mean": round(sum(tr["lambda_init"]) / len(tr["lambda_init"]), 5),
            "lambda_final_mean": round(sum(tr["lambda_final"]) / len(tr["lambda_final"]), 5),
        }
    )
with open(out, "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
print(f"{len(rows)} runs -> {out}")
