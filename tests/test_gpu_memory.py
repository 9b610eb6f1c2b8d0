"""Each training job's GPU memory estimate (issue 30): the `train` rule's gpu_mem_mb resource from
workflow/cluster/gpu-memory.yaml, and the SLURM constraint chosen from it (docs/cluster.md)."""

from __future__ import annotations

import pytest
import yaml

from l2tww import config
from l2tww.stages import gpu_memory

from .conftest import REPO
from .test_workflow import make_project, sh

CELLS = {
    "cub200/l2tww": {"gpu_mb": 21000, "image_size": 224, "kind": "l2t:exact"},
    "dogs/l2tww": {"gpu_mb": 20000, "image_size": 224, "kind": "l2t:exact"},
    "cub200/scratch": {"gpu_mb": 5000, "image_size": 224, "kind": "scratch"},
}


@pytest.fixture
def table(tmp_path):
    path = tmp_path / "gpu-memory.yaml"
    path.write_text(yaml.safe_dump(CELLS))
    return path


def test_a_job_gets_its_cells_estimate_or_the_largest_alike_and_none_on_a_cpu(table):
    params = config.load(REPO / "workflow/presets/paper-224px.yaml")
    assert gpu_memory.gpu_mem_mb(params, "cub200", "l2tww", table=table) == 21000
    assert gpu_memory.gpu_mem_mb(params, "cub200", "l2tww", uses_gpu=False, table=table) == 0
    # mit67 is not listed: the largest listed 224 px exact L2T cell stands in; no alike cell: 0
    assert gpu_memory.gpu_mem_mb(params, "mit67", "l2tww", table=table) == 21000
    assert gpu_memory.gpu_mem_mb(params, "mit67", "lwf", table=table) == 0


def test_the_constraint_is_the_smallest_gpu_that_holds_the_estimate():
    sites = "80:h100, 40:a100_40g,24:l4"
    assert gpu_memory.constraint(30000, sites) == "a100_40g"
    assert gpu_memory.constraint(20000, sites) == "l4"
    assert gpu_memory.constraint(21000, "") == "" and gpu_memory.constraint(0, sites) == ""
    with pytest.raises(ValueError, match="no GPU listed holds 90000 MB"):
        gpu_memory.constraint(90000, sites)
    with pytest.raises(ValueError, match=r"L2TWW_GPU_MEM_FEATURES: 'a100'; expected GB:feature"):
        gpu_memory.constraint(1000, "a100")


def test_the_committed_estimates_cover_every_paper_job():
    cells = yaml.safe_load(gpu_memory.TABLE.read_text())
    params = config.load(REPO / "workflow/presets/paper.yaml")
    assert {f"{r.target}/{r.method}" for r in params.runs()} <= set(cells)
    assert all(c["gpu_mb"] > 0 for c in cells.values())


def test_every_training_job_carries_its_estimate_in_the_plan(tmp_path):
    root = make_project(tmp_path / "project")
    out = sh(["snakemake", "-n", "all", "--configfile", "workflow/presets/paper-224px.yaml"], root).stdout
    blocks = out.split("rule train:")[1:]
    resources = [next(line for line in block.splitlines() if "resources:" in line) for block in blocks]
    assert len(resources) == 108 and all("gpu_mem_mb=" in line for line in resources)  # 0 here: no GPU
    assert not any("constraint=" in line for line in resources)  # no site features given: no -C at all
