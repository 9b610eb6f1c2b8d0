"""Device selection, threads, seeding and provenance: the facts every result carries."""
from __future__ import annotations

import contextlib
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


def check_device(spec: str) -> None:
    """Fail at `l2tww check` time, not deep in a job, when the configured device is absent."""
    if spec.startswith("cuda"):
        if not torch.cuda.is_available():
            raise RuntimeError(f"runtime.device: {spec!r} requested but CUDA is not available on this machine (use auto or cpu)")
        index = int(spec.split(":")[1]) if ":" in spec else 0
        if index >= torch.cuda.device_count():
            raise RuntimeError(f"runtime.device: {spec!r} requested but this machine has {torch.cuda.device_count()} CUDA device(s)")


def set_threads(threads: int) -> None:
    torch.set_num_threads(threads)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def autocast(device: torch.device, bf16: bool, cpu: bool = False):
    """bf16 autocast on CUDA when asked; fp32 otherwise (the paper's precision). Runs never
    autocast on the CPU (slow there); `cpu=True` does, so the smoke run's CPU form and the tests
    reach the same autocast code path a GPU run takes."""
    if bf16 and (device.type == "cuda" or (cpu and device.type == "cpu")):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def synchronize(device: torch.device) -> None:
    """Wait for queued CUDA kernels, so wall-clock timings cover the work (no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reset_peak_memory(device: torch.device) -> None:
    """Start a new peak-memory window, so that each run of a process that trains several
    (runtime.runs_per_job) reports its own peak. On the CPU, Linux resets the process's peak
    resident set size (VmHWM) on "5" to /proc/self/clear_refs; elsewhere the window stays the
    process's."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return
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


def provenance(device: torch.device) -> dict:
    return {
        "git_sha": git_sha(),
        "git_dirty": git_dirty(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "host": platform.node(),
        "pid": os.getpid(),
    }
