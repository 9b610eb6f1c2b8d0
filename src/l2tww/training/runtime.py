"""Device, precision, determinism, threads, seeding, and what a run records about where it ran.

- `precision` (runtime.precision): fp32 = IEEE float32 matmuls and cuDNN convolutions, the paper's
  numbers (torch's default lets cuDNN convolutions use TF32 on Ampere and later GPUs, so it is
  turned off explicitly); tf32 = TF32 allowed (10-bit mantissa in the products, faster); bf16 =
  bf16 autocast of the forward passes on CUDA, fp32 elsewhere. No effect on the CPU.
- `deterministic` (runtime.deterministic): deterministic kernels only, cuDNN autotuning off, cuBLAS
  with a fixed workspace: the same GPU gives bit-identical reruns (and a resumed run equals an
  uninterrupted one); off, cuDNN autotunes (faster, not bit-repeatable).
- `execution_record` is what metrics.json carries (a function of the run's identity and the
  machine kind); `machine_record` what timing.json carries (host, pid, git state: facts of one
  execution that must not enter hashed artifacts).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform
import random
import subprocess
from pathlib import Path

import numpy as np
import torch


def select_device(spec: str = "auto") -> torch.device:
    """auto: the CUDA device with the most free memory (Snakemake assigns no GPU ids), else CPU."""
    if spec == "cpu":
        return torch.device("cpu")
    if spec.startswith("cuda"):
        check_device(spec)
        return torch.device(spec)
    if torch.cuda.is_available():
        free = [torch.cuda.mem_get_info(i)[0] for i in range(torch.cuda.device_count())]
        return torch.device(f"cuda:{int(np.argmax(free))}")
    return torch.device("cpu")


def check_device(spec: str) -> str:
    """Fail at `l2tww check` time, not deep in a job, when the configured device is absent.
    Returns the device type a job would use here ("cuda" or "cpu")."""
    if spec.startswith("cuda"):
        if not torch.cuda.is_available():
            raise RuntimeError(
                f"runtime.device: {spec!r} requested but CUDA is not available on this machine (use auto or cpu)"
            )
        index = int(spec.split(":")[1]) if ":" in spec else 0
        if index >= torch.cuda.device_count():
            raise RuntimeError(
                f"runtime.device: {spec!r} requested but this machine has {torch.cuda.device_count()} CUDA device(s)"
            )
        return "cuda"
    return "cuda" if spec == "auto" and torch.cuda.is_available() else "cpu"


def runtime_warnings(runtime: dict, device_type: str) -> list[str]:
    """Settings that are valid but do nothing on this device (still part of the runs' identity)."""
    out = []
    if device_type == "cpu" and runtime["precision"] != "fp32":
        out.append(
            f"runtime.precision: {runtime['precision']} has no effect on the CPU (runtime.device: "
            f"{runtime['device']}); runs compute in fp32"
        )
    return out


def set_threads(threads: int) -> None:
    torch.set_num_threads(threads)


# glibc's mallopt parameters (malloc.h)
M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4


def keep_freed_memory() -> bool:
    """Let glibc's malloc keep freed memory for the next tensor instead of handing it back to the
    kernel. Returns whether it could (False without glibc's mallopt: macOS, musl).

    By default a block over 128 KB (up to 32 MB, adaptively) is mmap-ed when allocated and unmapped
    when freed, and the free top of the heap is trimmed: the next tensor of that size faults its
    pages in again, each zeroed by the kernel. A training step frees and reallocates the same large
    tensors every time, so on the CPU that was most of a job's system time: 600 page faults and
    0.5 ms a step at the embedded default's widest matching pair, 14% of an exact L2T-ww iteration
    at the paper's 32 px (issue 28). PyTorch's CPU tuning guide gets the same by preloading
    jemalloc or tcmalloc. Memory stays with the process up to its peak (1 GiB of free heap top at
    most is kept); the numbers are the same bits (benchmarks/same_runs.py)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, 1 << 30))


def release_freed_memory() -> None:
    """Hand the memory the process has freed back to the kernel (glibc's malloc_trim), so that
    its resident set is what it uses: between runs, for the next run's peak memory."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass


PRECISIONS = ("fp32", "tf32", "bf16")


def set_precision(precision: str) -> None:
    """Float32 matmul and convolution precision (see the module doc). torch >= 2.9 has per-backend
    `fp32_precision` switches ("ieee" | "tf32") and refuses a mix with the legacy allow_tf32 flags,
    so the new switches are set where they exist and the legacy ones only on an older torch."""
    if precision not in PRECISIONS:
        raise ValueError(f"runtime.precision: {precision!r}; expected one of {PRECISIONS}")
    tf32 = precision == "tf32"
    torch.set_float32_matmul_precision("high" if tf32 else "highest")
    conv = getattr(torch.backends.cudnn, "conv", None)
    if conv is not None and hasattr(conv, "fp32_precision"):
        mode = "tf32" if tf32 else "ieee"
        torch.backends.cuda.matmul.fp32_precision = mode
        torch.backends.cudnn.conv.fp32_precision = mode
        torch.backends.cudnn.rnn.fp32_precision = mode
    else:
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32


def tf32_state() -> dict[str, str]:
    """What the matmul and cuDNN convolution switches say now (for tests and the GPU check)."""
    conv = getattr(torch.backends.cudnn, "conv", None)
    if conv is not None and hasattr(conv, "fp32_precision"):
        return {
            "matmul": torch.backends.cuda.matmul.fp32_precision,
            "conv": conv.fp32_precision,
            "float32_matmul_precision": torch.get_float32_matmul_precision(),
        }
    return {
        "matmul": "tf32" if torch.backends.cuda.matmul.allow_tf32 else "ieee",
        "conv": "tf32" if torch.backends.cudnn.allow_tf32 else "ieee",
        "float32_matmul_precision": torch.get_float32_matmul_precision(),
    }


def set_deterministic(deterministic: bool) -> None:
    """Deterministic kernels (an op without one raises), no cuDNN autotuning, and the cuBLAS
    workspace setting cuBLAS needs for repeatable results: call before CUDA is first used."""
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    # Only on a change: torch 2.14's use_deterministic_algorithms imports torch._dynamo (~2.5 s of
    # CPU per process), which every non-deterministic job would pay for a no-op.
    if torch.are_deterministic_algorithms_enabled() != deterministic:
        torch.use_deterministic_algorithms(deterministic)
    torch.backends.cudnn.benchmark = not deterministic
    torch.backends.cudnn.deterministic = deterministic


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def autocast(device: torch.device, precision: str, cpu: bool = False):
    """bf16 autocast on CUDA for precision "bf16"; none otherwise. Runs never autocast on the CPU
    (slow there); `cpu=True` does, so the GPU check's CPU form and the tests reach the same
    autocast code path a GPU run takes."""
    if precision == "bf16" and (device.type == "cuda" or (cpu and device.type == "cpu")):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def reset_peak_memory(device: torch.device) -> None:
    """Start a new peak-memory window, so that each run of a process that trains several
    (runtime.runs_per_job) reports its own peak. On the CPU, Linux resets the process's peak
    resident set size (VmHWM) on "5" to /proc/self/clear_refs, after the memory an earlier run
    freed (kept by keep_freed_memory) is handed back; elsewhere the window stays the process's."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return
    release_freed_memory()
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def peak_memory_mb(device: torch.device) -> float:
    """CUDA: max allocated; CPU: the peak resident set size since reset_peak_memory (Linux)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], capture_output=True, text=True, timeout=5, cwd=Path.cwd())
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def git_sha() -> str | None:
    return _git("rev-parse", "HEAD") or None


def git_dirty() -> bool | None:
    """Whether the package's source differs from the commit (None outside a git checkout)."""
    status = _git("status", "--porcelain", "--", str(Path(__file__).parent))
    return None if status is None else bool(status)


def execution_record(device: torch.device, runtime: dict) -> dict:
    """How the numbers were computed: the same for every rerun of a run on the same machine kind."""
    return {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": device.type,
        "device_name": torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else platform.processor() or platform.machine(),
        "precision": runtime["precision"],
        # What the switches said when the run finished, not only what was configured (a library
        # or a torch default that turned TF32 back on would show here): metadata, no arithmetic.
        "precision_switches": tf32_state(),
        "deterministic": runtime["deterministic"],
    }


def machine_record(device: torch.device) -> dict:
    """Where and when this execution ran: facts kept out of hashed artifacts (timing.json)."""
    return {
        "git_sha": git_sha(),
        "git_dirty": git_dirty(),
        "host": platform.node(),
        "pid": os.getpid(),
        "device": str(device),
        "threads": torch.get_num_threads(),
    }
