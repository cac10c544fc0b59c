"""Resumable, checksum-verified downloads (the generic `download` rule and the dataset archives).

A download streams to `<dest>.part`, with `<dest>.part.json` recording its source (the sha256 of the
full URL, the URL with its credentials and query values masked for messages, the server's ETag /
Last-Modified, and whether the part was begun after a 416 without the file's size). An interrupted
transfer (a dropped connection, a killed job) resumes from the bytes already there with an HTTP
Range request, sending If-Range so that a changed remote file comes back whole and restarts the
download. A part is not resumed (the download restarts from zero) when its record names another URL,
or when neither a validator nor a pinned sha256 can check it; a 416 reply completes a part only when
the server's size equals the part's, or, where it gives no size (no Content-Range), when the part has
the pinned sha256. Otherwise a 416 without a size cannot tell a whole part from a stale, larger one:
the part is discarded and the download restarts from zero, once; a second such 416, for the part
begun so, fails the download (naming the URL) and removes the part.
The finished file is checked against the pinned sha256 before it is renamed to `dest`: a mismatch
removes it and raises.
A write that fails (a full disk, a file-size limit) is an InputError naming `dest` and the URL; the
part is kept to resume. A URL that requests cannot fetch (another scheme than http or https, no host,
a bad port) is an InputError naming `dest` and the URL without its login.
Bytes are asked for and written as the server stores them (`Accept-Encoding: identity`, nothing
decoded), so that a part's size is an offset in the remote file; a 206 reply that starts elsewhere
than the part ends, or whose ETag (else Last-Modified) differs from the part's record (a server that
ignores If-Range), restarts the download. A body can end short of the size its reply gave (a 206's
Content-Range total, a 200's Content-Length) without an error: the part is measured against that
size and resumed. A 200 that gives no length ends where the server closes it, so a server that
takes ranges is asked for the bytes after it (a 416 of the part's size confirms the end), unless
the part already has the pinned sha256. An HTML page with a success status (a login page) is
refused before the part is touched. One process at a time downloads a file (`download_lock`): a
second one waits, then finds it done.
`download_file` takes credentials only from ~/.netrc, which requests reads; they are never logged. A 401/403 names
the ~/.netrc machine to log in.

The workflow fetches a download (`fetch_download`) to `<out>/downloads/.fetched/<name>` in a job that
depends on its URL only, and checks it against its pin (`verify_download`) in a job that depends on the
pin only, which makes `<out>/downloads/<name>` a hard link of it (a move where the file system refuses
links): a changed pin hashes the fetched file again without a request, a changed URL fetches again.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import requests
import urllib3

from oeseg.io import InputError, atomic_write_json, file_lock, read_json, redact_url, retry_delay, sha256_file

log = logging.getLogger(__name__)

CHUNK_SIZE = 1 << 16
IDENTITY = {"Accept-Encoding": "identity"}  # byte offsets of a compressed reply are not the file's
#: Replies of a server that is busy or down for a moment: retried (after its Retry-After) within the attempts.
TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
#: what a dropped or stalled transfer raises: worth resuming, unlike an HTTP error
INTERRUPTED = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)
#: the folder of `<out>/downloads/` that the fetched files lie in, before their pin is checked
FETCHED = ".fetched"
#: why os.link fails on a file system without hard links (or across two): the file is moved instead
LINK_REFUSED = frozenset({errno.EPERM, errno.EXDEV, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP})


def credentials_from_env(user_var: str, password_var: str) -> tuple[str, str] | None:
    """(user, password) from two environment variables, or None when either is unset."""
    user, password = os.environ.get(user_var), os.environ.get(password_var)
    if not user or not password:
        return None
    return user, password


def url_problem(url: str) -> str | None:
    """What keeps requests from fetching `url` (a scheme other than http or https, no host, a host or
    port that cannot be read), in words that never repeat the URL; None when nothing does."""
    try:
        parts = urllib3.util.parse_url(url)
    except urllib3.exceptions.LocationParseError:
        return "its host or port cannot be read (a port is a number up to 65535)"
    if parts.scheme not in ("http", "https"):
        return (f"only http:// and https:// URLs can be downloaded, not {parts.scheme}://" if parts.scheme
                else "it does not start with http:// or https://")
    return None if parts.host else "it names no host"


def wait_if_busy(error: requests.HTTPError, attempt: int, max_attempts: int, what: str) -> bool:
    """After an HTTP error from a server busy or down for a moment (TRANSIENT_STATUSES) before the last
    of `max_attempts`: log it (naming `what`), wait for its Retry-After (else a backoff) and return
    True (ask again); False for any other error, or after the last attempt."""
    status = error.response.status_code if error.response is not None else None
    if status not in TRANSIENT_STATUSES or attempt >= max_attempts:
        return False
    delay = retry_delay(error, attempt, backoff_s=2.0, max_wait_s=60.0)
    log.warning("%s: HTTP %d, retrying in %.0f s", what, status, delay)
    time.sleep(delay)
    return True


def verify_sha256(path: Path, sha256: str | None, source: str, name: Path | None = None) -> None:
    """Check a file's sha256 (None: nothing to check); on mismatch remove the file and raise InputError
    naming both hashes. `name` is the file named in messages (default `path`)."""
    if sha256 is None:  # the workflow's verify step logs the hash to pin
        return
    name = name or path
    actual = sha256_file(path)
    if actual != sha256.lower():
        path.unlink()
        raise InputError(f"{name}: sha256 mismatch for {source}: expected {sha256.lower()}, "
                         f"got {actual}; the file was removed")


def is_downloaded(dest: Path, sha256: str | None) -> bool:
    """Whether `dest` is there with its pinned sha256 (or none is pinned)."""
    return dest.exists() and (sha256 is None or sha256_file(dest) == sha256.lower())


def keep_existing(dest: Path, sha256: str | None) -> bool:
    """True when `dest` is already downloaded with its pinned sha256 (or none is pinned); a stale
    file is removed so that it is downloaded again."""
    if not dest.exists():
        return False
    if is_downloaded(dest, sha256):
        return True
    log.warning("%s: sha256 differs from the pinned one; downloading again", dest)
    dest.unlink()
    return False


def _url_sha256(url: str) -> str:
    """The sha256 of the full URL, by which a part's record names its source without writing the URL
    (its credentials or query values may be secrets; the redacted URL masks them, and with them
    what tells two sources apart, as `?id=A` from `?id=B`)."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()


def _sidecar(part: Path) -> Path:
    """The source record kept next to a partial download: `<dest>.part.json`."""
    return part.with_name(part.name + ".json")


def _discard(part: Path) -> None:
    """Remove a partial download and its source record."""
    part.unlink(missing_ok=True)
    _sidecar(part).unlink(missing_ok=True)


def _read_record(part: Path) -> dict | None:
    """The source record of `part` (url_sha256, url, etag, last_modified, after_416), or None (logged) when missing
    or unreadable."""
    sidecar = _sidecar(part)
    if not sidecar.exists():
        return None
    try:
        record = read_json(sidecar)
    except InputError as e:
        log.warning("%s", e)
        return None
    if not isinstance(record, dict):
        log.warning("%s: not a JSON object", sidecar)
        return None
    return record


def _if_range(record: dict) -> str | None:
    """The If-Range value of a source record: its strong ETag, else its Last-Modified, else None."""
    etag = record.get("etag")
    if isinstance(etag, str) and not etag.startswith("W/"):  # If-Range takes only strong ETags
        return etag
    modified = record.get("last_modified")
    return modified if isinstance(modified, str) else None


def _changed_validator(record: dict, validators: dict[str, str | None]) -> str | None:
    """How a reply's validators show a remote file changed since a part's record (its ETag, else its
    Last-Modified, differs), in words; None when they do not."""
    old_etag, new_etag = (v.removeprefix("W/") if isinstance(v, str) else None
                          for v in (record.get("etag"), validators.get("etag")))
    if old_etag and new_etag:
        return f"ETag {new_etag}, the part's {old_etag}" if old_etag != new_etag else None
    old, new = record.get("last_modified"), validators.get("last_modified")
    return f"Last-Modified {new}, the part's {old}" if isinstance(old, str) and new and old != new else None


def _resume_headers(url: str, part: Path, record: dict | None, pinned: bool) -> dict[str, str]:
    """Range (and If-Range) headers resuming `part` (its source record `record`), or {} after discarding a
    part that cannot be trusted."""
    offset = part.stat().st_size if part.exists() else 0
    if not offset:
        return {}
    source = redact_url(url)
    if record is not None and record.get("url_sha256") != _url_sha256(url):
        reason = f"its record names another source, {record.get('url')}"
    else:
        validator = _if_range(record or {})
        if validator is not None or pinned:
            log.info("%s: resuming at byte %d of %s", source, offset, part)
            return {"Range": f"bytes={offset}-", **({"If-Range": validator} if validator else {})}
        reason = ("nothing records where it came from" if record is None else
                  "the server gave no ETag or Last-Modified to check that the remote file is unchanged")
        reason += ", and no sha256 is pinned"
    log.warning("%s: not resuming %s (%s); restarting from zero", source, part, reason)
    _discard(part)
    return {}


def _remote_size(response: requests.Response) -> int | None:
    """The full size N of a 416 reply's `Content-Range: bytes */N`, or None when it gives none."""
    match = re.fullmatch(r"bytes \*/(\d+)", response.headers.get("Content-Range", "").strip())
    return int(match.group(1)) if match else None


def _content_range(response: requests.Response) -> tuple[int, int, int | None] | None:
    """(first byte, last byte, full size or None for `*`) of a 206 reply's Content-Range, or None when it has none."""
    match = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+|\*)", response.headers.get("Content-Range", "").strip())
    if match is None:
        return None
    first, last, size = match.groups()
    return int(first), int(last), None if size == "*" else int(size)


def _expected_size(response: requests.Response, content_range: tuple[int, int, int | None] | None) -> int | None:
    """The size of the remote file as a 200/206 reply gives it (a 206's Content-Range total, else the end
    of its range; a 200's Content-Length), or None when it gives none or one that is no byte count."""
    if content_range is not None:
        return content_range[2] if content_range[2] is not None else content_range[1] + 1
    length = response.headers.get("Content-Length", "").strip()
    return int(length) if length.isascii() and length.isdecimal() else None


def is_html_page(response: requests.Response) -> bool:
    """Whether a reply is an HTML page to show (text/html, not an attachment), as a login or error page is."""
    return (response.headers.get("Content-Type", "").split(";")[0].strip().lower() == "text/html"
            and not response.headers.get("Content-Disposition", "").strip().lower().startswith("attachment"))


def _write_body(response: requests.Response, part: Path, offset: int, url: str, sha256: str | None,
                record: dict | None, after_416: bool) -> bool:
    """Write a 200/206 reply into `part` (appending a 206 at `offset` to the part of source record `record`; a
    part begun anew records `after_416`); True when the part holds the whole file."""
    source = redact_url(url)
    response.raise_for_status()
    dest = part.with_suffix("")
    if is_html_page(response) and dest.suffix.lower() not in (".html", ".htm"):  # before the part is touched
        raise InputError(f"{dest}: {source} answered with an HTML page instead of the file (a login or error "
                         f"page?); nothing was written to {part}")
    if offset and response.status_code != 206:  # Range ignored, or If-Range saw a changed file
        log.info("%s: the server sent the whole file (changed, or no resuming); restarting", source)
        offset = 0
    content_range = _content_range(response) if response.status_code == 206 else None
    if response.status_code == 206 and (content_range is None or content_range[0] != offset):
        log.warning("%s: asked for the bytes from %d, the server sent %r; restarting from zero", source, offset,
                    response.headers.get("Content-Range"))
        _discard(part)
        return False
    validators = {"etag": response.headers.get("ETag"), "last_modified": response.headers.get("Last-Modified")}
    changed = _changed_validator(record or {}, validators) if offset else None
    if changed is not None:  # a server that ignores If-Range sent the tail of a changed file
        log.warning("%s: the bytes from %d are of another version of the file (%s); restarting from zero",
                    source, offset, changed)
        _discard(part)
        return False
    try:
        with open(part, "ab" if offset else "wb") as f:
            if not offset:  # after the truncation, so a record never describes older bytes
                atomic_write_json(_sidecar(part), {"url_sha256": _url_sha256(url), "url": source,
                                                   **{k: v for k, v in validators.items() if v},
                                                   **({"after_416": True} if after_416 else {})})
            try:
                for block in response.raw.stream(CHUNK_SIZE, decode_content=False):
                    f.write(block)
            except urllib3.exceptions.HTTPError as e:  # as requests' iter_content reports them
                raise requests.ConnectionError(e) from e
    except requests.ConnectionError:
        raise
    except OSError as e:  # a full disk, a file-size limit (requests' errors are OSErrors too: above)
        kept = part.stat().st_size if part.exists() else 0
        raise InputError(f"{dest}: cannot write the file: the download of {source} into {part} failed: "
                         f"{e.strerror or e}; {part} is kept ({kept} bytes): make room, then run again to "
                         "resume") from None
    # a body can end short of its length without an error (closed early, a last chunk sent early, a
    # range served in pieces): the part is measured against the size the reply gave
    size, expected = part.stat().st_size, _expected_size(response, content_range)
    if expected is None:  # a 200 without a length ends where the server closes it, early or not
        if sha256 is not None and is_downloaded(part, sha256):
            return True  # the whole pinned file: nothing to ask again
        resumable = sha256 is not None or _if_range(validators) is not None  # as _resume_headers decides
        if resumable and response.headers.get("Accept-Ranges", "").strip().lower() == "bytes":
            log.info("%s: the server gave no length; asking it for the bytes after %d", source, size)
            return False  # the next attempt resumes: a 416 of this size confirms the end
        return True
    if size < expected:
        log.warning("%s: the reply ended at byte %d of %d; resuming", source, size, expected)
        return False
    return True


def _fetch_into(url: str, part: Path, sha256: str | None, timeout: float, after_416: bool = False) -> bool:
    """Download the rest of `url` into `part`, resuming only a trusted part; True when all of it arrived
    (`after_416`: the part before was discarded on a 416 without the file's size)."""
    source = redact_url(url)
    record = _read_record(part)
    headers = _resume_headers(url, part, record, sha256 is not None)
    offset = part.stat().st_size if headers else 0
    try:
        response = requests.get(url, stream=True, headers={**IDENTITY, **headers}, timeout=timeout)
    except ValueError:  # requests' InvalidURL, InvalidSchema, MissingSchema: their messages repeat the URL whole
        raise InputError(f"{part.with_suffix('')}: cannot download {source}: "
                         f"{url_problem(url) or 'not a URL that requests can fetch'}") from None
    with response as r:
        if not (offset and r.status_code == 416):
            return _write_body(r, part, offset, url, sha256, record, after_416)
        remote_size = _remote_size(r)
    if remote_size == offset:  # the partial file already holds every byte
        return True
    if remote_size is None and sha256 is not None and is_downloaded(part, sha256):
        return True  # no size to compare, but the part is the pinned file
    if remote_size is None and (record or {}).get("after_416") is True:  # restarting again would end alike
        _discard(part)
        hint = "; pin the file's sha256 (a body with it is taken as the file)" if sha256 is None else ""
        raise InputError(f"{part.with_suffix('')}: download of {source} failed: the server answered the request "
                         f"for the bytes from {offset} on with HTTP 416 without the file's size (no Content-Range), "
                         f"also after the download restarted from zero, so nothing confirms that the bytes "
                         f"received are the whole file; {part} was removed{hint}")
    log.warning("%s: the server refused to resume at byte %d (remote size %s); restarting from zero",
                source, offset, "not given" if remote_size is None else remote_size)
    _discard(part)
    return _fetch_into(url, part, sha256, timeout, after_416=remote_size is None)


def _login_hint(url: str) -> str:
    """For a 401/403 reply from `url`: where its host's login comes from and what to do (never the login itself)."""
    host = urlsplit(url).hostname
    netrc = os.environ.get("NETRC", "~/.netrc")  # where requests reads logins from
    if requests.utils.get_netrc_auth(url):
        return f"the server refused the login of `machine {host}` in {netrc}"
    return f"if the server needs an account, put its login in {netrc}: `machine {host} login USER password PASSWORD`"


@contextlib.contextmanager
def download_lock(dest: Path) -> Iterator[None]:
    """Hold the lock file `<dest>.lock` while `dest` is downloaded (its folder made first), removed
    after: a second process downloading `dest` (two runs that share the folder) waits for the first."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(dest.with_name(dest.name + ".lock"), remove=True,
                   on_wait=lambda: log.info("%s: another process is downloading it; waiting", dest)):
        yield


def download_file(url: str, dest: str | os.PathLike, sha256: str | None, *, max_attempts: int = 5,
                  timeout: float = 60.0) -> Path:
    """Download `url` to `dest` through `<dest>.part`, resuming partial transfers and checking sha256
    (one process at a time)."""
    dest = Path(dest)
    if is_downloaded(dest, sha256):  # before the lock: a done file in a read-only folder is read as it is
        return dest
    with download_lock(dest):
        if not keep_existing(dest, sha256):
            _download(url, dest, sha256, max_attempts, timeout)
    return dest


def _download(url: str, dest: Path, sha256: str | None, max_attempts: int, timeout: float) -> None:
    """Fetch `url` into `<dest>.part` in up to `max_attempts` attempts, check its sha256, rename it to `dest`."""
    source = redact_url(url)
    part = dest.with_name(dest.name + ".part")
    for attempt in range(1, max_attempts + 1):
        log.info("%s: downloading to %s (attempt %d)", source, dest, attempt)
        try:
            if _fetch_into(url, part, sha256, timeout):
                break
        except INTERRUPTED as e:
            log.warning("%s: transfer interrupted (%s)", source, type(e).__name__)
        except requests.HTTPError as e:
            if wait_if_busy(e, attempt, max_attempts, source):
                continue
            status = e.response.status_code
            login = f" ({_login_hint(e.response.url)})" if status in (401, 403) else ""
            raise InputError(f"{dest}: download of {source} failed: HTTP {status}{login}") from None
    else:
        received = part.stat().st_size if part.exists() else 0
        kept = (f"{part} is kept ({received} bytes), run again to resume" if received else
                f"nothing was received: can this machine reach {urlsplit(url).hostname}?")
        raise InputError(f"{dest}: download of {source} still incomplete after {max_attempts} attempts; {kept}")
    _sidecar(part).unlink(missing_ok=True)
    verify_sha256(part, sha256, source, name=dest)
    os.replace(part, dest)


def link_or_move(source: Path, dest: Path) -> None:
    """Make `dest` a hard link of `source` (replacing `dest` atomically), or move `source` to `dest`
    where the file system refuses hard links; another failure is an InputError naming `dest`."""
    if dest.exists() and dest.samefile(source):  # a rename between two links of one file does nothing
        return
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.link")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp.unlink(missing_ok=True)
        try:
            os.link(source, tmp)
        except OSError as e:
            if e.errno not in LINK_REFUSED:
                raise
            log.info("%s: no hard link to %s here (%s); moving it", dest, source, e.strerror)
            os.replace(source, dest)
            return
        os.replace(tmp, dest)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise InputError(f"{dest}: cannot write the file: {e.strerror or e}") from None


def reuse_verified(verified: Path, fetched: Path, sha256: str | None) -> bool:
    """Take the file already at `verified` as the fetched one (`fetched`, with link_or_move) when it has
    the pinned sha256, or, with None as `sha256`, whatever it holds; True when it was taken. A workflow
    run from before the fetch step, or a move where hard links are refused, left it there alone."""
    if fetched.exists() or not is_downloaded(verified, sha256):
        return False
    log.info("%s: taking %s, already there%s; nothing is downloaded", fetched, verified,
             " with the pinned sha256" if sha256 else "")
    link_or_move(verified, fetched)
    return True


def fetch_download(url: str, fetched: str | os.PathLike, sha256: str | None, verified: str | os.PathLike) -> Path:
    """The fetch step of a download: `url` to `fetched` (download_file), unless the file at `verified`,
    where the verify step puts it, has the pinned sha256 (reuse_verified)."""
    fetched = Path(fetched)
    if sha256 is not None and reuse_verified(Path(verified), fetched, sha256):
        return fetched
    return download_file(url, fetched, sha256)


def verify_download(fetched: str | os.PathLike, dest: str | os.PathLike, sha256: str | None, setting: str) -> Path:
    """The verify step of a download: check the sha256 of `fetched` against the pin of the config key
    `setting` (None: log the hash to pin there) and make `dest` a hard link of it (link_or_move); a
    mismatch keeps `fetched` and raises an InputError naming both files, both hashes and what to do."""
    fetched, dest = Path(fetched), Path(dest)
    actual = sha256_file(fetched)
    if sha256 is None:
        log.warning("%s: no sha256 pinned (%s is null); its sha256 is %s: pin it there", dest, setting, actual)
    elif actual != sha256.lower():
        raise InputError(f"{dest}: sha256 mismatch: {setting} pins {sha256.lower()}, the downloaded {fetched} "
                         f"has {actual}; if the pin is right (the file changed on the server, or arrived "
                         f"damaged), delete {fetched} to download it again, else correct {setting}")
    link_or_move(fetched, dest)
    return dest


def fetched_twin(path: str | os.PathLike) -> Path | None:
    """The fetched file that `path`, a verified download `<downloads>/<name>`, is a hard link of
    (`<downloads>/.fetched/<name>`), or None."""
    path = Path(path)
    for folder in path.parents:
        twin = folder / FETCHED / path.relative_to(folder)
        with contextlib.suppress(OSError):
            if twin.samefile(path):
                return twin
    return None
