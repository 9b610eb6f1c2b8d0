"""Atomic artifact writes: a temp file in the same folder, fsync, rename.

A killed process leaves either the previous file or none, never a truncated one. The temp file
has the artifact's own name, inside a private temp folder beside it: `torch.save` names its zip
archive's root folder after the file's stem, so a randomly named temp file would give every save
other bytes (and DVC a new hash for identical tensors).
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temp path beside `path`; on success it is renamed onto `path`, on error removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_dir = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    tmp_path = tmp_dir / path.name
    try:
        yield tmp_path
        with open(tmp_path, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp_path, 0o666 & ~_UMASK)  # artifacts are ordinary files, whatever the temp folder's mode
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)
        tmp_dir.rmdir()


def write_json(path: str | Path, obj: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=False) + "\n")


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def save_torch(path: str | Path, obj: Any) -> None:
    import torch  # imported on use: the split and summary stages never need it

    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def load_torch(path: str | Path, what: str = "file") -> Any:
    """torch.load with a one-line error for a missing, truncated or corrupt file."""
    import torch

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: {what} not found")
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises several types for damaged zips/pickles
        raise ValueError(
            f"{path}: {what} is corrupt or truncated ({type(exc).__name__}: {exc}); delete it and re-run the stage "
            "that makes it"
        ) from None


def read_json(path: str | Path, what: str = "file") -> Any:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: {what} not found")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"{path}: {what} is not valid JSON ({exc.msg} at line {exc.lineno}); delete it and re-run the stage that "
            "makes it"
        ) from None
