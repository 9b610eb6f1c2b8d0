"""Mutation testing of the core (a benchmark, not part of `make test`): how many small deliberate bugs
in the code do the tests catch?

    pip install -e '.[test,mutation]' && python benchmarks/mutation.py            # src/l2tww/methods/
    python benchmarks/mutation.py --scope train --scope config                    # the trainer, the config

`make mutation` runs the first line. mutmut (PyPI) rewrites each function of the scope into variants
with one small change (an operator, a constant, a dropped argument...), runs the tests that reach
that function against each variant, and calls a variant killed when a test fails. The run happens in a
scratch copy under .mutation/<scope>/ (git-ignored; the working tree is not touched) with the
scope's relevant tests only. It prints the score, killed / (all - skipped), then the score over
the non-equivalent mutants (survivors listed in docs/mutation-testing.md as equivalent, with the
reason, are left out), and the diff of every other survivor. Exit status 1 when such survivors remain.
Wall time on the project's 2-core machine, and the equivalent mutants: docs/mutation-testing.md.
Limits of mutmut 3: module-level code and decorated functions (other than @staticmethod and
@classmethod) are not mutated.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "mutation-testing.md"

# scope -> (files to mutate, tests that check them)
SCOPES = {
    "methods": (
        ["src/l2tww/methods/*"],
        [
            "tests/test_hypergradient.py",
            "tests/test_l2t_train_step.py",
            "tests/test_l2t.py",
            "tests/test_l2t_loss.py",
            "tests/test_baselines.py",
            "tests/test_method_registry.py",
            "tests/test_finetune.py",
            "tests/test_meta_objective.py",  # meta_objective: holdout
            "tests/test_meta_step_diagnostics.py",  # fast vs exact per meta-step
            "tests/test_l2t_branches.py",  # holdout vs the oracle, BN replays, old specs, observe_summary
        ],
    ),
    "train": (["src/l2tww/training/trainer.py"], ["tests/test_trainer.py", "tests/test_reliability.py"]),
    "config": (
        [
            "src/l2tww/config/params.py",
            "src/l2tww/config/matrix.py",
            "src/l2tww/config/validation.py",
            "src/l2tww/config/loading.py",
        ],
        ["tests/test_config.py", "tests/test_bad_params.py"],
    ),
}
# What the copied tests read from the repository root besides src/ and tests/.
ALSO_COPY = ["params.yaml", "workflow"]


def toml_list(items: list[str]) -> str:
    return "[" + ", ".join(f'"{i}"' for i in items) + "]"


def prepare(scope: str, work: Path, only: list[str] | None = None) -> None:
    """A scratch copy of the repository with mutmut's settings for `scope` in its pyproject.toml."""
    mutate, tests = SCOPES[scope]
    mutate = only or mutate
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in ["src", "tests", *ALSO_COPY]:
        src = REPO / name
        (shutil.copytree(src, work / name, ignore=ignore) if src.is_dir() else shutil.copy2(src, work / name))
    pyproject = (REPO / "pyproject.toml").read_text()
    pyproject += f"""
[tool.mutmut]
source_paths = ["src"]
only_mutate = {toml_list(mutate)}
pytest_add_cli_args_test_selection = {toml_list(tests)}
pytest_add_cli_args = ["-p", "no:cacheprovider"]
also_copy = {toml_list(ALSO_COPY)}
use_git_change_detection = false
"""
    (work / "pyproject.toml").write_text(pyproject)


def environment() -> dict[str, str]:
    """os.environ without PYTHONPATH entries that hold an l2tww package: the copy's src/ must be imported."""
    env = dict(os.environ)
    keep = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and not (Path(p) / "l2tww").is_dir()]
    env["PYTHONPATH"] = os.pathsep.join(keep)
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")  # one core per mutant process
    return env


def run_mutmut(work: Path, jobs: int) -> subprocess.CompletedProcess:
    env = environment()
    cmd = [sys.executable, "-m", "mutmut", "run", "--max-children", str(jobs)]
    log = work / "mutmut-run.log"
    with log.open("w") as out:
        done = subprocess.run(cmd, cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        print(log.read_text()[-4000:])
        raise SystemExit(f"mutmut run failed with exit status {done.returncode}; log: {log}")
    return done


def results(work: Path) -> dict[str, str]:
    text = subprocess.run(
        [sys.executable, "-m", "mutmut", "results", "--all", "true"],
        cwd=work,
        env=environment(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(re.findall(r"^\s+(\S+): (.+)$", text, flags=re.M))


def show(work: Path, name: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "mutmut", "show", name], cwd=work, env=environment(), capture_output=True, text=True
    ).stdout


def equivalents() -> set[str]:
    """Mutant names listed as equivalent in docs/mutation-testing.md (a `name` at the start of a table row)."""
    if not DOC.exists():
        return set()
    return set(re.findall(r"^\|\s*`([\w.ǁ]+__mutmut_\d+)`", DOC.read_text(), flags=re.M))


def report(scope: str, status: dict[str, str], work: Path, seconds: float | None) -> int:
    counts = Counter(status.values())
    caught = counts["killed"] + counts["timeout"] + counts["segfault"] + counts["caught by type check"]
    considered = len(status) - counts["skipped"]
    missed = sorted(n for n, s in status.items() if s in ("survived", "no tests", "suspicious"))
    known = equivalents()
    equivalent = [n for n in missed if n in known]
    open_ = [n for n in missed if n not in known]
    took = "" if seconds is None else f" in {seconds / 60:.1f} min"
    print(f"\n== mutation testing, scope {scope}: {len(status)} mutants{took}")
    print("   " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    print(f"   score: {caught}/{considered} = {100 * caught / max(considered, 1):.1f}% killed")
    print(
        f"   non-equivalent: {caught}/{considered - len(equivalent)} = "
        f"{100 * caught / max(considered - len(equivalent), 1):.1f}% killed"
        f" ({len(equivalent)} survivors are equivalent mutants, see docs/mutation-testing.md)"
    )
    for name in open_:
        print(f"\n-- survivor ({status[name]}): {name}\n{show(work, name).strip()}")
    return len(open_)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--scope", action="append", choices=sorted(SCOPES), help="what to mutate (repeatable; default: methods)"
    )
    parser.add_argument(
        "--jobs", type=int, default=os.cpu_count() or 2, help="mutants tested in parallel (default: all cores)"
    )
    parser.add_argument(
        "--only", action="append", help="mutate only these files of the scope (glob, e.g. src/l2tww/methods/lwf.py)"
    )
    parser.add_argument("--report-only", action="store_true", help="print the last run's results again")
    args = parser.parse_args(argv)
    try:
        import mutmut  # noqa: F401
    except ImportError:
        raise SystemExit("mutmut is not installed: pip install -e '.[mutation]'") from None
    open_survivors = 0
    for scope in args.scope or ["methods"]:
        work = REPO / ".mutation" / scope
        start = time.perf_counter()
        if not args.report_only:
            prepare(scope, work, args.only)
            run_mutmut(work, args.jobs)
        open_survivors += report(scope, results(work), work, None if args.report_only else time.perf_counter() - start)
    return 1 if open_survivors else 0


if __name__ == "__main__":
    raise SystemExit(main())
