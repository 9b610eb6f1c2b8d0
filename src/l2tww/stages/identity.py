"""A result's identity, declared once: the params it reads, the identities of its inputs and the
code it executes (`codehash`). Every consumer takes it from here:

- Snakemake: each rule's `params` is the job's identity hash, so a job re-runs exactly when its
  identity changes (a param, an upstream input's identity, or a behaviour edit of its code);
- resume: a checkpoint is used only by a run of the same identity (`train.Trainer`);
- every artifact records its identity hash (metrics.json, meta.json, a split file, a job record,
  the summary's and the report's identity.json), so `l2tww sync` can tell, on a clone that pulled
  them, which are current without Snakemake's local metadata.

Values resolved by the stages layer (method specs, pair lists) are part of the identity, so the
modules that resolve them (config, paths, this one) are not hashed as code: editing a message in
config.py re-runs nothing. Nor is `plan` (which files a job reads, whether a finished run is kept):
it decides what runs, never a number. Runtime knobs that do not change numbers (threads, workers, device
choice) are left out; precision and determinism change them on a GPU, channels_last and eval_batch_size on any device,
and are in.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..catalog import BUILDERS, IMAGE_FOLDER, METHODS
from ..config import Params, Run
from ..report import NOTEBOOKS as NOTEBOOK_FILES
from .codehash import code_identity, text_hash

NOT_CODE = (
    "l2tww.config",
    "l2tww.config.params",
    "l2tww.config.validation",
    "l2tww.config.matrix",
    "l2tww.config.loading",
    "l2tww.config.facts",
    "l2tww.config.layout",
    "l2tww.stages.codehash",
    "l2tww.stages.identity",
    "l2tww.stages.plan",
)


def _code(*roots: str) -> dict[str, str]:
    return code_identity(roots, stop=NOT_CODE)


def digest(identity: dict) -> str:
    """A short, stable hash of an identity (what rule params and checkpoints compare)."""
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _numeric_runtime(params: Params) -> dict:
    return {k: params["runtime"][k] for k in ("precision", "deterministic", "channels_last", "eval_batch_size")}


def prepare_identity(params: Params, dataset: str) -> dict:
    """A built-in dataset is fixed by its builder (and checksums). An image folder by what is in it:
    every image's path, size and modification time (data/tree_scan.py: cheap at every plan; the
    sha256 of each image goes to the prepared manifest), and how it is read and stored."""
    cfg = params["datasets"][dataset]
    # A built-in builder's module is imported by name (data/store.py), so it is named here.
    module = None if cfg["builder"] == IMAGE_FOLDER else BUILDERS[cfg["builder"]].module
    identity = {
        "builder": cfg["builder"],
        "code": _code("l2tww.stages.prepare", *([f"l2tww.data.{module}"] if module else [])),
    }
    if cfg["builder"] == IMAGE_FOLDER:
        storage = params.info(dataset).storage
        identity["images"] = params.trees[dataset].fingerprint()
        identity["read"] = {
            "skip_unreadable": cfg.get("skip_unreadable", False),
            "storage": storage,
            "image_size": cfg["image_size"] if storage == "tensor" else None,  # tensors are resized when prepared
        }
    return identity


def split_identity(params: Params, dataset: str, n_per_class: int | None = None, seed: int | None = None) -> dict:
    """The base split (seed None) or an N-per-class subset, which derives from the base split."""
    cfg = params["datasets"][dataset]
    base = {
        "prepared": prepare_identity(params, dataset),
        "dataset": {
            k: v for k, v in cfg.items() if k not in ("normalize", "augment")
        },  # read when loading, not splitting
        "split_seed": params["split_seed"],
        "code": _code("l2tww.stages.split"),
    }
    return base if seed is None else {"base": base, "n_per_class": n_per_class, "seed": seed}


def source_identity(params: Params, name: str) -> dict:
    src = params["sources"][name]
    if not params.is_pretrained(name):  # released weights: the file is fixed by its checksum
        identity = {
            "weights": src["weights"],
            "arch": src["arch"],
            "dataset": params["datasets"][src["dataset"]]["builder"],
        }
        if "sha256" not in src["weights"] and src["weights"]["format"] == "state_dict":
            identity["file"] = _file_stamp(Path(src["weights"]["path"]))  # your own file, no checksum given
        if identity["dataset"] == IMAGE_FOLDER:  # the classifier's size comes from the folder
            identity["classes"] = params.info(src["dataset"]).num_classes
        return identity
    return {
        "source": src,
        "recipe": params["recipes"][src["recipe"]],
        "dataset": params["datasets"][src["dataset"]],
        "split": split_identity(params, src["dataset"], src.get("n_per_class"), src["seed"]),
        "runtime": _numeric_runtime(params),
        "code": _code("l2tww.stages.pretrain"),
    }


def _file_stamp(path: Path) -> dict | None:
    """Size and modification time of a file (None: missing; its loading will say so)."""
    if not path.is_file():
        return None
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def run_identity(params: Params, run: Run) -> dict:
    target = params["targets"][run.target]
    method = {k: v for k, v in params["methods"][run.method].items() if k != "label"}  # a label changes no number
    spec = params.method_spec(run.target, run.method)
    return {
        "run": {"target": run.target, "method": run.method, "n_per_class": run.n_per_class, "seed": run.seed},
        "target": {k: target[k] for k in ("dataset", "arch", "sources")},
        "method": method,
        "pairs": [p.key for p in spec.pairs],
        "recipe": params["recipes"][target["recipe"]],
        "dataset": params["datasets"][target["dataset"]],
        "split": split_identity(params, target["dataset"], run.n_per_class, run.seed),
        "sources": {s: source_identity(params, s) for s in target["sources"]}
        if METHODS[spec.kind].reads_sources
        else {},
        "runtime": _numeric_runtime(params),
        "code": _code("l2tww.stages.train", f"l2tww.methods.{METHODS[spec.kind].module}"),
    }


def summary_identity(params: Params) -> dict:
    """Labels, the claims' roles and plan (a new plan re-decides every verdict), the code, and the
    runs it aggregates: a summary pulled beside other runs than the ones it was made from is not
    taken for current (`l2tww sync`)."""
    return {
        "labels": {m: params.label(m) for m in params["methods"]},
        "claims": params.data.get("claims"),
        "runs": {run.run_id: digest(run_identity(params, run)) for run in params.runs()},
        "code": _code("l2tww.stages.summarize"),
    }


NOTEBOOKS = tuple(f"l2tww.report.notebooks.{Path(name).stem}" for name in NOTEBOOK_FILES)


def report_identity(params: Params) -> dict:
    """The notebooks are hashed by their text too: their markdown cells are comments to Python,
    but they are the report's prose."""
    return {
        "summary": summary_identity(params),
        "code": _code("l2tww.stages.reporting", *NOTEBOOKS),
        "notebooks": {m: text_hash(m) for m in NOTEBOOKS},
    }
