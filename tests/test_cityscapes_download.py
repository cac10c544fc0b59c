"""A staged Cityscapes package that fails cityscapesscripts' md5 check or gets HTTP 416 is removed, so the
download starts again from zero: cityscapesscripts against a local server (127.0.0.1) that answers a Range
past the end with 416, as the real one does."""

from __future__ import annotations

import hashlib
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from test_converters import PACKAGE, _CityscapesServer, _ToLocal

from oeseg.data.cityscapes import cityscapes_session, download_cityscapes_package
from oeseg.io import InputError

NAME = "gtFine_trainvaltest.zip"


class _StrictServer(_CityscapesServer):
    """The test server of test_converters, with 416 for a Range past the end and a settable md5 answer."""

    md5 = hashlib.md5(PACKAGE).hexdigest()
    ranges: list[str | None] = []

    def do_GET(self):
        if self.path == "/md5-sum/?packageID=1":
            self._send(200, f"{self.md5}  {NAME}".encode())
        elif self.path == "/file-handling/?packageID=1":
            type(self).ranges.append(self.headers.get("Range"))
            start = int(self.headers.get("Range", "bytes=0-")[6:].split("-")[0])
            if start >= len(PACKAGE):
                self._send(416, headers={"Content-Range": f"bytes */{len(PACKAGE)}"})
            else:
                self._send(206 if start else 200, PACKAGE[start:])
        else:
            super().do_GET()


@pytest.fixture()
def session(monkeypatch):
    monkeypatch.setenv("CITYSCAPES_USERNAME", "alice")
    monkeypatch.setenv("CITYSCAPES_PASSWORD", "s3cret")
    _StrictServer.md5, _StrictServer.ranges = hashlib.md5(PACKAGE).hexdigest(), []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _StrictServer)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    local = requests.Session()
    local.mount("https://www.cityscapes-dataset.com", _ToLocal(f"http://127.0.0.1:{httpd.server_address[1]}"))
    yield cityscapes_session(local)
    httpd.shutdown()
    httpd.server_close()


def _staged(dest: Path, data: bytes) -> Path:
    """Leave `data` as the staged package of an earlier run; its path."""
    staged = dest.with_name(dest.name + ".part") / NAME
    staged.parent.mkdir(parents=True)
    staged.write_bytes(data)
    return staged


@pytest.mark.parametrize("stale, first_range", [(b"x" * len(PACKAGE), f"bytes={len(PACKAGE)}-"),  # 416
                                                (b"stale" * 1000, "bytes=5000-")],  # md5 mismatch
                         ids=["full-size-416", "wrong-bytes-md5"])
def test_spoiled_staged_package_is_downloaded_again_from_zero(session, tmp_path, stale, first_range):
    dest = tmp_path / NAME
    _staged(dest, stale)
    download_cityscapes_package(NAME, dest, None, session=session)
    assert dest.read_bytes() == PACKAGE
    assert _StrictServer.ranges == [first_range, None]
    assert not dest.with_name(dest.name + ".part").exists()


def test_md5_mismatch_removes_the_staged_package_and_says_so(session, tmp_path):
    _StrictServer.md5 = "0" * 32  # every download fails the md5 check
    dest = tmp_path / NAME
    staged = dest.with_name(dest.name + ".part") / NAME
    for _ in range(2):  # each run starts from zero instead of resuming the bad file
        with pytest.raises(InputError) as err:
            download_cityscapes_package(NAME, dest, None, session=session)
        assert str(err.value) == (f"{dest}: the download of cityscapes package {NAME} does not match the server's "
                                  f"MD5 sum; the staged {staged} was removed, so the next run downloads it from zero")
        assert not staged.exists() and not dest.exists()
    assert _StrictServer.ranges == [None, None]
