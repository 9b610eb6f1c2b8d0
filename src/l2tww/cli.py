"""`l2tww <verb>`: the one entry point every Snakemake rule and DVC stage calls.

    l2tww prepare fashion_target              # data/prepared/fashion_target/
    l2tww prepare mydata --stats              # an image folder's per-channel mean/std (writes nothing)
    l2tww split fashion_target                # data/splits/fashion_target/base.json
    l2tww split fashion_target --n 5 --seed 0 # data/splits/fashion_target/n5-s0.json
    l2tww pretrain fashion                    # results/sources/fashion/
    l2tww train fashion l2tww --n 5 --seed 0  # results/runs/fashion/l2tww/n5-s0/
    l2tww train fashion l2tww --n 5 --seed 0 1 2  # three runs in turn, one process
    l2tww train --job fashion/l2tww/n5-s0-4   # a training job of the matrix (what Snakemake runs)
    l2tww summarize                           # results/summary/
    l2tww sync                                # after `dvc pull`: mark for Snakemake the pulled outputs
                                              # whose recorded identity is current; list the stale
    l2tww compare [REV_A] [REV_B]             # per cell: identical / equivalent (± the plan's margin) / different /
                                              # can't tell (default HEAD vs workspace), and the claims'
                                              # verdicts by claim id; a REV may be another checkout
    l2tww runs                                # the run matrix, one run id per line
    l2tww weights compare A.pth B.pth         # largest tensor difference of two weight files
    l2tww try my-images                       # a one-minute smoke test on your folder (results/try-my_images/)

Every verb but `weights` (which reads only its two files) validates the params file first; bad
input exits 2 with one line on stderr (L2TWW_DEBUG=1 shows the traceback).
"""

from __future__ import annotations

import argparse
import os
import sys


def _n(value: str) -> int | None:
    from .results.cells import parse_n

    try:
        n = parse_n(value)
    except ValueError:
        n = 0
    if n is not None and n < 1:
        raise argparse.ArgumentTypeError(f"--n must be a positive integer or 'all', got {value}")
    return n


def _parser() -> argparse.ArgumentParser:
    from .config.layout import RUNS_CSV

    parser = argparse.ArgumentParser(prog="l2tww", description="Learning What and Where to Transfer: pipeline stages.")
    parser.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")
    parser.add_argument("--progress", action="store_true", help="show a progress bar instead of one line per epoch")
    sub = parser.add_subparsers(dest="verb", required=True)
    p = sub.add_parser("prepare", help="build a dataset into data/prepared/")
    p.add_argument("dataset")
    p.add_argument(
        "--stats",
        action="store_true",
        help="print an image folder's per-channel mean/std as a `normalize:` line instead (writes nothing)",
    )
    p = sub.add_parser("split", help="write a split index file")
    p.add_argument("dataset")
    p.add_argument("--n", type=_n, default=None, help="images per class, or 'all' (needs --seed)")
    p.add_argument("--seed", type=int, default=None, help="seed of the N-per-class draw; omit for the base split")
    p = sub.add_parser("pretrain", help="pretrain a source network")
    p.add_argument("source")
    p = sub.add_parser(
        "train", help="train target runs: one per seed, in turn (runs finished under their current identity are kept)"
    )
    p.add_argument("target", nargs="?")
    p.add_argument("method", nargs="?")
    p.add_argument("--n", type=_n, default=argparse.SUPPRESS, help="images per class, or 'all'")
    p.add_argument("--seed", type=int, nargs="+", help="one or more seeds")
    p.add_argument(
        "--job",
        help="a training job of the run matrix, e.g. fashion/l2tww/n5-s0-4 (`l2tww runs --jobs`); writes its record",
    )
    sub.add_parser("summarize", help="aggregate run metrics into results/summary/")
    p = sub.add_parser(
        "sync",
        help="after `dvc pull`: mark the outputs whose recorded identity is current as such for Snakemake "
        "(the rest re-run); prints what is stale and why",
    )
    p.add_argument("--dry-run", action="store_true", help="print what is current and stale; change nothing")
    p = sub.add_parser("report", help="render the papermill reports into reports_root (params)")
    p.add_argument("--out", default=None, help="output folder (default: the params' reports_root)")
    p.add_argument("--made-from", default=None, help="the params file(s) to name in the report (default: --params)")
    p = sub.add_parser(
        "compare", help=f"paired, per-seed differences of results/summary/{RUNS_CSV} between two revisions"
    )
    p.add_argument(
        "rev_a", nargs="?", default="HEAD", help="git revision, or another checkout's directory (default HEAD)"
    )
    p.add_argument(
        "rev_b",
        nargs="?",
        default=None,
        help="git revision, or another checkout's directory (default: the working tree)",
    )
    p.add_argument(
        "--same-verdicts",
        action="store_true",
        help="exit 1 if a claim's verdict differs between the two, or a side has no claims table",
    )
    p.add_argument(
        "--margin",
        type=float,
        default=None,
        help="a cell is 'equivalent' when the 90%% CI of B - A lies within +-MARGIN points "
        "(default: claims.plan.margin)",
    )
    p = sub.add_parser("runs", help="print the run matrix, one run id per line")
    p.add_argument(
        "--jobs", action="store_true", help="print the training jobs instead (runtime.runs_per_job seeds each)"
    )
    sub.add_parser(
        "check", help="validate the params file (image folders' trees, your own state_dict sources included) and exit"
    )
    p = sub.add_parser(
        "try", help="a one-minute smoke test on your image folder: scratch, FM and L2T-ww (results/try-<name>/)"
    )
    p.add_argument("folder", help="your images: FOLDER/train/<class>/<image> (+ optional FOLDER/test/<class>/)")
    p.add_argument("--cores", type=int, default=None, help="cores for snakemake (default: all)")
    from .training.weights_diff import add_arguments  # torch is imported only when it runs

    weights = sub.add_parser("weights", help="released weight files: `l2tww weights compare A B`")
    add_arguments(
        weights.add_subparsers(dest="action", required=True).add_parser(
            "compare", help="largest difference between two weight files' tensors"
        )
    )
    return parser


def _dispatch(args) -> int | None:
    from . import config

    params = config.load(args.params)
    if args.verb == "check":
        from .training.runtime import check_device, runtime_warnings

        try:
            device = check_device(params["runtime"]["device"])
        except RuntimeError as exc:
            raise config.ConfigError(f"{params.origin}: {exc}") from None
        from .stages.check import check_inputs, check_warnings

        check_inputs(params)
        for warning in runtime_warnings(params["runtime"], device) + check_warnings(params):
            print(f"l2tww: warning: {params.origin}: {warning}", file=sys.stderr)
        print(f"{args.params}: ok ({len(params.runs())} runs)")
    elif args.verb == "runs":
        for line in [job.tag for job in params.run_jobs()] if args.jobs else [run.run_id for run in params.runs()]:
            print(line)
    elif args.verb == "prepare":
        _known(params, "datasets", args.dataset)
        from .stages.prepare import dataset_stats, prepare_dataset  # imports torch: only the verbs that need it pay

        if args.stats:
            print(dataset_stats(params, args.dataset))
        else:
            prepare_dataset(params, args.dataset)
    elif args.verb == "split":
        _known(params, "datasets", args.dataset)
        if args.n is not None and args.seed is None:
            raise config.ConfigError("split: --n needs --seed")
        from .stages.split import make_split

        make_split(params, args.dataset, args.n, args.seed)
    elif args.verb == "pretrain":
        _known(params, "sources", args.source)
        from .stages.pretrain import pretrain_source

        pretrain_source(params, args.source, args.progress)
    elif args.verb == "train":
        from .stages.train import train_runs

        if args.job:
            job = params.job(args.job)
            train_runs(params, list(job.runs), args.progress, job)
        else:
            if not (args.target and args.method and args.seed) or "n" not in vars(
                args
            ):  # --n has no default: "all" is spelled out
                raise config.ConfigError("train: give TARGET METHOD --n N --seed S [S ...], or --job TAG")
            _known(params, "targets", args.target)
            _known(params, "methods", args.method)
            train_runs(
                params, [config.Run(args.target, args.method, args.n, seed) for seed in args.seed], args.progress
            )
    elif args.verb == "summarize":
        from .stages.summarize import summarize

        summarize(params)
    elif args.verb == "sync":
        from .stages.sync import sync

        sync(params, args.params, args.dry_run)
    elif args.verb == "compare":
        from .results.compare import main_compare

        files = params.layout.summary_outputs()
        if args.margin is None:  # the plan's margin: one home for it (results.verdicts.DEFAULT_MARGIN without a plan)
            from .results.verdicts import plan_from

            args.margin = plan_from((params.data.get("claims") or {}).get("plan", {})).margin
        if not args.margin > 0:
            raise config.ConfigError(f"compare: --margin {args.margin:g}: expected a positive number of points")
        text, same = main_compare(
            args.rev_a, args.rev_b, str(files["runs"]), metrics=str(files["metrics"]), margin=args.margin
        )
        print(text)
        if args.same_verdicts and same is not True:
            if same is None:
                print(
                    f"l2tww: --same-verdicts: {files['metrics']} has no claims table on both sides",
                    file=sys.stderr,
                )
            return 1
    elif args.verb == "report":
        from .stages.reporting import make_report

        make_report(params, args.out, args.made_from)


def _known(params, section: str, name: str) -> None:
    from .config import ConfigError

    if name not in params[section]:
        raise ConfigError(f"{params.origin}: {section}: no entry {name!r}; expected one of {sorted(params[section])}")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.verb == "weights":  # needs no params file
        from .training.weights_diff import run

        return run(args)
    try:
        if args.verb == "try":  # writes its own params file: the project's params.yaml is not read
            from .stages.trial import run_trial

            return run_trial(args.folder, args.cores)
        status = _dispatch(args)
    except (
        FileNotFoundError,
        ValueError,
        RuntimeError,
    ) as exc:  # ConfigError is a ValueError, NonFiniteLoss a RuntimeError
        if os.environ.get("L2TWW_DEBUG"):
            raise
        from .config import ConfigError

        lines = str(exc).splitlines() or [type(exc).__name__]
        # A ConfigError lists every problem of the params, one line each; other errors: their first line.
        for message in lines if isinstance(exc, ConfigError) else lines[:1]:
            print(f"l2tww: error: {message}", file=sys.stderr)
        return 2
    return status or 0


if __name__ == "__main__":
    sys.exit(main())
