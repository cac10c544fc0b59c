"""The lexicon file format (docs/formats.md, "Lexicon") and its reader for the paper's GPT-4 files."""

from __future__ import annotations

import hashlib
import json
import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from oeseg.data.vocabularies import Vocabulary, name_terms, normalize_term
from oeseg.io import InputError, atomic_write_json, check_known_fields, check_unicode, is_integer, read_json

#: Lexical levels, from the strictest to the most flexible; used cumulatively.
LEVELS: tuple[str, ...] = ("exact", "synonym", "hyponym", "meronym")

#: Field names of the paper's published GPT-4 lexicons (and of its study's `our_mapping`) for each of
#: our relation levels.
PAPER_FIELDS = {"exact": "exact", "synonym": "synonyms", "hyponym": "hyponyms", "meronym": "meronyms"}
#: The paper's further field, a fifth level that the protocol does not score.
_PAPER_UNSCORED = "semantically_related"


def nouns_sha256(nouns: list[str]) -> str:
    """The sha256 of a noun list as `nouns.txt` holds it (one noun per line): builders record it."""
    return hashlib.sha256("".join(f"{n}\n" for n in nouns).encode("utf-8")).hexdigest()


@dataclass
class LexiconEntry:
    """The related terms of one category; `exact` holds the category's own names."""

    id: int
    name: str
    exact: list[str] = field(default_factory=list)
    synonym: list[str] = field(default_factory=list)
    hyponym: list[str] = field(default_factory=list)
    meronym: list[str] = field(default_factory=list)

    def terms(self, level: str) -> list[str]:
        """The terms of exactly this level."""
        return getattr(self, level)


@dataclass
class Lexicon:
    """One lexicon per vocabulary, with how it was built."""

    vocabulary: str
    builder: dict
    entries: list[LexiconEntry]

    def term_index(self) -> dict[str, dict[int, int]]:
        """term -> {category id: index of the strongest level relating them}."""
        index: dict[str, dict[int, int]] = defaultdict(dict)
        for e in self.entries:
            for li, level in enumerate(LEVELS):
                for t in e.terms(level):
                    prev = index[t].get(e.id)
                    if prev is None or li < prev:
                        index[t][e.id] = li
        return dict(index)

    def to_json(self) -> dict:
        """The lexicon as the JSON object `load_lexicon` reads (docs/formats.md)."""
        return {
            "vocabulary": self.vocabulary,
            "builder": self.builder,
            "categories": [{"id": e.id, "name": e.name, "exact": e.exact, "synonym": e.synonym,
                            "hyponym": e.hyponym, "meronym": e.meronym} for e in self.entries],
        }

    def save(self, path: str | os.PathLike) -> None:
        """Write the lexicon JSON atomically."""
        atomic_write_json(path, self.to_json())


def check_lexicon(lexicon: Lexicon, vocabulary: Vocabulary, where: str | os.PathLike, *,
                  larger: bool = False) -> None:
    """Raise InputError (naming `where`) unless the lexicon is one of this vocabulary: every category
    id known, none twice, none missing, each category under the vocabulary's own name(s), the same vocabulary name.
    With `larger`, a lexicon of a larger vocabulary with the same ids serves (ADE20K's for the demo's
    subset): its other ids are left out, the shared ones must still carry the vocabulary's names."""
    if not larger and lexicon.vocabulary != vocabulary.name:
        raise InputError(f"{where}: a lexicon of vocabulary {lexicon.vocabulary!r}, not of {vocabulary.name!r} (a "
                         "dataset's vocabulary is named by its panoptic.json's info.vocabulary; without one, by "
                         "the built-in vocabulary of the same categories, else by the dataset's folder)")
    by_id = {c.id: c for c in vocabulary}
    seen: set[int] = set()
    for e in lexicon.entries:
        if e.id not in by_id and not larger:
            raise InputError(f"{where}: category id {e.id} is not in the dataset's vocabulary "
                             f"{vocabulary.name!r}: a lexicon of another vocabulary?")
        if e.id in seen:
            raise InputError(f"{where}: category id {e.id} is listed twice")
        seen.add(e.id)
    if not seen & by_id.keys():
        raise InputError(f"{where}: no category id of vocabulary {vocabulary.name!r}")
    absent = [c for c in vocabulary if c.id not in seen]
    if absent:  # its regions would map to background even where a description names the category
        listed = ", ".join(f"{c.id} {c.name!r}" for c in absent[:5]) + (", ..." if len(absent) > 5 else "")
        raise InputError(f"{where}: {len(absent)} category(ies) of vocabulary {vocabulary.name!r} missing "
                         f"({listed}): a lexicon lists every category, with empty levels where it knows no terms")
    for e in lexicon.entries:
        expected = by_id[e.id].name if e.id in by_id else None
        if expected is not None and name_terms(e.name) != name_terms(expected):
            raise InputError(f"{where}: category id {e.id} is named {e.name!r}, in vocabulary "
                             f"{vocabulary.name!r} it is {expected!r}")


def load_checked_lexicon(path: str | os.PathLike, vocabulary: Vocabulary, *, larger: bool = False) -> Lexicon:
    """The lexicon at `path` (`load_lexicon`), checked to be one of `vocabulary` (`check_lexicon`):
    every reader that maps with a lexicon takes it so, since a lexicon of another vocabulary
    whose ids fit would map to the wrong categories without an error."""
    lexicon = load_lexicon(path, vocabulary)
    check_lexicon(lexicon, vocabulary, path, larger=larger)
    return lexicon


def _terms(value: object, where: str) -> list[str]:
    """The normalised terms of a JSON list of strings, once each; InputError names `where` otherwise."""
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise InputError(f"{where}: expected a list of strings")
    out: list[str] = []
    for i, t in enumerate(value):
        check_unicode(t, f"{where}[{i}]", "the term")
        n = normalize_term(t)
        if n and n not in out:
            out.append(n)
    return out


def load_lexicon(path: str | os.PathLike, vocabulary: Vocabulary | None = None) -> Lexicon:
    """Read a lexicon in our format or in the paper's GPT-4 format (keyed by category name)."""
    path = Path(path)
    obj = read_json(path)
    if isinstance(obj, dict) and "categories" in obj:
        categories, builder = obj["categories"], obj.get("builder", {})
        if not isinstance(categories, list):
            raise InputError(f"{path}: 'categories' must be a list, got {type(categories).__name__}")
        if not isinstance(builder, dict):
            raise InputError(f"{path}: 'builder' must be an object, got {type(builder).__name__}")
        if not isinstance(obj.get("vocabulary", ""), str):
            raise InputError(f"{path}: 'vocabulary' must be a string, got {type(obj['vocabulary']).__name__}")
        if not categories:
            raise InputError(f"{path}: 'categories' is empty: a lexicon with no categories")
        check_known_fields(obj, ("vocabulary", "builder", "categories"), str(path))
        entries = []
        for i, c in enumerate(categories):
            where = f"{path}: categories[{i}]"
            check_known_fields(c, ("id", "name", *LEVELS), where)
            if not isinstance(c, dict) or "id" not in c or "name" not in c:
                raise InputError(f"{where}: needs 'id' and 'name'")
            if not is_integer(c["id"]):  # 1.9, true or "1" would silently become another category's id
                raise InputError(f"{where}.id: must be an integer, got {c['id']!r}")
            if not isinstance(c["name"], str):  # str() would make None or ["car"] a name no category has
                raise InputError(f"{where}.name: must be a string, got {c['name']!r}")
            cid, name = c["id"], c["name"]
            exact = _terms(c.get("exact", []), f"{where}.exact")
            for term in name_terms(name):  # the names missing from `exact` after its terms
                if term not in exact:
                    exact.append(term)
            entries.append(LexiconEntry(cid, name, exact, *(
                _terms(c.get(level, []), f"{where}.{level}") for level in LEVELS[1:])))
        return Lexicon(obj.get("vocabulary", vocabulary.name if vocabulary else path.stem), dict(builder), entries)
    if obj == {}:
        raise InputError(f"{path}: an empty JSON object: a lexicon with no categories")
    if isinstance(obj, dict) and any(isinstance(v, dict) and "id" in v for v in obj.values()):
        entries = []
        for name, c in obj.items():
            where = f"{path}: [{name!r}]"
            if not isinstance(c, dict) or "id" not in c:  # in a paper lexicon: its entry is named
                raise InputError(f"{where}: a GPT-4 lexicon's entry is an object with 'id' and the levels "
                                 f"({', '.join(PAPER_FIELDS.values())}), got {json.dumps(c)[:60]}")
            check_known_fields(c, ("id", *PAPER_FIELDS.values(), _PAPER_UNSCORED), where)
            fields = {level: _terms(c.get(key, []), f"{where}.{key}") for level, key in PAPER_FIELDS.items()}
            # the names missing from `exact` go before its terms, each one in front (so in reverse order):
            # the converted lexicon's file keeps that order
            for term in name_terms(name):
                if term not in fields["exact"]:
                    fields["exact"].insert(0, term)
            if not is_integer(c["id"]):
                raise InputError(f"{where}.id: must be an integer, got {c['id']!r}")
            entries.append(LexiconEntry(c["id"], name, **fields))
        entries.sort(key=lambda e: e.id)
        vocab_name = vocabulary.name if vocabulary else path.stem
        return Lexicon(vocab_name, {"kind": "paper", "source": path.name}, entries)
    raise InputError(f"{path}: neither an oeseg lexicon (with 'categories') nor a paper GPT-4 lexicon")
