"""`l2tww train` end to end, and a killed run's resume, on a tiny params file (docs/gpu.md).

The tiny setting: the embedded Animal-MNIST target (a small VGG-BN) and a ResNet8 source pretrained
here on MNIST-5k, L2T-ww exact all-to-all (9 pairs), 2 epochs of `resume_steps` batches. The data,
splits and source are made in this process on the CPU (seconds); every `l2tww train` is its own
process with `runtime.device: auto`, as a Snakemake job runs it.

- end to end: the run finishes and its metrics.json's execution record names the device auto
  picked (CUDA where there is one), the precision and the deterministic flag;
- resume: a second run is killed (SIGKILL) once epoch 0's checkpoint is written, then run again:
  it must resume after epoch 0, and its model.pt, metrics.json and history.json are compared with
  the uninterrupted run's: equal bit for bit with `deterministic: true`; the difference is reported
  without it (cuDNN autotuning in a fresh process may pick other kernels).
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import torch
import yaml

from l2tww import config
from l2tww.io import load_torch, read_json
from l2tww.stages.prepare import prepare_dataset
from l2tww.stages.pretrain import pretrain_source
from l2tww.stages.split import make_split
from l2tww.training.runtime import check_device, set_deterministic, set_precision

from .setting import REPO

RUN = ("animal", "l2tww", 5, 0)  # target, method, N per class, seed
TINY = {
    "schema_version": 1,
    "runtime": {"device": "cpu", "threads": 1, "precision": "fp32", "deterministic": True},
    "split_seed": 0,
    "datasets": {
        "mnist5k": {
            "builder": "mnist5k",
            "test": {"per_class": 20},
            "val": {"per_class": 10},
            "normalize": {"mean": [0.1005], "std": [0.2757]},
            "augment": {"crop_padding": 4},
        },
        "animal_mnist": {
            "builder": "animal_mnist",
            "test": {"per_class": 20},
            "val": {"per_class": 10},
            "normalize": {"mean": [0.2095], "std": [0.3735]},
            "augment": {"crop_padding": 4, "hflip": True},
        },
    },
    "recipes": {
        "source": {"epochs": 1, "batch_size": 64, "lr": 0.1, "schedule": {"name": "step"}},
        "target": {"epochs": 2, "batch_size": 16, "lr": 0.05, "steps_per_epoch": 30},
    },
    "sources": {
        "digits": {
            "dataset": "mnist5k",
            "n_per_class": 30,
            "arch": {"name": "cifar_resnet", "depth": 8, "width": 4},
            "recipe": "source",
        }
    },
    "methods": {"l2tww": {"kind": "l2t", "pairs": "all_to_all", "hypergradient": "exact", "meta_every": 1}},
    "targets": {
        "animal": {
            "dataset": "animal_mnist",
            "arch": {"name": "vgg_bn", "cfg": [8, "M", 16, "M", 16, "M"]},
            "recipe": "target",
            "sources": ["digits"],
            "pairs": {"all_to_all": {"source": [0, 1, 2], "target": [0, 1, 2]}},
            "runs": [{"methods": ["l2tww"], "n_per_class": [RUN[2]], "seeds": [RUN[3]]}],
        }
    },
}


class Tiny:
    """The tiny project in `folder`: data and source made once, one results root per setting."""

    def __init__(self, folder: Path, steps: int, budget):
        self.folder, self.steps, self.budget = folder, steps, budget
        self.ready = False

    def raw(self, name: str, deterministic: bool, device: str) -> dict:
        raw = copy.deepcopy(TINY)
        raw["recipes"]["target"]["steps_per_epoch"] = self.steps
        raw["runtime"].update(device=device, deterministic=deterministic)
        raw["data_root"] = str(self.folder / "data")
        raw["results_root"] = str(self.folder / name / "results")
        raw["reports_root"] = str(self.folder / name / "reports")
        return raw

    def prepare(self) -> None:
        """Datasets, splits and the source, on the CPU in this process (numerics restored after)."""
        if self.ready:
            return
        threads = torch.get_num_threads()
        params = config.from_mapping(self.raw("source", False, "cpu"))  # deterministic: nothing to pay for on a CPU
        try:
            for dataset in ("mnist5k", "animal_mnist"):
                prepare_dataset(params, dataset)
                make_split(params, dataset)
            make_split(params, "mnist5k", 30, 0)
            make_split(params, "animal_mnist", RUN[2], RUN[3])
            with contextlib.redirect_stdout(io.StringIO()):  # its epoch lines would precede the table
                pretrain_source(params, "digits")
        finally:
            set_deterministic(False)
            set_precision("fp32")
            torch.set_num_threads(threads)
        self.ready = True

    def params_file(self, name: str, deterministic: bool) -> Path:
        """A params file for `name` (device auto), with the source copied into its results root."""
        self.prepare()
        raw = self.raw(name, deterministic, "auto")
        path = self.folder / name / "params.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(raw))
        sources = Path(raw["results_root"]) / "sources"
        if not sources.exists():
            shutil.copytree(self.folder / "source" / "results" / "sources", sources)
        return path

    def run_dir(self, name: str) -> Path:
        target, method, n, seed = RUN
        return self.folder / name / "results" / "runs" / target / method / f"n{n}-s{seed}"

    def train(self, params: Path, kill_after_epoch0: bool = False) -> tuple[int, str]:
        """`l2tww train` in its own process; with `kill_after_epoch0`, SIGKILL once epoch 0 is logged
        (the trainer logs an epoch after writing its checkpoint)."""
        target, method, n, seed = RUN
        cmd = [sys.executable, "-m", "l2tww.cli", "--params", str(params), "train", target, method]
        cmd += ["--n", str(n), "--seed", str(seed)]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=REPO)
        lines = []
        try:
            for line in proc.stdout:
                lines.append(line)
                if kill_after_epoch0 and line.startswith("[l2tww] epoch 0:"):
                    proc.kill()
                    break
            proc.wait(timeout=max(1.0, self.budget.left()))
        finally:
            if proc.poll() is None:  # the cap passed: no child outlives the script
                proc.kill()
                proc.wait()
        return proc.returncode, "".join(lines)


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1][:200] if lines else "(no output)"


def end_to_end(tiny: Tiny) -> dict:
    """The uninterrupted deterministic run (the resume check's reference)."""
    rc, out = tiny.train(tiny.params_file("deterministic", True))
    if rc != 0:
        return {"ok": False, "message": f"l2tww train exited {rc}: {_last_line(out)}"}
    execution = read_json(tiny.run_dir("deterministic") / "metrics.json")["execution"]
    expected = check_device("auto")
    ok = (execution["device"], execution["precision"], execution["deterministic"]) == (expected, "fp32", True)
    return {"execution": execution, "expected_device": expected, "ok": ok}


def _tensors(path: Path) -> dict[str, torch.Tensor]:
    state = load_torch(path, "model")
    return {f"{part}.{k}": v for part in ("target", "method") for k, v in state[part].items()}


def compare_runs(a: Path, b: Path) -> dict:
    ta, tb = _tensors(a / "model.pt"), _tensors(b / "model.pt")
    diff = max(
        ((ta[k].double() - tb[k].double()).abs().max().item() for k in ta if ta[k].is_floating_point()), default=0.0
    )
    same = {f: (a / f).read_bytes() == (b / f).read_bytes() for f in ("metrics.json", "history.json")}
    return {"max_abs_diff": diff, "same_files": same}


def resume(tiny: Tiny, deterministic: bool) -> dict:
    """Uninterrupted vs killed-after-epoch-0-and-resumed, in fresh processes."""
    name = "deterministic" if deterministic else "nondeterministic"
    if not (tiny.run_dir(name) / "metrics.json").exists():
        rc, out = tiny.train(tiny.params_file(name, deterministic))
        if rc != 0:
            return {"ok": False, "message": f"uninterrupted run exited {rc}: {_last_line(out)}"}
    killed = f"{name}-killed"
    params = tiny.params_file(killed, deterministic)
    rc, _ = tiny.train(params, kill_after_epoch0=True)
    if (tiny.run_dir(killed) / "metrics.json").exists():
        return {"ok": False, "message": "the kill came after the run finished (more --resume-steps per epoch)"}
    rc, out = tiny.train(params)
    if rc != 0:
        return {"ok": False, "message": f"resumed run exited {rc}: {_last_line(out)}"}
    resumed = "resuming" in out and "after epoch 1" in out
    result = {"deterministic": deterministic, "resumed_after_epoch0": resumed}
    result.update(compare_runs(tiny.run_dir(name), tiny.run_dir(killed)))
    bit_equal = result["max_abs_diff"] == 0.0 and all(result["same_files"].values())
    result["bit_equal"] = bit_equal
    # Deterministic: bit for bit. Not deterministic: the difference is the measurement.
    result["ok"] = resumed and (bit_equal or not deterministic)
    return result
