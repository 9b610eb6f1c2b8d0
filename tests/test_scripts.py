"""Every script under benchmarks/ and docs/ runs in its cheapest form, so the next rename of a
module, a params key or a result file breaks a test here and not a reader's command line.
(benchmarks/gpu_smoke.py has its own file, tests/test_gpu_smoke.py.)"""

from __future__ import annotations

import csv
import importlib.util
import json
import subprocess
import sys

import pytest
import torch
import yaml

from l2tww import config
from l2tww.stages.split import make_split

from .conftest import REPO, sh

BENCH = REPO / "benchmarks"
ATTRIBUTION = REPO / "docs" / "attribution"


def _module(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _python(args: list[str], cwd=REPO) -> subprocess.CompletedProcess:
    return sh([sys.executable, *map(str, args)], cwd, check=False, timeout=300)


# -- benchmarks ----------------------------------------------------------------------------------
def test_bench_l2t_measures_every_mode_of_both_settings_in_process():
    bench = _module(BENCH / "bench_l2t.py")
    params = config.load(REPO / "params.yaml")
    assert bench.embedded_target(params) in params["targets"]  # the default still runs l2tww somewhere
    for setting, modes in (("paper32", ("scratch", "fast")), ("embedded", ("scratch", "exact", "configured"))):
        for mode in modes:
            row = bench.measure(setting, mode, threads=1, iters=1, target_name=None, batch_size=2)
            assert row["setting"] == setting and row["mode"] == mode and row["s_per_iter"] > 0
            assert row["method"] == ("scratch" if mode == "scratch" else "l2tww")


@pytest.mark.slow
def test_bench_l2t_command_line_runs_both_settings_at_the_smallest_size():
    out = _python([BENCH / "bench_l2t.py", "--iters", "1", "--batch", "2", "--threads", "1"])
    assert out.returncode == 0, out.stderr[-2000:]
    rows = [line.split()[:2] for line in out.stdout.splitlines()[2:]]
    assert rows == [
        ["paper32", "scratch"],
        ["paper32", "exact"],
        ["paper32", "fast"],
        ["embedded", "scratch"],
        ["embedded", "exact"],
        ["embedded", "fast"],
        ["embedded", "configured"],
    ], out.stdout


@pytest.mark.slow  # a subprocess importing torch
@pytest.mark.slow  # prepares the embedded target's data, trains two epochs of scratch
def test_bench_ceiling_measures_an_arms_step_against_this_cpus_rate(tmp_path):
    out = _python(
        [BENCH / "bench_ceiling.py", "--arms", "scratch", "--epochs", "1", "--repeat", "1", "--workdir", tmp_path]
    )
    assert out.returncode == 0, out.stderr[-2000:]
    row = next(line.split() for line in out.stdout.splitlines() if line.startswith("scratch "))
    assert float(row[1]) > 0.5 and float(row[2]) > 0  # VGG9 at 1/8 width, batch 50: ~0.72 GFLOP a step
    assert row[5] == "0.0" and "training loop" in out.stdout.splitlines()[-1]  # scratch is its own reference


def test_bench_l2t_finds_method_defaults_at_an_older_revisions_layout(monkeypatch):
    """--baseline adbd49e runs this file's measurement on that revision's package, which kept
    method_defaults in l2tww.config.params (issue 27 moved it to config.validation): the import that
    broke that command once must fall back."""
    import types

    bench = _module(BENCH / "bench_l2t.py")
    from l2tww.config.validation import method_defaults

    assert bench._method_defaults() is method_defaults
    old = types.ModuleType("l2tww.config.params")
    old.method_defaults = lambda kind, pairs=None: {"kind": kind}
    monkeypatch.setitem(sys.modules, "l2tww.config.validation", None)  # import raises ImportError
    monkeypatch.setitem(sys.modules, "l2tww.config.params", old)
    assert bench._method_defaults()("l2t") == {"kind": "l2t"}


def test_bench_hvp_runs_and_its_two_hvps_agree():
    out = _python([BENCH / "bench_hvp.py", "--threads", "1", "--batch", "2"])
    assert out.returncode == 0, out.stderr[-2000:]
    assert "HVP reverse-over-reverse (engine)" in out.stdout
    diff = float(out.stdout.rsplit(":", 1)[1])
    assert diff < 1e-4, out.stdout


def test_bench_loader_times_the_224px_loader(capsys):
    loader = _module(BENCH / "bench_loader.py")
    assert loader.main(["--workers", "0", "--images", "4", "--epochs", "1", "--batch", "2"]) == 0
    last = capsys.readouterr().out.splitlines()[-1].split()
    assert last[0] == "0" and float(last[1]) > 0


def test_mutation_benchmark_parses_and_its_scopes_name_existing_files():
    assert _python([BENCH / "mutation.py", "--help"]).returncode == 0
    mutation = _module(BENCH / "mutation.py")
    for scope, (mutate, tests) in mutation.SCOPES.items():
        for pattern in mutate:
            assert list(REPO.glob(pattern)), (scope, pattern)
        for test in tests:
            assert (REPO / test).is_file(), (scope, test)
    for name in mutation.ALSO_COPY:
        assert (REPO / name).exists(), name


@pytest.mark.slow  # a subprocess importing torch
def test_weights_diff_runs_as_a_module_as_its_docstring_says(tmp_path):
    a, b, c = tmp_path / "a.pt", tmp_path / "b.pt", tmp_path / "c.pt"
    torch.save({"w": torch.ones(2)}, a)
    torch.save({"state_dict": {"w": torch.ones(2)}}, b)
    torch.save({"w": torch.zeros(2)}, c)
    same = _python(["-m", "l2tww.training.weights_diff", a, b])
    assert same.returncode == 0 and "verdict: the same tensors" in same.stdout, same.stdout + same.stderr
    from l2tww.training.weights_diff import main

    assert main([str(a), str(c)]) == 1
    assert main([str(a), str(tmp_path / "absent.pt")]) == 2


# -- docs/attribution ----------------------------------------------------------------------------
def test_design_analysis_prints_the_plans_tables():
    out = _python([ATTRIBUTION / "design_analysis.py"])
    assert out.returncode == 0, out.stderr[-2000:]
    for heading in ("## D1/D2: per arm", "## Confirmation matrix", "## Per row at the confirmation"):
        assert heading in out.stdout


def test_extract_metanets_reads_a_runs_transfer_log(tmp_path):
    run = tmp_path / "results" / "runs" / "fashion" / "l2tww" / "n5-s3"
    run.mkdir(parents=True)
    metrics = {"target": "fashion", "method": "l2tww", "n_per_class": 5, "seed": 3, "best_epoch": 1}
    (run / "metrics.json").write_text(json.dumps(metrics))
    log = {"epochs": [0, 1], "entropy_deficit": [[0.0], [0.02]], "lambda": [[1.0], [1.5]]}
    (run / "transfer.json").write_text(json.dumps(log))
    out = _python([ATTRIBUTION / "extract_metanets.py", tmp_path / "results", tmp_path / "m.csv"])
    assert out.returncode == 0, out.stderr[-2000:]
    [row] = list(csv.DictReader((tmp_path / "m.csv").open()))
    assert row["max_lambda_change"] == "0.5" and row["max_entropy_deficit"] == "0.02" and row["seed"] == "3"


def test_calibrate_costs_design_params_still_load():
    calibrate = _module(ATTRIBUTION / "calibrate_costs.py")
    params = config.from_mapping(calibrate.design_params())
    assert params["results_root"] == "results/calib" and "claims" not in params.data


def test_calibrate_costs_retrains_on_the_cpu_clock_and_checks_the_design_accuracy(tiny, tmp_path):
    from l2tww.training import trainer

    calibrate = _module(ATTRIBUTION / "calibrate_costs.py")
    make_split(tiny, "animal_mnist")
    make_split(tiny, "animal_mnist", 5, 0)
    first = tmp_path / "first.yaml"
    first.write_text(yaml.safe_dump(tiny.data))
    calibrate.main([str(tmp_path / "a.csv"), "animal:scratch:5", "--params", str(first), "--design", "/absent"])
    [row] = list(csv.DictReader((tmp_path / "a.csv").open()))
    assert row["same_accuracy_as_design"] == "" and float(row["cpu_train_s"]) > 0  # no design run to compare
    assert trainer.time.perf_counter is not __import__("time").process_time  # the clock is put back

    again = {**tiny.data, "results_root": str(tmp_path / "again")}
    second = tmp_path / "second.yaml"
    second.write_text(yaml.safe_dump(again))
    calibrate.main(
        [str(tmp_path / "b.csv"), "animal:scratch:5", "--params", str(second), "--design", tiny.data["results_root"]]
    )
    [row] = list(csv.DictReader((tmp_path / "b.csv").open()))
    assert row["same_accuracy_as_design"] == "True"  # same seed, same code: the same accuracies


# -- docs/study ----------------------------------------------------------------------------------
STUDY = REPO / "docs" / "study"


def test_study_design_analysis_reproduces_the_committed_design_tables():
    # docs/study/design.md is this script's output on the committed design CSVs (less the λ section,
    # which reads the design's runs): a change of a rule, an import or a CSV column that moves a
    # choice of the plan (N, best baseline, seeds) or a number of its tables fails here.
    out = _python([STUDY / "design_analysis.py"])
    assert out.returncode == 0, out.stderr[-2000:]
    committed = (STUDY / "design.md").read_text().split("## Which way")[0]
    assert out.stdout.rstrip() == committed.rstrip()


def test_study_design_analysis_refuses_a_confirmation_seed(tmp_path):
    rows = list(csv.DictReader(open(STUDY / "design-runs.csv")))
    rows[0]["seed"] = "3000"
    bad = tmp_path / "runs.csv"
    with open(bad, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    out = _python([STUDY / "design_analysis.py", "--runs", bad])
    assert out.returncode != 0 and "seed 3000 is not a design seed" in out.stderr


def test_bench_embedded_prices_a_baselines_matrix_whose_claims_follow_an_older_schema(tmp_path):
    # With --baseline the matrix is the baseline's params.yaml (issue 28 asks about adbd49e's 94 runs);
    # its claims section may not validate under HEAD's schema (a renamed claim id) and must not matter.
    bench = _module(BENCH / "bench_embedded.py")
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["claims"]["plan"]["design_sd"] = {"fast_equals_exact@n5": 1.5}  # adbd49e's id, unknown today
    old = tmp_path / "params.yaml"
    old.write_text(yaml.safe_dump(raw))
    weights = bench.matrix_weights(bench._params(old, tmp_path, {}, matrix_only=True))
    assert sum(runs for runs, _ in weights.values()) == len(config.load(REPO / "params.yaml").runs())
    with pytest.raises(config.ConfigError, match="fast_equals_exact"):
        bench._params(old, tmp_path, {})
