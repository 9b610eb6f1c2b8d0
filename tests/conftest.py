"""Shared fixtures: the tiny config, and embedded datasets prepared once per test session."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from l2tww import config
from l2tww.stages.prepare import prepare_dataset

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "fixtures" / "tiny-params.yaml"


def tiny_raw() -> dict:
    return yaml.safe_load(TINY.read_text())


@pytest.fixture(scope="session")
def prepared_root(tmp_path_factory) -> Path:
    """data/ with animal_mnist and mnist5k prepared (the two fast embedded datasets)."""
    root = tmp_path_factory.mktemp("prepared")
    raw = tiny_raw()
    raw["data_root"] = str(root / "data")
    params = config.from_mapping(raw)
    for name in ("animal_mnist", "mnist5k"):
        prepare_dataset(params, name)
    return root / "data"


@pytest.fixture
def tiny(tmp_path, prepared_root) -> config.Params:
    """The tiny params with its own results folder and a private copy of the prepared data."""
    import shutil

    raw = tiny_raw()
    data = tmp_path / "data"
    shutil.copytree(prepared_root, data)
    raw["data_root"] = str(data)
    raw["results_root"] = str(tmp_path / "results")
    raw["reports_root"] = str(tmp_path / "reports")
    return config.from_mapping(raw)


def with_changes(params: config.Params, **changes) -> config.Params:
    raw = copy.deepcopy(params.data)
    raw.update(changes)
    return config.from_mapping(raw)
