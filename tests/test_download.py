"""The real download code against a local HTTP server on 127.0.0.1 (no network): Range resume after
a dropped connection, checksum errors and quarantine, the lock file, safe and atomic extraction."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from l2tww.data.download import extract, fetch


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        server = self.server
        server.requests.append((self.path, self.headers.get("Range")))
        body = server.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        start = 0
        if self.headers.get("Range") and server.ranges:
            start = int(self.headers["Range"].split("=")[1].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        payload = body[start:]
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.path in server.cut_once:  # promise the whole file, send half, hang up
            server.cut_once.discard(self.path)
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(payload)

    def log_message(self, *args):  # keep the test output clean
        pass


@contextlib.contextmanager
def serve(files: dict[str, bytes], cut_once=(), ranges: bool = True):
    """Serve {"/path": bytes} on 127.0.0.1 at a random port; yields (base_url, server)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.files, server.cut_once, server.ranges, server.requests = dict(files), set(cut_once), ranges, []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


BLOB = bytes(range(256)) * 4096  # 1 MiB, so the cut lands mid-file


def test_first_download_records_sha256_and_reuses_the_file(tmp_path):
    lock = tmp_path / "lock.json"
    with serve({"/a.bin": BLOB}) as (url, server):
        path = fetch(f"{url}/a.bin", tmp_path / "raw" / "a.bin", key="ds/a.bin", lock=lock, progress=False)
        assert path.read_bytes() == BLOB
        assert json.loads(lock.read_text())["ds/a.bin"]["sha256"] == _sha(BLOB)
        fetch(f"{url}/a.bin", path, key="ds/a.bin", lock=lock, progress=False)  # present and verified: no request
        assert len(server.requests) == 1
    assert not (tmp_path / "raw" / "a.bin.part").exists()


def test_resume_after_a_dropped_connection(tmp_path):
    with serve({"/a.bin": BLOB}, cut_once={"/a.bin"}) as (url, server):
        path = fetch(
            f"{url}/a.bin", tmp_path / "a.bin", _sha(BLOB), lock=tmp_path / "lock.json", backoff=0, progress=False
        )
    assert path.read_bytes() == BLOB
    (first, r1), (second, r2) = server.requests
    assert r1 is None and r2 == f"bytes={len(BLOB) // 2}-"  # the second request resumed where the first broke


def test_resume_when_the_server_ignores_range(tmp_path):
    with serve({"/a.bin": BLOB}, cut_once={"/a.bin"}, ranges=False) as (url, _):
        path = fetch(
            f"{url}/a.bin", tmp_path / "a.bin", _sha(BLOB), lock=tmp_path / "lock.json", backoff=0, progress=False
        )
    assert path.read_bytes() == BLOB


def test_checksum_mismatch_names_file_and_hashes_and_quarantines(tmp_path):
    lock = tmp_path / "lock.json"
    lock.write_text(json.dumps({"ds/a.bin": {"sha256": "0" * 64}}))
    with serve({"/a.bin": BLOB}) as (url, _):
        with pytest.raises(ValueError) as err:
            fetch(f"{url}/a.bin", tmp_path / "a.bin", key="ds/a.bin", lock=lock, progress=False)
    msg = str(err.value)
    assert "a.bin" in msg and "0" * 64 in msg and _sha(BLOB) in msg
    assert not (tmp_path / "a.bin").exists() and (tmp_path / "a.bin.part.bad").exists()


def test_md5_and_prefix_mismatch(tmp_path):
    with serve({"/a.bin": BLOB}) as (url, _):
        with pytest.raises(ValueError, match="expected md5 ffff"):
            fetch(f"{url}/a.bin", tmp_path / "a.bin", md5="ffff", lock=tmp_path / "l.json", progress=False)
        with pytest.raises(ValueError, match="expected sha256 prefix deadbeef"):
            fetch(
                f"{url}/a.bin", tmp_path / "b.bin", sha256_prefix="deadbeef", lock=tmp_path / "l.json", progress=False
            )
        ok = fetch(
            f"{url}/a.bin",
            tmp_path / "c.bin",
            sha256_prefix=_sha(BLOB)[:8],
            md5=hashlib.md5(BLOB).hexdigest(),
            lock=tmp_path / "l.json",
            progress=False,
        )
    assert ok.exists()


def test_missing_file_is_not_retried(tmp_path):
    with serve({}) as (url, server):
        with pytest.raises(FileNotFoundError, match="HTTP 404"):
            fetch(f"{url}/nope.bin", tmp_path / "nope.bin", lock=tmp_path / "l.json", backoff=0, progress=False)
    assert len(server.requests) == 1


def test_gives_up_after_retries_and_keeps_the_part(tmp_path):
    with serve({"/a.bin": BLOB}) as (url, server):
        server.cut_once = _Always()
        with pytest.raises(RuntimeError, match="after 3 attempts"):
            fetch(f"{url}/a.bin", tmp_path / "a.bin", lock=tmp_path / "l.json", retries=2, backoff=0, progress=False)
    assert (tmp_path / "a.bin.part").stat().st_size > 0 and not (tmp_path / "a.bin").exists()


class _Always(set):
    def __contains__(self, item):
        return True

    def discard(self, item):
        pass


def _tar(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_extract_tar_and_zip_with_member_filter(tmp_path):
    (tmp_path / "a.tgz").write_bytes(_tar({"top/x.txt": b"x", "top/big.bin": b"y"}))
    out = extract(tmp_path / "a.tgz", tmp_path / "out", members=lambda n: not n.endswith(".bin"))
    assert (out / "top" / "x.txt").read_bytes() == b"x" and not (out / "top" / "big.bin").exists()
    with zipfile.ZipFile(tmp_path / "a.zip", "w") as zf:
        zf.writestr("z/y.txt", "y")
    assert (extract(tmp_path / "a.zip", tmp_path / "zout") / "z" / "y.txt").read_text() == "y"


def test_truncated_archive_leaves_nothing_behind(tmp_path):
    blob = _tar({f"top/f{i}.bin": bytes(range(256)) * 400 for i in range(8)})
    (tmp_path / "a.tgz").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ValueError, match="truncated or corrupt archive"):
        extract(tmp_path / "a.tgz", tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.tgz"]


def test_unsafe_members_are_refused(tmp_path):
    (tmp_path / "evil.tgz").write_bytes(_tar({"../evil.txt": b"x"}))
    with pytest.raises(ValueError, match="unsafe member path"):
        extract(tmp_path / "evil.tgz", tmp_path / "out")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        link = tarfile.TarInfo("top/link")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(link)
    (tmp_path / "link.tar").write_bytes(buf.getvalue())
    with pytest.raises(ValueError, match="link or device"):
        extract(tmp_path / "link.tar", tmp_path / "out")
    with zipfile.ZipFile(tmp_path / "evil.zip", "w") as zf:
        zf.writestr("/abs.txt", "x")
    with pytest.raises(ValueError, match="unsafe member path"):
        extract(tmp_path / "evil.zip", tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path.parent / "evil.txt").exists()
