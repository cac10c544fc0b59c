"""Noun lists that lexicons are built from: tag lists' (Tag2Text's, RAM's: the paper's) or WordNet's nouns."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from oeseg.data.vocabularies import Vocabulary, get_vocabulary, normalize_term
from oeseg.io import InputError, atomic_write_text, read_text, text_lines
from oeseg.lexicon.wordnet import open_wordnet

log = logging.getLogger(__name__)


def _check_one_term(line: str, where: str, what: str) -> None:
    """Raise InputError naming `where` (file:line) for a line that is not one `what` (a tab-separated
    row, a control character): each line would otherwise be taken whole, as one noun."""
    if "\t" in line or any(not c.isprintable() for c in line):
        raise InputError(f"{where}: expected one {what} per line, got {line[:60]!r}")


def singular_noun(term: str) -> str | None:
    """The singular WordNet form of a noun (compounds: of their last word), the term itself when
    WordNet lacks its last word and that is no function word (new nouns of a tag list:
    "smartphone", "mountain biker"), else None ("sit on", "beautiful")."""
    from spacy.lang.en.stop_words import STOP_WORDS  # here: spaCy's package loads torch

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
    if not wn.synsets(head[-1]) and head[-1] not in STOP_WORDS:
        return term
    return None


def noun_list_entry(tag: str, only_nouns: bool = True) -> str | None:
    """A tag as a noun list holds it: its singular noun form (`singular_noun`); where it has none,
    with `only_nouns` false the tag in lower case ("sit on", "cloudy"), else None."""
    noun = singular_noun(tag)
    if noun is None and not only_nouns:
        return normalize_term(tag) or None
    return noun


def nouns_from_tags(*paths: str | os.PathLike, only_nouns: bool = True) -> list[str]:
    """The entries (`noun_list_entry`) of one or more tag lists (one tag per line), in the order of
    the lists, each once."""
    if not paths:
        raise InputError("no tag list given")
    nouns: dict[str, None] = {}
    for path in map(Path, paths):
        found = 0
        for lineno, line in enumerate(text_lines(read_text(path, "tag list")), start=1):
            _check_one_term(line, f"{path}:{lineno}", "tag")
            if (entry := noun_list_entry(line, only_nouns)) is not None:
                nouns.setdefault(entry)
                found += 1
        if not found:
            raise InputError(f"{path}: no {'nouns' if only_nouns else 'tags'} found (expected one tag per line)")
    return list(nouns)


def noun_tag_counts() -> dict[str, int]:
    """WordNet's sense tag counts (`cntlist.rev`) summed over each noun lemma's senses."""
    counts: dict[str, int] = {}
    with open_wordnet().open("cntlist.rev") as f:
        for line in f:
            key, _, count = line.split()
            lemma, _, lex_sense = key.partition("%")
            if lex_sense.startswith("1:"):  # synset type 1: a noun sense
                counts[lemma] = counts.get(lemma, 0) + int(count)
    return counts


def wordnet_nouns(min_count: int = 0) -> list[str]:
    """WordNet noun lemmas (lower case, multi-word joined by spaces): the offline noun list; with
    `min_count` > 0 only those whose senses are tagged at least that often in WordNet's sense counts."""
    counts = noun_tag_counts() if min_count else {}
    nouns: dict[str, None] = {}
    for lemma in open_wordnet().all_lemma_names(pos="n"):
        if min_count and counts.get(lemma, 0) < min_count:
            continue
        nouns.setdefault(normalize_term(lemma))
    return list(nouns)


def read_nouns(path: str | os.PathLike) -> list[str]:
    """Read `nouns.txt` (one noun per line; a line with a tab or a control character names the file and line)."""
    nouns = []
    for lineno, line in enumerate(text_lines(read_text(path, "noun list")), start=1):
        _check_one_term(noun := line.strip(), f"{path}:{lineno}", "noun")
        if noun:
            nouns.append(noun)
    if not nouns:
        raise InputError(f"{path}: empty noun list")
    return nouns


#: the offline default's `nouns.min_wordnet_count` (config.yaml's; `oeseg map` without a lexicon)
OFFLINE_MIN_WORDNET_COUNT = 3


def with_category_names(nouns: list[str], vocabularies: Sequence[Vocabulary]) -> tuple[list[str], list[str]]:
    """The nouns followed by the category names of `vocabularies` they lack (each comma-separated
    name), and those added."""
    known = set(nouns)
    added = list(dict.fromkeys(n for v in vocabularies for c in v for n in c.names if n not in known))
    return [*nouns, *added], added


def offline_nouns(vocabulary: Vocabulary) -> list[str]:
    """The offline default's noun list for `vocabulary`: WordNet's nouns tagged at least
    OFFLINE_MIN_WORDNET_COUNT times, then the vocabulary's category names they lack."""
    return with_category_names(wordnet_nouns(OFFLINE_MIN_WORDNET_COUNT), [vocabulary])[0]


def make_noun_list(source: str, tag_lists: Sequence[str | os.PathLike] = (), min_wordnet_count: int = 0,
                   vocabularies: Sequence[str] = (), only_nouns: bool = True) -> list[str]:
    """The noun list of a `nouns` config section: from its source, "wordnet" or "tag2text" (the
    entries of the tag list files, in their order: `nouns_from_tags`), followed by the category
    names of `vocabularies` that it lacks (each comma-separated name)."""
    if source == "wordnet":
        nouns = wordnet_nouns(min_wordnet_count)
    elif source == "tag2text":
        if not tag_lists:
            raise InputError("nouns.source tag2text needs the tag list (nouns.tag_list)")
        nouns = nouns_from_tags(*tag_lists, only_nouns=only_nouns)
    else:
        raise InputError(f"nouns.source: {source!r} is not one of wordnet, tag2text")
    nouns, added = with_category_names(nouns, [get_vocabulary(v) for v in vocabularies])
    if added:
        log.info("category names added to the nouns: %s", ", ".join(added))
    return nouns


def write_noun_list(output: str | os.PathLike, **settings: Any) -> list[str]:
    """Write `nouns.txt`, the noun list of `make_noun_list(**settings)`, and return it."""
    nouns = make_noun_list(**settings)
    atomic_write_text(output, "".join(f"{n}\n" for n in nouns))
    log.info("%d nouns from %s -> %s", len(nouns), settings["source"], output)
    return nouns
