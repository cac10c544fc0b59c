"""WordNet 3.0 from the system's database files, and the WordNet lexicon builder (the offline default).

WordNet comes from Debian's `wordnet-base` and `wordnet-sense-index` (/usr/share/wordnet). nltk's
WordNetCorpusReader also needs the `lexnames` file (lexicographer file numbers -> names), which
Debian does not ship as data: `open_wordnet` reads the database folder as it is
and serves `lexnames` from the lexnames(5WN) manual page, or, without it, from the file numbers
the data files use. Nothing is downloaded.
"""

from __future__ import annotations

import functools
import gzip
import io
import logging
import os
import re
import warnings
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from oeseg.data.vocabularies import Vocabulary
from oeseg.io import InputError, atomic_write_text
from oeseg.lexicon.lexicon import Lexicon, LexiconEntry, normalize_term

log = logging.getLogger(__name__)

#: Where Debian installs the WordNet database; OESEG_WORDNET_DIR overrides it.
WORDNET_DIR = Path(os.environ.get("OESEG_WORDNET_DIR", "/usr/share/wordnet"))
#: The lexnames(5WN) manual page of wordnet-base: the documented file numbers and names.
LEXNAMES_MANPAGE = Path("/usr/share/man/man5/lexnames.5WN.gz")
#: Database files the reader opens (besides `lexnames`, which is written here).
_DATABASE_FILES = ("cntlist.rev", "index.sense", *(f"{kind}.{pos}" for kind in ("index", "data")
                   for pos in ("noun", "verb", "adj", "adv")), "noun.exc", "verb.exc", "adj.exc", "adv.exc")
_POS_NUMBERS = {"n": 1, "v": 2, "a": 3, "s": 3, "r": 4}


def _lexnames_from_manpage(manpage: Path) -> str | None:
    """The `lexnames` file text from the table of the lexnames(5WN) page, or None if absent."""
    if not manpage.exists():
        return None
    with gzip.open(manpage, "rt", encoding="utf-8", errors="replace") as f:
        rows = re.findall(r"^(\d\d)\t(\w+)\.(\w+)\s*\t", f.read(), flags=re.MULTILINE)
    pos_of = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}
    if not rows or [int(n) for n, _, _ in rows] != list(range(len(rows))):
        return None
    return "".join(f"{n}\t{pos}.{name}\t{pos_of[pos]}\n" for n, pos, name in rows)


def _lexnames_from_data(source: Path) -> str:
    """`lexnames` text with placeholder names (`noun.06`) for every file number the data files use."""
    numbers: dict[int, int] = {}
    for pos in ("noun", "verb", "adj", "adv"):
        with open(source / f"data.{pos}", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("  "):
                    continue
                fields = line.split(" ", 3)
                numbers.setdefault(int(fields[1]), _POS_NUMBERS[fields[2]])
    names = {1: "noun", 2: "verb", 3: "adj", 4: "adv"}
    return "".join(f"{n:02d}\t{names[numbers.get(n, 1)]}.{n:02d}\t{numbers.get(n, 1)}\n"
                   for n in range(max(numbers) + 1))


def _missing_files(source: Path) -> list[str]:
    return [name for name in _DATABASE_FILES if not (source / name).exists()]


@functools.lru_cache(maxsize=None)
def open_wordnet(source: str | os.PathLike = WORDNET_DIR):
    """nltk's WordNet reader over the system's WordNet 3.0 database (one shared instance per folder)."""
    import nltk.data
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    source = Path(source).resolve()
    if missing := _missing_files(source):
        raise InputError(f"{source}: WordNet database incomplete, missing {', '.join(missing)} "
                         "(install the Debian packages wordnet-base and wordnet-sense-index)")
    lexnames = None if (source / "lexnames").exists() else (
        _lexnames_from_manpage(LEXNAMES_MANPAGE) or _lexnames_from_data(source))

    class SystemWordNetReader(WordNetCorpusReader):
        """The reader, with `lexnames` served from memory when the database folder lacks it."""

        def open(self, fileid):
            if fileid == "lexnames" and lexnames is not None:
                return io.StringIO(lexnames)
            return super().open(fileid)

        def map_wn(self, version="wordnet"):
            return None  # the mapping to nltk's own WordNet data only serves multilingual lookups

    if str(source) not in nltk.data.path:  # nltk's path guard reads only from its data folders
        nltk.data.path.append(str(source))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "multilingual functions are not available": English only
        return SystemWordNetReader(str(source), None)
