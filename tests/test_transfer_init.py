"""L2T runs record the meta-nets' statistics before the first step (`transfer_init`)."""
from __future__ import annotations

import math

from l2tww import stages
from l2tww.config import Run

from .conftest import with_changes


def test_l2t_metrics_keep_the_statistics_at_initialisation(tiny):
    # Protects "lambda change from initialisation": without the pre-training observation the report
    # could only show where lambda ended, which at ~20 meta-steps is mostly its random init.
    methods = {**tiny["methods"], "l2tww": {"kind": "l2t", "pairs": "single", "meta_lr": 0.05}}
    params = with_changes(tiny, methods=methods)
    target = next(iter(params["targets"]))
    for ds, n, seed in params.splits_needed():
        stages.make_split(params, ds)
        stages.make_split(params, ds, n, seed)
    for name in params.pretrained_sources():
        stages.pretrain_source(params, name)
    metrics = stages.train_run(params, Run(target, "l2tww", params.runs()[0].n_per_class, 0))
    init = metrics["transfer_init"]
    assert len(init["lambda"]) == len(init["entropy"]) == 1
    # The what-net starts at zero: uniform channel weights, entropy log C exactly (up to float32).
    assert math.isclose(init["entropy"][0], math.log(_source_channels(params)), rel_tol=1e-5)
    assert init["lambda"][0] > 0
    assert metrics["steps_per_epoch"] is None


def _source_channels(params) -> int:
    from l2tww.models import build_model, feature_shapes

    src = next(iter(params["sources"].values()))
    net = build_model(src["arch"], 10, 1)
    pair = params["targets"]["animal"]["pairs"]["single"][0]
    return feature_shapes(net, (1, 32, 32))[pair[0]][0]
