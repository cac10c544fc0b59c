"""Two annotators' answers -> agreement, the disagreements to resolve, and the final study table.

`write_agreement` compares two exported CSVs (a JSON report and a CSV of disagreements for the
second stage); `write_annotated_study` takes the agreed or resolved label of every selected
description. The demo has no annotators: `write_reference_study` takes the ground-truth category of
each region.
"""

from __future__ import annotations

from oeseg.data.vocabularies import Vocabulary, get_vocabulary
from oeseg.human_study.annotation import ANNOTATION_FIELDS, answer_to_category, read_annotations
from oeseg.human_study.selection import StudyItem, read_selection
from oeseg.human_study.table import StudyRow, write_study
from oeseg.io import InputError, atomic_write_json, atomic_write_text, csv_text


def annotator_agreement(first: dict[str, tuple[str, str]], second: dict[str, tuple[str, str]],
                        names: tuple[str, str] = ("annotator 1", "annotator 2")) -> dict:
    """Agreement of two annotators on the same ids: counts, percent and the disagreeing items."""
    if set(first) != set(second):
        only = sorted(set(first) ^ set(second))
        raise InputError(f"{names[0]} and {names[1]} annotated different descriptions, e.g. {only[:3]}")
    disagreements = [{"id": i, "description": first[i][0], "answer_1": first[i][1], "answer_2": second[i][1]}
                     for i in sorted(first) if first[i][1] != second[i][1]]
    n = len(first)
    return {"annotators": list(names), "n": n, "agreed": n - len(disagreements),
            "agreement_percent": 100.0 * (n - len(disagreements)) / n if n else None,
            "disagreements": disagreements}


def write_agreement(annotator_csvs: list[str], vocabulary: str, report_json: str, disagreements_csv: str) -> dict:
    """Compare two annotators' CSVs: a JSON report and the disagreements (CSV) for the second stage.

    The disagreements CSV has the annotation columns (id, description, answer) with the answer left
    empty, plus both first-stage answers; filled in, it is the resolved CSV."""
    if len(annotator_csvs) != 2:
        raise InputError(f"human_study.annotators: expected two annotator CSVs, got {len(annotator_csvs)}")
    vocab = get_vocabulary(vocabulary)
    report = annotator_agreement(read_annotations(annotator_csvs[0], vocab), read_annotations(annotator_csvs[1], vocab),
                                 (str(annotator_csvs[0]), str(annotator_csvs[1])))
    atomic_write_json(report_json, report)
    atomic_write_text(disagreements_csv, csv_text(ANNOTATION_FIELDS + ("answer_1", "answer_2"), (
        [d["id"], d["description"], "", d["answer_1"], d["answer_2"]] for d in report["disagreements"])))
    return report


def _study_row(item: StudyItem, reference: int) -> StudyRow:
    """The study-table row of an item with `reference` as its reference category."""
    return StudyRow(item.id, item.description, reference, item.sbert, dict(item.lexical))


def annotated_study(items: list[StudyItem], first: dict[str, tuple[str, str]], second: dict[str, tuple[str, str]],
                    resolved: dict[str, tuple[str, str]], vocabulary: Vocabulary, resolved_path: str) -> list[StudyRow]:
    """Final labels: the annotators' answer where they agree, the resolved answer elsewhere."""
    rows, unresolved = [], []
    for item in items:
        if item.id not in first or item.id not in second:
            raise InputError(f"description {item.id!r} of the selection is missing from an annotator CSV")
        a, b = first[item.id][1], second[item.id][1]
        answer = a if a == b else resolved.get(item.id, (None, None))[1]
        if answer is None:
            unresolved.append(item.id)
            continue
        rows.append(_study_row(item, answer_to_category(answer, vocabulary, f"{resolved_path}: {item.id}")))
    if unresolved:
        raise InputError(f"{resolved_path}: {len(unresolved)} disagreements are not resolved, e.g. {unresolved[:3]}")
    return rows


def write_annotated_study(selection_csv: str, annotator_csvs: list[str], resolved_csv: str, vocabulary: str,
                          out_csv: str) -> None:
    """The study table from the selection, two annotators' CSVs and the resolved disagreements."""
    vocab = get_vocabulary(vocabulary)
    first, second = (read_annotations(p, vocab) for p in annotator_csvs)
    rows = annotated_study(read_selection(selection_csv, vocab), first, second, read_annotations(resolved_csv, vocab),
                           vocab, resolved_csv)
    write_study(out_csv, rows)


def write_reference_study(selection_csv: str, vocabulary: str, out_csv: str) -> None:
    """The demo's study table: each description's reference is the ground-truth category of its region
    (the synthetic generator's own knowledge), not a human label."""
    write_study(out_csv, [_study_row(i, i.gt) for i in read_selection(selection_csv, get_vocabulary(vocabulary))])

