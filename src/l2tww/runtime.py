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
        if not torch.cuda.is_available():
            raise RuntimeError(f"runtime.device: {spec!r} requested but CUDA is not available")
        return torch.device(spec)
    if torch.cuda.is_available():
        free = [torch.cuda.mem_get_info(i)[0] for i in range(torch.cuda.device_count())]
        return torch.device(f"cuda:{int(np.argmax(free))}")
    return torch.device("cpu")


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
    """Start a new CUDA peak-memory window (the CPU's max RSS cannot be reset: it is per process)."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def git_sha() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=Path.cwd())
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def provenance(device: torch.device) -> dict:
    return {
        "git_sha": git_sha(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "host": platform.node(),
        "pid": os.getpid(),
    }
