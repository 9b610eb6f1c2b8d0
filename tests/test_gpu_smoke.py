"""benchmarks/gpu_smoke.py, the GPU acceptance script (issue 21), in its toy CPU form: every row's
code path at toy size, parity included (float64 vs float32 on the CPU); a missing or foreign source
checkpoint refused in one line; the time cap stops the script and names what it did not reach."""

from __future__ import annotations

import importlib.util
import json
import time

import pytest

from .conftest import REPO
from .test_weights import OFFICIAL

RELEASED = None if OFFICIAL is None else OFFICIAL / "tinyimagenet-200-resnet32.pth.tar"


def _smoke():
    spec = importlib.util.spec_from_file_location("gpu_smoke", REPO / "benchmarks" / "gpu_smoke.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ROWS = [
    "precision probe",
    "parity",
    "exact vs fast",
    "end to end",
    "resume deterministic",
    "resume not deterministic",
    *(
        f"32px {m} {v}"
        for v in ("fp32", "tf32", "bf16", "channels_last", "deterministic")
        for m in ("scratch", "exact", "fast")
    ),
    "224px scratch",
    "224px exact",
    "224px fast",
]


@pytest.mark.slow
@pytest.mark.skipif(RELEASED is None, reason="the authors' checkpoint (../shared/official) is not beside this clone")
def test_toy_form_runs_every_row_and_passes(tmp_path, capsys):
    code = _smoke().main(
        ["--device", "cpu", "--ci", "--source-weights", str(RELEASED), "--json", str(tmp_path / "r.json")]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    result = json.loads((tmp_path / "r.json").read_text())
    rows = {r["row"]: r for r in result["rows"]}
    assert list(rows) == ROWS
    assert all(r["status"] == "ok" for name, r in rows.items() if name != "resume not deterministic"), out
    assert rows["resume not deterministic"]["status"] == "skipped"  # a CPU is deterministic either way
    assert out.rstrip().endswith("checks: all passed") and "not finished" not in out
    # fp32 means IEEE float32: the switches say so and the probe's error is float32's, not TF32's.
    probe = rows["precision probe"]["fp32"]
    assert probe["switches"]["conv"] == "ieee" and 0 < probe["conv"] < 1e-5
    # Parity: the float64 run is checked; float32 really ran in float32 (an error above 0, small on the
    # target's one gradient step).
    par = rows["parity"]
    assert par["checked"] == "float64" and par["float64"]["hyper_norm_rel"] == 0.0
    assert par["fp32"]["hyper_norm_rel"] > 0 and 0 < par["fp32"]["target_max_rel"] < 1e-4
    assert rows["precision probe"]["switches_ok"] and rows["precision probe"]["tf32"]["switches"]["conv"] == "tf32"
    assert min(rows["exact vs fast"]["cosine_lr_0.0001"].values()) >= rows["exact vs fast"]["cosine_min"]
    assert set(rows["exact vs fast"]["cosine_lr_0.0001"]) == {
        "what.weight",
        "what.bias",
        "where.weight",
        "where.bias",
        "all",
    }
    # End to end: `l2tww train` (device auto) recorded how it computed; the killed run resumed bit for bit.
    assert rows["end to end"]["execution"]["device"] == "cpu" and rows["end to end"]["execution"]["deterministic"]
    resume = rows["resume deterministic"]
    assert resume["resumed_after_epoch0"] and resume["bit_equal"] and resume["max_abs_diff"] == 0.0
    # Every variant ran on the same batches as fp32: bf16 autocast (forced on for the CPU) changes the
    # loss, TF32 and channels_last do not on a CPU.
    assert rows["32px exact bf16"]["dloss_first"] > 0 and rows["32px exact tf32"]["dloss_first"] == 0
    assert rows["32px exact fp32"]["x_scratch"] > 1 and rows["224px exact"]["peak_mb"] > 0
    assert rows["32px exact deterministic"]["x_fp32"] > 0 and rows["32px exact deterministic"]["dloss_first"] == 0
    assert "source: the authors' released ResNet32" in out
    # The 224 px rows ran through the image-folder loader on JPEGs, and their loss fell.
    for mode in ("scratch", "exact", "fast"):
        row = rows[f"224px {mode}"]
        assert (
            row["loader"].startswith("image folder")
            and row["loss_last"] < row["loss_first"]
            and not row["wrong_shapes"]
        )
    assert rows["32px exact deterministic"]["cublas_at_cuda_start"] == ":4096:8"


# -- planted faults: each row's check fails when what it checks is broken (docs/gpu.md's pass column) --


def _rows(smoke, only: str, tmp_path) -> dict:
    args = ["--device", "cpu", "--ci", "--source-weights", str(RELEASED), "--only", only]
    code = smoke.main([*args, "--json", str(tmp_path / "r.json")])
    rows = {r["row"]: r for r in json.loads((tmp_path / "r.json").read_text())["rows"]}
    return code, rows


@pytest.mark.skipif(RELEASED is None, reason="the authors' checkpoint (../shared/official) is not beside this clone")
def test_tf32_left_on_under_fp32_fails_the_precision_probe(tmp_path, monkeypatch):
    smoke = _smoke()
    from gpu import parity

    from l2tww.training import runtime

    monkeypatch.setattr(parity, "set_precision", lambda precision: runtime.set_precision("tf32"))
    try:
        code, rows = _rows(smoke, "precision", tmp_path)
    finally:
        runtime.set_precision("fp32")
    probe = rows["precision probe"]
    assert code == 1 and probe["status"] == "FAILED" and probe["fp32"]["switches"]["conv"] == "tf32"


@pytest.mark.skipif(RELEASED is None, reason="the authors' checkpoint (../shared/official) is not beside this clone")
def test_a_fast_hypergradient_that_disagrees_at_a_small_lr_fails_exact_vs_fast(tmp_path, monkeypatch):
    smoke = _smoke()
    from gpu import parity

    real = parity.one_step

    def broken_fast(setting, mode, *args, **kwargs):
        out = real(setting, mode, *args, **kwargs)
        if mode == "fast":  # a wrong fast path: its where-nets' hypergradient points elsewhere
            out["hyper"] = {k: -v if k.startswith("where") else v for k, v in out["hyper"].items()}
        return out

    monkeypatch.setattr(parity, "one_step", broken_fast)
    code, rows = _rows(smoke, "exact vs fast", tmp_path)
    assert code == 1 and rows["exact vs fast"]["status"] == "FAILED"


def test_a_loader_returning_wrong_sizes_fails_the_224px_rows(tmp_path, monkeypatch):
    smoke = _smoke()
    from gpu import speed

    real = speed.folder_loader
    monkeypatch.setattr(speed, "folder_loader", lambda *a: real(*a[:4], a[4] - 8, *a[5:]))  # crops 8 px short
    code, rows = _rows(smoke, "224px scratch", tmp_path)
    row = rows["224px scratch"]
    assert code == 1 and row["status"] == "FAILED" and row["wrong_shapes"][0] == [4, 3, 24, 24]


@pytest.mark.skipif(RELEASED is None, reason="the authors' checkpoint (../shared/official) is not beside this clone")
def test_a_cublas_setting_made_after_cuda_started_fails_the_deterministic_rows(tmp_path, monkeypatch):
    smoke = _smoke()
    monkeypatch.setattr(smoke.torch.cuda, "is_initialized", lambda: True)  # as if CUDA had started first
    code, rows = _rows(smoke, "32px scratch deterministic", tmp_path)
    row = rows["32px scratch deterministic"]
    assert code == 1 and row["status"] == "FAILED" and row["cublas_at_cuda_start"] is None


def test_a_missing_or_foreign_source_checkpoint_is_refused_in_one_line(tmp_path, capsys):
    smoke = _smoke()
    absent = tmp_path / "absent.pth.tar"
    assert smoke.main(["--device", "cpu", "--ci", "--source-weights", str(absent), "--only", "parity,32px"]) == 1
    out = capsys.readouterr().out
    named = [line for line in out.splitlines() if str(absent) in line]
    assert len(named) == 1, out  # one line names the file and how to get it; later refusals say "as above"
    assert named[0].startswith("parity ") and "refused" in named[0]
    assert "not found" in named[0] and "--source-weights" in named[0] and "github.com/alinlab/L2T-ww" in named[0]
    rows = [line for line in out.splitlines() if line.startswith(("parity", "32px"))]
    refused = [line for line in rows if " refused " in line]
    assert len(rows) == 16 and len(refused) == 11, out  # scratch needs no source: its 5 rows run
    assert all(" ok " in line for line in rows if line.startswith("32px scratch")), out
    assert "random" not in out and out.rstrip().endswith("checks: FAILED")

    foreign = tmp_path / "tinyimagenet-200-resnet32.pth.tar"
    foreign.write_bytes(b"not the release")
    assert smoke.main(["--device", "cpu", "--ci", "--source-weights", str(foreign), "--only", "parity"]) == 1
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("parity"))
    assert "refused" in line and "not the authors' release" in line and "sha256" in line


def test_the_cap_stops_a_row_and_names_what_was_not_reached(capsys):
    import sys

    sys.path.insert(0, str(REPO / "benchmarks"))
    from gpu.budget import Budget
    from gpu.table import render

    budget = Budget(0.5)
    rows = [
        budget.run("fast row", lambda: {"s_per_iter": 0.1, "ok": True}),
        budget.run("broken row", lambda: 1 / 0),
        budget.run("slow row", lambda: time.sleep(5) or {}),
        budget.run("later row", lambda: {}),
    ]
    assert [r["status"] for r in rows] == ["ok", "error", "stopped", "not reached"]
    assert rows[1]["message"] == "ZeroDivisionError: division by zero" and rows[2]["seconds"] < 2
    machine = {"device": "cpu", "device_name": "x", "torch": "t", "cuda": None, "threads": 1}
    text = render(
        {
            "date": "d",
            "machine": machine,
            "cap_s": 0.5,
            "form": "f",
            "notes": [],
            "rows": rows,
            "memory": "m",
            "ok": False,
        }
    )
    assert "not finished within the 0.5 s cap: slow row, later row" in text


def test_the_full_size_is_the_presets():
    """The GPU form times what the presets train: their batches and pair counts."""
    import sys

    sys.path.insert(0, str(REPO / "benchmarks"))
    from gpu.setting import TARGET_32, TARGET_224, Setting, Sizes, method_spec

    setting = Setting(None, Sizes(), REPO, None)
    recipes = lambda p, t: p["recipes"][p["targets"][t]["recipe"]]  # noqa: E731
    assert Sizes().batch32 == recipes(setting.params, TARGET_32)["batch_size"] == 128
    assert Sizes().batch224 == recipes(setting.params224, TARGET_224)["batch_size"] == 64
    assert len(method_spec(setting.params, TARGET_32, "exact").pairs) == 15
    assert len(method_spec(setting.params224, TARGET_224, "fast").pairs) == 16
    assert method_spec(setting.params224, TARGET_224, "fast").hparams["hypergradient"] == "fast"
