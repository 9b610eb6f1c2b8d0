"""`make reproduce`'s first step: clear a stale Snakemake lock, saying so in one line.

A Snakemake killed mid-run (its whole process group, a closed terminal, an out-of-memory kill)
leaves its lock files in .snakemake/locks/, and the next `snakemake` refuses to start until
`snakemake --unlock`. The runs themselves resume from their checkpoints, so the lock is the only
thing between the user and the rerun. It is stale when no Snakemake process of this user runs on
this machine; then its files are removed (what `snakemake --unlock` does, without parsing the
Snakefile, which refuses to load while a source file is missing). A live Snakemake's lock is kept.

    python -m l2tww.stages.unlock [PROJECT_DIR]
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def snakemake_running(proc: Path = Path("/proc")) -> bool:
    """Whether a process of this user runs snakemake (`snakemake ...` or `python .../snakemake ...`)."""
    uid = os.getuid()
    for entry in proc.glob("[0-9]*"):
        try:
            if entry.stat().st_uid != uid or int(entry.name) == os.getpid():
                continue
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:  # the process ended meanwhile, or is not ours to read
            continue
        if any(Path(arg.decode(errors="replace")).name == "snakemake" for arg in argv[:2]):
            return True
    return False


def clear_stale_lock(project: Path, running: bool | None = None) -> str | None:
    """Remove project's .snakemake/locks/* when no Snakemake runs; the line to print, or None."""
    locks = [p for p in (project / ".snakemake" / "locks").glob("*") if p.is_file()]
    if not locks:
        return None
    if running if running is not None else snakemake_running():
        return None  # a live run holds it: Snakemake itself will say so
    for lock in locks:
        lock.unlink(missing_ok=True)
    return f"l2tww: cleared a stale Snakemake lock in {project / '.snakemake/locks'} (no Snakemake is running)"


if __name__ == "__main__":
    line = clear_stale_lock(Path(sys.argv[1] if len(sys.argv) > 1 else "."))
    if line:
        print(line)
