"""The paper's published human study (Section 5.1): read, remapped with our mappings, as study tables.

The paper publishes `user_study_results.json`: Cityscapes region descriptions, each with the
human label (trainId, 19 = none of the above), the paper's Sentence-BERT mapping and the paper's
lexical mapping per level. The file lacks each region's ground-truth category, which the lexical
mapping's ground-truth priority needs; the human label stands in for it (None where the human
chose "none"), unless `ground_truth="none"` maps without any priority. `write_paper_study` and
`write_our_paper_study` turn the paper's mappings and ours into study tables for Figures 1, 3, 8;
without region labels, their tables have no lexical mapping with the region's ground-truth priority
(the one the paper's Figure 3(c) scores).
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass

from oeseg.data.vocabularies import Vocabulary, get_vocabulary
from oeseg.human_study.table import StudyRow, write_study
from oeseg.io import InputError, atomic_write_text, csv_text, is_integer, read_csv_rows, read_json
from oeseg.lexicon.lexicon import LEVELS, PAPER_FIELDS, Lexicon, load_checked_lexicon
from oeseg.mapping import BACKGROUND, map_regions

log = logging.getLogger("oeseg.human_study")

GROUND_TRUTHS = ("human", "none")


@dataclass(frozen=True)
class PublishedItem:
    """One human-labelled description with the paper's mappings (category ids, BACKGROUND = none)."""

    description: str
    human: int
    paper_sbert: int
    paper_lexical: dict[str, int]


def load_user_study(path: str | os.PathLike, vocabulary: Vocabulary) -> list[PublishedItem]:
    """Read the paper's user_study_results.json; label len(vocabulary) ("none") becomes BACKGROUND."""
    obj = read_json(path)
    if not isinstance(obj, list):
        raise InputError(f"{path}: expected a list of labelled descriptions")
    ids = {c.id for c in vocabulary}
    none = len(vocabulary)

    def label(value: object, where: str) -> int:
        """The category id of a label (BACKGROUND for "none"); InputError names `where` otherwise."""
        if not is_integer(value) or (value not in ids and value != none):  # not JSON's true, Python's 1
            raise InputError(f"{where}: {value!r} is neither a category id of {vocabulary.name} nor {none} (none)")
        return BACKGROUND if value == none else value

    items = []
    for i, x in enumerate(obj):
        where = f"{path}: [{i}]"
        try:
            description, ours = x["description"], x["our_mapping"]
            human, sbert = x["human_label"], x["sentence_bert"]
        except (KeyError, TypeError):
            raise InputError(f"{where}: needs description, human_label, sentence_bert, our_mapping") from None
        if not isinstance(description, str) or not isinstance(ours, dict):
            raise InputError(f"{where}: bad description or our_mapping")
        paper = {}
        for level, key in PAPER_FIELDS.items():
            if key not in ours:
                raise InputError(f"{where}.our_mapping: missing {key!r}")
            paper[level] = label(ours[key], f"{where}.our_mapping.{key}")
        items.append(PublishedItem(description, label(human, f"{where}.human_label"),
                               label(sbert, f"{where}.sentence_bert"), paper))
    return items


def held_out(description: str) -> bool:
    """A fixed half of all descriptions (by the parity of their sha256), for a held-out check."""
    return hashlib.sha256(description.encode("utf-8")).digest()[0] % 2 == 1


def map_user_study(items: Sequence[PublishedItem], vocabulary: Vocabulary, lexicon: Lexicon,
                   sbert_class_names: str | os.PathLike | None = None, sbert_template: str | None = None,
                   ground_truth: str = "human") -> list[dict]:
    """One row per description: the human label, the paper's mappings and ours (category ids)."""
    if ground_truth not in GROUND_TRUTHS:
        raise ValueError(f"ground_truth must be one of {GROUND_TRUTHS}, not {ground_truth!r}")
    descriptions = [it.description for it in items]
    gts = [None if ground_truth == "none" or it.human == BACKGROUND else it.human for it in items]
    lexical = map_regions(descriptions, gts, vocabulary, "lexical", lexicon)
    sbert = map_regions(descriptions, None, vocabulary, "sbert", levels=LEVELS[:1],
                        sbert_class_names=sbert_class_names, sbert_template=sbert_template)[LEVELS[0]]
    rows = []
    for i, it in enumerate(items):
        row = {"description": it.description, "held_out": int(held_out(it.description)),
               "human": it.human, "paper_sbert": it.paper_sbert, "sbert": sbert[i]}
        for level in LEVELS:
            row[f"paper_{level}"] = it.paper_lexical[level]
            row[f"lexical_{level}"] = lexical[level][i]
        rows.append(row)
    return rows


def agreement_table(rows: Sequence[dict]) -> list[dict]:
    """Per mapping and level: % reproducing the paper's mapping and % agreeing with the human label."""
    n = len(rows)
    if n == 0:
        return []

    def pct(hits: int) -> float:
        """`hits` in percent of the rows."""
        return 100.0 * hits / n

    table = []
    for level in LEVELS:
        table.append({
            "mapping": "lexical", "level": level,
            "reproduces_paper": pct(sum(r[f"lexical_{level}"] == r[f"paper_{level}"] for r in rows)),
            "agrees_with_human": pct(sum(r[f"lexical_{level}"] == r["human"] for r in rows)),
            "paper_agrees_with_human": pct(sum(r[f"paper_{level}"] == r["human"] for r in rows)),
        })
    table.append({
        "mapping": "sbert", "level": "-",
        "reproduces_paper": pct(sum(r["sbert"] == r["paper_sbert"] for r in rows)),
        "agrees_with_human": pct(sum(r["sbert"] == r["human"] for r in rows)),
        "paper_agrees_with_human": pct(sum(r["paper_sbert"] == r["human"] for r in rows)),
    })
    return table


def write_rows_csv(rows: Sequence[dict], path: str | os.PathLike) -> None:
    """Write the rows as CSV atomically (columns in the rows' order)."""
    header = list(rows[0]) if rows else ["description"]
    atomic_write_text(path, csv_text(header, ([row[k] for k in header] for row in rows)))


def remap_user_study(study: str | os.PathLike, lexicon: str | os.PathLike, output: str | os.PathLike,
                     vocabulary: str = "cityscapes", sbert_class_names: str | os.PathLike | None = None,
                     sbert_template: str | None = None, ground_truth: str = "human") -> list[dict]:
    """Map the paper's user-study descriptions with our mappings, write the CSV for the figures and
    log (and return) how often each mapping reproduces the paper's and agrees with the humans."""
    vocab = get_vocabulary(vocabulary)
    rows = map_user_study(load_user_study(study, vocab), vocab, load_checked_lexicon(lexicon, vocab),
                          sbert_class_names, sbert_template, ground_truth)
    write_rows_csv(rows, output)
    table = agreement_table(rows)
    for row in table:
        log.info("%s %s: reproduces the paper %.1f %%, agrees with humans %.1f %%", row["mapping"],
                 row["level"], row["reproduces_paper"], row["agrees_with_human"])
    return table


def paper_study_rows(path: str | os.PathLike, vocabulary: Vocabulary) -> list[StudyRow]:
    """The paper's published user study (user_study_results.json) with its own mapping columns
    ("none of the above" and the paper's background read as BACKGROUND); no region labels, so no
    mapping with the region's ground-truth priority."""
    return [StudyRow(str(i), item.description, item.human, item.paper_sbert, item.paper_lexical, None)
            for i, item in enumerate(load_user_study(path, vocabulary))]


def write_paper_study(user_study_json: str, vocabulary: str, out_csv: str) -> list[StudyRow]:
    """The paper's published study with the file's own mapping columns, as a study table."""
    rows = paper_study_rows(user_study_json, get_vocabulary(vocabulary))
    write_study(out_csv, rows)
    return rows


def user_study_mapping_rows(path: str | os.PathLike) -> list[StudyRow]:
    """Our mappings of the published study's descriptions, from the mapping stage's CSV
    (rule map_user_study: `description, human, sbert, lexical_<level>`, category ids); no region
    labels, so no mapping with the region's ground-truth priority."""
    rows = []
    needed = ["description", "human", "sbert"] + [f"lexical_{lv}" for lv in LEVELS]
    for i, (lineno, rec) in enumerate(read_csv_rows(path, needed)[1]):
        ids = {}
        for column in needed[1:]:
            try:
                ids[column] = int(rec[column])
            except ValueError:
                raise InputError(f"{path}:{lineno}: field {column!r}: a category id is an integer, "
                                 f"got {rec[column]!r}") from None
        rows.append(StudyRow(str(i), rec["description"], ids["human"], ids["sbert"],
                             {lv: ids[f"lexical_{lv}"] for lv in LEVELS}, None))
    return rows


def write_our_paper_study(mappings_csv: str, out_csv: str) -> None:
    """Our mappings of the published study (the mapping stage's CSV) as a study table."""
    write_study(out_csv, user_study_mapping_rows(mappings_csv))

