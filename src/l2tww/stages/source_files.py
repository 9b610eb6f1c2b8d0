"""The files a loaded source reads from disk (its `weights.path`), checked before anything runs.

`l2tww check` and the Snakefile's planning both call `problems`: a missing file or one whose
sha256 is not the configured one is reported with every other problem, before any job starts (a
user once saw scratch train and only the transfer jobs fail, in their logs). The file is also an
input of the rules that read it (plan.run_files), so Snakemake itself refuses to plan without it.
Torch-free: the Snakefile imports it; whether a state_dict fits its arch is stages/check.py's part.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..config import Params
from ..data.download import file_hash
from .fetch_weights import FETCHED, SEARCH_ENV

WHERE = "docs/own-data.md, section 'Where files go'"


def local_file(src: dict) -> Path | None:
    """Your own file a source's weights read from disk and no rule makes (a state_dict), or None:
    pretrained here, or a released file that a fetch rule writes (stages.fetch_weights)."""
    weights = src.get("weights")
    if not weights or "path" not in weights or weights["format"] in FETCHED:
        return None
    return Path(weights["path"])


def _unfetchable(weights: dict, path: Path) -> bool:
    """A missing released file that its fetch rule cannot make either: no url to download, and no
    copy in the folders of L2TWW_WEIGHTS_DIR."""
    if weights["format"] == "torchvision" or weights.get("url"):
        return False
    return not any((Path(d) / path.name).is_file() for d in os.environ.get(SEARCH_ENV, "").split(os.pathsep) if d)


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
        if "path" not in weights:
            continue  # downloaded by its fetch rule
        path = Path(weights["path"])
        if not path.is_file():
            if weights["format"] in FETCHED and not _unfetchable(weights, path):
                continue  # its fetch rule downloads it, or copies it from L2TWW_WEIGHTS_DIR
            out.append(
                f"sources.{name}.weights.path: {path} not found; put the source's file there ({WHERE}), point "
                f"weights.path at it, or name its folder in {SEARCH_ENV}"
            )
        elif weights.get("sha256") and (actual := file_hash(path, "sha256")) != weights["sha256"]:
            out.append(
                f"sources.{name}.weights.sha256: {path} has sha256 {actual[:16]}..., not the configured "
                f"{weights['sha256'][:16]}...: replace the file with the one the sha256 names, or fix sha256"
            )
    return out
