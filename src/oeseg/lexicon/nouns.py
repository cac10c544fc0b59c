"""Noun lists that lexicons are built from: the Tag2Text tag list (the paper's) or WordNet's nouns."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from oeseg.io import InputError
from oeseg.lexicon.lexicon import normalize_term
from oeseg.lexicon.wordnet import open_wordnet


def singular_noun(term: str) -> str | None:
    """The singular WordNet form of a noun (compounds: of their last word), the term itself when
    WordNet knows none of its words (new nouns of a tag list: "smartphone"), else None."""
    wn = open_wordnet()
    term = normalize_term(term)
    if not term:
        return None
    lemma = wn.morphy(term.replace(" ", "_"), "n")
    if lemma is not None:
        return lemma.replace("_", " ")
    head = term.rsplit(" ", 1)
    if len(head) == 2 and (last := wn.morphy(head[1], "n")) is not None:
        return f"{head[0]} {last}"
    if not any(wn.synsets(word) for word in term.split()):
        return term
    return None


def nouns_from_tags(path: str | os.PathLike) -> list[str]:
    """The nouns of a tag list (one tag per line): lower case, singular, deduplicated, order kept."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: tag list not found") from None
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not a UTF-8 text file ({e.reason} at byte {e.start})") from None
    nouns: dict[str, None] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        if "\t" in line or any(not (c.isprintable()) for c in line):
            raise InputError(f"{path}:{lineno}: expected one tag per line, got {line[:60]!r}")
        if (noun := singular_noun(line)) is not None:
            nouns.setdefault(noun)
    if not nouns:
        raise InputError(f"{path}: no nouns found (expected one tag per line)")
    return list(nouns)


def wordnet_nouns() -> list[str]:
    """Every WordNet noun lemma (lower case, multi-word joined by spaces): the offline noun list."""
    nouns: dict[str, None] = {}
    for lemma in open_wordnet().all_lemma_names(pos="n"):
        nouns.setdefault(normalize_term(lemma))
    return list(nouns)


def nouns_sha256(nouns: list[str]) -> str:
    """The sha256 of a noun list as `nouns.txt` holds it (one noun per line): builders record it."""
    return hashlib.sha256("".join(f"{n}\n" for n in nouns).encode("utf-8")).hexdigest()
