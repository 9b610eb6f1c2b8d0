"""The offline route (docs/offline.md, issue 30): a node with its own torch and no package index.

`make wheelhouse` runs here, where the index is reachable; then, with the network cut (a network
namespace of its own: `unshare -n`), a fresh venv that holds only a torch of another version than
the pin (L2TWW_OFFLINE_TORCH, default torch==2.13.0, the CPU build this machine keeps on disk) gets
the wheelhouse through `make install-offline`, which runs the acceptance script's CPU form; then
the tiny pipeline runs in it. `make test-offline` (CI: its own step), 4-8 min; not in `make test`.

No torchvision of the other version can be had here (PyPI's 0.28.0 is a CUDA build that does not
import beside a CPU torch, and download.pytorch.org is unreachable), so the venv has none: the
acceptance script's 224 px rows, the only code that imports torchvision, are left out and the test
checks that nothing else needs it. They run beside the pinned torch (tests/test_gpu_smoke.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO, TINY
from .test_weights import OFFICIAL

pytestmark = pytest.mark.offline

OTHER_TORCH = os.environ.get("L2TWW_OFFLINE_TORCH", "torch==2.13.0")
PIN = "2.14.1"
# What `make install-offline` needs of a checkout (README.md: pyproject's readme).
CHECKOUT = ["Makefile", "pyproject.toml", "README.md", "LICENSE", "Snakefile", "dvc.yaml"]
CHECKOUT_DIRS = ["src", "workflow", "benchmarks", "requirements"]
NO_TORCHVISION_ROWS = "precision,parity,exact,end,resume,32px"


# A network namespace of its own: no route out, only loopback (up, as on any node: the report's
# Jupyter kernel talks to its client over 127.0.0.1).
OFFLINE = ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "offline"]


def _can_cut_network() -> bool:
    try:
        return subprocess.run([*OFFLINE, "true"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def run(cmd: list[str], cwd: Path, offline: bool, env: dict | None = None, timeout: int = 600) -> str:
    full = (OFFLINE if offline else []) + cmd
    result = subprocess.run(full, cwd=cwd, capture_output=True, text=True, env=env, timeout=timeout)
    assert result.returncode == 0, (
        f"{' '.join(full)} ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    )
    return result.stdout


def checkout_copy(root: Path) -> Path:
    root.mkdir()
    for name in CHECKOUT:
        if (REPO / name).exists():
            shutil.copy2(REPO / name, root / name)
    for name in CHECKOUT_DIRS:
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copy2(TINY, root / "params.yaml")
    return root


@pytest.mark.skipif(not _can_cut_network(), reason="cannot cut the network here (`unshare -n` needs root, `ip`)")
@pytest.mark.skipif(OFFICIAL is None, reason="the authors' checkpoint (../shared/official) is not beside this clone")
def test_node_without_index_installs_the_wheelhouse_beside_its_own_torch(tmp_path):
    base_python = str(Path(sys.base_prefix) / "bin" / "python3")
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    project = checkout_copy(tmp_path / "checkout")
    wheelhouse, torch_dir, venv = tmp_path / "wheelhouse", tmp_path / "torch", tmp_path / "venv"

    # --no-print-directory: under `make test-offline` a child make would add "Leaving directory" lines.
    # Where the index is reachable: the wheelhouse, and (standing in for the node's image) the other torch.
    run(
        [
            "make",
            "--no-print-directory",
            "wheelhouse",
            f"WHEELHOUSE={wheelhouse}",
            f"PY_VERSION={version}",
            f"PYTHON={base_python}",
        ],
        project,
        False,
    )
    assert not [
        p.name
        for p in wheelhouse.glob("*.whl")
        if p.name.startswith(("torch-", "torchvision-", "triton-", "nvidia_cu"))
    ]
    run([base_python, "-m", "pip", "download", "-q", "-d", str(torch_dir), OTHER_TORCH], tmp_path, False)

    # The node: no network from here on, pip's own configuration (indexes, find-links) ignored.
    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull, "PYTHONPATH": "", "PATH": f"{venv}/bin:{os.environ['PATH']}"}
    env.pop("VIRTUAL_ENV", None)
    run([base_python, "-m", "venv", str(venv)], tmp_path, True, env)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-index"]
    run([*pip, "--find-links", str(torch_dir), OTHER_TORCH], tmp_path, True, env)
    torch_version = run(
        [str(venv / "bin" / "python"), "-c", "import torch; print(torch.__version__)"], tmp_path, True, env
    )
    assert not torch_version.startswith(PIN), f"the venv's torch is the pin ({torch_version.strip()})"

    smoke = f"SMOKE_ARGS=--only {NO_TORCHVISION_ROWS} --source-weights {OFFICIAL / 'tinyimagenet-200-resnet32.pth.tar'}"
    out = run(
        ["make", "--no-print-directory", "install-offline", f"VENV={venv}", f"WHEELHOUSE={wheelhouse}", smoke],
        project,
        True,
        env,
    )
    assert out.rstrip().endswith("checks: all passed"), out[-3000:]
    # The editable install is this checkout, beside the node's torch, which pip left alone.
    where = run(
        [str(venv / "bin" / "python"), "-c", "import l2tww, torch; print(l2tww.__file__, torch.__version__)"],
        tmp_path,
        True,
        env,
    )
    assert where.split() == [str(project / "src" / "l2tww" / "__init__.py"), torch_version.strip()]

    # The tiny pipeline, every stage, offline.
    run([str(venv / "bin" / "snakemake"), "--cores", "2", "all"], project, True, env, timeout=900)
    assert (project / "results" / "summary" / "metrics.json").is_file()
