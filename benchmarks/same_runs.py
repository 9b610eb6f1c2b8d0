"""Whether this checkout trains the embedded default's runs to the same bits as another commit (issue 28).

    python benchmarks/same_runs.py --baseline aad73ad                 # every arm of bench_embedded
    python benchmarks/same_runs.py --baseline aad73ad --arms frozen l2tww
    python benchmarks/same_runs.py --baseline aad73ad --set runtime.channels_last=true   # a control: differs

Each arm (bench_embedded.ARMS: params.yaml's target and method, N = 5, seed 1000, random-initialised
sources) is trained at REV (a temporary `git worktree`, its own code and params.yaml) and here, with
a shortened recipe (3 epochs of 4 steps: several val evaluations, meta-steps at meta_every 4), then
every tensor of model.pt is compared with torch.equal, and metrics.json (less its identity, which
hashes the code), history.json and transfer.json for equality. --set applies to this checkout only.
Exit status 1 when any arm differs.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_embedded as bench  # noqa: E402

SHORT = {"recipes.target.epochs": 3, "recipes.target.steps_per_epoch": 4}


def _flat(state: dict, prefix: str = ""):
    for key, value in state.items():
        if isinstance(value, dict):
            yield from _flat(value, f"{prefix}{key}.")
        else:
            yield prefix + key, value


def differences(a: Path, b: Path) -> list[str]:
    """What differs between two finished run folders (empty: the same bits)."""
    import torch

    out = []
    ma, mb = (dict(_flat(torch.load(d / "model.pt", weights_only=True))) for d in (a, b))
    if ma.keys() != mb.keys():
        return ["model.pt keys"]
    for key, va in ma.items():
        vb = mb[key]
        same = torch.equal(va, vb) if torch.is_tensor(va) else va == vb
        if not same:
            out.append(f"model.pt:{key}")
    for name in ("metrics.json", "history.json", "transfer.json"):
        fa, fb = a / name, b / name
        if fa.exists() != fb.exists():
            out.append(f"{name} (only one side has it)")
            continue
        if not fa.exists():
            continue
        ja, jb = json.loads(fa.read_text()), json.loads(fb.read_text())
        if name == "metrics.json":  # the identity hashes the code, which differs by construction
            ja.pop("identity", None)
            jb.pop("identity", None)
        if ja != jb:
            out.append(name)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", metavar="REV", required=True)
    parser.add_argument("--arms", nargs="*", choices=list(bench.ARMS), default=list(bench.ARMS))
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="params overrides for this checkout")
    parser.add_argument("--workdir", type=Path, help="prepared data and sources, kept between invocations")
    args = parser.parse_args()
    overrides = bench._parse_set(args.set)
    tmp = Path(tempfile.mkdtemp(prefix="same-runs-"))
    workdir = args.workdir or tmp
    rev = None
    try:
        bench.setup(workdir)
        rev = bench.worktree(args.baseline, tmp)
        sides = {args.baseline: (rev, {}), "HEAD": (bench.REPO, overrides)}
        failed = 0
        for arm in args.arms:
            target, method = bench.ARMS[arm]
            dirs = {}
            for name, (src, sets) in sides.items():
                results = tmp / f"results-{name}"
                shutil.rmtree(results / "runs", ignore_errors=True)
                if not (results / "sources").exists():
                    shutil.copytree(workdir / "results" / "sources", results / "sources")
                spec = {
                    "params": str(src / "params.yaml"),
                    "data_root": str(workdir / "data"),
                    "results_root": str(results),
                    "target": target,
                    "method": method,
                    "set": {**SHORT, **sets},
                }
                bench.run_child_spec(src, spec, arm)
                dirs[name] = results / "runs" / target / method / f"n{bench.N}-s{bench.SEED}"
                shutil.copytree(dirs[name], tmp / f"{arm}-{name}")
                dirs[name] = tmp / f"{arm}-{name}"
            diff = differences(*dirs.values())
            failed += bool(diff)
            print(f"{arm:<11} {'bit-identical' if not diff else 'DIFFERS: ' + ', '.join(diff[:4])}", flush=True)
        sys.exit(1 if failed else 0)
    finally:
        if rev is not None:
            bench.remove_worktree(rev)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
