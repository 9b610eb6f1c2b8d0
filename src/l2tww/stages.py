"""One function per pipeline stage; the CLI parses arguments and calls these (design.md principle 3)."""
from __future__ import annotations

from pathlib import Path

import torch

from .config import Params, Run
from .data.loader import SplitData, open_split
from .data.prepare import prepare
from .data.splits import make_split  # noqa: F401  (a stage, re-exported for the CLI and tests)
from .io import read_json, write_json
from .methods import MethodSpec, NetShapes, build_method
from .methods.scratch import Scratch
from .models import FeatureNet, build_model, feature_shapes
from .paths import Layout
from .runtime import provenance, seed_everything, select_device, set_threads
from .sources import load_source
from .train import Trainer


def prepare_dataset(params: Params, dataset: str) -> dict:
    layout = Layout.of(params)
    cfg = params["datasets"][dataset]
    return prepare(dataset, cfg["builder"], layout.raw(dataset), layout.prepared(dataset))


def _runtime(params: Params) -> torch.device:
    rt = params["runtime"]
    set_threads(rt["threads"])
    return select_device(rt["device"])


def _load_data(params: Params, dataset: str, split: Path, batch_size: int, device: torch.device) -> SplitData:
    rt = params["runtime"]
    return open_split(
        Layout.of(params).prepared(dataset), split, params["datasets"][dataset], batch_size, device,
        channels_last=rt["channels_last"] and device.type == "cuda", workers=rt["workers"],
    )


def _place(model: FeatureNet, params: Params, device: torch.device) -> FeatureNet:
    model = model.to(device)
    if params["runtime"]["channels_last"] and device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    return model


def net_shapes(target: FeatureNet, sources: list[FeatureNet], input_shape: tuple[int, int, int]) -> NetShapes:
    """Channel lists and sizes from dummy forwards (spec §1: never hard-coded)."""
    source_classes = []
    for s in sources:
        with torch.no_grad():
            param = next(s.parameters())
            source_classes.append(s(torch.zeros(1, *input_shape, device=param.device, dtype=param.dtype)).logits.shape[1])
    return NetShapes(
        target=feature_shapes(target, input_shape),
        sources=[feature_shapes(s, input_shape) for s in sources],
        target_embedding=target.embedding_dim,
        source_classes=source_classes,
    )


def pretrain_source(params: Params, name: str, progress: bool = False) -> dict:
    layout = Layout.of(params)
    cfg = params["sources"][name]
    recipe = params["recipes"][cfg["recipe"]]
    device = _runtime(params)
    seed_everything(cfg["seed"])
    split = layout.split(cfg["dataset"], cfg.get("n_per_class"), cfg["seed"])
    data = _load_data(params, cfg["dataset"], split, recipe["batch_size"], device)
    model = _place(build_model(cfg["arch"], data.num_classes, data.image_shape[0]), params, device)
    method = Scratch(MethodSpec(name="scratch", kind="scratch"), net_shapes(model, [], data.image_shape)).to(device)
    identity = {"run_id": f"source-{name}", "source": name, "dataset": cfg["dataset"], "arch": cfg["arch"], "n_per_class": cfg.get("n_per_class"), "seed": cfg["seed"], "recipe": recipe}
    out_dir = layout.source_dir(name)
    trainer = Trainer(model, method, [], data, recipe, out_dir, cfg["seed"], device, params["runtime"]["amp_bf16"], identity, progress)
    metrics = {**trainer.fit(), "provenance": provenance(device)}
    write_json(out_dir / "metrics.json", metrics)
    trainer.discard_checkpoint()
    return metrics


def train_run(params: Params, run: Run, progress: bool = False) -> dict:
    layout = Layout.of(params)
    tcfg = params["targets"][run.target]
    recipe = params["recipes"][tcfg["recipe"]]
    spec = params.method_spec(run.target, run.method)
    device = _runtime(params)
    data = _load_data(params, tcfg["dataset"], layout.split(tcfg["dataset"], run.n_per_class, run.seed), recipe["batch_size"], device)
    sources = [] if spec.kind == "scratch" else [load_source(params, s, device) for s in tcfg["sources"]]
    seed_everything(run.seed)  # the target's init depends on the seed alone
    target = _place(build_model(tcfg["arch"], data.num_classes, data.image_shape[0]), params, device)
    method = build_method(spec, net_shapes(target, sources, data.image_shape)).to(device)
    identity = {
        "run_id": run.run_id, "target": run.target, "method": run.method, "label": params.label(run.method),
        "kind": spec.kind, "n_per_class": run.n_per_class, "seed": run.seed, "dataset": tcfg["dataset"],
        "sources": tcfg["sources"], "pairs": [p.key for p in spec.pairs], "hparams": spec.hparams,
        "arch": tcfg["arch"], "recipe": recipe,
    }
    out_dir = layout.run_dir(run.relpath)
    trainer = Trainer(target, method, sources, data, recipe, out_dir, run.seed, device, params["runtime"]["amp_bf16"], identity, progress)
    metrics = {**trainer.fit(), "provenance": provenance(device)}
    _write_transfer(out_dir, spec, out_dir / "history.json")
    write_json(out_dir / "metrics.json", metrics)
    trainer.discard_checkpoint()
    return metrics


def _write_transfer(out_dir: Path, spec: MethodSpec, history_path: Path) -> None:
    """Per-epoch val statistics the method observed (e.g. lambda and channel-weight entropy per pair)."""
    history = read_json(history_path)
    rows = [(row["epoch"], row["transfer"]) for row in history if "transfer" in row]
    if not rows:
        return
    stats = {key: [t[key] for _, t in rows] for key in rows[0][1]}
    write_json(out_dir / "transfer.json", {"pairs": [p.key for p in spec.pairs], "epochs": [e for e, _ in rows], **stats})
