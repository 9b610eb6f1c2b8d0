"""`l2tww check`, beyond loading the params: what can be checked before any job runs.

- Every loaded source's file must exist and match its sha256 (stages/source_files.py); sources
  from your own state_dict are loaded into their arch now (a few seconds at most), so a file of
  another architecture is refused here, in one line naming the first tensor that does not fit,
  not hours later by the first training job. The Snakefile runs the same checks when it plans.
- Warnings for settings that are valid but do nothing (an image folder's `test` hold-out when the
  folder has its own test/ images).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..catalog import IMAGE_FOLDER
from ..config import ConfigError, Params
from . import source_files
from .inputs import source_inputs


def weights_problems(params: Params, cache: Path | None = None) -> list[str]:
    """Every loaded source's problems, one line each: its file missing or not the configured sha256
    (source_files.problems), or a `format: state_dict` file that does not fit its arch. With `cache`
    (a JSON file; the Snakefile's planning passes one) a file that fitted under the same path, size,
    modification time and arch is not loaded again: torch is imported only when one must be."""
    out = source_files.problems(params)
    if out:
        return out
    loaded = source_files.sources_loaded(params)
    names = [n for n in loaded if params["sources"][n]["weights"]["format"] == "state_dict"]
    keys = {name: _fit_key(params, name) for name in names}
    fitted = set(json.loads(cache.read_text())) if cache is not None and cache.is_file() else set()
    todo = [name for name in names if keys[name] not in fitted]
    if not todo:
        return out
    from ..models import build_model
    from ..training.weights import load_weights

    for name in todo:
        inputs = source_inputs(params, name)
        model = build_model(inputs["arch"], inputs["num_classes"], inputs["channels"])
        try:
            load_weights(model, params["sources"][name]["weights"], Path(inputs["weights_cache"]))
        except (ValueError, FileNotFoundError) as exc:
            out.append(f"sources.{name}.weights: {exc}")
        else:
            fitted.add(keys[name])
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(sorted(fitted)))
    return out


def _fit_key(params: Params, name: str) -> str:
    src = params["sources"][name]
    stat = Path(src["weights"]["path"]).stat()
    info = params.info(src["dataset"])
    return json.dumps([src["weights"], src["arch"], info.num_classes, info.channels, stat.st_size, stat.st_mtime_ns])


def skipped_problems(params: Params) -> list[str]:
    """With `skip_unreadable: true`, the images a previous prepare of the same folder left out count
    against their class now: a class they take below val + test + the largest N is reported here,
    naming the class and the files, not by a split job after the runs are planned. (Without a
    previous prepare nothing is known: the images are decoded only when prepared.)"""
    from ..config.crossref import held_out
    from .split import skipped_note

    out = []
    for tname, t in params["targets"].items():
        ds = params["datasets"][t["dataset"]]
        tree = params.trees.get(t["dataset"])
        manifest = params.layout.prepared_files(params.layout.prepared(t["dataset"]))["manifest"]
        if tree is None or not ds.get("skip_unreadable") or not manifest.is_file() or "partition" in ds:
            continue
        skipped = [e["path"] for e in json.loads(manifest.read_text()).get("skipped_unreadable", [])]
        largest = max((n or 0 for block in t["runs"] for n in block["n_per_class"]), default=0)
        info = params.info(t["dataset"])
        for cls, count in tree.per_class("train").items():
            left = count - sum(p.startswith(f"train/{cls}/") for p in skipped)
            need = held_out(ds, left, info.has_test) + largest
            if left < need + (largest == 0):  # N = all still needs one training image
                out.append(
                    f"datasets.{t['dataset']}: class {cls!r} keeps {left} of its {count} images of {tree.root}/train "
                    f"after skipping unreadable ones, but targets.{tname} needs {need + (largest == 0)} (val + test "
                    f"+ the largest N){skipped_note(manifest.parent)}; replace the unreadable images or lower N"
                )
    return out


def check_inputs(params: Params) -> None:
    """ConfigError listing every problem of the sources' files and of the images skipped as
    unreadable (skipped_problems), one line each."""
    found = weights_problems(params) + skipped_problems(params)
    if found:
        raise ConfigError("\n".join(f"{params.origin}: {line}" for line in found))


def check_weights(params: Params) -> None:
    """ConfigError listing every source problem (weights_problems), one line each, naming the file."""
    found = weights_problems(params)
    if found:
        raise ConfigError("\n".join(f"{params.origin}: {line}" for line in found))


def threads_warning(threads: int, cores: int | None) -> str | None:
    """More threads per job than the machine has cores: every job oversubscribes the CPU."""
    if cores is None or threads <= cores:
        return None
    return (
        f"runtime.threads: {threads} threads per job on a machine with {cores} cores: each job oversubscribes "
        f"the CPU (slower); set runtime.threads to at most {cores}, and run snakemake --cores C for C / threads "
        "jobs at once"
    )


def check_warnings(params: Params) -> list[str]:
    out = [w for w in [threads_warning(params["runtime"]["threads"], os.cpu_count())] if w]
    for name, ds in params["datasets"].items():
        if ds["builder"] == IMAGE_FOLDER and "test" in ds and params.info(name).has_test:
            out.append(
                f"datasets.{name}.test: not used: {ds['root']}/test holds the test images (the hold-out applies only "
                "without a test/ folder)"
            )
    return out
