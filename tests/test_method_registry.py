"""Registry smoke test (timm-style): every method of params.yaml's run matrix resolves, builds on
the real architectures (random-init sources) and trains one step; every trainable parameter of the
target and of the method's student modules receives a finite gradient, and nothing is NaN.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from l2tww import config
from l2tww.catalog import BUILDERS
from l2tww.methods import build_method
from l2tww.models import build_model, net_shapes
from l2tww.training.sources import freeze

PARAMS = config.load(Path(__file__).resolve().parents[1] / "params.yaml")
CASES = sorted({(run.target, run.method) for run in PARAMS.runs()})


def build_nets(target: str):
    """The target and its sources as params.yaml describes them; sources random-init and frozen."""
    tcfg = PARAMS["targets"][target]
    ds = PARAMS["datasets"][tcfg["dataset"]]
    info = BUILDERS[ds["builder"]]
    input_shape = (info.channels, ds["image_size"], ds["image_size"])
    net = build_model(tcfg["arch"], info.num_classes, info.channels)
    sources = []
    for name in tcfg["sources"]:
        scfg = PARAMS["sources"][name]
        sinfo = BUILDERS[PARAMS["datasets"][scfg["dataset"]]["builder"]]
        sources.append(freeze(build_model(scfg["arch"], sinfo.num_classes, sinfo.channels)))
    return net, sources, input_shape, info.num_classes


def test_the_matrix_covers_every_baseline():
    kinds = {PARAMS.method_spec(t, m).kind for t, m in CASES}
    assert {"scratch", "lwf", "at", "lwf_at", "fm"} <= kinds


@pytest.mark.parametrize("target,method", CASES, ids=[f"{t}-{m}" for t, m in CASES])
def test_method_trains_one_step(target, method):
    spec = PARAMS.method_spec(target, method)
    if spec.kind == "l2t" and importlib.util.find_spec("l2tww.methods.l2t") is None:
        pytest.skip("methods/l2t.py has not landed yet")
    torch.manual_seed(0)
    net, sources, input_shape, num_classes = build_nets(target)
    shapes = net_shapes(net, sources, input_shape)
    m = build_method(spec, shapes)
    params = list(net.parameters()) + list(m.student_parameters())
    opt = torch.optim.SGD(params, lr=0.01, momentum=0.9, weight_decay=1e-4)
    x, y = torch.randn(4, *input_shape), torch.randint(0, num_classes, (4,))
    with torch.no_grad():
        src = [s(x) for s in sources] if m.needs_sources else []
    before = [p.detach().clone() for p in params]
    net.train()
    terms = m.train_step(net, x, y, src, opt)

    assert {"loss", "ce"} <= set(terms)
    assert all(torch.isfinite(v).all() for v in terms.values()), terms
    if spec.kind not in ("scratch", "finetune"):  # fine-tuning transfers through its start, not a loss term
        assert len(terms) > 2, f"{method}: no transfer term in {sorted(terms)}"
    named = [(f"target.{n}", p) for n, p in net.named_parameters()]
    named += [(f"method.{i}", p) for i, p in enumerate(m.student_parameters())]
    no_grad = [n for n, p in named if p.grad is None]
    assert not no_grad, f"{method}: no gradient for {no_grad}"
    assert all(torch.isfinite(p.grad).all() and torch.isfinite(p).all() for _, p in named)
    # Student modules (heads, regressors) are trained by the target's SGD: they must move.
    student = m.student_parameters()
    if spec.kind != "l2t":  # a ReLU6 where-net may switch a pair off (lambda = 0): a zero gradient is right
        assert all(p.grad.abs().sum() > 0 for p in student)
    moved = [not torch.equal(b, p) for b, p in zip(before, params)]
    assert all(moved[len(params) - len(student) :])
    assert any(moved)


def test_whether_a_run_reads_its_sources_comes_from_the_registry_alone(monkeypatch):
    """catalog.METHODS says which kinds load no source; the run's inputs, identity and planned files follow it."""
    from l2tww import catalog
    from l2tww.stages.identity import run_identity
    from l2tww.stages.inputs import run_inputs
    from l2tww.stages.plan import sources_read

    assert [k for k, info in catalog.METHODS.items() if not info.reads_sources] == ["scratch"]
    scratch = next(r for r in PARAMS.runs() if PARAMS.method_spec(r.target, r.method).kind == "scratch")
    fm = next(r for r in PARAMS.runs() if PARAMS.method_spec(r.target, r.method).kind == "fm")
    for run, reads in ((scratch, False), (fm, True)):
        assert bool(run_inputs(PARAMS, run)["sources"]) is reads
        assert bool(run_identity(PARAMS, run)["sources"]) is reads
        assert bool(sources_read(PARAMS, run)) is reads
    monkeypatch.setitem(catalog.METHODS, "fm", catalog.METHODS["fm"]._replace(reads_sources=False))
    assert run_inputs(PARAMS, fm)["sources"] == [] and run_identity(PARAMS, fm)["sources"] == {}
    assert sources_read(PARAMS, fm) == []
