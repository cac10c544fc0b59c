"""Cityscapes in the panoptic format: download through cityscapesscripts, convert gtFine.

Download: the packages (PACKAGES: gtFine_trainvaltest.zip, leftImg8bit_trainvaltest.zip) come from
the Cityscapes server through `cityscapesscripts.download.downloader.download_packages` (which
resumes and checks the server's md5), logged in with CITYSCAPES_USERNAME / CITYSCAPES_PASSWORD
from the environment, else with the login of `machine www.cityscapes-dataset.com` in ~/.netrc
(never logged or written anywhere), and are then checked against the sha256 pinned in the config.
A staged file that fails the md5, or that the server refuses to resume (HTTP 416),
is removed: a resumed one is downloaded again from zero, a fresh one fails naming the package. A
package that comes as an HTML page (the server's login page), or an md5 answer that is no md5 sum,
fails before it reaches the staged file. Every request times out (`CityscapesSession`: a stalled
server would hold a job for its whole runtime otherwise); a dropped or stalled transfer resumes, and
a busy server's 429/5xx is asked again after its Retry-After, up to `attempts` times in one run.

Conversion: gtFine/<split>/<city>/<name>_gtFine_instanceIds.png holds, per pixel, the label id
(< 1000) or label id * 1000 + instance number. Segment ids are those values (as the panoptic
PNGs of cityscapesscripts), category ids are the trainIds 0..18: things with an instance number
are instances, thing pixels without one are crowd segments (iscrowd=1), stuff classes give one
segment each, labels outside the 19 train classes (ego vehicle, caravan, ...) are void; a value
whose label id is none of cityscapesScripts' 0..33 is an error naming the PNG.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import requests

from oeseg.data.archives import Archive
from oeseg.data.convert import SplitWriter, check_pairs
from oeseg.data.download import (IDENTITY, INTERRUPTED, credentials_from_env, download_lock, is_downloaded,
                                 is_html_page, keep_existing, reuse_verified, verify_sha256, wait_if_busy)
from oeseg.data.vocabularies import CITYSCAPES, CITYSCAPES_LABEL_IDS
from oeseg.io import InputError, redact_url

log = logging.getLogger(__name__)

USERNAME_ENV, PASSWORD_ENV = "CITYSCAPES_USERNAME", "CITYSCAPES_PASSWORD"
LOGIN_URL = "https://www.cityscapes-dataset.com/login"
#: where the login comes from, as messages name it
ACCOUNT = f"the Cityscapes account ({USERNAME_ENV}, else `machine {urlsplit(LOGIN_URL).hostname}` in ~/.netrc)"
#: the packages rule convert_cityscapes reads, by its input's name: the config pins exactly these
PACKAGES = {"gtfine": "gtFine_trainvaltest.zip", "images": "leftImg8bit_trainvaltest.zip"}
SPLITS = ("train", "val", "test")
MD5_MISMATCH = "MD5 sum of downloaded file does not match"  # cityscapesscripts' message
#: the label ids of cityscapesscripts' table that *_instanceIds.png holds (license plate, -1, is never drawn)
LABEL_IDS = range(34)


class CityscapesSession(requests.Session):
    """A session whose requests time out after `timeout` seconds unless they give their own
    (cityscapesscripts' downloader gives none) and ask for uncompressed bytes; a package (the one
    streamed reply) that comes as an HTML page, or an md5 answer that is no md5 sum, is refused
    before the downloader reads it."""

    def __init__(self, timeout: float = 60.0) -> None:
        """A session whose requests default to `timeout` seconds and uncompressed bytes."""
        super().__init__()
        self.timeout = timeout
        self.headers.update(IDENTITY)  # a resumed Range counts the stored bytes

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        """requests.Session.request, with this session's timeout where the caller gives none; an
        InputError for a package that comes as an HTML page with a success status (the downloader
        would append it; an error status, whatever its page, is the downloader's to handle), and for
        an md5 answer with a success status whose first word is no md5 sum (an empty one, a page)."""
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        response = super().request(*args, **kwargs)
        if kwargs.get("stream") and response.ok and is_html_page(response):  # an error page is its status's
            response.close()
            raise InputError(f"the Cityscapes server sent an HTML page (its login page?) instead of the package at "
                             f"{redact_url(response.url)}: the login may have expired, or {ACCOUNT} may not "
                             "download it; nothing of the page was written")
        if response.ok and urlsplit(response.url).path.startswith("/md5-sum"):
            words = response.text.split()
            if not (words and re.fullmatch(r"[0-9a-fA-F]{32}", words[0])):
                raise InputError(f"the Cityscapes server's md5 sum of the package at {redact_url(response.url)} "
                                 f"is {'empty' if not words else 'no md5 sum'}; nothing was downloaded: try again "
                                 "later, or see whether the package is listed on www.cityscapes-dataset.com/downloads")
        return response


def cityscapes_session(session: requests.Session | None = None) -> requests.Session:
    """A session (new or given) logged in to the Cityscapes server with the environment's credentials,
    else those of its machine in ~/.netrc (as requests reads it: $NETRC, else ~/.netrc)."""
    credentials = credentials_from_env(USERNAME_ENV, PASSWORD_ENV) or requests.utils.get_netrc_auth(LOGIN_URL)
    if credentials is None:
        raise InputError(f"Cityscapes download needs an account of www.cityscapes-dataset.com: the environment "
                         f"variables {USERNAME_ENV} and {PASSWORD_ENV}, or a line `machine "
                         f"{urlsplit(LOGIN_URL).hostname} login USER password PASSWORD` in ~/.netrc")
    session = session or CityscapesSession()
    try:
        session.get(LOGIN_URL, allow_redirects=False).raise_for_status()
        r = session.post(LOGIN_URL, data={"username": credentials[0], "password": credentials[1],
                                          "submit": "Login"}, allow_redirects=False)
        r.raise_for_status()
    except requests.RequestException as e:  # the message names the URL, never the form's credentials
        raise InputError(f"Cityscapes login at {LOGIN_URL} failed: {type(e).__name__}: {e}") from None
    if r.status_code != 302:  # the server redirects after a successful login
        raise InputError(f"Cityscapes login refused for {ACCOUNT}")
    return session


def _spoiled(error: Exception) -> str | None:
    """What made a cityscapesscripts failure spoil the staged package (MD5 mismatch, HTTP 416), or None."""
    if isinstance(error, requests.HTTPError) and error.response is not None and error.response.status_code == 416:
        return "was refused by the server (HTTP 416: it cannot resume the staged file)"
    if MD5_MISMATCH in str(error):
        return "does not match the server's MD5 sum"
    return None


def _forbidden_hint(error: Exception, package: str) -> str:
    """For an HTTP 403 while downloading `package`: that the account may lack access to it; else ""."""
    if isinstance(error, requests.HTTPError) and error.response is not None and error.response.status_code == 403:
        return (f" ({ACCOUNT} may lack access to {package}: the packages it may download are listed on "
                "https://www.cityscapes-dataset.com/downloads/ once logged in)")
    return ""


def _fetch_package(package: str, staging: Path, session: requests.Session, dest: Path, attempts: int = 5) -> None:
    """Download `package` into `staging` in up to `attempts` attempts, resuming a dropped or stalled
    transfer and asking a busy server again (wait_if_busy); a staged file failing MD5/416 is removed
    (a resumed one: retried from 0)."""
    from cityscapesscripts.download.downloader import download_packages

    partial = staging / package
    what = f"cityscapes package {package}"
    attempt = 0
    while True:
        attempt += 1
        resume = partial.exists()
        log.info("%s: %s into %s", what, "resuming" if resume else "downloading", staging)
        try:
            download_packages(session=session, package_names=[package], destination_path=str(staging),
                              resume=resume)
            return
        except INTERRUPTED as e:
            if attempt >= attempts:
                raise InputError(f"{dest}: download of cityscapes package {package} still incomplete after "
                                 f"{attempts} attempts ({type(e).__name__}); {partial} is kept, run again to "
                                 "resume") from None
            log.warning("cityscapes package %s: transfer interrupted (%s); resuming", package, type(e).__name__)
        except requests.JSONDecodeError as e:  # the package list is not JSON: a redirect to the login page
            raise InputError(f"{dest}: the Cityscapes server's package list is not JSON ({e}): the login of "
                             f"{ACCOUNT} was not accepted for downloads, or has expired") from None
        except Exception as e:  # cityscapesscripts raises bare Exception (unknown package, md5 mismatch)
            if isinstance(e, requests.HTTPError) and wait_if_busy(e, attempt, attempts, what):
                continue
            reason = _spoiled(e)
            if reason is None:
                raise InputError(f"{dest}: download of {what} failed: {e}{_forbidden_hint(e, package)}") from e
            partial.unlink(missing_ok=True)
            if not resume:
                raise InputError(f"{dest}: the download of cityscapes package {package} {reason}; the staged "
                                 f"{partial} was removed, so the next run downloads it from zero") from e
            log.warning("cityscapes package %s: the resumed %s %s; removed it, downloading again from zero",
                        package, partial, reason)


def download_cityscapes_package(package: str, dest: str | Path, sha256: str | None,
                                session: requests.Session | None = None) -> Path:
    """Download one Cityscapes package to `dest` (resuming in `<dest>.part/`), checking sha256 (one
    process at a time)."""
    dest = Path(dest)
    if is_downloaded(dest, sha256):  # before the lock: a done file in a read-only folder is read as it is
        return dest
    with download_lock(dest):
        if keep_existing(dest, sha256):
            return dest
        staging = dest.with_name(dest.name + ".part")
        staging.mkdir(exist_ok=True)
        partial = staging / package
        if not (sha256 is not None and is_downloaded(partial, sha256)):
            _fetch_package(package, staging, session or cityscapes_session(), dest)
        verify_sha256(partial, sha256, f"cityscapes package {package}", name=dest)
        os.replace(partial, dest)
        shutil.rmtree(staging)
    return dest


def fetch_cityscapes_package(package: str, fetched: str | Path, sha256: str | None, verified: str | Path,
                             session: requests.Session | None = None) -> Path:
    """The fetch step of a Cityscapes package: download it to `fetched` (download_cityscapes_package, in
    `session` if given), unless the file at `verified`, where the verify step puts it, has the pinned
    sha256, or, unpinned, is there at all: a package's source never changes (reuse_verified)."""
    fetched = Path(fetched)
    if reuse_verified(Path(verified), fetched, sha256):
        return fetched
    return download_cityscapes_package(package, fetched, sha256, session)


def cityscapes_segments(instance_ids: np.ndarray, where: str) -> tuple[np.ndarray, dict[int, int], set[int]]:
    """Segment-id map, segment id -> trainId and crowd ids from an instanceIds array; a value of no
    Cityscapes label id is an InputError naming `where`, the PNG."""
    train_id = {label: t for t, label in enumerate(CITYSCAPES_LABEL_IDS)}
    ids = instance_ids.astype(np.uint32)
    categories: dict[int, int] = {}
    crowd: set[int] = set()
    for value in np.unique(ids):
        value = int(value)
        label = value // 1000 if value >= 1000 else value
        if label not in LABEL_IDS:
            raise InputError(f"{where}: value {value} (label id {label}) is not a Cityscapes label id "
                             f"(0..{LABEL_IDS[-1]}, or label id * 1000 + instance number)")
        if label not in train_id:
            ids[ids == value] = 0
            continue
        category = CITYSCAPES.by_id(train_id[label])
        if value < 1000 and category.isthing:
            crowd.add(value)
        elif value >= 1000 and not category.isthing:  # instance numbers on a stuff class: one segment
            ids[ids == value] = label
            value = label
        categories[value] = category.id
    return ids, categories, crowd


def convert_cityscapes(gtfine: str | Path, images: str | Path, split: str, out_dir: str | Path,
                       limit: int | None = None) -> int:
    """Convert one split of Cityscapes (gtFine + leftImg8bit archives or folders); returns the image count."""
    if split not in SPLITS:
        raise InputError(f"Cityscapes split {split!r}: expected one of {list(SPLITS)}")
    with Archive(gtfine) as gt, Archive(images) as im:
        annotations = gt.match(rf"(?:^|/)gtFine/{split}/[^/]+/([^/]+)_gtFine_instanceIds\.png$")
        frames = im.match(rf"(?:^|/)leftImg8bit/{split}/[^/]+/([^/]+)_leftImg8bit\.png$")
        if not annotations:
            raise InputError(f"{gtfine}: no gtFine/{split}/*/*_gtFine_instanceIds.png (is it gtFine_trainvaltest.zip?)")
        check_pairs((gtfine, annotations, "instanceIds PNG"), (images, frames, "image"))
        writer = SplitWriter(out_dir, CITYSCAPES)
        for image_id in sorted(annotations)[:limit]:
            instance_ids = gt.read_image(annotations[image_id]).astype(np.int64)
            if instance_ids.ndim != 2:
                raise InputError(f"{gtfine}:{annotations[image_id]}: expected a one-channel instanceIds PNG")
            ids, categories, crowd = cityscapes_segments(instance_ids, f"{gtfine}:{annotations[image_id]}")
            writer.add(image_id, f"{image_id}_leftImg8bit.png", im.read(frames[image_id]), ids, categories, crowd,
                       source=f"{images}:{frames[image_id]}", annotation=f"{gtfine}:{annotations[image_id]}")
        writer.finish({"source": "Cityscapes (gtFine + leftImg8bit)", "split": split})
    log.info("Cityscapes %s: %d images converted to %s", split, len(writer.images), out_dir)
    return len(writer.images)
