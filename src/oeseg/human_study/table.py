"""Study tables: descriptions with a reference category and both mappings, and their accuracies.

A study is a list of StudyRow: a description, its reference category (BACKGROUND = none of the
categories), the Sentence-BERT mapping and the lexical mapping at each level. Study tables are CSV
files (`id, description, reference, sbert, exact, synonym, hyponym, meronym`, category ids, -1 for
background / none), made from annotations (`oeseg.human_study.agreement`), from the synthetic
generator's knowledge (the demo) or from the paper's published user study
(`oeseg.human_study.published`); Figures 1, 3 and 8 plot them.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass

from oeseg.data.vocabularies import Vocabulary
from oeseg.io import InputError, atomic_write_text, read_csv_rows
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
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(STUDY_FIELDS)
    for r in rows:
        w.writerow([r.id, r.description, r.reference, r.sbert] + [r.lexical[lv] for lv in LEVELS])
    atomic_write_text(path, buf.getvalue())


def read_study(path: str | os.PathLike) -> list[StudyRow]:
    """Read a study table; a bad row names the file and line."""
    rows = []
    for lineno, rec in read_csv_rows(path, STUDY_FIELDS)[1]:
        try:
            rows.append(StudyRow(rec["id"], rec["description"], int(rec["reference"]), int(rec["sbert"]),
                                 {lv: int(rec[lv]) for lv in LEVELS}))
        except ValueError:
            raise InputError(f"{path}:{lineno}: category ids must be integers") from None
    return rows


def _group_of(row: StudyRow, vocabulary: Vocabulary) -> str | None:
    if row.reference == BACKGROUND:
        return None
    return "things" if vocabulary.by_id(row.reference).isthing else "stuff"


def _percent(hits: int, n: int) -> float | None:
    return 100.0 * hits / n if n else None


def study_accuracy(rows: list[StudyRow], vocabulary: Vocabulary) -> dict:
    """Accuracies (%) against the reference labels.

    `sbert[group]`, `lexical[level][group]` for groups all/things/stuff (things/stuff by the
    reference category; "none" references count in `all` only); `differ[level]`: on the rows where
    the lexical mapping at that level and Sentence-BERT differ, `n` and both accuracies."""
    groups = {"all": rows, "things": [], "stuff": []}
    for r in rows:
        g = _group_of(r, vocabulary)
        if g:
            groups[g].append(r)
    out: dict = {"n": {g: len(v) for g, v in groups.items()},
                 "sbert": {g: _percent(sum(r.sbert == r.reference for r in v), len(v)) for g, v in groups.items()},
                 "lexical": {lv: {g: _percent(sum(r.lexical[lv] == r.reference for r in v), len(v))
                                  for g, v in groups.items()} for lv in LEVELS},
                 "differ": {}}
    for lv in LEVELS:
        diff = [r for r in rows if r.lexical[lv] != r.sbert]
        out["differ"][lv] = {"n": len(diff),
                             "sbert": _percent(sum(r.sbert == r.reference for r in diff), len(diff)),
                             "lexical": _percent(sum(r.lexical[lv] == r.reference for r in diff), len(diff))}
    return out

