"""benchmarks/preset_cost.py (issue 30): it runs on a preset that pretrains a source (the probe of a
source on its own data once crashed on the partition-overlap check), states GPU hours for IEEE fp32,
tf32 and bf16 from the stated throughputs, and never below what the 224 px loader can deliver."""

from __future__ import annotations

import importlib.util

import pytest
import yaml

from l2tww import config

from .conftest import REPO


def _cost():
    spec = importlib.util.spec_from_file_location("preset_cost", REPO / "benchmarks" / "preset_cost.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def cheapest(tmp_path_factory):
    """paper-32px.yaml cut to one scratch run of CIFAR-100 and the pretrained CIFAR-10 source."""
    raw = yaml.safe_load((REPO / "workflow/presets/paper-32px.yaml").read_text())
    raw["targets"] = {"cifar100": {**raw["targets"]["cifar100"], "runs": [{"methods": ["scratch"], "seeds": [0]}]}}
    path = tmp_path_factory.mktemp("cost") / "cheapest.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_the_cheapest_preset_runs_with_a_pretrained_source_and_states_hours_per_precision(cheapest, capsys):
    assert _cost().main(["--params", str(cheapest), "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "not measured: no GPU has run this project" in out and "fp32 10, tf32 20, bf16 40" in out
    rows = {" ".join(line.split()[:2]): line.split() for line in out.splitlines() if line.startswith("32px")}
    assert set(rows) == {"32px scratch", "32px pretrain"}, out
    for cells in rows.values():
        loader, fp32, tf32, bf16 = (float(c) for c in cells[-4:])
        assert loader == 0.0 and fp32 > 0  # 32 px data sits on the device: no loader time
        assert fp32 == pytest.approx(2 * tf32, abs=0.1) and tf32 == pytest.approx(2 * bf16, abs=0.1)


def test_a_224px_run_is_never_faster_than_its_loader():
    cost = _cost()
    params = config.load(REPO / "workflow/presets/paper-224px.yaml")
    recipe = params["recipes"][params["targets"]["cub200"]["recipe"]]
    sizes = (5000, 1000, 5800)
    loader = cost.loader_hours(params, "cub200", recipe, sizes, rate=60.0)
    images = recipe["epochs"] * 6000 + 5800
    assert loader == pytest.approx(images / (params["runtime"]["workers"] * 60.0) / 3600)
    hours = cost.run_hours(1e15, loader, {"fp32": 10.0, "bf16": 1e6})
    assert hours["fp32"] == pytest.approx(max(1e15 / 10e12 / 3600, loader)) and hours["bf16"] == loader
