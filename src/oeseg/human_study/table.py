"""Study tables: descriptions with a reference category and both mappings, and their accuracies.

A study is a list of StudyRow: a description, its reference category (BACKGROUND = none of the
categories), the Sentence-BERT mapping and the lexical mapping at each level, twice: with the
reference label as the ground-truth priority (the paper's Figure 3(a) and (b), Figure 8) and with
the region's ground-truth category as the priority (Figure 3(c)), the latter absent where the source
has no region labels (the paper's published study). Study tables are CSV files
(`id, description, reference, sbert, exact, synonym, hyponym, meronym, region_gt_exact, ...,
region_gt_meronym`, category ids, -1 for background / none; the `region_gt_<level>` columns empty
where the source has no region labels), made from annotations (`oeseg.human_study.agreement`), from
the synthetic generator's knowledge (the demo) or from the paper's published user study
(`oeseg.human_study.published`); Figures 1, 3 and 8 plot them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from oeseg.data.vocabularies import Vocabulary
from oeseg.io import InputError, atomic_write_text, csv_text, read_csv_rows
from oeseg.lexicon.lexicon import LEVELS
from oeseg.mapping import BACKGROUND

#: the columns of the lexical mapping with the region's ground-truth category as the priority
REGION_GT_FIELDS = tuple(f"region_gt_{level}" for level in LEVELS)
STUDY_FIELDS = ("id", "description", "reference", "sbert") + LEVELS + REGION_GT_FIELDS


GROUPS = ("all", "things", "stuff")


@dataclass(frozen=True)
class StudyRow:
    """One description with its reference category and both mappings (category ids).

    `lexical`: the lexical mapping per level with the reference label as the ground-truth priority
    (none for a "none" reference); `lexical_region_gt`: with the region's ground-truth category as
    the priority, None where the source has no region labels."""

    id: str
    description: str
    reference: int
    sbert: int
    lexical: dict[str, int]
    lexical_region_gt: dict[str, int] | None


def write_study(path: str | os.PathLike, rows: list[StudyRow]) -> None:
    """Write a study table (CSV) atomically."""
    atomic_write_text(path, csv_text(STUDY_FIELDS, (
        [r.id, r.description, r.reference, r.sbert] + [r.lexical[lv] for lv in LEVELS]
        + ([""] * len(LEVELS) if r.lexical_region_gt is None else [r.lexical_region_gt[lv] for lv in LEVELS])
        for r in rows)))


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
    """Read a study table of a vocabulary; a bad row names the file, line and column.

    The `region_gt_<level>` columns are all empty (no region labels) or all ids, in every row alike;
    a table without them (of an older format, whose level columns may hold either mapping) is refused."""
    header, records = read_csv_rows(path, STUDY_FIELDS[:-len(REGION_GT_FIELDS)])
    if not set(REGION_GT_FIELDS) <= set(header):
        raise InputError(f"{path}:1: no columns {list(REGION_GT_FIELDS)} (the lexical mapping with the region's "
                         "ground-truth priority): a study table of an older format, whose level columns may "
                         "hold that mapping rather than the one with the reference label as the priority; make "
                         "it again (snakemake --forcerun human_study_table, or paper_study_table and "
                         "paper_study_ours)")
    rows = []
    for lineno, rec in records:
        ids = category_ids(path, lineno, rec, ("reference", "sbert") + LEVELS, vocabulary)
        empty = [rec[c] == "" for c in REGION_GT_FIELDS]
        if any(empty) != all(empty) or (rows and all(empty) != (rows[0].lexical_region_gt is None)):
            raise InputError(f"{path}:{lineno}: the columns {list(REGION_GT_FIELDS)} are empty in every row "
                             "(the source has no region labels) or in none")
        region_gt = None if all(empty) else category_ids(path, lineno, rec, REGION_GT_FIELDS, vocabulary)
        rows.append(StudyRow(rec["id"], rec["description"], ids["reference"], ids["sbert"],
                             {lv: ids[lv] for lv in LEVELS},
                             None if region_gt is None else {lv: region_gt[f"region_gt_{lv}"] for lv in LEVELS}))
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

    `sbert[group]`, `lexical[level][group]` (the lexical mapping with the reference label as the
    priority: Figure 3(a)) and `lexical_region_gt[level][group]` (with the region's ground truth as
    the priority: Figure 3(c); None where a row has no region labels) for groups all/things/stuff
    (things by a thing reference category; stuff: a stuff one or "none"); `differ`: on one subset,
    the rows where the lexical mapping at the meronym level (the cumulative last level) and
    Sentence-BERT differ, its `n`, Sentence-BERT's accuracy and the lexical mapping's at each level
    (`lexical[level]`)."""
    groups: dict[str, list[StudyRow]] = {"all": rows, "things": [], "stuff": []}
    for r in rows:
        groups[_group_of(r, vocabulary)].append(r)
    diff = [r for r in rows if r.lexical["meronym"] != r.sbert]

    def per_level(mapped: Callable[[StudyRow], dict[str, int]]) -> dict:
        """The accuracy of a lexical mapping of each row at each level, by group."""
        return {lv: {g: _percent(sum(mapped(r)[lv] == r.reference for r in v), len(v)) for g, v in groups.items()}
                for lv in LEVELS}

    return {"n": {g: len(v) for g, v in groups.items()},
            "sbert": {g: _percent(sum(r.sbert == r.reference for r in v), len(v)) for g, v in groups.items()},
            "lexical": per_level(lambda r: r.lexical),
            "lexical_region_gt": (None if any(r.lexical_region_gt is None for r in rows)
                                  else per_level(lambda r: r.lexical_region_gt)),
            "differ": {"n": len(diff), "sbert": _percent(sum(r.sbert == r.reference for r in diff), len(diff)),
                       "lexical": {lv: _percent(sum(r.lexical[lv] == r.reference for r in diff), len(diff))
                                   for lv in LEVELS}}}
