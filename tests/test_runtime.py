"""The CUDA-only branches of runtime.py, reached on the CPU (issue 14): device choice, autocast,
peak memory, precision and determinism switches. torch.cuda's queries are replaced by recorders;
no GPU is needed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from l2tww.training import runtime


@pytest.fixture
def fake_cuda(monkeypatch):
    """Three CUDA devices with 2, 9 and 5 GiB free; records the calls made on them."""
    calls = []
    free = {0: 2 << 30, 1: 9 << 30, 2: 5 << 30}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 3)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda i: (free[i], 80 << 30))
    monkeypatch.setattr(torch.cuda, "synchronize", lambda d=None: calls.append(("synchronize", str(d))))
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", lambda d=None: calls.append(("reset", str(d))))
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda d=None: 3 << 20)
    return calls


def test_auto_picks_the_cuda_device_with_most_free_memory(fake_cuda):
    assert runtime.select_device("auto") == torch.device("cuda:1")
    assert runtime.select_device("cuda:2") == torch.device("cuda:2")
    assert runtime.select_device("cpu") == torch.device("cpu")


def test_cuda_requested_without_cuda_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert runtime.select_device("auto") == torch.device("cpu")
    with pytest.raises(RuntimeError, match=r"runtime.device: 'cuda:1' requested but CUDA is not available"):
        runtime.select_device("cuda:1")


def test_peak_memory_acts_on_cuda_only(fake_cuda):
    cuda = torch.device("cuda:1")
    runtime.reset_peak_memory(cuda)
    assert runtime.peak_memory_mb(cuda) == 3.0
    runtime.reset_peak_memory(torch.device("cpu"))
    assert fake_cuda == [("reset", "cuda:1")]
    assert runtime.peak_memory_mb(torch.device("cpu")) > 10  # this process's max RSS, MB


def test_bf16_autocast_runs_on_cpu_only_when_forced():
    a, b = torch.randn(4, 4), torch.randn(4, 4)
    cpu = torch.device("cpu")
    with runtime.autocast(cpu, "bf16"):
        assert (a @ b).dtype == torch.float32  # runs keep the paper's fp32 on the CPU
    with runtime.autocast(cpu, "bf16", cpu=True):
        assert (a @ b).dtype == torch.bfloat16  # the smoke run's CPU form: the GPU's code path
    with runtime.autocast(cpu, "fp32", cpu=True):
        assert (a @ b).dtype == torch.float32


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux's /proc/self/clear_refs")
def test_each_run_of_a_process_gets_its_own_cpu_peak_memory():
    """With several runs per process (runtime.runs_per_job), a later run must not report an
    earlier run's peak: the window restarts at each run."""
    import numpy as np

    cpu = torch.device("cpu")
    big = np.ones(400 * 2**20 // 8)  # 400 MB, every page written
    del big
    before = runtime.peak_memory_mb(cpu)
    runtime.reset_peak_memory(cpu)
    after = runtime.peak_memory_mb(cpu)
    assert after < before - 300, (before, after)


@pytest.fixture
def restore_numerics():
    yield
    runtime.set_precision("fp32")
    runtime.set_deterministic(False)


def test_fp32_turns_tf32_off_for_matmuls_and_convolutions_and_tf32_turns_it_on(restore_numerics):
    """torch's default lets cuDNN convolutions use TF32 (issue 21): "fp32" must say ieee for both."""
    runtime.set_precision("tf32")
    assert runtime.tf32_state() == {"matmul": "tf32", "conv": "tf32", "float32_matmul_precision": "high"}
    runtime.set_precision("fp32")
    assert runtime.tf32_state() == {"matmul": "ieee", "conv": "ieee", "float32_matmul_precision": "highest"}
    runtime.set_precision("bf16")  # autocast does the bf16 part; what is left in fp32 stays IEEE
    assert runtime.tf32_state()["conv"] == "ieee"
    with pytest.raises(ValueError, match="runtime.precision: 'fp16'"):
        runtime.set_precision("fp16")


def test_deterministic_mode_sets_kernels_autotuning_and_the_cublas_workspace(restore_numerics, monkeypatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    runtime.set_deterministic(True)
    assert torch.are_deterministic_algorithms_enabled() and not torch.backends.cudnn.benchmark
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    runtime.set_deterministic(False)
    assert not torch.are_deterministic_algorithms_enabled() and torch.backends.cudnn.benchmark


def test_check_warns_that_precision_does_nothing_on_the_cpu():
    base = {"device": "cpu", "precision": "tf32", "channels_last": False}
    assert any("runtime.precision: tf32 has no effect on the CPU" in w for w in runtime.runtime_warnings(base, "cpu"))
    assert runtime.runtime_warnings({**base, "precision": "fp32"}, "cpu") == []
    assert runtime.runtime_warnings(base, "cuda") == []


def test_a_job_that_is_not_deterministic_does_not_pay_for_the_switch():
    """torch 2.14's use_deterministic_algorithms imports torch._dynamo (~2.5 s of CPU per job): a
    job with deterministic: false (the default) must not call it for a no-op."""
    import subprocess
    import sys

    code = (
        "import sys, torch; from l2tww.training.runtime import set_deterministic; set_deterministic(False); "
        "print('torch._dynamo' in sys.modules, torch.backends.cudnn.benchmark)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["False", "True"], out.stderr[-500:]


def test_the_execution_record_reads_the_precision_switches_not_the_config():
    """metrics.json's `execution.precision_switches` (issue 30): what torch's switches say, so a run
    whose TF32 was turned back on after set_precision shows it beside the configured fp32."""
    from l2tww.training.runtime import execution_record, set_precision

    runtime = {"precision": "fp32", "deterministic": False}
    try:
        set_precision("fp32")
        assert execution_record(torch.device("cpu"), runtime)["precision_switches"] == {
            "matmul": "ieee",
            "conv": "ieee",
            "float32_matmul_precision": "highest",
        }
        set_precision("tf32")  # a library switching TF32 on behind the run's back
        record = execution_record(torch.device("cpu"), runtime)
        assert record["precision"] == "fp32" and record["precision_switches"]["conv"] == "tf32"
    finally:
        set_precision("fp32")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="page faults counted on Linux")
def test_a_job_keeps_freed_memory_for_its_next_tensors_and_hands_it_back_between_runs():
    """keep_freed_memory (device_for, every job): a 16 MB tensor freed and allocated again comes back
    without the kernel faulting its pages in again (glibc's default: thousands of faults each time), and
    reset_peak_memory returns what was freed so a run's peak is its own. Catches a wrong mallopt
    parameter (the setting silently ignored) and a window that inherits the previous run's memory."""
    import subprocess
    import sys

    code = """
import resource, sys, torch
from pathlib import Path
from l2tww.training import runtime
def faults():
    r0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(10):
        t = torch.empty(4 << 20)
        t.fill_(1.0)
        del t
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - r0) / 10
before = faults()
kept = runtime.keep_freed_memory()
faults()
after = faults()
def rss():
    status = Path("/proc/self/status").read_text().splitlines()
    return [int(x.split()[1]) for x in status if x.startswith("VmRSS:")][0] / 1024
base = rss()
big = torch.ones(100 << 20)  # 400 MB, from the heap now
del big
held = rss()
runtime.reset_peak_memory(torch.device("cpu"))
print(kept, before, after, held - base, rss() - base)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    kept, before, after, held, left = out.stdout.split()
    assert kept == "True", out.stderr[-500:]
    assert float(before) > 1000 and float(after) < 50, (before, after)
    assert float(held) > 350 and float(left) < 50, (held, left)  # kept after the free, returned by the reset
