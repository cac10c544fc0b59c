"""Read dataset archives in place: a zip, a tar (any compression) or an already extracted folder."""

from __future__ import annotations

import io
import re
import tarfile
import zipfile
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from oeseg.data.download import fetched_twin
from oeseg.data.panoptic import UNREADABLE_IMAGE
from oeseg.io import InputError


#: what reading a damaged or truncated archive raises (a bad CRC, a cut stream, a short tar)
DAMAGED = (zipfile.BadZipFile, tarfile.TarError, zlib.error, EOFError, OSError)


def download_again(path: Path) -> str:
    """What to delete to download a damaged archive again: `path`, and the fetched file it is a hard
    link of (`fetched_twin`), without which the workflow would link the same bytes again."""
    twin = fetched_twin(path)
    return f"delete {path}{f' and {twin}' if twin else ''} to download it again"


def _starts_as_zip(path: Path) -> bool:
    """Whether the file begins with a zip's first member header (b"PK\\x03\\x04")."""
    with open(path, "rb") as f:
        return f.read(4) == b"PK\x03\x04"


class Archive:
    """The members of a zip, tar or folder by their '/'-separated names; `read` returns bytes."""

    def __init__(self, path: str | Path) -> None:
        """Open the archive (or folder) at `path` for reading."""
        self.path = Path(path)
        self._zip: zipfile.ZipFile | None = None
        self._tar: tarfile.TarFile | None = None
        if self.path.is_dir():
            self.names = sorted(str(p.relative_to(self.path)).replace("\\", "/")
                                for p in self.path.rglob("*") if p.is_file())
        elif zipfile.is_zipfile(self.path):
            self._zip = zipfile.ZipFile(self.path)
            self.names = sorted(n for n in self._zip.namelist() if not n.endswith("/"))
        elif self.path.is_file() and tarfile.is_tarfile(self.path):
            try:
                self._tar = tarfile.open(self.path)
                self._members = {m.name: m for m in self._tar.getmembers() if m.isfile()}
            except DAMAGED as e:
                raise InputError(f"{self.path}: a damaged or truncated tar archive ({e}); "
                                 f"{download_again(self.path)}") from None
            self.names = sorted(self._members)
        elif not self.path.exists():
            raise InputError(f"{self.path}: no such archive or folder")
        elif _starts_as_zip(self.path):  # a zip's table of members is at its end: a cut one lacks it
            raise InputError(f"{self.path}: a damaged or truncated zip archive (its table of members, at the "
                             f"end, is missing or unreadable: cut short?); {download_again(self.path)}")
        else:
            raise InputError(f"{self.path}: not a zip or tar archive nor a folder")

    def read(self, name: str) -> bytes:
        """The bytes of one member; InputError naming archive and member if it cannot be read."""
        try:
            if self._zip is not None:
                return self._zip.read(name)
            if self._tar is not None:
                return self._tar.extractfile(self._members[name]).read()
            return (self.path / name).read_bytes()
        except DAMAGED as e:
            if self.path.is_dir():
                raise InputError(f"{self.path}:{name}: cannot be read ({e})") from None
            raise InputError(f"{self.path}:{name}: cannot be read, the archive is damaged or truncated ({e}); "
                             f"{download_again(self.path)}") from None

    def read_image(self, name: str) -> np.ndarray:
        """One member decoded as an image array; InputError naming archive and member if it is not one."""
        try:
            with Image.open(io.BytesIO(self.read(name))) as im:
                return np.asarray(im)
        except UNREADABLE_IMAGE as e:
            raise InputError(f"{self.path}:{name}: not a readable image ({e})") from None

    def match(self, pattern: str) -> dict[str, str]:
        """{first group of `pattern`: member name} for the members whose name the regex matches; two
        members of one group (a nested second copy) are an InputError naming both."""
        regex = re.compile(pattern)
        out: dict[str, str] = {}
        for name in self.names:
            m = regex.search(name)
            if m:
                if m.group(1) in out:
                    raise InputError(f"{self.path}: {out[m.group(1)]} and {name} are both {m.group(1)}; "
                                     "which one is meant? (remove the other)")
                out[m.group(1)] = name
        return out

    def close(self) -> None:
        """Close the underlying archive file."""
        for f in (self._zip, self._tar):
            if f is not None:
                f.close()

    def __enter__(self) -> "Archive":
        """This archive, open until the `with` block ends."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the archive at the end of a `with` block."""
        self.close()
