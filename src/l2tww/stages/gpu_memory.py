"""Each training job's GPU memory estimate, for the scheduler: the resource `gpu_mem_mb` of the
`train` rule (workflow/rules/train.smk; docs/cluster.md). Torch-free: the Snakefile imports it.

The estimates are workflow/cluster/gpu-memory.yaml, written by benchmarks/job_memory.py from CPU
measurements (no GPU has run this project) per (target, method) of the paper presets. A cell it
does not list (your own presets) gets the estimate of the listed cell of the same image size and
method kind with the most memory, and with none of those 0 (no estimate). A job on the CPU needs none.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

TABLE = Path(__file__).resolve().parents[3] / "workflow" / "cluster" / "gpu-memory.yaml"


@lru_cache(maxsize=4)
def _table(path: Path) -> dict[str, dict]:
    return yaml.safe_load(path.read_text()) or {} if path.is_file() else {}


def _kind(params, method: str) -> str:
    spec = params["methods"][method]
    return f"{spec['kind']}:{spec.get('hypergradient', 'exact')}" if spec["kind"] == "l2t" else spec["kind"]


def gpu_mem_mb(params, target: str, method: str, uses_gpu: bool = True, table: Path = TABLE) -> int:
    """MB of GPU memory one run of `target` x `method` is estimated to need (0: none or unknown)."""
    if not uses_gpu:
        return 0
    cells = _table(table)
    if f"{target}/{method}" in cells:
        return int(cells[f"{target}/{method}"]["gpu_mb"])
    size, kind = params["datasets"][params["targets"][target]["dataset"]]["image_size"], _kind(params, method)
    alike = [c["gpu_mb"] for name, c in cells.items() if c.get("image_size") == size and c.get("kind") == kind]
    return int(max(alike, default=0))


FEATURES_ENV = "L2TWW_GPU_MEM_FEATURES"


def constraint(mb: int, features: str) -> str:
    """The SLURM node feature of the smallest GPU that holds `mb`: `features` lists `GB:feature`
    pairs, comma-separated, e.g. "40:a100_40g,80:h100" (L2TWW_GPU_MEM_FEATURES; your site's
    feature names, `sinfo -o %f`). "" when none is set or the job has no estimate."""
    if not features or mb <= 0:
        return ""
    pairs = []
    for item in features.split(","):
        gb, _, name = item.partition(":")
        try:
            pairs.append((float(gb), name.strip()))
        except ValueError:
            raise ValueError(f"{FEATURES_ENV}: {item!r}; expected GB:feature, e.g. 40:a100_40g") from None
        if not name.strip():
            raise ValueError(f"{FEATURES_ENV}: {item!r}; expected GB:feature, e.g. 40:a100_40g")
    fits = sorted((gb, name) for gb, name in pairs if gb * 1024 >= mb)
    if not fits:
        raise ValueError(f"{FEATURES_ENV}: no GPU listed holds {mb} MB (largest {max(pairs)[0]:g} GB)")
    return fits[0][1]
