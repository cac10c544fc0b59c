"""A staged Cityscapes package that fails cityscapesscripts' md5 check or gets HTTP 416 is removed, so the
download starts again from zero: cityscapesscripts against a local server (127.0.0.1) that answers a Range
past the end with 416, as the real one does."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import subprocess
import sys
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from test_converters import PACKAGE, _CityscapesServer, _ToLocal

from oeseg.data.cityscapes import (CityscapesSession, cityscapes_session, download_cityscapes_package,
                                   fetch_cityscapes_package)
from oeseg.io import InputError

NAME = "gtFine_trainvaltest.zip"


class _StrictServer(_CityscapesServer):
    """The test server of test_converters, with 416 for a Range past the end (an HTML page), a settable md5 answer,
    (`stall` > 0) replies that stall for `stall` seconds: the login page's always, a package's
    once, halfway through, (`logged_out`) the login page where a package is asked for and
    (`list_logged_out`) a redirect to it where the package list is; a package asked for answers
    each status of `busy` in turn first (with `Retry-After: 0`), and 403 while `forbidden`."""

    md5 = hashlib.md5(PACKAGE).hexdigest()
    ranges: list[str | None] = []
    stall = 0.0
    logged_out = False
    list_logged_out = False
    busy: list[int] = []
    forbidden = False

    def do_GET(self):
        if self.path == "/file-handling/?packageID=1" and (self.busy or self.forbidden):
            type(self).ranges.append(self.headers.get("Range"))
            self._send(self.busy.pop(0) if self.busy else 403, headers={"Retry-After": "0"})
        elif self.path.startswith("/login") and self.stall:
            time.sleep(self.stall)
            super().do_GET()
        elif self.path == "/downloads/?list" and self.list_logged_out:  # as the server answers one logged out
            self._send(302, headers={"Location": "/login/"})
        elif self.path == "/md5-sum/?packageID=1":
            self._send(200, f"{self.md5}  {NAME}".encode() if self.md5 else b"")  # "": an empty answer
        elif self.path == "/file-handling/?packageID=1" and self.logged_out:
            type(self).ranges.append(self.headers.get("Range"))
            self._send(200, b"<!DOCTYPE html><html><body><form>Login</form></body></html>",
                       headers={"Content-Type": "text/html; charset=UTF-8"})
        elif self.path == "/file-handling/?packageID=1":
            type(self).ranges.append(self.headers.get("Range"))
            start = int(self.headers.get("Range", "bytes=0-")[6:].split("-")[0])
            if start >= len(PACKAGE):
                self._send(416, b"<html><body>416 Requested Range Not Satisfiable</body></html>",  # as web servers
                           headers={"Content-Range": f"bytes */{len(PACKAGE)}",      # send error pages
                                    "Content-Type": "text/html; charset=iso-8859-1"})
            elif self.stall and not start:  # half of it, then silence past the client's timeout
                self.send_response(200)
                self.send_header("Content-Length", str(len(PACKAGE)))
                self.end_headers()
                self.wfile.write(PACKAGE[:len(PACKAGE) // 2])
                self.wfile.flush()
                time.sleep(self.stall)
            else:
                self._send(206 if start else 200, PACKAGE[start:])
        else:
            super().do_GET()


@pytest.fixture()
def server(monkeypatch):
    """A session (timing out after 1 s) whose Cityscapes requests go to the local server, not logged in."""
    monkeypatch.setenv("CITYSCAPES_USERNAME", "alice")
    monkeypatch.setenv("CITYSCAPES_PASSWORD", "s3cret")
    _StrictServer.md5, _StrictServer.ranges, _StrictServer.stall = hashlib.md5(PACKAGE).hexdigest(), [], 0.0
    _StrictServer.logged_out = _StrictServer.list_logged_out = _StrictServer.forbidden = False
    _StrictServer.busy = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _StrictServer)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    local = CityscapesSession(timeout=1.0)
    local.mount("https://www.cityscapes-dataset.com", _ToLocal(f"http://127.0.0.1:{httpd.server_address[1]}"))
    yield local
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture()
def session(server):
    return cityscapes_session(server)


def test_a_stalled_login_is_an_error_naming_the_server(server):
    _StrictServer.stall = 3.0
    with pytest.raises(InputError, match=r"Cityscapes login at https://www.cityscapes-dataset.com/login failed: "
                                         r"(ReadTimeout|ConnectionError)"):
        cityscapes_session(server)


def test_a_stalled_package_download_resumes_in_the_same_run(session, tmp_path, caplog):
    """The first reply stops halfway and stays silent: the session's timeout ends it and the next
    attempt resumes from the staged bytes."""
    _StrictServer.stall = 3.0
    dest = tmp_path / NAME
    with caplog.at_level(logging.WARNING, logger="oeseg.data.cityscapes"):
        download_cityscapes_package(NAME, dest, hashlib.sha256(PACKAGE).hexdigest(), session=session)
    assert dest.read_bytes() == PACKAGE and "transfer interrupted" in caplog.text
    first, resumed = _StrictServer.ranges
    assert first is None and 0 < int(resumed[6:-1]) <= len(PACKAGE) // 2  # the bytes that were written


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


def test_a_login_not_accepted_for_the_package_list_is_named(session, tmp_path):
    """The package list answered by a redirect to the login page (a login refused or expired): an
    error that says so, not the JSON decoder's message alone."""
    _StrictServer.list_logged_out = True
    with pytest.raises(InputError, match=r"the Cityscapes server's package list is not JSON \(.*\): the login "
                                         r"of the Cityscapes account \(CITYSCAPES_USERNAME, else `machine "
                                         r"www.cityscapes-dataset.com` in ~/.netrc\) was not accepted"):
        download_cityscapes_package(NAME, tmp_path / NAME, None, session=session)


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


def test_a_login_page_instead_of_the_package_is_refused_before_it_reaches_the_staged_file(session, tmp_path):
    """The server sends its login page (200, HTML) for a package when the session is not logged in:
    the download says so, and the staged bytes of an earlier run stay for the next run to resume."""
    _StrictServer.logged_out = True
    dest = tmp_path / NAME
    staged = _staged(dest, PACKAGE[:5000])
    with pytest.raises(InputError) as err:
        download_cityscapes_package(NAME, dest, None, session=session)
    assert str(err.value).startswith(f"{dest}: download of cityscapes package {NAME} failed: the Cityscapes server "
                                     "sent an HTML page (its login page?) instead of the package")
    assert staged.read_bytes() == PACKAGE[:5000]
    _StrictServer.logged_out = False
    download_cityscapes_package(NAME, dest, hashlib.sha256(PACKAGE).hexdigest(), session=session)
    assert dest.read_bytes() == PACKAGE and _StrictServer.ranges == ["bytes=5000-", "bytes=5000-"]


def test_a_package_that_another_process_downloads_is_waited_for(session, tmp_path, caplog):
    """A second job for one package waits for the first (which holds its lock) instead of writing into
    the same staged file, then finds the package done and fetches nothing."""
    dest = tmp_path / NAME
    script = ("import sys\nfrom pathlib import Path\nfrom oeseg.data.download import download_lock\n"
              "with download_lock(Path(sys.argv[1])):\n    print('locked', flush=True)\n    sys.stdin.read()\n")
    holder = subprocess.Popen([sys.executable, "-c", script, str(dest)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert holder.stdout.readline() == "locked\n"
    second = threading.Thread(target=download_cityscapes_package,
                              args=(NAME, dest, hashlib.sha256(PACKAGE).hexdigest(), session))
    with caplog.at_level(logging.INFO, logger="oeseg.data.download"):
        second.start()
        deadline = time.monotonic() + 60
        while "another process is downloading it" not in caplog.text and second.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        dest.write_bytes(PACKAGE)  # what the first one downloaded
        holder.communicate("", timeout=60)
        second.join(60)
    assert f"{dest}: another process is downloading it; waiting" in caplog.text
    assert _StrictServer.ranges == [] and dest.read_bytes() == PACKAGE and not second.is_alive()


def test_a_busy_server_is_asked_again_after_its_retry_after(session, tmp_path, caplog):
    """A 503 or 429 for the package (busy, or down for a moment) is retried within the attempts, as
    every download is; the staged bytes resume."""
    _StrictServer.busy = [503, 429]
    dest = tmp_path / NAME
    with caplog.at_level(logging.WARNING, logger="oeseg.data.download"):
        download_cityscapes_package(NAME, dest, hashlib.sha256(PACKAGE).hexdigest(), session=session)
    assert dest.read_bytes() == PACKAGE
    assert f"cityscapes package {NAME}: HTTP 503, retrying in 0 s" in caplog.text
    assert f"cityscapes package {NAME}: HTTP 429, retrying in 0 s" in caplog.text
    assert len(_StrictServer.ranges) == 3


def test_a_refused_package_hints_at_the_accounts_access(session, tmp_path):
    _StrictServer.forbidden = True
    dest = tmp_path / NAME
    with pytest.raises(InputError) as err:
        download_cityscapes_package(NAME, dest, None, session=session)
    assert str(err.value).startswith(f"{dest}: download of cityscapes package {NAME} failed: 403 Client Error")
    assert str(err.value).endswith(
        f"(the Cityscapes account (CITYSCAPES_USERNAME, else `machine www.cityscapes-dataset.com` in ~/.netrc) may "
        f"lack access to {NAME}: the packages it may download are listed on "
        "https://www.cityscapes-dataset.com/downloads/ once logged in)")
    assert len(_StrictServer.ranges) == 1  # not retried: asking again would be refused again


@pytest.mark.parametrize("answer, what", [("", "empty"), ("<html>", "no md5 sum")])
def test_an_md5_answer_that_is_no_md5_sum_is_named(session, tmp_path, answer, what):
    """An empty md5 answer (cityscapesscripts would fail on 'list index out of range') or a page: the
    error says so, and nothing is downloaded."""
    _StrictServer.md5 = answer
    dest = tmp_path / NAME
    with pytest.raises(InputError) as err:
        download_cityscapes_package(NAME, dest, None, session=session)
    assert re.fullmatch(  # the local server's URL: the test sends the Cityscapes server's requests there
        re.escape(f"{dest}: download of cityscapes package {NAME} failed: the Cityscapes server's md5 sum of the "
                  "package at ") + r"http://127\.0\.0\.1:\d+" + re.escape(
            f"/md5-sum/?packageID=*** is {what}; nothing was downloaded: try again later, or see whether the "
            "package is listed on www.cityscapes-dataset.com/downloads"), str(err.value))
    assert _StrictServer.ranges == [] and not (tmp_path / f"{NAME}.part" / NAME).exists()


def test_the_login_comes_from_netrc_when_the_environment_has_none(server, tmp_path, monkeypatch, caplog):
    """Without CITYSCAPES_USERNAME / CITYSCAPES_PASSWORD, the login of the Cityscapes machine in
    ~/.netrc ($NETRC here) is used; it is never logged, and with neither the error names both."""
    monkeypatch.delenv("CITYSCAPES_USERNAME")
    monkeypatch.delenv("CITYSCAPES_PASSWORD")
    netrc = tmp_path / "netrc"
    netrc.write_text("machine www.cityscapes-dataset.com login alice password s3cret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    _StrictServer.logins.clear()
    with caplog.at_level(logging.DEBUG):
        download_cityscapes_package(NAME, tmp_path / NAME, None, session=cityscapes_session(server))
    assert (tmp_path / NAME).read_bytes() == PACKAGE
    assert [(f["username"], f["password"]) for f in _StrictServer.logins] == [(["alice"], ["s3cret"])]
    assert "s3cret" not in caplog.text
    netrc.write_text("")
    with pytest.raises(InputError) as err:
        cityscapes_session(server)
    assert str(err.value) == ("Cityscapes download needs an account of www.cityscapes-dataset.com: the environment "
                              "variables CITYSCAPES_USERNAME and CITYSCAPES_PASSWORD, or a line `machine "
                              "www.cityscapes-dataset.com login USER password PASSWORD` in ~/.netrc")


@pytest.mark.parametrize("pin", ["same", None, "other"])
def test_the_fetch_step_takes_a_verified_package_already_there(server, tmp_path, pin):
    """A package where the verify step puts it, alone (a run from before the fetch step), is taken
    without a login or a request when it has the pinned sha256, or when none is pinned (a package's
    source never changes); one of another sha256 is downloaded again."""
    fetched, verified = tmp_path / ".fetched" / NAME, tmp_path / NAME
    verified.write_bytes(b"an older package")
    sha256 = {"same": hashlib.sha256(b"an older package").hexdigest(), None: None,
              "other": hashlib.sha256(PACKAGE).hexdigest()}[pin]
    _StrictServer.logins.clear()
    fetch_cityscapes_package(NAME, fetched, sha256, verified, session=server)
    if pin == "other":
        assert fetched.read_bytes() == PACKAGE and _StrictServer.ranges == [None]
    else:
        assert fetched.samefile(verified) and _StrictServer.logins == [] and _StrictServer.ranges == []
