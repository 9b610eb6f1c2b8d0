"""benchmarks/gpu_smoke.py in its CI-sized CPU form (issue 14): the same table a GPU run prints,
every check passing, and broken rows reported instead of stopping the run.

The CPU form takes the GPU run's code path: bf16 autocast (forced on for the CPU), channels_last,
the on-device tensor loader, the trainer's checkpoint and resume; only the sizes are shrunk.
"""

from __future__ import annotations

import importlib.util
import json

import pytest

from .conftest import REPO
from .test_weights import OFFICIAL


def _smoke():
    spec = importlib.util.spec_from_file_location("gpu_smoke", REPO / "benchmarks" / "gpu_smoke.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ROW = r"^(scratch|exact|fast) +(on|off) +[0-9.]+ +[0-9.]+ +[0-9]+ +[0-9.]+ -> [0-9.]+ +ok$"


def test_cpu_ci_form_prints_the_table_and_passes_every_check(tmp_path, capsys):
    import re

    smoke = _smoke()
    args = ["--device", "cpu", "--ci", "--channels-last", "--json", str(tmp_path / "smoke.json")]
    if OFFICIAL is not None:  # the authors' file, sha256-checked, as a GPU run would load it
        args += ["--source-weights", str(OFFICIAL / "tinyimagenet-200-resnet32.pth.tar")]
    assert smoke.main(args) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if re.match(ROW, line)]
    assert [tuple(r.split()[:2]) for r in rows] == [(m, b) for b in ("off", "on") for m in ("scratch", "exact", "fast")]
    assert "resume (L2T-ww exact, 2 epochs, interrupted after epoch 0): ok; 1 epoch(s) trained after resuming" in out
    assert out.rstrip().endswith("checks: all passed")
    assert ("released weights" if OFFICIAL is not None else "random-init cifar_resnet") in out
    result = json.loads((tmp_path / "smoke.json").read_text())
    assert result["device"] == "cpu" and result["channels_last"] and result["narrow"] == 8
    for row in result["rows"]:
        assert row["s_per_iter"] > 0 and row["ce_last"] < row["ce_first"]
    assert result["resume"] == {"epochs_after_resume": 1, "max_abs_diff": 0.0, "atol": 0.0, "ok": True}


def test_broken_rows_and_a_broken_resume_are_reported_and_fail_the_run(tmp_path, capsys, monkeypatch):
    smoke = _smoke()

    def timed_row(params, target, mode, bf16, *rest):
        if (mode, bf16) == ("fast", True):
            raise RuntimeError("expected scalar type BFloat16 but found Float\nsecond line")
        return {
            "mode": mode,
            "bf16": bf16,
            "s_per_iter": 0.5 if mode == "scratch" else 2.0,
            "peak_mb": 10.0,
            "ce_first": 2.0,
            "ce_last": 1.0 if mode != "exact" else 3.0,
            "loss_decreases": mode != "exact",
        }

    def resume_check(*args):
        raise FileNotFoundError("checkpoint.pt vanished")

    monkeypatch.setattr(smoke, "timed_row", timed_row)
    monkeypatch.setattr(smoke, "resume_check", resume_check)
    assert smoke.main(["--device", "cpu", "--ci", "--source-weights", str(tmp_path / "absent.pth.tar")]) == 1
    out = capsys.readouterr().out
    assert "fast     on    FAILED: RuntimeError: expected scalar type BFloat16 but found Float\n" in out
    assert "exact    off      2.0000        4.0        10    2.000 -> 3.000   FAILED" in out
    assert (
        "resume (L2T-ww exact, 2 epochs, interrupted after epoch 0): FAILED: FileNotFoundError: checkpoint.pt vanished"
        in out
    )
    assert f"{tmp_path / 'absent.pth.tar'} not found" in out
    assert out.rstrip().endswith("checks: FAILED")


def test_bad_arguments_are_one_line_errors(capsys):
    smoke = _smoke()
    for argv, message in (
        (["--target", "cub200"], "--target cub200: a 32 px target is needed, its dataset is 224 px"),
        (["--target", "nope"], "--target nope: not a target of"),
        (["--iters", "3", "--warmup", "3"], "--warmup 3 must be at least 1 and below --iters 3"),
    ):
        with pytest.raises(SystemExit):
            smoke.parse(["--device", "cpu", "--ci", *argv])
        assert message in capsys.readouterr().err.splitlines()[-1]
