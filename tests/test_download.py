"""download_file against a local HTTP server (127.0.0.1, Range support) that the test starts."""

from __future__ import annotations

import hashlib
import io
import logging
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from oeseg.data.download import download_file
from oeseg.io import redact_url
from oeseg.io import InputError


def _archive() -> bytes:
    """A small tar archive built by the test."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for i in range(3):
            data = bytes(range(256)) * (600 + i)
            info = tarfile.TarInfo(f"archive/file{i}.bin")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


ARCHIVE = _archive()
SHA256 = hashlib.sha256(ARCHIVE).hexdigest()


class _Handler(BaseHTTPRequestHandler):
    """/good.tar, /cut.tar (first response stops halfway), /bad.tar (corrupted bytes)."""

    requests_seen: list[tuple[str, str | None]] = []
    cut_done = False

    def log_message(self, *args):  # keep pytest output quiet
        pass

    def do_GET(self):
        type(self).requests_seen.append((self.path, self.headers.get("Range")))
        body = ARCHIVE
        if self.path == "/bad.tar":
            body = ARCHIVE[:100] + b"X" + ARCHIVE[101:]
        elif self.path not in ("/good.tar", "/cut.tar"):
            self.send_error(404)
            return
        start = 0
        rng = self.headers.get("Range")
        if rng:
            start = int(rng.removeprefix("bytes=").split("-")[0])
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        payload = body[start:]
        if self.path == "/cut.tar" and not type(self).cut_done:
            type(self).cut_done = True
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(payload)


@pytest.fixture()
def server():
    _Handler.requests_seen = []
    _Handler.cut_done = False
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_good_download(server, tmp_path):
    dest = download_file(f"{server}/good.tar", tmp_path / "sub" / "a.tar", SHA256)
    assert dest.read_bytes() == ARCHIVE
    assert not (tmp_path / "sub" / "a.tar.part").exists()
    with tarfile.open(dest) as tar:
        assert tar.getnames() == ["archive/file0.bin", "archive/file1.bin", "archive/file2.bin"]
    # a second call finds the verified file and fetches nothing
    n = len(_Handler.requests_seen)
    download_file(f"{server}/good.tar", dest, SHA256)
    assert len(_Handler.requests_seen) == n


def test_truncated_download_resumes_with_range(server, tmp_path):
    dest = download_file(f"{server}/cut.tar", tmp_path / "b.tar", SHA256)
    assert dest.read_bytes() == ARCHIVE
    seen = [r for p, r in _Handler.requests_seen if p == "/cut.tar"]
    assert seen[0] is None
    assert len(seen) == 2 and seen[1].startswith("bytes=")
    resumed_at = int(seen[1].removeprefix("bytes=").rstrip("-"))
    assert 0 < resumed_at <= len(ARCHIVE) // 2


def test_partial_file_from_an_earlier_run_resumes(server, tmp_path):
    dest = tmp_path / "c.tar"
    (tmp_path / "c.tar.part").write_bytes(ARCHIVE[:1000])
    download_file(f"{server}/good.tar", dest, SHA256)
    assert dest.read_bytes() == ARCHIVE
    assert _Handler.requests_seen == [("/good.tar", "bytes=1000-")]


def test_corrupted_download_is_refused_and_removed(server, tmp_path):
    dest = tmp_path / "d.tar"
    with pytest.raises(InputError) as err:
        download_file(f"{server}/bad.tar", dest, SHA256)
    msg = str(err.value)
    assert str(dest) in msg and f"expected {SHA256}" in msg and "got " in msg
    actual = msg.split("got ")[1].split(";")[0]
    assert len(actual) == 64 and actual != SHA256
    assert not dest.exists() and not (tmp_path / "d.tar.part").exists()


def test_http_error_names_the_file(server, tmp_path):
    with pytest.raises(InputError, match=r"e.tar: download of .*/missing.tar failed: HTTP 404"):
        download_file(f"{server}/missing.tar", tmp_path / "e.tar", SHA256)


def test_unpinned_download_logs_its_hash(server, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="oeseg.data.download"):
        download_file(f"{server}/good.tar", tmp_path / "f.tar", None)
    assert SHA256 in caplog.text


def test_credentials_never_appear_in_messages():
    assert redact_url("https://user:secret@example.org:8443/a/b.zip?x=1") == \
        "https://example.org:8443/a/b.zip?x=***"
    assert redact_url("https://example.org/get?token=abc&dl=1&flag") == "https://example.org/get?token=***&dl=***&flag=***"
    assert redact_url("http://u:p@[::1]:8000/v1") == "http://[::1]:8000/v1"
    assert redact_url("http://127.0.0.1:8000/v1") == "http://127.0.0.1:8000/v1"
