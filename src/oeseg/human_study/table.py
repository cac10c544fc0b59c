"""Study tables: descriptions with a reference category and both mappings, and their accuracies.

A study is a list of StudyRow: a description, its reference category (BACKGROUND = none of the
categories), the Sentence-BERT mapping and the lexical mapping at each level. Study tables are CSV
files (`id, description, reference, sbert, exact, synonym, hyponym, meronym`, category ids, -1 for
background / none), made from annotations (`oeseg.human_study.agreement`), from the synthetic
generator's knowledge (the demo) or from the paper's published user study
(`oeseg.human_study.published`); Figures 1, 3 and 8 plot them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from oeseg.data.vocabularies import Vocabulary
from oeseg.io import InputError, atomic_write_text, csv_text, read_csv_rows
from oeseg.lexicon.lexicon import LEVELS
from oeseg.mapping import BACKGROUND

STUDY_FIELDS = ("id", "description", "reference", "sbert") + LEVELS


GROUPS = ("all", "things", "stuff")


@dataclass(frozen=True)
class StudyRow:
    """One description with its reference category and both mappings (category ids)."""

    id: str
    description: str
    reference: int
    sbert: int
    lexical: dict[str, int]


def write_study(path: str | os.PathLike, rows: list[StudyRow]) -> None:
    """Write a study table (CSV) atomically."""
    atomic_write_text(path, csv_text(STUDY_FIELDS, (
        [r.id, r.description, r.reference, r.sbert] + [r.lexical[lv] for lv in LEVELS] for r in rows)))


def category_ids(path: str | os.PathLike, lineno: int, record: dict[str, str], columns: Sequence[str],
                 vocabulary: Vocabulary) -> dict[str, int]:
    """The category ids of a study CSV row's `columns`, each an id of `vocabulary` or BACKGROUND
    (-1: none); otherwise an InputError naming path:line:column."""
    known = {c.id for c in vocabulary} | {BACKGROUND}
    ids = {}
    for column in columns:
        try:
            ids[column] = int(record[column])
        except ValueError:
            raise InputError(f"{path}:{lineno}:{column}: category ids must be integers, not "
                             f"{record[column]!r}") from None
        if ids[column] not in known:
            raise InputError(f"{path}:{lineno}:{column}: category id {ids[column]} is not in vocabulary "
                             f"{vocabulary.name} (nor {BACKGROUND}: none)")
    return ids


def read_study(path: str | os.PathLike, vocabulary: Vocabulary) -> list[StudyRow]:
    """Read a study table of a vocabulary; a bad row names the file, line and column."""
    rows = []
    for lineno, rec in read_csv_rows(path, STUDY_FIELDS)[1]:
        ids = category_ids(path, lineno, rec, ("reference", "sbert") + LEVELS, vocabulary)
        rows.append(StudyRow(rec["id"], rec["description"], ids["reference"], ids["sbert"],
                             {lv: ids[lv] for lv in LEVELS}))
    return rows


def _group_of(row: StudyRow, vocabulary: Vocabulary) -> str:
    """`things` for a thing reference; `stuff` for a stuff one and for "none" (no category), the
    grouping under which the published study gives the paper's Sentence-BERT accuracy on stuff."""
    if row.reference != BACKGROUND and vocabulary.by_id(row.reference).isthing:
        return "things"
    return "stuff"


def _percent(hits: int, n: int) -> float | None:
    """hits in percent of n, None when n is 0."""
    return 100.0 * hits / n if n else None


def study_accuracy(rows: list[StudyRow], vocabulary: Vocabulary) -> dict:
    """Accuracies (%) against the reference labels.

    `sbert[group]`, `lexical[level][group]` for groups all/things/stuff (things by a thing
    reference category; stuff: a stuff one or "none"); `differ`: on one subset, the rows where
    the lexical mapping at the meronym level (the cumulative last level) and Sentence-BERT differ, its `n`,
    Sentence-BERT's accuracy and the lexical mapping's at each level (`lexical[level]`)."""
    groups: dict[str, list[StudyRow]] = {"all": rows, "things": [], "stuff": []}
    for r in rows:
        groups[_group_of(r, vocabulary)].append(r)
    diff = [r for r in rows if r.lexical["meronym"] != r.sbert]
    return {"n": {g: len(v) for g, v in groups.items()},
            "sbert": {g: _percent(sum(r.sbert == r.reference for r in v), len(v)) for g, v in groups.items()},
            "lexical": {lv: {g: _percent(sum(r.lexical[lv] == r.reference for r in v), len(v))
                             for g, v in groups.items()} for lv in LEVELS},
            "differ": {"n": len(diff), "sbert": _percent(sum(r.sbert == r.reference for r in diff), len(diff)),
                       "lexical": {lv: _percent(sum(r.lexical[lv] == r.reference for r in diff), len(diff))
                                   for lv in LEVELS}}}

