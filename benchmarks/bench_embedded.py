"""Where one run of each arm of the embedded default spends its CPU time, and the ratio to another
commit measured in the same invocation (issue 28).

    python benchmarks/bench_embedded.py                          # every arm, this checkout
    python benchmarks/bench_embedded.py --baseline adbd49e       # and adbd49e, interleaved per arm
    python benchmarks/bench_embedded.py --baseline adbd49e --set runtime.channels_last=true
    python benchmarks/bench_embedded.py --quick --arms scratch l2tww   # fewest steps (the test's form)

Each arm is one real run of params.yaml (the same target, method, N = 5 and seed 1000 as the
matrix), trained by `l2tww.stages.train.train_runs` in a fresh process, as a training job trains
it. The sources are random-initialised (a run's cost does not depend on their weights), so no
pretraining is needed; the target's data is prepared once into a temporary folder (--workdir keeps it).

CPU-seconds (user + sys, from the child's rusage) are split by wrapping, from outside, functions
that exist at both revisions; time inside none of them is "other":
  start  - everything before `execute_run` is entered (interpreter, imports), and what a process
           pays once whichever run comes first (torch._dynamo, imported by the first optimizer,
           dvclive, and scikit-learn's metrics where evaluation imports them): done before the
           run, so the other phases are those of every run of a job and the matrix row counts
           start once per job,
  setup  - execute_run outside the phases below (data, sources, model, checkpoint and log writes),
  train  - the training loop (sources' forwards, the method's train_step, the frozen replay),
  meta   - L2T's hypergradient (exact look-ahead or the fast leading order) and its Adam step,
  val    - validation, with the transfer methods' `observe` (and the initial observe),
  test   - the test-set evaluation,
  subproc - processes the run started (git, for the execution record),
  exit   - the process's CPU after the run (interpreter teardown): with start, what a process costs.
With --baseline REV, REV is checked out by `git worktree add` into a temporary folder and each arm
runs there (PYTHONPATH=<it>/src, its own params.yaml) right after the same arm here, `--repeat`
times alternating, the fastest of each kept (a shared machine adds only positive noise). --set
overrides apply to this checkout's runs only: they switch levers on for the measurement.
The matrix row weights each arm by the runs of params.yaml it stands for (one process start per job):
the baseline's params.yaml with --baseline (both revisions priced on the same matrix), else HEAD's.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
MARK = "BENCH_EMBEDDED "
PHASES = ("start", "setup", "train", "meta", "val", "test", "subproc", "exit", "other")
# arm -> (target, method) of params.yaml, each at N = 5, seed 1000
ARMS = {
    "scratch": ("fashion", "scratch"),
    "fm": ("fashion", "fm_one_to_one"),
    "fm_all": ("fashion", "fm_all_to_all"),
    "frozen": ("fashion", "l2tww_frozen"),
    "l2tw": ("fashion", "l2tw_one_to_one"),
    "l2tww": ("fashion", "l2tww"),
    "l2tww_fast": ("fashion", "l2tww_fast"),
    "multi": ("fashion_multi", "l2tww"),
    "finetune": ("fashion_finetune", "finetune"),
}
QUICK = {"epochs": 1, "steps_per_epoch": 4}  # one meta-step at meta_every 4
N, SEED = 5, 1000


def arm_for(target: str, method: str, kind: str, pairs: str | None) -> str:
    """The benchmarked arm that stands for a run of the matrix (its cost class)."""
    for arm, key in ARMS.items():
        if key == (target, method):
            return arm
    if kind == "scratch":
        return "scratch"
    if kind == "l2t":
        if target == "fashion_multi":
            return "multi"
        return "l2tww" if pairs == "all_to_all" else "l2tw"
    if kind == "fm" and pairs == "all_to_all":
        return "fm_all"
    return "finetune" if kind == "finetune" else "fm"  # lwf, at, lwf_at, fm single/one-to-one


# -- the child: one run at one revision, phases by wrapping --------------------------------------------
class Phases:
    """Exclusive CPU time per phase: a phase's nested phases are subtracted from it."""

    def __init__(self):
        self.totals = {p: 0.0 for p in PHASES}
        self.stack: list[list] = []  # [phase, start, nested]
        self.missing: list[str] = []

    def wrap(self, owner, name: str, phase):
        """Wrap owner.name (phase: a name, or a function of the call's args giving one)."""
        fn = getattr(owner, name, None)
        if fn is None:
            self.missing.append(f"{getattr(owner, '__name__', owner)}.{name}")
            return
        phases = self

        def wrapped(*args, **kwargs):
            label = phase(*args, **kwargs) if callable(phase) else phase
            phases.stack.append([label, time.process_time(), 0.0])
            try:
                return fn(*args, **kwargs)
            finally:
                label, start, nested = phases.stack.pop()
                spent = time.process_time() - start
                phases.totals[label] += spent - nested
                if phases.stack:
                    phases.stack[-1][2] += spent

        setattr(owner, name, wrapped)


def _eval_phase(*args, **kwargs) -> str:
    return "test" if kwargs.get("classes") is not None else "val"


def warm_up() -> None:
    """The once-per-process costs every job's first run pays (see the module doc's `start`);
    nothing here draws a random number or touches the run."""
    import importlib
    import inspect

    import torch

    from l2tww.training import evaluation

    torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)  # imports torch._dynamo
    # sklearn.metrics: only where the checkout's evaluation imports it (before issue 28's bincount)
    for name in ["dvclive"] + ["sklearn.metrics"] * ("from sklearn" in inspect.getsource(evaluation)):
        importlib.import_module(name)


def child(spec: dict) -> None:
    import resource

    import torch

    from l2tww import config, methods
    from l2tww.config import Run
    from l2tww.methods import l2t as l2t_module
    from l2tww.stages import train as train_stage
    from l2tww.training import trainer as trainer_module

    torch.set_num_threads(1)
    phases = Phases()
    marks = {}
    phases.wrap(train_stage, "execute_run", "setup")
    original = train_stage.execute_run

    def entered(*args, **kwargs):  # the process's CPU before the run: start
        usage = resource.getrusage(resource.RUSAGE_SELF)
        marks["start"] = usage.ru_utime + usage.ru_stime
        return original(*args, **kwargs)

    train_stage.execute_run = entered
    phases.wrap(trainer_module.Trainer, "fit", "train")
    for owner in (trainer_module, train_stage):
        phases.wrap(owner, "evaluate", _eval_phase)
    for owner, name in ((trainer_module, "save_torch"), (trainer_module.Trainer, "_live")):
        phases.wrap(owner, name, "setup")
    for name in ("hypergradient", "_adam"):
        phases.wrap(l2t_module.L2T, name, "meta")
    phases.wrap(l2t_module, "leading_order_hypergradient", "meta")
    del methods  # imported so every method class is registered before the run

    warm_up()
    raw = config.load(Path(spec["params"])).data
    raw = copy.deepcopy(raw)
    raw["data_root"], raw["results_root"] = spec["data_root"], spec["results_root"]
    for key, value in spec["set"].items():
        node = raw
        *path, last = key.split(".")
        for part in path:
            node = node.setdefault(part, {})
        node[last] = value
    params = config.from_mapping(raw, origin=spec["params"])
    train_stage.train_runs(params, [Run(spec["target"], spec["method"], N, SEED)])  # as a job trains it
    phases.totals["start"] = marks["start"]
    usage = resource.getrusage(resource.RUSAGE_SELF)
    phases.totals["other"] = usage.ru_utime + usage.ru_stime - sum(phases.totals.values())
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    phases.totals["subproc"] = usage.ru_utime + usage.ru_stime
    print(MARK + json.dumps({"phases": phases.totals, "missing": phases.missing}), flush=True)


# -- the parent: setup, the runs, the table ---------------------------------------------------------------
def _parse_set(items: list[str]) -> dict:
    import yaml

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--set {item!r}: expected KEY=VALUE (e.g. runtime.channels_last=true)")
        out[key] = yaml.safe_load(value)
    return out


def setup(workdir: Path) -> None:
    """Prepared target data, the N = 5 split and random-initialised sources, made by this checkout."""
    import torch

    from l2tww import config
    from l2tww.models import build_model
    from l2tww.stages.prepare import prepare_dataset
    from l2tww.stages.split import make_split

    params = _params(REPO / "params.yaml", workdir, {})
    targets = {ARMS[a][0] for a in ARMS}
    for dataset in sorted({params["targets"][t]["dataset"] for t in targets}):
        if not params.layout.split(dataset, N, SEED).exists():
            prepare_dataset(params, dataset)
            make_split(params, dataset)
            make_split(params, dataset, N, SEED)
    torch.manual_seed(0)
    for name in sorted({s for t in targets for s in params["targets"][t]["sources"]}):
        cfg, path = params["sources"][name], params.layout.source_dir(name) / "model.pt"
        if not path.exists():
            info = params.info(cfg["dataset"])
            model = build_model(cfg["arch"], info.num_classes, info.channels)
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.save({"target": model.state_dict()}, path)
    del config


def _params(path: Path, workdir: Path, changes: dict, matrix_only: bool = False):
    from l2tww import config

    if matrix_only:  # another revision's file: its claims may follow an older schema; the runs do not
        raw = yaml.safe_load(path.read_text())
        raw.pop("claims", None)
    else:
        raw = copy.deepcopy(config.load(path).data)
    raw["data_root"], raw["results_root"] = str(workdir / "data"), str(workdir / "results")
    raw.update(changes)
    return config.from_mapping(raw, origin=str(path))


def run_child(src: Path, params_file: Path, arm: str, workdir: Path, overrides: dict) -> dict:
    """One run in a fresh process at the checkout `src`; its CPU-seconds split into phases."""
    target, method = ARMS[arm]
    shutil.rmtree(workdir / "results" / "runs", ignore_errors=True)  # a finished run would be kept, not trained
    spec = {
        "params": str(params_file),
        "data_root": str(workdir / "data"),
        "results_root": str(workdir / "results"),
        "target": target,
        "method": method,
        "set": overrides,
    }
    return run_child_spec(src, spec, arm)


def run_child_spec(src: Path, spec: dict, arm: str) -> dict:
    """The child of `spec` at the checkout `src` (its code on PYTHONPATH); its phases."""
    env = {**os.environ, "PYTHONPATH": str(src / "src"), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, __file__, "--child", json.dumps(spec)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=src)
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"{arm} at {src}: the run failed ({proc.returncode}):\n{err[-3000:]}")
    line = [x for x in out.splitlines() if x.startswith(MARK)][-1]
    return json.loads(line[len(MARK) :])


def _timed_child(*args) -> dict:
    """run_child with the child's total CPU (user + sys) from the kernel's accounting of children."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = run_child(*args)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    phases = result["phases"]
    phases["exit"] = max(0.0, total - sum(phases.values()))  # after the run: the interpreter's teardown
    return {"total": total, "phases": phases, "missing": result["missing"]}


def remove_worktree(path: Path) -> None:
    subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=REPO, capture_output=True)


def worktree(rev: str, into: Path) -> Path:
    path = into / f"rev-{rev}"
    subprocess.run(
        ["git", "worktree", "add", "--detach", "-f", str(path), rev], cwd=REPO, check=True, capture_output=True
    )
    return path


def matrix_weights(params) -> dict[str, tuple[int, int]]:
    """arm -> (runs, jobs) of the params' matrix that it stands for."""
    counts: dict[str, list[int]] = {a: [0, 0] for a in ARMS}
    for run in params.runs():
        spec = params.method_spec(run.target, run.method)
        pairs = params["methods"][run.method].get("pairs")
        counts[arm_for(run.target, run.method, spec.kind, pairs)][0] += 1
    for job in params.run_jobs():
        target, method = job.wildcards["target"], job.wildcards["method"]
        spec = params.method_spec(target, method)
        counts[arm_for(target, method, spec.kind, params["methods"][method].get("pairs"))][1] += 1
    return {a: (r, j) for a, (r, j) in counts.items()}


def matrix_cost(rows: dict[str, dict], weights: dict[str, tuple[int, int]]) -> float:
    """CPU-seconds of the matrix: each run its arm's run less the process's start and exit, each job
    one start and one exit (the runs of a job share one process)."""
    total = 0.0
    for arm, row in rows.items():
        runs, jobs = weights[arm]
        process = row["phases"]["start"] + row["phases"]["exit"]
        total += runs * (row["total"] - process) + jobs * process
    return total


def table(results: dict[str, dict[str, dict]], weights, names: list[str]) -> str:
    head = f"{'arm':<11}{'rev':<10}{'total':>7}" + "".join(f"{p:>8}" for p in PHASES) + f"{'ratio':>7}"
    lines = [head, "-" * len(head)]
    for arm, revs in results.items():
        for name in names:
            row = revs[name]
            ratio = "" if name == names[0] or len(names) == 1 else f"{row['total'] / revs[names[0]]['total']:>7.2f}"
            phases = "".join(f"{row['phases'][p]:>8.2f}" for p in PHASES)
            lines.append(f"{arm:<11}{name:<10}{row['total']:>7.2f}{phases}{ratio}")
    complete = [a for a in ARMS if a in results]
    if len(complete) == len(ARMS):
        costs = {n: matrix_cost({a: results[a][n] for a in complete}, weights) for n in names}
        runs, jobs = sum(r for r, _ in weights.values()), sum(j for _, j in weights.values())
        for name in names:
            ratio = "" if name == names[0] or len(names) == 1 else f"  ratio {costs[name] / costs[names[0]]:.2f}"
            lines.append(f"matrix ({runs} runs, {jobs} jobs) {name}: {costs[name]:.0f} CPU-s{ratio}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", metavar="REV", help="also time the runs at this commit (a git worktree)")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="params overrides for this checkout")
    parser.add_argument("--quick", action="store_true", help=f"fewest steps: {QUICK}")
    parser.add_argument("--arms", nargs="*", choices=list(ARMS), default=list(ARMS))
    parser.add_argument("--repeat", type=int, default=1, help="runs per (arm, revision); the fastest is kept")
    parser.add_argument("--workdir", type=Path, help="prepared data and sources, kept between invocations")
    parser.add_argument("--json", type=Path, help="write every measurement here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(json.loads(args.child))
        return
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a killed run still removes its worktree
    overrides = _parse_set(args.set)
    shape = {"recipes.target.epochs": QUICK["epochs"], "recipes.target.steps_per_epoch": QUICK["steps_per_epoch"]}
    shape = shape if args.quick else {}
    tmp = Path(tempfile.mkdtemp(prefix="bench-embedded-"))
    workdir = args.workdir or tmp
    checkouts = {"HEAD": REPO}
    try:
        setup(workdir)
        weights = matrix_weights(_params(REPO / "params.yaml", workdir, {}))
        if args.baseline:
            checkouts[args.baseline] = worktree(args.baseline, tmp)
            # the matrix the issue asks about is the baseline's: HEAD's params may run another one
            weights = matrix_weights(_params(checkouts[args.baseline] / "params.yaml", workdir, {}, matrix_only=True))
        names = list(checkouts)[::-1]  # the baseline first: ratios are this checkout / it
        results: dict[str, dict[str, dict]] = {}
        for arm in args.arms:
            results[arm] = {}
            for _ in range(args.repeat):
                for name in names:
                    src = checkouts[name]
                    sets = {**shape, **(overrides if name == "HEAD" else {})}
                    row = _timed_child(src, src / "params.yaml", arm, workdir, sets)
                    best = results[arm].get(name)
                    if best is None or row["total"] < best["total"]:
                        results[arm][name] = row
            print(f"[bench] {arm}: " + ", ".join(f"{n} {results[arm][n]['total']:.2f} s" for n in names), flush=True)
        import platform

        import torch

        print(
            f"\nCPU-seconds of one run per arm (user + sys), torch {torch.__version__}, "
            f"{platform.processor() or platform.machine()}, 1 thread, {os.cpu_count()} cores, "
            f"{'quick ' + str(QUICK) if args.quick else 'the full recipe'}, fastest of {args.repeat}; "
            f"HEAD overrides: {overrides or 'none'}"
        )
        print(table(results, weights, names))
        missing = {m for revs in results.values() for row in revs.values() for m in row["missing"]}
        if missing:
            print(f"names missing at a revision (their time is in the enclosing phase): {sorted(missing)}")
        if args.json:
            args.json.write_text(json.dumps({"results": results, "weights": weights, "overrides": overrides}, indent=1))
    finally:
        if args.baseline and args.baseline in checkouts:
            remove_worktree(checkouts[args.baseline])
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
