"""A local file server for the download tests (127.0.0.1): `Remote` serves files with ranges, ETags and
the failures a real server shows, and records every GET; `serve` runs it for one test."""

from __future__ import annotations

import base64
import contextlib
import gzip
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def basic_auth(user: str, password: str) -> str:
    """The Authorization header of HTTP basic authentication."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class Remote(BaseHTTPRequestHandler):
    """Serves `files` (path -> body, ETag, Last-Modified) with `Accept-Ranges: bytes`; a path in `cut`
    stops halfway once, as its `ending` says: "length" (the default: a Content-Length, so the cut
    drops the connection), "close" (no length: the body ends when the connection closes), "chunked"
    (the cut body ends with its last chunk), "piece" (a 206 whose Content-Range and Content-Length
    announce the half it sends, as a server that serves a range in pieces) or "bad-length" (a
    Content-Length that is no number; the body ends when the connection closes). A path in `gzip` is sent
    gzip-compressed to a client that accepts gzip (ranges then count compressed bytes); one in
    `misplaced` answers a Range with a 206 of the bytes from 0; one in `no_ranges` answers every
    request with the whole file and no Accept-Ranges; one in `login_page` gets an HTML login page;
    one in `accounts` answers 401 unless asked with its (user, password); one in `held` sends half
    of its next reply (with a Content-Length), sets `halfway` and sends the rest once `go_on` is set;
    one in `busy` first answers each of its statuses in turn (with `Retry-After: 0`); one in
    `ignores_if_range` serves a Range whatever its If-Range says; one in `bare_416` answers a range
    past its end with a 416 without Content-Range (no size)."""

    files: dict[str, tuple[bytes, str | None, str | None]] = {}
    cut: set[str] = set()
    ending: dict[str, str] = {}
    gzip: set[str] = set()
    misplaced: set[str] = set()
    no_ranges: set[str] = set()
    login_page: set[str] = set()
    accounts: dict[str, tuple[str, str]] = {}
    held: set[str] = set()
    busy: dict[str, list[int]] = {}
    ignores_if_range: set[str] = set()
    bare_416: set[str] = set()
    halfway, go_on = threading.Event(), threading.Event()
    seen: list[tuple[str, str | None, str | None]] = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        rng, if_range = self.headers.get("Range"), self.headers.get("If-Range")
        type(self).seen.append((self.path, rng, if_range))
        if self.path not in self.files:
            self.send_error(404)
            return
        if self.busy.get(self.path):
            self.send_response(self.busy[self.path].pop(0))
            self.send_header("Retry-After", "0")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path in self.accounts and self.headers.get("Authorization") != basic_auth(*self.accounts[self.path]):
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="files"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path in self.login_page:
            page = b"<!DOCTYPE html><html><body><form method='post'>Log in</form></body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=UTF-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)
            return
        body, etag, modified = self.files[self.path]
        compressed = self.path in self.gzip and "gzip" in self.headers.get("Accept-Encoding", "")
        if compressed:
            body = gzip.compress(body, mtime=0)
        strong = etag is not None and not etag.startswith("W/")
        if (rng and if_range is not None and self.path not in self.ignores_if_range
                and not ((strong and if_range == etag) or if_range == modified)):
            rng = None  # the file changed since the client's copy: send all of it
        if self.path in self.no_ranges:
            rng = None
        start = int(rng.removeprefix("bytes=").split("-")[0]) if rng else 0
        if rng and self.path in self.misplaced:
            start = 0
        if rng and start >= len(body):
            self.send_response(416)
            if self.path not in self.bare_416:
                self.send_header("Content-Range", f"bytes */{len(body)}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        payload, ending = body[start:], self.ending.get(self.path, "length")
        cut = self.path in self.cut
        self.cut.discard(self.path)
        if cut and ending == "piece":
            payload = payload[: len(payload) // 2]
        if ending == "chunked":
            self.protocol_version = "HTTP/1.1"
        self.send_response(206 if rng else 200)
        if rng:
            self.send_header("Content-Range", f"bytes {start}-{start + len(payload) - 1}/{len(body)}")
        if compressed:
            self.send_header("Content-Encoding", "gzip")
        for name, value in (("ETag", etag), ("Last-Modified", modified)):
            if value is not None:
                self.send_header(name, value)
        if self.path not in self.no_ranges:
            self.send_header("Accept-Ranges", "bytes")
        if ending in ("length", "piece"):
            self.send_header("Content-Length", str(len(payload)))
        elif ending == "chunked":
            self.send_header("Transfer-Encoding", "chunked")
        elif ending == "bad-length":
            self.send_header("Content-Length", "many")
        self.send_header("Connection", "close")
        self.end_headers()
        if cut and ending != "piece":
            payload = payload[: len(payload) // 2]
        if self.path in self.held:
            self.held.discard(self.path)
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
            self.halfway.set()
            self.go_on.wait(60)
            payload = payload[len(payload) // 2:]
        self.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(payload), payload) if ending == "chunked" else payload)

    @classmethod
    def reset(cls, files: dict[str, tuple[bytes, str | None, str | None]]) -> None:
        """Serve `files` alone, with no failure set and no GET seen."""
        cls.files, cls.seen = files, []
        cls.cut, cls.gzip, cls.misplaced, cls.no_ranges, cls.login_page = set(), set(), set(), set(), set()
        cls.ending, cls.accounts, cls.busy = {}, {}, {}
        cls.held, cls.halfway, cls.go_on = set(), threading.Event(), threading.Event()
        cls.ignores_if_range, cls.bare_416 = set(), set()


@contextlib.contextmanager
def serve(files: dict[str, tuple[bytes, str | None, str | None]]) -> Iterator[str]:
    """`Remote` serving `files` (Remote.reset) on 127.0.0.1 while the block runs; its base URL."""
    Remote.reset(files)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Remote)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        Remote.go_on.set()
        httpd.shutdown()
        httpd.server_close()
