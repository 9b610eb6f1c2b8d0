"""Resumable, verified downloads and safe archive extraction for the paper datasets (spec §6).

- `fetch`: HTTP(S) into `<dest>.part`, resumed with a Range request after a dropped connection,
  retried with exponential backoff, a tqdm bar, then checked (sha256 / md5 / a sha256 prefix) and
  renamed into place atomically. A file that fails its check is moved to `<dest>.bad` and a
  ValueError names the file, the expected and the actual hash.
- Checksums that are not published are recorded on first download in a lock file that is committed
  (default `workflow/checksums.json`, env `L2TWW_CHECKSUMS`); later downloads must match it.
- `extract`: tar/zip members are checked (no absolute paths, no `..`, no links or devices) and
  written into a temporary sibling folder that is renamed into place only when complete, so a
  truncated archive never leaves a half-extracted folder where the next stage would read it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import http.client
import json
import os
import shutil
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath
from typing import Callable

from tqdm import tqdm

CHUNK = 1 << 20  # 1 MiB per read: small enough for a smooth bar, large enough to be cheap
LOCK_ENV = "L2TWW_CHECKSUMS"
DEFAULT_LOCK = Path("workflow") / "checksums.json"


def file_hash(path: Path, algorithm: str = "sha256") -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------
# The checksum lock file
# ---------------------------------------------------------------------------------------------


def lock_path(dest: Path | None = None) -> Path:
    """`$L2TWW_CHECKSUMS`, else workflow/checksums.json when run from the repository root, else a
    lock beside the download (an installed package run elsewhere must not create `workflow/`)."""
    if os.environ.get(LOCK_ENV):
        return Path(os.environ[LOCK_ENV])
    if DEFAULT_LOCK.parent.is_dir() or dest is None:
        return DEFAULT_LOCK
    return Path(dest).parent / "checksums.json"


@contextlib.contextmanager
def _locked(path: Path):
    """Parallel prepare jobs share one lock file: serialise its read-modify-write with flock."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".flock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_lock(path: Path) -> dict:
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: checksum lock file is not valid JSON ({exc.msg}, line {exc.lineno})") from None


def record(path: Path, key: str, entry: dict) -> None:
    """Merge `entry` into the lock's `key` (atomic rewrite, keys sorted for clean git diffs)."""
    with _locked(path):
        data = read_lock(path)
        data[key] = {**data.get(key, {}), **entry}
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
        tmp.replace(path)


# ---------------------------------------------------------------------------------------------
# Download
# ---------------------------------------------------------------------------------------------


class _Retry(Exception):
    """A transient failure: the connection dropped or the transfer came up short."""


def _transfer(url: str, part: Path, timeout: float, progress: bool) -> None:
    """One attempt: append to `part` from its current size (HTTP Range) until the server is done."""
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "l2tww"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # our part is already longer than the file: start again
            part.unlink()
            raise _Retry(f"HTTP 416 for a resume at byte {have}") from None
        if exc.code >= 500 or exc.code == 429:
            raise _Retry(f"HTTP {exc.code}") from None
        raise FileNotFoundError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise _Retry(str(getattr(exc, "reason", exc))) from None
    with response:
        if have and response.status != 206:  # the server ignored Range: the body is the whole file
            have = 0
        length = response.headers.get("Content-Length")
        total = have + int(length) if length is not None else None
        mode = "ab" if have else "wb"
        got = have
        with (
            open(part, mode) as out,
            tqdm(
                total=total,
                initial=have,
                unit="B",
                unit_scale=True,
                desc=part.name[:-5],
                disable=not progress,
                leave=False,
            ) as bar,
        ):
            try:
                for block in iter(lambda: response.read(CHUNK), b""):
                    out.write(block)
                    got += len(block)
                    bar.update(len(block))
            except (http.client.IncompleteRead, OSError) as exc:  # dropped mid-file: keep the part
                raise _Retry(f"connection lost after {got} bytes ({type(exc).__name__})") from None
    if total is not None and got < total:
        raise _Retry(f"short transfer: {got} of {total} bytes")


def _expected(key: str, lock: Path, sha256: str | None, md5: str | None) -> tuple[str | None, str | None]:
    entry = read_lock(lock).get(key, {})
    return sha256 or entry.get("sha256"), md5 or entry.get("md5")


def _mismatch(where, name: str, expected: str, actual: str, note: str = "") -> ValueError:
    """The one wording of a failed checksum, for downloads, local files and embedded data alike."""
    return ValueError(f"{where}: checksum mismatch: expected {name} {expected}, got {actual}{note}")


def verify(
    path: Path,
    sha256: str | None = None,
    md5: str | None = None,
    sha256_prefix: str | None = None,
    quarantine: bool = True,
) -> str:
    """Check `path` against every hash given; returns its sha256. A download that fails is
    quarantined as `<path>.bad`; a user's own file (`quarantine=False`) is never moved."""
    actual = file_hash(path, "sha256")
    checks = [("sha256", sha256, actual, actual == sha256)]
    if sha256_prefix:
        checks.append(("sha256 prefix", sha256_prefix, actual, actual.startswith(sha256_prefix)))
    if md5:
        actual_md5 = file_hash(path, "md5")
        checks.append(("md5", md5, actual_md5, actual_md5 == md5))
    for name, expected, got, ok in checks:
        if expected and not ok:
            note = ""
            if quarantine:
                bad = path.with_name(path.name + ".bad")
                path.replace(bad)
                note = f" (moved to {bad}; delete it and re-run)"
            raise _mismatch(path, name, expected, got, note)
    return actual


def verify_bytes(data: bytes, sha256: str, where) -> None:
    """Check content already in memory (e.g. a decompressed file) against its sha256."""
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise _mismatch(where, "sha256", sha256, actual)


def fetch(
    url: str,
    dest: Path,
    sha256: str | None = None,
    *,
    md5: str | None = None,
    sha256_prefix: str | None = None,
    key: str | None = None,
    lock: Path | None = None,
    retries: int = 5,
    backoff: float = 2.0,
    timeout: float = 60.0,
    progress: bool = True,
) -> Path:
    """Download `url` to `dest` (skipped when `dest` exists and verifies). Returns `dest`.

    Expected hashes: the arguments, else the lock file's entry under `key` (default: the file
    name). With none known, the sha256 is recorded in the lock after the download.
    """
    dest = Path(dest)
    key = key or dest.name
    lock = Path(lock) if lock is not None else lock_path(dest)
    sha256, md5 = _expected(key, lock, sha256, md5)
    if dest.exists():
        verify(dest, sha256, md5, sha256_prefix)
        _record_new(lock, key, url, dest, sha256)
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    for attempt in range(retries + 1):
        try:
            _transfer(url, part, timeout, progress)
            break
        except _Retry as exc:
            if attempt == retries:
                raise RuntimeError(
                    f"{url}: download failed after {retries + 1} attempts ({exc}); re-run to resume from {part}"
                ) from None
            wait = backoff * 2**attempt
            print(
                f"[l2tww] {dest.name}: {exc}; retrying in {wait:.0f} s (resuming at byte "
                f"{part.stat().st_size if part.exists() else 0})",
                flush=True,
            )
            time.sleep(wait)
    verify(part, sha256, md5, sha256_prefix)  # a bad part becomes <part>.bad, never <dest>
    part.replace(dest)
    _record_new(lock, key, url, dest, sha256)
    return dest


def _record_new(lock: Path, key: str, url: str, dest: Path, sha256: str | None) -> None:
    if sha256 is None:  # nothing published: this download defines the file from now on
        actual = file_hash(dest)
        record(
            lock,
            key,
            {"sha256": actual, "size": dest.stat().st_size, "url": url, "recorded": time.strftime("%Y-%m-%d")},
        )
        print(f"[l2tww] {key}: no published sha256; recorded {actual} in {lock} (commit it)", flush=True)


# ---------------------------------------------------------------------------------------------
# Extraction
# ---------------------------------------------------------------------------------------------


def _safe_name(name: str, archive: Path) -> str:
    pure = PurePosixPath(name.replace("\\", "/"))
    if pure.is_absolute() or ".." in pure.parts or (pure.parts and ":" in pure.parts[0]):
        raise ValueError(f"{archive}: unsafe member path {name!r} (absolute or outside the archive)")
    return str(pure)


def extract(archive: Path, dest: Path, members: Callable[[str], bool] | None = None) -> Path:
    """Extract `archive` (tar, tar.gz, zip) into `dest`, only the members `members(name)` accepts.

    Extracts into `<dest>.tmp-<pid>` and renames it to `dest` when every member is written, so
    `dest` exists only complete. An existing `dest` is taken as done (the rename is atomic).
    """
    archive, dest = Path(archive), Path(dest)
    if dest.is_dir():
        return dest
    tmp = dest.with_name(f"{dest.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    keep = members or (lambda name: True)
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                for info in zf.infolist():
                    name = _safe_name(info.filename, archive)
                    if not info.is_dir() and keep(name):
                        zf.extract(info, tmp)
        else:
            with tarfile.open(archive) as tf:
                for info in tf:
                    name = _safe_name(info.name, archive)
                    if not (info.isfile() or info.isdir()):
                        raise ValueError(f"{archive}: member {info.name!r} is a link or device; refusing to extract")
                    if info.isfile() and keep(name):
                        tf.extract(info, tmp, filter="data")  # "data": no special bits, no escapes
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ValueError(
            f"{archive}: truncated or corrupt archive ({type(exc).__name__}: {exc}); delete it and re-run"
        ) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    tmp.replace(dest)
    return dest
