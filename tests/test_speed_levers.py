"""What makes runs cheaper without changing their numbers (issue 28): the sources' forwards on the
val set run once per run (the cache keeps what observe reads of them), the meta-nets run without
autograd outside a meta-step; and runtime.channels_last, a lever that changes float order, takes
effect on the CPU when switched on; a job's start imports no scipy. Also the embedded benchmark's
quick form runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from l2tww.data.loader import TensorLoader
from l2tww.methods import MethodSpec, Pair, build_method
from l2tww.models import build_model, net_shapes
from l2tww.stages import common
from l2tww.stages.common import place
from l2tww.training.evaluation import evaluate
from l2tww.training.runtime import runtime_warnings

from .l2t_oracle import HP

REPO = Path(__file__).resolve().parents[1]


def _setting(**overrides):
    torch.manual_seed(0)
    target = build_model({"name": "vgg_bn", "cfg": [4, "M", 8, "M", 8, "M"]}, 5, 1)
    source = build_model({"name": "cifar_resnet", "depth": 8, "width": 4}, 7, 1).eval()
    for p in source.parameters():
        p.requires_grad_(False)
    pairs = tuple(Pair(0, s, t) for s in (0, 2) for t in (0, 2))
    method = build_method(
        MethodSpec("l2tww", "l2t", pairs, {**HP, **overrides}), net_shapes(target, [source], (1, 32, 32))
    )
    images = torch.randint(0, 256, (10, 1, 32, 32), dtype=torch.uint8)
    loader = TensorLoader(images, torch.randint(0, 5, (10,)), 4, torch.zeros(1, 1, 1, 1), torch.ones(1, 1, 1, 1))
    return target, source, method, loader


class Counting(torch.nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net, self.calls = net, 0

    def forward(self, x):
        self.calls += 1
        return self.net(x)


def test_val_statistics_from_the_source_cache_equal_the_uncached_and_skip_the_sources():
    target, source, method, loader = _setting()
    counting = Counting(source)
    plain = evaluate(target, loader, method, [counting], observe=True)
    cache: list = []
    first = evaluate(target, loader, method, [counting], observe=True, source_cache=cache)
    calls = counting.calls
    with torch.no_grad():  # the meta-nets move between two val evaluations: the cache must not freeze them
        for p in method.meta.parameters():
            p.add_(0.1)
    moved = evaluate(target, loader, method, [counting], observe=True)
    again = evaluate(target, loader, method, [counting], observe=True, source_cache=cache)
    assert plain == first and moved == again and moved["transfer"] != first["transfer"]
    assert calls == 2 * 3 and counting.calls == calls + 3  # 3 batches each; the cached call ran no source


def test_the_meta_nets_run_without_a_graph_outside_a_meta_step():
    target, source, method, loader = _setting(meta_every=2)
    opt = torch.optim.SGD(list(target.parameters()) + method.student_parameters(), lr=0.1)
    x, y = next(iter(loader.epoch()))
    outs = [source(x)]
    graphs = []
    original = method.meta_outputs

    def spy(source_outs):
        weights, lambdas = original(source_outs)
        graphs.append(weights[0].requires_grad)
        return weights, lambdas

    method.meta_outputs = spy
    for _ in range(3):
        method.train_step(target, x, y, outs, opt)
    # meta_every 2: steps 0 and 2 meta-step, each running the meta-nets twice (the loss; then the
    # lambda direction, after the hypergradient freed the first graph); step 1 without a graph
    assert graphs == [True, True, False, True, True]


def test_channels_last_takes_effect_on_the_cpu_without_a_warning(monkeypatch):
    runtime = {"device": "cpu", "precision": "fp32", "channels_last": True, "workers": 0}
    assert runtime_warnings(runtime, "cpu") == []
    model = place(build_model({"name": "vgg_bn", "cfg": [4, "M"]}, 5, 3), torch.device("cpu"), runtime)
    assert model.stages[0][0].weight.is_contiguous(memory_format=torch.channels_last)
    plain = place(build_model({"name": "vgg_bn", "cfg": [4, "M"]}, 5, 3), torch.device("cpu"), {"channels_last": False})
    assert not plain.stages[0][0].weight.is_contiguous(memory_format=torch.channels_last)
    seen = {}
    monkeypatch.setattr(common, "open_split", lambda *args, **kwargs: seen.update(kwargs))
    common.open_data({"prepared_files": "p", "split": "s", "dataset": {}}, 4, torch.device("cpu"), runtime)
    assert seen["channels_last"] is True


@pytest.mark.slow  # subprocesses importing torch, the target's data prepared
def test_the_embedded_benchmark_quick_form_prints_every_phase_of_an_arm():
    out = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "bench_embedded.py"), "--quick", "--arms", "frozen"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    row = [line for line in out.stdout.splitlines() if line.startswith("frozen")]
    assert len(row) == 1, out.stdout
    values = [float(v) for v in row[0].split()[2:]]
    total, phases = values[0], values[1:]
    assert total > 0 and abs(sum(phases) - total) < 0.05 and phases[4] > 0  # the val phase is measured


def test_same_runs_tells_a_changed_tensor_or_number_from_a_new_identity(tmp_path):
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import same_runs
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    state = {"target": {"w": torch.ones(3)}, "best_epoch": 1}
    for side, identity in (("a", "x"), ("b", "y")):  # only the identity differs: the same bits
        (tmp_path / side).mkdir()
        torch.save(state, tmp_path / side / "model.pt")
        (tmp_path / side / "metrics.json").write_text(f'{{"test_acc": 50.0, "identity": "{identity}"}}')
    assert same_runs.differences(tmp_path / "a", tmp_path / "b") == []
    torch.save(
        {"target": {"w": torch.ones(3).nextafter(torch.full((3,), 2.0))}, "best_epoch": 1}, tmp_path / "b" / "model.pt"
    )
    (tmp_path / "b" / "metrics.json").write_text('{"test_acc": 50.01, "identity": "y"}')
    assert same_runs.differences(tmp_path / "a", tmp_path / "b") == ["model.pt:target.w", "metrics.json"]


def test_the_matrix_row_counts_a_process_start_and_exit_once_per_job_not_per_run():
    """Runs of one job share one process: 5 runs in 1 job pay 5 runs' work and one start + exit."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import bench_embedded
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    phases = dict.fromkeys(bench_embedded.PHASES, 0.0) | {"start": 2.0, "train": 3.0, "exit": 1.0}
    row = {"total": 6.0, "phases": phases}
    assert bench_embedded.matrix_cost({"scratch": row}, {"scratch": (5, 1)}) == 5 * 3.0 + 1 * (2.0 + 1.0)
    assert bench_embedded.matrix_cost({"scratch": row}, {"scratch": (5, 5)}) == 5 * 6.0


def test_the_ceiling_counts_as_excess_only_the_time_above_scratchs_arithmetic_rate():
    """bench_ceiling: an arm with twice scratch's FLOPs in three times its time has one scratch step
    of excess per step; the matrix line sums steps x runs of both."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import bench_ceiling
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    rows = {"scratch": {"gflop": 1.0, "ms": 10.0}, "fm": {"gflop": 2.0, "ms": 30.0}}
    text = bench_ceiling.table(rows, rate=200.0, runs={"scratch": 2, "fm": 3}, steps_per_run=100, matrix="m")
    fm = next(line.split() for line in text.splitlines() if line.startswith("fm"))
    assert fm[1:] == ["2.000", "30.0", "67", "33%", "10.0", "3"]
    # loop: (2 x 10 + 3 x 30) ms x 100 steps = 11 s; excess: 3 runs x 100 x 10 ms = 3 s
    assert text.splitlines()[-1].endswith("training loop 11 CPU-s, of which 3 above scratch's 100 GFLOPS")


def test_a_training_job_loads_its_params_and_code_without_importing_scipy():
    """Validating params.yaml checks its claims plan, which imports the statistics package; scipy
    must wait for a statistic (0.2 CPU-s a job, net): fails if a module on that path imports it again."""
    code = (
        "import sys; from l2tww import config; import l2tww.cli, l2tww.stages.train; "
        "config.load('params.yaml'); print(sorted(m for m in sys.modules if m.split('.')[0] == 'scipy'))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
