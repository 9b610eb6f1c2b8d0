"""Print what a node with its own torch lacks: pyproject.toml's dependencies and the `test` and
`slurm` extras, less torch and torchvision (and so their CUDA libraries), plus the embedded
datasets' packages and setuptools (for the node's editable install). `make wheelhouse` downloads
these; docs/offline.md. Reads pyproject.toml, so the list cannot drift from the project's pins."""

from __future__ import annotations

import re
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    sys.exit("workflow/offline/node_requirements.py: needs Python >= 3.11 (tomllib); set PYTHON=python3.11")

ROOT = Path(__file__).resolve().parents[2]
NODE_HAS = {"torch", "torchvision"}  # the node's own build, matched to its CUDA; never a wheel of ours
EXTRAS = ("test", "slurm")


def name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0].lower()


def requirements() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    build = project["build-system"]["requires"]
    deps = project["project"]["dependencies"] + [
        d for e in EXTRAS for d in project["project"]["optional-dependencies"][e]
    ]
    return [d for d in build + deps if name(d) not in NODE_HAS]


def no_deps_requirements() -> list[str]:
    """requirements/embedded-data.txt: installed with --no-deps (animal-mnist declares tensorflow)."""
    lines = (ROOT / "requirements" / "embedded-data.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else "deps"
    if which not in ("deps", "no-deps"):
        sys.exit(f"node_requirements.py: argument {which!r}; expected deps or no-deps")
    print("\n".join(requirements() if which == "deps" else no_deps_requirements()))
