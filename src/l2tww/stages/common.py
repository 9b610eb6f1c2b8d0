"""What pretraining and training share: the device and its numerics, the data, the network's
placement, and how a finished job is recorded: metrics.json (the identity and how the numbers were
computed: the same bytes at every rerun on one machine kind) and timing.json (seconds, memory,
host and git state of this execution; kept out of every hash), then the checkpoint discarded."""

from __future__ import annotations

from pathlib import Path

import torch

from ..config.layout import Layout
from ..data.batches import SplitData
from ..data.download import file_hash
from ..data.loader import EVAL_BATCH_SIZE, open_split
from ..io import write_json
from ..models import FeatureNet
from ..training.runtime import (
    execution_record,
    keep_freed_memory,
    machine_record,
    select_device,
    set_deterministic,
    set_precision,
    set_threads,
)
from ..training.trainer import Trainer


def device_for(runtime: dict) -> torch.device:
    """The device, with the configured precision and determinism set before CUDA is first used
    (and the process's allocator told to keep freed memory: training.runtime.keep_freed_memory)."""
    keep_freed_memory()
    set_threads(runtime["threads"])
    set_deterministic(runtime["deterministic"])
    set_precision(runtime["precision"])
    return select_device(runtime["device"])


def open_data(data: dict, batch_size: int, device: torch.device, runtime: dict) -> SplitData:
    return open_split(
        data["prepared_files"],
        Path(data["split"]),
        data["dataset"],
        batch_size,
        device,
        channels_last=runtime["channels_last"],
        workers=runtime["workers"],
        eval_batch_size=runtime.get("eval_batch_size", EVAL_BATCH_SIZE),
    )


def place(model: FeatureNet, device: torch.device, runtime: dict) -> FeatureNet:
    """On the device, in NHWC memory format with runtime.channels_last: on CUDA and on the CPU alike
    (oneDNN's convolutions are faster in it; a different float order, so part of the identity)."""
    model = model.to(device)
    if runtime["channels_last"]:
        model = model.to(memory_format=torch.channels_last)
    return model


def input_hashes(paths: list[str]) -> dict[str, str]:
    """sha256 of the files a job reads (split, source weights): a checkpoint made from other files
    of the same identity (a source re-pretrained on another CPU, say) is not resumed."""
    return {p: file_hash(Path(p)) for p in paths if Path(p).is_file()}


def finish(trainer: Trainer, out_dir: Path, identity_digest: str, runtime: dict, also_write=None) -> dict:
    """Fit, write what `also_write()` adds and timing.json, then metrics.json: the file that marks
    the job done."""
    result = trainer.fit()
    device = trainer.device
    metrics = {**result.metrics, "identity": identity_digest, "execution": execution_record(device, runtime)}
    if also_write is not None:
        also_write()
    write_json(Layout.timing(out_dir), {**result.timing, "machine": machine_record(device)})
    write_json(Layout.metrics(out_dir), metrics)
    trainer.discard_checkpoint()
    return metrics
