"""A crash leaves Snakemake's lock behind: `make reproduce` clears it when no Snakemake runs (issue 31)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from l2tww.stages.unlock import clear_stale_lock, snakemake_running


def _locked(root: Path) -> Path:
    locks = root / ".snakemake" / "locks"
    locks.mkdir(parents=True)
    (locks / "0.input.lock").write_text("x")
    return locks


def test_a_stale_lock_is_cleared_with_one_line_and_a_live_one_kept(tmp_path: Path):
    locks = _locked(tmp_path)
    assert clear_stale_lock(tmp_path, running=True) is None and list(locks.iterdir())
    line = clear_stale_lock(tmp_path, running=False)
    assert line.startswith("l2tww: cleared a stale Snakemake lock") and not list(locks.iterdir())
    assert clear_stale_lock(tmp_path, running=False) is None  # nothing left: nothing said


def test_a_running_snakemake_is_seen(tmp_path: Path):
    fake = tmp_path / "snakemake"  # a process whose argv[1] is a file named snakemake, as `python snakemake`
    fake.write_text("import time; time.sleep(30)")
    proc = subprocess.Popen([sys.executable, str(fake)])
    try:
        cmdline = Path(f"/proc/{proc.pid}/cmdline")
        deadline = time.monotonic() + 10
        while str(fake).encode() not in cmdline.read_bytes() and time.monotonic() < deadline:
            time.sleep(0.05)  # until the child has exec'd (before, it is a copy of this process)
        assert snakemake_running()
    finally:
        proc.kill()
        proc.wait()
