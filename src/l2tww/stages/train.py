"""`l2tww train`: target runs of the matrix (spec §5), one or several in turn (a training job).

A run whose metrics.json already records its current identity is kept, not trained again: a job
killed during its third run, rerun, trains only the third (resuming its checkpoint) and the rest.
"""

from __future__ import annotations

import gc
from pathlib import Path

from ..config import Job, Layout, Params, Run
from ..io import read_json, write_json
from ..methods import MethodSpec
from ..training.assemble import build_run
from ..training.evaluation import evaluate
from ..training.trainer import FitConfig, FitFiles, Trainer
from .common import device_for, finish, input_hashes, open_data, place
from .identity import digest, run_identity
from .inputs import run_inputs
from .plan import job_runs, run_record, stale_reason


def train_run(params: Params, run: Run, progress: bool = False) -> dict:
    return execute_run(run_inputs(params, run), digest(run_identity(params, run)), params["runtime"], progress)


def finished(params: Params, run: Run) -> bool:
    """Whether the run's folder holds a finished run of its current identity (what `l2tww sync`
    asks of a pulled run too)."""
    return stale_reason(run_record(params, run)) is None


def train_runs(params: Params, runs: list[Run], progress: bool = False, job: Job | None = None) -> None:
    """Train `runs` in turn, keeping those finished under their current identity; for a job,
    then write its record (the rule's output): the runs and the identities they were made with."""
    _freeze_survivors()  # what is imported by now (torch, l2tww)
    for run in runs:
        if len(runs) > 1:
            print(f"[l2tww] {run.run_id}", flush=True)
        if finished(params, run):
            print(
                f"[l2tww] {run.run_id}: finished earlier with this identity, kept (delete "
                f"{params.layout.run_dir(run.relpath)} to train it again)",
                flush=True,
            )
            continue
        train_run(params, run, progress)
        _freeze_survivors()
    if job is not None:
        runs = job_runs(params, job)
        write_json(params.layout.job_record(**job.wildcards), {"job": job.tag, "identity": digest(runs), "runs": runs})


def _freeze_survivors() -> None:
    """Before the first run and after each: collect the garbage, then move what survives out of
    the collector's reach.

    Those are the imported modules and their registries (~200,000 objects once torch is in),
    alive until the process ends. Python's full collections, which run every few thousand
    allocations during training, and the interpreter's teardown would traverse them all again
    each time: ~0.5 CPU-s a job (issue 28). Objects made later, the next run's, are collected
    as before."""
    gc.collect()
    gc.freeze()


def execute_run(inputs: dict, identity: str, runtime: dict, progress: bool = False) -> dict:
    """Train the run `inputs` describes (see stages.inputs.run_inputs) and write its artifacts."""
    recipe, spec = inputs["recipe"], MethodSpec.from_dict(inputs["spec"])
    device = device_for(runtime)
    data = open_data(inputs["data"], recipe["batch_size"], device, runtime)
    target, method, sources = build_run(
        inputs, data.num_classes, data.image_shape, device, inputs["seed"], lambda net: place(net, device, runtime)
    )
    method.initialize(target, sources)
    record = {
        "run_id": inputs["run_id"],
        "target": inputs["target"],
        "method": inputs["method"],
        "label": inputs["label"],
        "kind": spec.kind,
        "n_per_class": inputs["n_per_class"],
        "seed": inputs["seed"],
        "dataset": inputs["data"]["name"],
        "sources": inputs["source_names"],
        "pairs": [p.key for p in spec.pairs],
        "hparams": spec.hparams,
        "arch": inputs["arch"],
        "recipe": recipe,
    }
    files = [inputs["data"]["split"]] + [s["model"] for s in inputs["sources"] if s["pretrained"]]
    out_dir = Path(inputs["dir"])
    fit = FitConfig(
        recipe,
        FitFiles(**Layout.fit_files(out_dir)),
        inputs["seed"],
        device,
        runtime["precision"],
        record,
        fingerprint=digest({"identity": identity, "inputs": input_hashes(files)}),
        progress=progress,
    )
    trainer = Trainer(target, method, sources, data, fit)
    # What the method observes before any step (e.g. lambda at the where-nets' random init), so the
    # report and the claims measure what was learned, not where it started. Eval mode: no state moves;
    # the sources' part of it is kept for the trainer's val evaluations (source_cache).
    initial = (
        evaluate(target, data.val, method, sources, observe=True, source_cache=trainer.val_source_cache).get("transfer")
        if method.observes
        else None
    )
    return finish(trainer, out_dir, identity, runtime, also_write=lambda: _write_transfer(out_dir, spec, initial))


def _write_transfer(out_dir: Path, spec: MethodSpec, initial: dict | None) -> None:
    """Per-epoch val statistics the method observed (e.g. lambda and channel-weight entropy per
    pair), and under "initial" the same before training."""
    history = read_json(Layout.history(out_dir))
    rows = [(row["epoch"], row["transfer"]) for row in history if "transfer" in row]
    if not rows:
        return
    stats = {key: [t[key] for _, t in rows] for key in rows[0][1]}
    write_json(
        Layout.transfer(out_dir),
        {"pairs": [p.key for p in spec.pairs], "epochs": [e for e, _ in rows], **stats, "initial": initial},
    )
