"""Atomic artifact writes: a temp file in the same folder, fsync, rename.

A killed process leaves either the previous file or none, never a truncated one. The temp file
has the artifact's own name, inside a private temp folder beside it: `torch.save` names its zip
archive's root folder after the file's stem, so a randomly named temp file would give every save
other bytes (and DVC a new hash for identical tensors).
"""

from __future__ import annotations

import io
import json
import os
import pickle
import re
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


REMAKE = "delete it and re-run the stage that makes it"


def load_torch(path: str | Path, what: str = "file", remedy: str = REMAKE) -> Any:
    """torch.load of a file this project wrote, or any file that must only hold data.

    Always `weights_only=True`: tensors, containers and plain numbers are rebuilt, nothing in the
    file is executed. A DVC remote, a teammate's results folder or a download can hand over any
    file, and a full unpickle would run whatever code it names (docs/trust.md).
    """
    import torch

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: {what} not found")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        refused = re.search(r"GLOBAL ([\w.]+)", str(exc))  # how torch names a global outside its allowlist
        if refused:
            raise ValueError(_unsafe_message(path, what, refused.group(1), remedy)) from None
        raise ValueError(_corrupt_message(path, what, exc, remedy)) from None
    except Exception as exc:  # torch raises several types for damaged zips/pickles
        raise ValueError(_corrupt_message(path, what, exc, remedy)) from None


def _corrupt_message(path: Path, what: str, exc: Exception, remedy: str = REMAKE) -> str:
    # torch's safe loader wraps a damaged stream's error in a paragraph: keep its last line only
    lines = [line for line in str(exc).splitlines() if line.strip() and not line.startswith("Check the doc")]
    return (
        f"{path}: {what} is corrupt or truncated ({type(exc).__name__}: {lines[-1][:200] if lines else ''}); {remedy}"
    )


def _unsafe_message(path: Path, what: str, name: str, remedy: str = REMAKE) -> str:
    return (
        f"{path}: {what} holds pickled Python objects ({name}) beyond tensors and plain values, so it was refused "
        f"unread (nothing in it ran; docs/trust.md); {remedy}"
    )


def safe_unpickle(data: bytes, origin: str) -> Any:
    """Unpickle a data release (CIFAR's batches, Animal-MNIST's arrays): numpy arrays, lists, dicts,
    strings and numbers only; any other global is refused before it is called."""
    try:
        return _DataUnpickler(io.BytesIO(data), encoding="latin1").load()
    except pickle.UnpicklingError as exc:
        raise ValueError(
            f"{origin}: {exc}; a data release holds only arrays and plain values, so it was refused (nothing in it ran)"
        ) from None


class _DataUnpickler(pickle.Unpickler):
    ALLOWED = {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),  # protocol 5's arrays
        ("numpy._core.numeric", "_frombuffer"),
        ("_codecs", "encode"),  # how Python 2 pickles of byte strings are rebuilt
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a data file")
        return super().find_class(module, name)


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
