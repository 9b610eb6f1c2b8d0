"""L2T runs record the meta-nets' statistics before the first step (transfer.json "initial"), and per
epoch how many meta-steps pointed lambda down."""

from __future__ import annotations

import math

from l2tww.config import Run
from l2tww.io import read_json
from l2tww.models import build_model, feature_shapes
from l2tww.stages.pretrain import pretrain_source
from l2tww.stages.split import make_split
from l2tww.stages.train import train_run

from .conftest import with_changes


def test_l2t_runs_keep_the_statistics_at_initialisation(tiny):
    # Protects "lambda change from initialisation": without the pre-training observation the report
    # could only show where lambda ended, which after a few meta-steps is mostly its random init.
    methods = {**tiny["methods"], "l2tww": {"kind": "l2t", "pairs": "single", "meta_lr": 0.05}}
    params = with_changes(tiny, methods=methods)
    for ds, n, seed in params.splits_needed():
        make_split(params, ds)
        make_split(params, ds, n, seed)
    for name in params.pretrained_sources():
        pretrain_source(params, name)
    run = Run("animal", "l2tww", params.runs()[0].n_per_class, 0)
    train_run(params, run)
    transfer = read_json(params.layout.run_dir(run.relpath) / "transfer.json")
    init = transfer["initial"]
    assert len(init["lambda"]) == len(init["entropy"]) == len(init["entropy_deficit"]) == 1
    # The what-net starts at zero: uniform channel weights, entropy log C exactly (up to float32).
    assert math.isclose(init["entropy"][0], math.log(_source_channels(params)), rel_tol=1e-5)
    assert abs(init["entropy_deficit"][0]) < 1e-5 and init["lambda"][0] > 0
    # ... and training moved them (meta_lr 0.05): the logged epochs differ from the initial state
    assert transfer["lambda"][-1] != init["lambda"]
    # every epoch logs its meta-steps and how many pointed lambda down (the trainer's epoch_statistics)
    steps, lowering = transfer["meta_steps"], transfer["meta_steps_lowering_lambda"]
    assert len(steps) == len(lowering) == len(transfer["epochs"]) and "meta_steps" not in init
    assert all(s > 0 and 0 <= low <= s for s, low in zip(steps, lowering))


def _source_channels(params) -> int:
    src = next(iter(params["sources"].values()))
    net = build_model(src["arch"], 10, 1)
    pair = params["targets"]["animal"]["pairs"]["single"][0]
    return feature_shapes(net, (1, 32, 32))[pair[0]][0]
