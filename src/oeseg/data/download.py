"""Resumable, checksum-verified downloads (the generic `download` rule and the dataset archives).

A download streams to `<dest>.part`; an interrupted transfer (a dropped connection, a killed job)
resumes from the bytes already there with an HTTP Range request. The finished file is checked
against the pinned sha256 before it is renamed to `dest`: a mismatch removes it and raises.
Credentials come only from the caller (read from the environment) or from ~/.netrc (requests
reads it when `auth` is None); they are never logged.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests

from oeseg.io import InputError, sha256_file

log = logging.getLogger(__name__)

CHUNK_SIZE = 1 << 16


def redact_url(url: str) -> str:
    """The URL without any user:password part, for logs and messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, ""))


def credentials_from_env(user_var: str, password_var: str) -> tuple[str, str] | None:
    """(user, password) from two environment variables, or None when either is unset."""
    user, password = os.environ.get(user_var), os.environ.get(password_var)
    if not user or not password:
        return None
    return user, password


def verify_sha256(path: Path, sha256: str | None, source: str, name: Path | None = None) -> None:
    """Check a file's sha256; on mismatch remove the file and raise InputError naming both hashes.

    `name` is the file named in messages (default `path`); None as `sha256` only logs the hash.
    """
    name = name or path
    actual = sha256_file(path)
    if sha256 is None:
        log.warning("%s: no sha256 pinned for %s; its sha256 is %s (pin it in the config)",
                    name, source, actual)
        return
    if actual != sha256.lower():
        path.unlink()
        raise InputError(f"{name}: sha256 mismatch for {source}: expected {sha256.lower()}, "
                         f"got {actual}; the file was removed")


def keep_existing(dest: Path, sha256: str | None) -> bool:
    """True when `dest` is already downloaded with its pinned sha256 (or none is pinned); a stale
    file is removed so that it is downloaded again."""
    if not dest.exists():
        return False
    if sha256 is None or sha256_file(dest) == sha256.lower():
        return True
    log.warning("%s: sha256 differs from the pinned one; downloading again", dest)
    dest.unlink()
    return False


def _fetch_into(url: str, part: Path, auth, timeout: float) -> bool:
    """Append the rest of `url` to `part` (Range from its size); True when the server sent it all."""
    offset = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    with requests.get(url, stream=True, headers=headers, auth=auth, timeout=timeout) as r:
        if offset and r.status_code == 416:  # the partial file already holds every byte
            return True
        r.raise_for_status()
        if offset and r.status_code == 200:  # the server ignored the Range: start again
            log.info("%s: server does not resume; restarting", redact_url(url))
            offset = 0
        length = r.headers.get("Content-Length")
        expected = offset + int(length) if length is not None else None
        with open(part, "ab" if offset else "wb") as f:
            for block in r.iter_content(CHUNK_SIZE):
                f.write(block)
    return expected is None or part.stat().st_size >= expected


def download_file(url: str, dest: str | os.PathLike, sha256: str | None, *, auth=None,
                  max_attempts: int = 5, timeout: float = 60.0) -> Path:
    """Download `url` to `dest` through `<dest>.part`, resuming partial transfers and checking sha256."""
    dest = Path(dest)
    source = redact_url(url)
    if keep_existing(dest, sha256):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    for attempt in range(1, max_attempts + 1):
        if part.exists():
            log.info("%s: resuming at byte %d (attempt %d)", source, part.stat().st_size, attempt)
        else:
            log.info("%s: downloading to %s", source, dest)
        try:
            if _fetch_into(url, part, auth, timeout):
                break
        except (requests.ConnectionError, requests.Timeout,
                requests.exceptions.ChunkedEncodingError) as e:
            log.warning("%s: transfer interrupted (%s)", source, type(e).__name__)
        except requests.HTTPError as e:
            raise InputError(f"{dest}: download of {source} failed: HTTP {e.response.status_code}") from None
    else:
        raise InputError(f"{dest}: download of {source} still incomplete after {max_attempts} "
                         f"attempts; {part} is kept, run again to resume")
    verify_sha256(part, sha256, source, name=dest)
    os.replace(part, dest)
    return dest
