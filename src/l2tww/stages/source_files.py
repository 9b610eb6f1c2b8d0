"""The files a loaded source reads from disk (its `weights.path`), checked before anything runs.

`l2tww check` and the Snakefile's planning both call `problems`: a missing file or one whose
sha256 is not the configured one is reported with every other problem, before any job starts (a
user once saw scratch train and only the transfer jobs fail, in their logs). The file is also an
input of the rules that read it (plan.run_files), so Snakemake itself refuses to plan without it.
Torch-free: the Snakefile imports it; whether a state_dict fits its arch is stages/check.py's part.
"""

from __future__ import annotations

from pathlib import Path

from ..config import Params
from ..data.download import file_hash

WHERE = "docs/own-data.md, section 'Where files go'"


def local_file(src: dict) -> Path | None:
    """The file a source's weights must find on disk, or None: pretrained here, or downloaded
    (torchvision weights without a local file are fetched by the first job that loads them)."""
    weights = src.get("weights")
    if not weights or "path" not in weights or weights["format"] == "torchvision":
        return None
    return Path(weights["path"])


def sources_loaded(params: Params) -> list[str]:
    """The loaded (not pretrained) sources some transfer run reads, in params order."""
    used = {
        s
        for run in params.runs()
        if params["methods"][run.method]["kind"] != "scratch"
        for s in params["targets"][run.target]["sources"]
    }
    return [name for name in params["sources"] if name in used and not params.is_pretrained(name)]


def problems(params: Params) -> list[str]:
    """One line per loaded source whose file is missing or is not the configured sha256."""
    out = []
    for name in sources_loaded(params):
        weights = params["sources"][name]["weights"]
        path = local_file(params["sources"][name])
        if path is None:
            continue
        if not path.is_file():
            out.append(
                f"sources.{name}.weights.path: {path} not found; put the source's file there ({WHERE}) or point "
                "weights.path at it"
            )
        elif weights.get("sha256") and (actual := file_hash(path, "sha256")) != weights["sha256"]:
            out.append(
                f"sources.{name}.weights.sha256: {path} has sha256 {actual[:16]}..., not the configured "
                f"{weights['sha256'][:16]}...: replace the file with the one the sha256 names, or fix sha256"
            )
    return out
