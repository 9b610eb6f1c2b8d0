"""Issue 31's first hour with your own images, replayed on a generated folder (docs/own-data.md walks
the same steps): a copied preset trimmed to fewer methods passes `check` after the one edit its
first message names; a missing source is refused before any job runs; a failing job's error line
is in Snakemake's own output; two params files keep their own logs; `l2tww try` runs the folder
end to end, says its numbers are a smoke test and where the report is, which names its params
file and renders every table."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from l2tww.stages.check import threads_warning

from .conftest import REPO, make_project, sh, stand_in_sources

PRESET = "workflow/presets/own-data-32px.yaml"


def _images(root: Path, per_class: int = 40) -> None:
    """root/train/{vehicle,animal}/*.png: tiny 8 x 8 images, one colour per class plus noise; 40 per
    class, what the preset needs (val 5 + test 10 + N 25)."""
    rng = np.random.default_rng(0)
    for c, name in enumerate(("vehicle", "animal")):
        folder = root / "train" / name
        folder.mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 60, (8, 8, 3)) + np.eye(3, dtype=int)[c] * 180
            Image.fromarray(pixels.astype(np.uint8)).save(folder / f"{i:02d}.png")


def _trimmed(root: Path) -> Path:
    """The preset copied as docs/own-data.md says, its run block kept to scratch, FM and L2T-ww."""
    text = (root / PRESET).read_text()
    text = re.sub(r"methods: \[scratch, lwf, [^\]]*\]", "methods: [scratch, fm_single, l2tww]", text)
    assert "methods: [scratch, fm_single, l2tww]" in text
    (root / "my-params.yaml").write_text(text)
    return root / "my-params.yaml"


def _check(root: Path, params: Path):
    return sh(["l2tww", "--params", params.name, "check"], root, check=False)


@pytest.mark.integration
def test_the_first_hour_with_your_own_images(tmp_path: Path):
    root = make_project(tmp_path / "project")
    _images(root / "my-images")
    stand_in_sources(root, PRESET)  # the released ResNet32 at the path the preset names
    params = _trimmed(root)

    # 1. Every claim of a removed method in one check, each with its fix; the first names one line.
    first = _check(root, params)
    errors = first.stderr.splitlines()
    assert first.returncode == 2 and len(errors) == 10 and all("is not in the run matrix" in e for e in errors), errors
    assert "or set claims.unrun: skip" in errors[0]
    params.write_text(params.read_text().replace("claims:\n", "claims:\n  unrun: skip\n"))
    assert _check(root, params).stdout.endswith("my-params.yaml: ok (27 runs)\n")

    # 2. A missing source: refused by check and by Snakemake's planning; no job runs.
    released = root / "data/raw/weights/tinyimagenet-200-resnet32.pth.tar"
    kept = released.read_bytes()
    released.unlink()
    missing = _check(root, params)
    assert missing.returncode == 2 and f"{released.relative_to(root)} not found; put the source's file there" in (
        missing.stderr
    )
    planned = sh(["snakemake", "--cores", "2", "all", "--configfile", params.name], root, check=False)
    assert planned.returncode != 0 and "weights.path" in planned.stderr and "not found" in planned.stderr
    assert not (root / "results/own-data-32px").exists()  # nothing ran: no log, no prepared data
    released.write_bytes(kept)

    # 3. A failing job: its error line in Snakemake's output. 4. A second params file: its own logs.
    (root / "my-images/train/vehicle/notes.png").write_text("not an image")
    other = root / "other-params.yaml"
    other.write_text(params.read_text().replace("results/own-data-32px", "results/other"))
    logs = {}
    for p, results in ((params, "results/own-data-32px"), (other, "results/other")):
        failed = sh(["snakemake", "--cores", "2", "all", "--configfile", p.name], root, check=False)
        log = root / results / "logs/prepare/mydata.log"
        assert failed.returncode != 0 and log.is_file(), failed.stderr
        assert "l2tww: job prepare failed" in failed.stderr and "notes.png: unreadable" in failed.stderr
        summary = failed.stderr.split("l2tww: failed job(s), the last line of each log:")[-1]  # last: on-error
        assert f"{log.relative_to(root)}: l2tww: error: my-images/train/vehicle/notes.png: unreadable" in summary
        logs[log] = log.read_text()
    assert all(log.read_text() == text for log, text in logs.items()) and not (root / "logs").exists()
    (root / "my-images/train/vehicle/notes.png").unlink()

    # 5. `l2tww try`: end to end on the folder, a smoke test by its own words, the report named.
    tried = sh(["l2tww", "try", "my-images", "--cores", "2"], root)
    report = root / "results/try-my_images/reports/l2tww-report.html"
    assert f"Report: {report.relative_to(root)}" in tried.stdout and "smoke test" in tried.stdout.splitlines()[-1]
    html = report.read_text()
    assert "results/try-my_images/params.yaml" in unescape(html) and "results/try-my_images" in unescape(html)
    text = unescape(re.sub(r"<[^>]+>", "", html))
    assert not re.search(r"^\s*\|.*\|\s*$", text, re.M)  # every table rendered: no raw markdown row left


def test_threads_beyond_the_cores_are_warned_about():
    assert threads_warning(4, 2).startswith("runtime.threads: 4 threads per job on a machine with 2 cores")
    assert threads_warning(2, 2) is None and threads_warning(1, None) is None


def test_the_own_data_presets_results_roots_are_gitignored():
    ignore = (REPO / ".gitignore").read_text().splitlines()
    assert "/results/*" in ignore and "!/results/summary/" in ignore
    for preset in ("own-data-32px.yaml", "own-data-224px.yaml"):
        root = yaml.safe_load((REPO / "workflow/presets" / preset).read_text())["results_root"]
        assert root.startswith("results/") and not root.startswith("results/summary"), preset
