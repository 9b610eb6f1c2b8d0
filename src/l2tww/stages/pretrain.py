"""`l2tww pretrain <source>`: train a source network on its dataset (spec §2)."""

from __future__ import annotations

from ..config import Layout, Params
from ..methods import MethodSpec
from ..methods.scratch import Scratch
from ..models import build_model, net_shapes
from ..training.runtime import seed_everything
from ..training.trainer import FitConfig, FitFiles, Trainer
from .common import device_for, finish, input_hashes, open_data, place
from .identity import digest, source_identity
from .inputs import data_inputs


def pretrain_source(params: Params, name: str, progress: bool = False) -> dict:
    cfg = params["sources"][name]
    recipe = params["recipes"][cfg["recipe"]]
    runtime = params["runtime"]
    device = device_for(runtime)
    seed_everything(cfg["seed"])
    data_in = data_inputs(params, cfg["dataset"], cfg.get("n_per_class"), cfg["seed"])
    data = open_data(data_in, recipe["batch_size"], device, runtime)
    model = place(build_model(cfg["arch"], data.num_classes, data.image_shape[0]), device, runtime)
    method = Scratch(MethodSpec(name="scratch", kind="scratch"), net_shapes(model, [], data.image_shape)).to(device)
    identity = digest(source_identity(params, name))
    record = {
        "run_id": f"source-{name}",
        "source": name,
        "dataset": cfg["dataset"],
        "arch": cfg["arch"],
        "n_per_class": cfg.get("n_per_class"),
        "seed": cfg["seed"],
        "recipe": recipe,
    }
    out_dir = params.layout.source_dir(name)
    fit = FitConfig(
        recipe,
        FitFiles(**Layout.fit_files(out_dir)),
        cfg["seed"],
        device,
        runtime["precision"],
        record,
        fingerprint=digest({"identity": identity, "inputs": input_hashes([data_in["split"]])}),
        progress=progress,
    )
    return finish(Trainer(model, method, [], data, fit), out_dir, identity, runtime)
