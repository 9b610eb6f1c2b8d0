"""The CLI: bad params exit non-zero with one line naming the key; verbs wire to the stages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from .conftest import REPO, tiny_raw


def l2tww(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "l2tww.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


def test_misspelled_key_exits_with_one_line_naming_it(tmp_path: Path):
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["recipes"]["target"]["epochs_"] = raw["recipes"]["target"].pop("epochs")
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    result = l2tww("--params", str(path), "train", "fashion", "scratch", "--n", "25", "--seed", "0")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "recipes.target" in lines[0] and "'epochs_'" in lines[0]


def test_unknown_target_names_the_choices():
    result = l2tww("--params", str(REPO / "params.yaml"), "train", "fashions", "scratch", "--n", "25", "--seed", "0")
    assert result.returncode == 2
    assert "no entry 'fashions'" in result.stderr and "'fashion'" in result.stderr


def test_missing_input_is_one_line(tmp_path: Path):
    raw = tiny_raw()
    raw["data_root"] = str(tmp_path / "nodata")
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    result = l2tww("--params", str(path), "split", "animal_mnist")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "run `l2tww prepare animal_mnist`" in result.stderr


def test_runs_lists_the_matrix():
    result = l2tww("--params", str(REPO / "params.yaml"), "runs")
    assert result.returncode == 0
    assert "fashion-l2tww-n50-s4000" in result.stdout.split()


def test_check_warns_that_precision_has_no_effect_on_the_cpu(tmp_path: Path):
    """A valid setting that does nothing here is a warning, not an error (issue 21)."""
    raw = tiny_raw()
    raw["runtime"].update(device="cpu", precision="tf32")
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    result = l2tww("--params", str(path), "check")
    assert result.returncode == 0, result.stderr
    assert f"l2tww: warning: {path}: runtime.precision: tf32 has no effect on the CPU" in result.stderr
    assert "ok" in result.stdout
    raw["runtime"]["precision"] = "fp32"
    path.write_text(yaml.safe_dump(raw))
    assert "warning" not in l2tww("--params", str(path), "check").stderr
