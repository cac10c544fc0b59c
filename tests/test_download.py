"""download_file against a local HTTP server (127.0.0.1) that the test starts and that implements
Range, If-Range (RFC 9110: a changed file comes back whole) and 416 with `Content-Range: bytes */N`:
checksums, resuming only a `.part` it can trust, errors that name the file, no credentials logged."""

from __future__ import annotations

import hashlib
import io
import errno
import json
import logging
import os
import resource
import socket
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from oeseg.data.download import download_file, fetch_download, fetched_twin, verify_download
from oeseg.io import InputError, redact_url

from download_server import Remote, serve


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

OLD = bytes((i * 7) % 251 for i in range(400_000))  # cut halfway, whole 64 KiB blocks reach the .part
NEW = bytes((i * 13) % 241 for i in range(8000))
MODIFIED = "Wed, 01 May 2024 10:00:00 GMT"


@pytest.fixture()
def remote():
    """Remote on 127.0.0.1 serving the archive whole (good.tar), damaged (bad.tar) and, once, cut (cut.tar)."""
    with serve({"/good.tar": (ARCHIVE, None, None), "/cut.tar": (ARCHIVE, None, None),
                "/bad.tar": (ARCHIVE[:100] + b"X" + ARCHIVE[101:], None, None)}) as url:
        Remote.cut.add("/cut.tar")
        yield url


def _interrupted(url: str, dest: Path) -> int:
    """Run a download that the server cuts halfway (one attempt); the size of the `.part` it leaves."""
    Remote.cut.add("/" + url.rsplit("/", 1)[1])
    with pytest.raises(InputError, match="still incomplete after 1 attempts"):
        download_file(url, dest, None, max_attempts=1)
    return dest.with_name(dest.name + ".part").stat().st_size


def _sha(url: str) -> str:
    """The sha256 of a URL, as a part's record names its source."""
    return hashlib.sha256(url.encode()).hexdigest()


def _part_and_record(dest: Path) -> tuple[Path, Path]:
    """The `.part` and `.part.json` paths of `dest`."""
    return dest.with_name(dest.name + ".part"), dest.with_name(dest.name + ".part.json")


def test_interrupted_download_resumes_with_if_range(remote, tmp_path):
    Remote.files["/f.bin"] = (OLD, '"v1"', MODIFIED)
    dest = tmp_path / "f.bin"
    size = _interrupted(f"{remote}/f.bin", dest)
    part, record = _part_and_record(dest)
    assert 0 < size < len(OLD)
    assert json.loads(record.read_text()) == {"url_sha256": _sha(f"{remote}/f.bin"), "url": f"{remote}/f.bin",
                                              "etag": '"v1"', "last_modified": MODIFIED}
    download_file(f"{remote}/f.bin", dest, None)
    assert dest.read_bytes() == OLD
    assert Remote.seen[-1] == ("/f.bin", f"bytes={size}-", '"v1"')
    assert not part.exists() and not record.exists()


def test_a_server_that_compresses_on_request_resumes_in_its_stored_bytes(remote, tmp_path):
    """Asked for identity, a server that gzips text when allowed (as code hosts do) sends the file's
    own bytes, so the part's size is an offset in it and the resumed file is whole."""
    Remote.files["/lexicon.json"] = (OLD, '"v1"', MODIFIED)
    Remote.gzip.add("/lexicon.json")
    dest = tmp_path / "lexicon.json"
    size = _interrupted(f"{remote}/lexicon.json", dest)
    download_file(f"{remote}/lexicon.json", dest, hashlib.sha256(OLD).hexdigest())
    assert dest.read_bytes() == OLD and Remote.seen[-1] == ("/lexicon.json", f"bytes={size}-", '"v1"')


def test_a_206_from_another_byte_restarts_from_zero(remote, tmp_path, caplog):
    """A reply to `Range: bytes=N-` that starts elsewhere is not appended (unpinned: nothing else
    would catch it); the download restarts and the file is whole."""
    Remote.files["/f.bin"] = (OLD, '"v1"', MODIFIED)
    dest = tmp_path / "f.bin"
    size = _interrupted(f"{remote}/f.bin", dest)
    Remote.misplaced.add("/f.bin")
    with caplog.at_level(logging.WARNING, logger="oeseg.data.download"):
        download_file(f"{remote}/f.bin", dest, None)
    assert dest.read_bytes() == OLD
    assert f"asked for the bytes from {size}, the server sent 'bytes 0-{len(OLD) - 1}/{len(OLD)}'" in caplog.text
    assert [r for _, r, _ in Remote.seen[-2:]] == [f"bytes={size}-", None]


@pytest.mark.parametrize("ending", ["close", "chunked"])
@pytest.mark.parametrize("cut", [True, False], ids=["ends-early", "whole"])
def test_a_reply_without_a_length_is_checked_with_a_range_request(remote, tmp_path, ending, cut):
    """A 200 without Content-Length ends where the server closes it or sends its last chunk, early
    or not, without an error: a server that takes ranges is asked for the bytes after it, and a 206
    brings the rest (not a truncated file) or a 416 of the part's size confirms the end."""
    Remote.files["/f.bin"] = (OLD, '"v1"', MODIFIED)
    Remote.ending["/f.bin"] = ending
    if cut:
        Remote.cut.add("/f.bin")
    dest = tmp_path / "f.bin"
    download_file(f"{remote}/f.bin", dest, None)
    assert dest.read_bytes() == OLD
    assert Remote.seen == [("/f.bin", None, None), ("/f.bin", f"bytes={len(OLD) // 2 if cut else len(OLD)}-", '"v1"')]


def test_a_length_that_is_no_number_counts_as_none(remote, tmp_path):
    """A 200 whose Content-Length is no byte count is read as one without a length (no traceback):
    cut, it is resumed; whole, it is the pinned file."""
    Remote.ending["/cut.tar"] = "bad-length"
    dest = tmp_path / "f.tar"
    download_file(f"{remote}/cut.tar", dest, hashlib.sha256(ARCHIVE).hexdigest(), max_attempts=2)
    assert dest.read_bytes() == ARCHIVE


def test_a_reply_without_a_length_that_holds_the_pinned_file_is_taken_at_once(remote, tmp_path):
    """A 200 without Content-Length whose body has the pinned sha256 is the file: no range request
    is needed to confirm its end (nor another attempt: one is enough)."""
    Remote.files["/f.bin"] = (OLD, '"v1"', MODIFIED)
    Remote.ending["/f.bin"] = "close"
    dest = tmp_path / "f.bin"
    download_file(f"{remote}/f.bin", dest, hashlib.sha256(OLD).hexdigest(), max_attempts=1)
    assert dest.read_bytes() == OLD and Remote.seen == [("/f.bin", None, None)]


def test_a_downloaded_file_is_kept_without_taking_the_lock(remote, tmp_path):
    """A file already there with its sha256 is returned before the lock file is made: a finished
    download in a folder where nothing can be written (here the lock's path cannot be a file)."""
    dest = tmp_path / "good.tar"
    download_file(f"{remote}/good.tar", dest, SHA256)
    (tmp_path / "good.tar.lock").mkdir()
    assert download_file(f"{remote}/good.tar", dest, SHA256) == dest and len(Remote.seen) == 1


def test_a_reply_without_a_length_from_a_server_without_ranges_is_taken_whole(remote, tmp_path):
    """A server that does not take ranges cannot say more: its reply is the file (one request)."""
    Remote.files["/f.bin"] = (OLD, '"v1"', MODIFIED)
    Remote.ending["/f.bin"], Remote.no_ranges = "close", {"/f.bin"}
    download_file(f"{remote}/f.bin", tmp_path / "f.bin", hashlib.sha256(OLD).hexdigest())
    assert (tmp_path / "f.bin").read_bytes() == OLD and Remote.seen == [("/f.bin", None, None)]


@pytest.mark.parametrize("ending", ["close", "chunked", "piece"])
def test_a_206_that_ends_before_its_content_range_total_is_resumed(remote, tmp_path, ending):
    """A resumed reply's Content-Range gives the file's size: a 206 that ends early without an error
    (the connection closed, the last chunk sent) or that serves a piece of the range is not taken
    for the rest of the file; the next attempt resumes after it."""
    Remote.files["/f.bin"] = (OLD, '"v1"', MODIFIED)
    dest = tmp_path / "f.bin"
    size = _interrupted(f"{remote}/f.bin", dest)
    Remote.ending["/f.bin"] = ending
    Remote.cut.add("/f.bin")
    n = len(Remote.seen)
    download_file(f"{remote}/f.bin", dest, None)
    assert dest.read_bytes() == OLD
    middle = size + (len(OLD) - size) // 2
    assert [r for _, r, _ in Remote.seen[n:]] == [f"bytes={size}-", f"bytes={middle}-"]


def test_an_html_page_instead_of_the_file_is_refused_before_the_part_is_touched(remote, tmp_path):
    """A login or error page sent with 200 (a login wall, a proxy's page) is named as what it is,
    and the bytes of an interrupted download stay for the run that resumes them."""
    Remote.files["/f.bin"] = (OLD, '"v1"', MODIFIED)
    dest = tmp_path / "f.bin"
    size = _interrupted(f"{remote}/f.bin", dest)
    part = _part_and_record(dest)[0]
    kept = part.read_bytes()
    Remote.login_page.add("/f.bin")
    with pytest.raises(InputError) as err:
        download_file(f"{remote}/f.bin", dest, hashlib.sha256(OLD).hexdigest())
    assert str(err.value) == (f"{dest}: {remote}/f.bin answered with an HTML page instead of the file (a login or "
                              f"error page?); nothing was written to {part}")
    assert part.read_bytes() == kept and not dest.exists()
    Remote.login_page.clear()
    download_file(f"{remote}/f.bin", dest, hashlib.sha256(OLD).hexdigest())
    assert dest.read_bytes() == OLD and Remote.seen[-1] == ("/f.bin", f"bytes={size}-", '"v1"')


@pytest.mark.parametrize("etag", [None, 'W/"weak"'])
def test_without_a_strong_etag_if_range_is_last_modified(remote, tmp_path, etag):
    Remote.files["/f.bin"] = (OLD, etag, MODIFIED)
    dest = tmp_path / "f.bin"
    size = _interrupted(f"{remote}/f.bin", dest)
    download_file(f"{remote}/f.bin", dest, None)
    assert dest.read_bytes() == OLD
    assert Remote.seen[-1] == ("/f.bin", f"bytes={size}-", MODIFIED)


def test_changed_remote_file_restarts_from_zero(remote, tmp_path):
    Remote.files["/f.bin"] = (OLD, '"v1"', MODIFIED)
    dest = tmp_path / "f.bin"
    size = _interrupted(f"{remote}/f.bin", dest)
    Remote.files["/f.bin"] = (NEW, '"v2"', "Thu, 02 May 2024 10:00:00 GMT")
    n = len(Remote.seen)
    download_file(f"{remote}/f.bin", dest, None)
    assert dest.read_bytes() == NEW  # not the old part with the new tail, nor the larger old part
    assert Remote.seen[n:] == [("/f.bin", f"bytes={size}-", '"v1"')]  # one request, answered whole
    assert not _part_and_record(dest)[1].exists()


@pytest.mark.parametrize("validators", [('"v2"', MODIFIED), (None, "Thu, 02 May 2024 10:00:00 GMT")],
                         ids=["etag", "last-modified"])
def test_a_206_of_a_changed_file_from_a_server_that_ignores_if_range_restarts(remote, tmp_path, caplog,
                                                                             validators):
    """A server that serves the range whatever If-Range says sends the tail of the new file; its
    ETag (else Last-Modified) differs from the part's record, so the part is not appended to (for an
    unpinned file nothing else would catch the mix) and the download restarts."""
    Remote.files["/f.bin"] = (OLD, '"v1"' if validators[0] else None, MODIFIED)
    dest = tmp_path / "f.bin"
    size = _interrupted(f"{remote}/f.bin", dest)
    changed = bytes((i * 13) % 241 for i in range(len(OLD)))
    Remote.files["/f.bin"] = (changed, *validators)
    Remote.ignores_if_range.add("/f.bin")
    with caplog.at_level(logging.WARNING, logger="oeseg.data.download"):
        download_file(f"{remote}/f.bin", dest, None)
    assert dest.read_bytes() == changed
    assert "another version of the file" in caplog.text
    assert [r for _, r, _ in Remote.seen[-2:]] == [f"bytes={size}-", None]


def test_unpinned_part_without_validators_is_not_resumed(remote, tmp_path, caplog):
    Remote.files["/f.bin"] = (OLD, None, None)
    dest = tmp_path / "f.bin"
    assert _interrupted(f"{remote}/f.bin", dest) > len(NEW)  # the old file was larger
    Remote.files["/f.bin"] = (NEW, None, None)
    n = len(Remote.seen)
    with caplog.at_level(logging.WARNING, logger="oeseg.data.download"):
        download_file(f"{remote}/f.bin", dest, None)
    assert dest.read_bytes() == NEW
    assert Remote.seen[n:] == [("/f.bin", None, None)]
    assert "no ETag or Last-Modified" in caplog.text and "restarting from zero" in caplog.text


def test_pinned_part_gets_416_with_another_size_and_restarts(remote, tmp_path):
    Remote.files["/f.bin"] = (OLD, None, None)
    dest = tmp_path / "f.bin"
    size = _interrupted(f"{remote}/f.bin", dest)
    Remote.files["/f.bin"] = (NEW, None, None)
    n = len(Remote.seen)
    download_file(f"{remote}/f.bin", dest, hashlib.sha256(NEW).hexdigest())
    assert dest.read_bytes() == NEW
    assert Remote.seen[n:] == [("/f.bin", f"bytes={size}-", None), ("/f.bin", None, None)]


@pytest.mark.parametrize("extra, requests_after", [(b"", 1), (b"stale tail" * 800, 2)], ids=["same-size", "larger"])
@pytest.mark.parametrize("sized", [True, False], ids=["sized", "no-size"])
def test_416_completes_a_part_only_of_the_remote_size(remote, tmp_path, extra, requests_after, sized):
    """A 416 completes a part of the size its Content-Range gives; a larger part (stale), or any part
    when the 416 gives no size, is discarded and the file fetched from zero."""
    Remote.files["/f.bin"] = (NEW, '"v1"', None)
    if not sized:
        Remote.bare_416, requests_after = {"/f.bin"}, 2
    dest = tmp_path / "f.bin"
    part, record = _part_and_record(dest)
    part.write_bytes(NEW + extra)
    record.write_text(json.dumps({"url_sha256": _sha(f"{remote}/f.bin"), "url": f"{remote}/f.bin", "etag": '"v1"'}))
    download_file(f"{remote}/f.bin", dest, None)
    assert dest.read_bytes() == NEW
    assert Remote.seen[0] == ("/f.bin", f"bytes={len(NEW + extra)}-", '"v1"')
    assert len(Remote.seen) == requests_after
    assert not part.exists() and not record.exists()


@pytest.mark.parametrize("stale_part", [False, True], ids=["fresh", "stale-part"])
def test_a_416_without_a_size_restarts_once_then_fails_naming_the_url(remote, tmp_path, stale_part):
    """A server that gives no length and answers the range after the body with a 416 without its size
    cannot confirm that a part is whole (nor tell it from a stale, larger one): the part is discarded
    and fetched from zero once; when that ends alike, the download fails naming the URL and removes
    the part, and pinning the sha256 takes the body as the file."""
    Remote.files["/f.bin"] = (NEW, '"v1"', MODIFIED)
    Remote.ending["/f.bin"], Remote.bare_416 = "close", {"/f.bin"}
    dest, url = tmp_path / "f.bin", f"{remote}/f.bin"
    part, record = _part_and_record(dest)
    whole, resume = ("/f.bin", None, None), ("/f.bin", f"bytes={len(NEW)}-", '"v1"')
    expected = [whole, resume, whole, resume]
    if stale_part:
        part.write_bytes(NEW + b"stale tail" * 800)
        record.write_text(json.dumps({"url_sha256": _sha(url), "url": url, "etag": '"v1"'}))
        expected = [("/f.bin", f"bytes={len(NEW) + 8000}-", '"v1"'), whole, resume]
    with pytest.raises(InputError) as err:
        download_file(url, dest, None)
    assert str(err.value) == (
        f"{dest}: download of {url} failed: the server answered the request for the bytes from {len(NEW)} on with "
        "HTTP 416 without the file's size (no Content-Range), also after the download restarted from zero, so "
        f"nothing confirms that the bytes received are the whole file; {part} was removed; pin the file's sha256 "
        "(a body with it is taken as the file)")
    assert Remote.seen == expected
    assert not part.exists() and not record.exists() and not dest.exists()
    download_file(url, dest, hashlib.sha256(NEW).hexdigest())
    assert dest.read_bytes() == NEW and Remote.seen[len(expected):] == [whole]


def test_a_416_without_a_size_completes_a_part_of_the_pinned_sha256(remote, tmp_path):
    """A whole part left by an interrupted run (the body arrived, the rename did not) is taken on a 416
    without the file's size when it has the pinned sha256: one request, nothing fetched again."""
    Remote.files["/f.bin"] = (NEW, '"v1"', MODIFIED)
    Remote.ending["/f.bin"], Remote.bare_416 = "close", {"/f.bin"}
    dest, url = tmp_path / "f.bin", f"{remote}/f.bin"
    part, record = _part_and_record(dest)
    part.write_bytes(NEW)
    record.write_text(json.dumps({"url_sha256": _sha(url), "url": url, "etag": '"v1"'}))
    download_file(url, dest, hashlib.sha256(NEW).hexdigest())
    assert dest.read_bytes() == NEW and not part.exists()
    assert Remote.seen == [("/f.bin", f"bytes={len(NEW)}-", '"v1"')]


@pytest.mark.parametrize("source", [None, "/other.bin"])
def test_foreign_part_is_not_resumed(remote, tmp_path, source):
    Remote.files["/f.bin"] = (NEW, '"v1"', MODIFIED)
    dest = tmp_path / "f.bin"
    part, record = _part_and_record(dest)
    part.write_bytes(OLD[:4000])
    if source is not None:
        record.write_text(json.dumps({"url": f"{remote}{source}", "etag": '"v1"'}))
    download_file(f"{remote}/f.bin", dest, None)
    assert dest.read_bytes() == NEW
    assert Remote.seen == [("/f.bin", None, None)]


def _download_in_a_child(url: str, dest: Path, sha256: str, log: Path) -> subprocess.Popen:
    """download_file in a process of its own, logging to `log`."""
    script = ("import logging, sys\nfrom oeseg.data.download import download_file\n"
              "logging.basicConfig(level=logging.INFO)\ndownload_file(*sys.argv[1:])\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    with open(log, "w") as stderr:
        return subprocess.Popen([sys.executable, "-c", script, url, str(dest), sha256], env=env, stderr=stderr)


def test_a_second_process_waits_for_the_download_of_the_same_file(remote, tmp_path):
    """Two jobs that download one file (two runs sharing the output folder) do not write into one
    `.part`: the second waits for the first, then finds the file done and fetches nothing."""
    Remote.files["/f.bin"], Remote.held = (OLD, '"v1"', MODIFIED), {"/f.bin"}
    dest, sha256, second_log = tmp_path / "f.bin", hashlib.sha256(OLD).hexdigest(), tmp_path / "second.log"
    first = _download_in_a_child(f"{remote}/f.bin", dest, sha256, tmp_path / "first.log")
    assert Remote.halfway.wait(60)
    second = _download_in_a_child(f"{remote}/f.bin", dest, sha256, second_log)
    deadline = time.monotonic() + 60
    while "waiting" not in second_log.read_text() and second.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    Remote.go_on.set()
    assert first.wait(60) == 0 and second.wait(60) == 0, (tmp_path / "first.log").read_text() + second_log.read_text()
    assert "f.bin: another process is downloading it; waiting" in second_log.read_text()
    assert dest.read_bytes() == OLD and [path for path, _, _ in Remote.seen] == ["/f.bin"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.bin", "first.log", "second.log"]  # no lock, no part


def test_record_and_logs_hold_no_credentials(remote, tmp_path, caplog):
    Remote.files["/f.bin"] = (OLD, '"v1"', None)
    url = remote.replace("http://", "http://alice:s3cret@") + "/f.bin"
    dest = tmp_path / "f.bin"
    with caplog.at_level(logging.DEBUG, logger="oeseg.data.download"):
        _interrupted(url, dest)
        record = json.loads(_part_and_record(dest)[1].read_text())
        download_file(url, dest, None)
    assert record["url"] == f"{remote}/f.bin" and record["url_sha256"] == _sha(url)
    assert dest.read_bytes() == OLD and Remote.seen[-1][1] is not None  # resumed: same source
    assert "s3cret" not in caplog.text and "alice" not in json.dumps(record)


def test_a_part_of_another_query_value_is_not_resumed(remote, tmp_path, caplog):
    """Two URLs that differ only in a query value redact alike (`id=***`): the part of one is not
    resumed for the other, and neither query value is written to the record."""
    Remote.files["/get?export=download&id=OLDFILE"] = (OLD, '"v1"', MODIFIED)
    Remote.files["/get?export=download&id=NEWFILE"] = (NEW, '"v1"', MODIFIED)  # one ETag: If-Range cannot tell
    dest = tmp_path / "f.bin"
    Remote.cut.add("/get?export=download&id=OLDFILE")
    with pytest.raises(InputError, match="still incomplete after 1 attempts"):
        download_file(f"{remote}/get?export=download&id=OLDFILE", dest, None, max_attempts=1)
    record = _part_and_record(dest)[1].read_text()
    assert "OLDFILE" not in record and "id=***" in record
    n = len(Remote.seen)
    with caplog.at_level(logging.WARNING, logger="oeseg.data.download"):
        download_file(f"{remote}/get?export=download&id=NEWFILE", dest, None)
    assert dest.read_bytes() == NEW
    assert Remote.seen[n:] == [("/get?export=download&id=NEWFILE", None, None)]
    assert "its record names another source" in caplog.text


def test_good_download(remote, tmp_path):
    dest = download_file(f"{remote}/good.tar", tmp_path / "sub" / "a.tar", SHA256)
    assert dest.read_bytes() == ARCHIVE
    assert not (tmp_path / "sub" / "a.tar.part").exists()
    with tarfile.open(dest) as tar:
        assert tar.getnames() == ["archive/file0.bin", "archive/file1.bin", "archive/file2.bin"]
    # a second call finds the verified file and fetches nothing
    n = len(Remote.seen)
    download_file(f"{remote}/good.tar", dest, SHA256)
    assert len(Remote.seen) == n


def test_truncated_download_resumes_with_range(remote, tmp_path):
    dest = download_file(f"{remote}/cut.tar", tmp_path / "b.tar", SHA256)
    assert dest.read_bytes() == ARCHIVE
    seen = [r for p, r, _ in Remote.seen if p == "/cut.tar"]
    assert seen[0] is None
    assert len(seen) == 2 and seen[1].startswith("bytes=")
    resumed_at = int(seen[1].removeprefix("bytes=").rstrip("-"))
    assert 0 < resumed_at <= len(ARCHIVE) // 2


def test_partial_file_from_an_earlier_run_resumes(remote, tmp_path):
    dest = tmp_path / "c.tar"
    (tmp_path / "c.tar.part").write_bytes(ARCHIVE[:1000])
    download_file(f"{remote}/good.tar", dest, SHA256)
    assert dest.read_bytes() == ARCHIVE
    assert Remote.seen == [("/good.tar", "bytes=1000-", None)]  # pinned: resumed without a record


def test_a_stale_file_at_the_destination_is_downloaded_again(remote, tmp_path, caplog):
    """A file whose sha256 is not the pinned one (the pin changed, say) is replaced, not kept."""
    dest = tmp_path / "e.tar"
    dest.write_bytes(b"stale")
    with caplog.at_level(logging.WARNING, logger="oeseg.data.download"):
        download_file(f"{remote}/good.tar", dest, SHA256)
    assert dest.read_bytes() == ARCHIVE and Remote.seen == [("/good.tar", None, None)]
    assert "sha256 differs from the pinned one; downloading again" in caplog.text


def test_corrupted_download_is_refused_and_removed(remote, tmp_path):
    dest = tmp_path / "d.tar"
    with pytest.raises(InputError) as err:
        download_file(f"{remote}/bad.tar", dest, SHA256)
    msg = str(err.value)
    assert str(dest) in msg and f"expected {SHA256}" in msg and "got " in msg
    actual = msg.split("got ")[1].split(";")[0]
    assert len(actual) == 64 and actual != SHA256
    assert not dest.exists() and not (tmp_path / "d.tar.part").exists()


def test_http_error_names_the_file(remote, tmp_path):
    with pytest.raises(InputError, match=r"e.tar: download of .*/missing.tar failed: HTTP 404"):
        download_file(f"{remote}/missing.tar", tmp_path / "e.tar", SHA256)


def test_a_busy_server_is_asked_again_within_the_attempts(remote, tmp_path):
    """A 503 or 429 (busy or down for a moment) is retried after the server's Retry-After, within
    the attempts; the last attempt's error names the status."""
    Remote.busy = {"/good.tar": [503, 429]}
    assert download_file(f"{remote}/good.tar", tmp_path / "a.tar", SHA256).read_bytes() == ARCHIVE
    assert [path for path, *_ in Remote.seen] == ["/good.tar"] * 3
    Remote.busy = {"/good.tar": [503] * 3}
    with pytest.raises(InputError, match=r"b.tar: download of .*/good.tar failed: HTTP 503$"):
        download_file(f"{remote}/good.tar", tmp_path / "b.tar", SHA256, max_attempts=3)


def test_a_refused_login_names_the_netrc_machine_and_not_the_password(remote, tmp_path, monkeypatch):
    """A 401 says which ~/.netrc machine gives the server its login (requests reads it), whether it
    has none or a refused one, and never writes the password; the right one downloads the file."""
    Remote.files["/private.bin"], Remote.accounts["/private.bin"] = (NEW, None, None), ("bob", "right-pw")
    netrc = tmp_path / "netrc"
    monkeypatch.setenv("NETRC", str(netrc))
    dest, url = tmp_path / "private.bin", f"{remote}/private.bin"
    for login, hint in [(None, f"if the server needs an account, put its login in {netrc}: "
                               "`machine 127.0.0.1 login USER password PASSWORD`"),
                        ("wrong-pw", f"the server refused the login of `machine 127.0.0.1` in {netrc}")]:
        netrc.write_text(f"machine 127.0.0.1 login bob password {login}\n" if login else "")
        netrc.chmod(0o600)
        with pytest.raises(InputError) as err:
            download_file(url, dest, None)
        assert str(err.value) == f"{dest}: download of {url} failed: HTTP 401 ({hint})"
    netrc.write_text("machine 127.0.0.1 login bob password right-pw\n")
    assert download_file(url, dest, None).read_bytes() == NEW


def test_a_server_out_of_reach_is_named_and_no_part_is_claimed(tmp_path):
    """A host that cannot be reached (no internet on a compute node, a closed port here) sends nothing:
    the message says so instead of a partial file to resume."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}/f.bin"
    with pytest.raises(InputError) as err:
        download_file(url, tmp_path / "f.bin", None, max_attempts=2)
    assert str(err.value) == (f"{tmp_path / 'f.bin'}: download of {url} still incomplete after 2 attempts; nothing "
                              "was received: can this machine reach 127.0.0.1?")
    assert list(tmp_path.iterdir()) == []


def test_the_verify_step_links_the_fetched_file_and_logs_the_hash_to_pin(tmp_path, caplog):
    """Unpinned, the verify step logs the hash and the key to pin it in; pinned alike, it only links:
    the file where the workflow reads it is the fetched one (one inode, no copy), and fetched_twin
    finds the fetched file from it."""
    fetched, dest = tmp_path / "downloads" / ".fetched" / "a" / "f.tar", tmp_path / "downloads" / "a" / "f.tar"
    fetched.parent.mkdir(parents=True)
    fetched.write_bytes(ARCHIVE)
    with caplog.at_level(logging.WARNING, logger="oeseg.data.download"):
        verify_download(fetched, dest, None, 'downloads["a/f.tar"].sha256')
    assert f'{dest}: no sha256 pinned (downloads["a/f.tar"].sha256 is null); its sha256 is {SHA256}' in caplog.text
    assert dest.samefile(fetched) and fetched_twin(dest) == fetched
    caplog.clear()
    verify_download(fetched, dest, SHA256.upper(), 'downloads["a/f.tar"].sha256')
    assert dest.samefile(fetched) and caplog.text == ""
    assert sorted(p.name for p in dest.parent.iterdir()) == ["f.tar"]  # no temporary link left


def test_a_pin_that_the_fetched_file_does_not_have_keeps_it_and_says_what_to_do(tmp_path):
    fetched, dest = tmp_path / ".fetched" / "f.tar", tmp_path / "f.tar"
    fetched.parent.mkdir()
    fetched.write_bytes(ARCHIVE)
    with pytest.raises(InputError) as err:
        verify_download(fetched, dest, "0" * 64, "downloads.f.sha256")
    assert str(err.value) == (f"{dest}: sha256 mismatch: downloads.f.sha256 pins {'0' * 64}, the downloaded {fetched} "
                              f"has {SHA256}; if the pin is right (the file changed on the server, or arrived damaged), "
                              f"delete {fetched} to download it again, else correct downloads.f.sha256")
    assert fetched.read_bytes() == ARCHIVE and not dest.exists()


def test_where_hard_links_are_refused_the_fetched_file_is_moved(tmp_path, monkeypatch):
    """A file system without hard links (os.link fails with EPERM, as on FAT or some network mounts):
    the verified file is moved into place instead."""
    def refuse(*args):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", refuse)
    fetched, dest = tmp_path / ".fetched" / "f.tar", tmp_path / "f.tar"
    fetched.parent.mkdir()
    fetched.write_bytes(ARCHIVE)
    verify_download(fetched, dest, SHA256, "downloads.f.sha256")
    assert dest.read_bytes() == ARCHIVE and not fetched.exists()


@pytest.mark.parametrize("pinned", [True, False], ids=["pinned", "unpinned"])
def test_the_fetch_step_takes_a_verified_file_of_the_pinned_sha256_without_a_request(remote, tmp_path, pinned):
    """The fetch step finds the file where the verify step puts it, alone (left by a run from before
    the fetch step, or moved there where hard links are refused): with the pinned sha256 it is taken,
    without a request; unpinned, nothing tells that it came from this URL, so it is fetched."""
    fetched, verified = tmp_path / ".fetched" / "f.tar", tmp_path / "f.tar"
    verified.write_bytes(ARCHIVE)
    fetch_download(f"{remote}/good.tar", fetched, SHA256 if pinned else None, verified)
    assert fetched.read_bytes() == ARCHIVE
    assert Remote.seen == ([] if pinned else [("/good.tar", None, None)])
    assert fetched.samefile(verified) if pinned else not fetched.samefile(verified)


@pytest.mark.parametrize("url, problem", [
    ("ftp://alice:s3cret@127.0.0.1/f.tar", "only http:// and https:// URLs can be downloaded, not ftp://"),
    ("http://alice:s3cret@/f.tar", "it names no host"),
    ("http://alice:s3cret@127.0.0.1:99999/f.tar", "its host or port cannot be read (a port is a number up to 65535)"),
    ("127.0.0.1/f.tar", "it does not start with http:// or https://"),
], ids=["ftp", "no-host", "bad-port", "no-scheme"])
def test_a_url_that_requests_cannot_fetch_is_named_without_its_password(tmp_path, url, problem):
    dest = tmp_path / "f.tar"
    with pytest.raises(InputError) as err:
        download_file(url, dest, None)
    assert str(err.value) == f"{dest}: cannot download {redact_url(url)}: {problem}"
    assert "s3cret" not in str(err.value) and "alice" not in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_a_write_that_fails_names_the_file_and_keeps_the_part_to_resume(remote, tmp_path):
    """A download that outgrows the space it may take (here a file-size limit, RLIMIT_FSIZE: a full disk
    ends alike) is an InputError naming the file, the URL and the part kept, not a traceback; once
    there is room, the next run resumes it."""
    Remote.files["/f.bin"] = (OLD, '"v1"', MODIFIED)
    dest, url, limit = tmp_path / "f.bin", f"{remote}/f.bin", 150_000
    part = _part_and_record(dest)[0]
    script = ("import sys\nfrom oeseg.data.download import download_file\nfrom oeseg.io import InputError\n"
              "try:\n    download_file(sys.argv[1], sys.argv[2], None)\n"
              "except InputError as e:\n    print(e)\n    sys.exit(2)\n")
    child = subprocess.run([sys.executable, "-c", script, url, str(dest)], capture_output=True, text=True,
                           env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}, timeout=60,
                           preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit)))
    assert (child.returncode, child.stderr) == (2, "")
    assert child.stdout == (f"{dest}: cannot write the file: the download of {url} into {part} failed: File too "
                            f"large; {part} is kept ({limit} bytes): make room, then run again to resume\n")
    download_file(url, dest, None)
    assert dest.read_bytes() == OLD and Remote.seen[-1] == ("/f.bin", f"bytes={limit}-", '"v1"')


def test_credentials_never_appear_in_messages():
    assert redact_url("https://user:secret@example.org:8443/a/b.zip?x=1") == \
        "https://example.org:8443/a/b.zip?x=***"
    assert redact_url("https://example.org/get?token=abc&dl=1&flag") == "https://example.org/get?token=***&dl=***&flag=***"
    assert redact_url("http://u:p@[::1]:8000/v1") == "http://[::1]:8000/v1"
    assert redact_url("http://127.0.0.1:8000/v1") == "http://127.0.0.1:8000/v1"
    # one that does not parse (a bad port, a "/" of a password left unencoded) is cut after its scheme
    assert redact_url("http://u:pw@127.0.0.1:99999/x") == "http://<redacted>"
    assert redact_url("https://alice:pa/ss22@host/v1") == "https://<redacted>"
