"""Plain descriptions of a source and of a run: every path, config slice and method spec the
library needs to build them. Training executes them; the report rebuilds finished runs from them."""

from __future__ import annotations

from ..catalog import METHODS
from ..config import Params, Run


def data_inputs(params: Params, dataset: str, n_per_class: int | None, seed: int) -> dict:
    layout = params.layout
    return {
        "name": dataset,
        "prepared": str(layout.prepared(dataset)),
        "prepared_files": {k: str(v) for k, v in layout.prepared_files(layout.prepared(dataset)).items()},
        "split": str(layout.split(dataset, n_per_class, seed)),
        "dataset": params["datasets"][dataset],
    }


def source_inputs(params: Params, name: str) -> dict:
    cfg = params["sources"][name]
    info = params.info(cfg["dataset"])
    return {
        "name": name,
        "arch": cfg["arch"],
        "num_classes": info.num_classes,
        "channels": info.channels,
        "pretrained": params.is_pretrained(name),
        "weights": cfg.get("weights"),
        "weights_cache": str(params.layout.raw(f"weights-{name}")),
        "model": str(params.layout.model(params.layout.source_dir(name))),
    }


def run_inputs(params: Params, run: Run) -> dict:
    tcfg = params["targets"][run.target]
    spec = params.method_spec(run.target, run.method)
    return {
        "run_id": run.run_id,
        "dir": str(params.layout.run_dir(run.relpath)),
        "model": str(params.layout.model(params.layout.run_dir(run.relpath))),
        "target": run.target,
        "method": run.method,
        "label": params.label(run.method),
        "n_per_class": run.n_per_class,
        "seed": run.seed,
        "arch": tcfg["arch"],
        "recipe": params["recipes"][tcfg["recipe"]],
        "spec": spec.as_dict(),
        "data": data_inputs(params, tcfg["dataset"], run.n_per_class, run.seed),
        "source_names": tcfg["sources"],
        "sources": [source_inputs(params, s) for s in tcfg["sources"]] if METHODS[spec.kind].reads_sources else [],
    }
