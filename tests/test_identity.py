"""A result's identity (params, inputs, code), declared once in l2tww.stages.identity.

Protects: code edits re-run exactly the jobs that execute the edited module (and comment edits
none); a checkpoint is resumed only by a run of the same identity and input files.
"""

from __future__ import annotations

import copy

import pytest
import torch

from l2tww import config
from l2tww.config import Run
from l2tww.io import save_torch
from l2tww.stages import identity
from l2tww.stages.codehash import closure, source_hash
from l2tww.stages.pretrain import pretrain_source
from l2tww.stages.split import make_split
from l2tww.stages.train import train_run

from .conftest import REPO

BASE = '''"""Doc."""
def loss(x, beta=0.5):
    """Scaled."""
    return beta * x  # scale
'''


@pytest.mark.parametrize(
    "edited",
    [
        BASE.replace("# scale", "# a different comment"),
        BASE.replace('"""Scaled."""', '"""Scaled by beta, as the spec says."""'),
        BASE.replace('"""Doc."""', '"""Another module docstring."""'),
        BASE.replace("return beta * x", "return (beta\n            * x)"),
        "\n\n# header comment\n" + BASE,
    ],
)
def test_comments_docstrings_and_layout_do_not_change_the_code_hash(edited):
    assert source_hash(edited) == source_hash(BASE)


@pytest.mark.parametrize(
    "edited",
    [
        BASE.replace("beta=0.5", "beta=1.0"),
        BASE.replace("beta * x", "beta + x"),
        BASE + "EDITED = True\n",
        BASE.replace('"""Scaled."""\n', '"""Scaled."""\n    print("side effect")\n'),
    ],
)
def test_any_behaviour_edit_changes_the_code_hash(edited):
    assert source_hash(edited) != source_hash(BASE)


def test_closure_follows_lazy_imports_inside_functions():
    assert "l2tww.data.folder_loader" in closure(("l2tww.data.loader",))  # imported inside open_split()


def test_a_prepared_datasets_code_is_its_builders_module(tiny):
    """data/store.py imports a builder's module by its catalog name: the identity names it instead."""
    code = identity.prepare_identity(tiny, "mnist5k")["code"]
    assert "l2tww.data.embedded" in code


def _code(params, target, method):
    return set(identity.run_identity(params, Run(target, method, 5, 0))["code"])


def test_a_run_executes_its_own_method_module_and_the_shared_training_code():
    params = config.load(REPO / "params.yaml")
    fm, scratch, l2t = (
        _code(params, "fashion", "fm_single"),
        _code(params, "fashion", "scratch"),
        _code(params, "fashion", "l2tww"),
    )
    shared = {"l2tww.training.trainer", "l2tww.models.vgg", "l2tww.data.loader", "l2tww.stages.train"}
    assert shared <= fm and shared <= scratch and shared <= l2t
    assert "l2tww.methods.fm" in fm and "l2tww.methods.fm" not in scratch and "l2tww.methods.fm" not in l2t
    assert {"l2tww.methods.l2t", "l2tww.methods.lookahead", "l2tww.methods.meta_nets"} <= l2t
    # resolved values are in the identity; the modules that resolve them are not code of the run
    resolving = {"l2tww.config", "l2tww.config.params", "l2tww.config.matrix", "l2tww.config.layout"}
    assert not (resolving | {"l2tww.stages.identity"}) & (fm | l2t)
    report = set(identity.report_identity(params)["code"])
    assert {"l2tww.report.saliency", "l2tww.report.notebooks.l2tww_transfer", "l2tww.report.tables"} <= report
    assert "l2tww.training.trainer" not in report


def test_identity_changes_with_the_params_a_run_reads_and_only_those():
    params = config.load(REPO / "params.yaml")
    run = Run("fashion", "fm_single", 5, 0)
    base = identity.digest(identity.run_identity(params, run))

    def edited(path, value):
        raw = copy.deepcopy(params.data)
        node = raw
        *parents, last = path
        for key in parents:
            node = node[key]
        node[last] = value
        return identity.digest(identity.run_identity(config.from_mapping(raw), run))

    assert edited(("methods", "fm_single", "beta"), 2.0) != base
    assert edited(("datasets", "fashion_target", "augment", "hflip"), False) != base
    assert edited(("recipes", "source", "epochs"), 3) != base  # the source's identity is an input
    assert edited(("methods", "fm_single", "label"), "renamed") == base  # a label changes no number
    assert edited(("methods", "l2tww", "meta_lr"), 1.0) == base  # another method's params
    assert edited(("runtime", "threads"), 2) == base


# -- resume ---------------------------------------------------------------------------------------


def _interrupted(params, run, monkeypatch):
    """Train `run` and leave its checkpoint behind, as a run killed after its last epoch would."""
    from l2tww.training.trainer import Trainer

    monkeypatch.setattr(Trainer, "discard_checkpoint", lambda self: None)
    first = train_run(params, run)
    monkeypatch.undo()
    return first


def _with(params, path, value):
    raw = copy.deepcopy(params.data)
    node = raw
    *parents, last = path
    for key in parents:
        node = node[key]
    node[last] = value
    return config.from_mapping(raw)


@pytest.fixture
def fm_ready(tiny):
    params = _with(tiny, ("recipes", "target", "epochs"), 2)
    run = Run("animal", "fm_single", 5, 0)
    make_split(params, "animal_mnist")
    make_split(params, "animal_mnist", 5, 0)
    make_split(params, "mnist5k")
    make_split(params, "mnist5k", 30, 0)
    pretrain_source(params, "digits")
    return params, run


def test_an_unchanged_run_resumes_its_checkpoint(fm_ready, monkeypatch, capsys):
    params, run = fm_ready
    first = _interrupted(params, run, monkeypatch)
    capsys.readouterr()
    again = train_run(params, run)
    assert "resuming" in capsys.readouterr().out
    assert again["test_acc"] == first["test_acc"] and again["identity"] == first["identity"]


def test_a_checkpoint_of_other_augmentation_is_not_resumed(fm_ready, monkeypatch, capsys):
    params, run = fm_ready
    _interrupted(params, run, monkeypatch)
    capsys.readouterr()
    edited = _with(params, ("datasets", "animal_mnist", "augment", "hflip"), False)
    train_run(edited, run)
    out = capsys.readouterr().out
    assert "another identity" in out and "starting afresh" in out and "resuming" not in out
    assert out.count("[l2tww] epoch") == 2  # trained from epoch 0


def test_a_checkpoint_made_with_other_source_weights_is_not_resumed(fm_ready, monkeypatch, capsys):
    params, run = fm_ready
    _interrupted(params, run, monkeypatch)
    capsys.readouterr()
    weights = params.layout.source_dir("digits") / "model.pt"
    state = torch.load(weights, weights_only=False)
    state["target"] = {k: v + 0.01 if v.is_floating_point() else v for k, v in state["target"].items()}
    save_torch(weights, state)  # same identity (params), other weights: a re-pretrained source
    train_run(params, run)
    out = capsys.readouterr().out
    assert "another identity" in out and "resuming" not in out
