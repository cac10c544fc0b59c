"""Two annotators' answers -> agreement, the disagreements to resolve, and the final study table.

`write_agreement` compares two exported CSVs, each checked against the selection (a JSON report
and a CSV of disagreements for the second stage); `write_annotated_study` takes the agreed or
resolved label of every selected description, the resolved CSV answering the disagreements alone.
The demo has no annotators: `write_reference_study` takes the ground-truth category of each region.
"""

from __future__ import annotations

from oeseg.data.vocabularies import Vocabulary, get_vocabulary
from oeseg.human_study.annotation import ANNOTATION_FIELDS, answer_to_category, read_annotations, read_answers
from oeseg.human_study.selection import StudyItem, read_selection
from oeseg.human_study.table import StudyRow, write_study
from oeseg.io import InputError, atomic_write_json, atomic_write_text, csv_text


def annotator_agreement(items: list[StudyItem], first: dict[str, str], second: dict[str, str],
                        names: tuple[str, str] = ("annotator 1", "annotator 2")) -> dict:
    """Agreement of two annotators' answers (id -> answer) to the selected items: counts, percent and
    the disagreeing items."""
    disagreements = [{"id": i.id, "description": i.description, "answer_1": first[i.id], "answer_2": second[i.id]}
                     for i in sorted(items, key=lambda i: i.id) if first[i.id] != second[i.id]]
    n = len(items)
    return {"annotators": list(names), "n": n, "agreed": n - len(disagreements),
            "agreement_percent": 100.0 * (n - len(disagreements)) / n if n else None,
            "disagreements": disagreements}


def read_two_annotators(selection_csv: str, annotator_csvs: list[str], vocabulary: Vocabulary
                        ) -> tuple[list[StudyItem], dict[str, str], dict[str, str]]:
    """The selected items and the two annotators' answers to every one of them."""
    if len(annotator_csvs) != 2:
        raise InputError(f"human_study.annotators: expected two annotator CSVs, got {len(annotator_csvs)}")
    items = read_selection(selection_csv, vocabulary)
    first, second = (read_annotations(p, vocabulary, items, selection_csv) for p in annotator_csvs)
    return items, first, second


def write_agreement(selection_csv: str, annotator_csvs: list[str], vocabulary: str, report_json: str,
                    disagreements_csv: str) -> dict:
    """Compare two annotators' CSVs of the selection: a JSON report and the disagreements (CSV) for the
    second stage.

    The disagreements CSV has the annotation columns (id, description, answer) with the answer left
    empty, plus both first-stage answers; filled in, it is the resolved CSV."""
    items, first, second = read_two_annotators(selection_csv, annotator_csvs, get_vocabulary(vocabulary))
    report = annotator_agreement(items, first, second, (str(annotator_csvs[0]), str(annotator_csvs[1])))
    atomic_write_json(report_json, report)
    atomic_write_text(disagreements_csv, csv_text(ANNOTATION_FIELDS + ("answer_1", "answer_2"), (
        [d["id"], d["description"], "", d["answer_1"], d["answer_2"]] for d in report["disagreements"])))
    return report


def _study_row(item: StudyItem, reference: int) -> StudyRow:
    """The study-table row of an item with `reference` as its reference category."""
    return StudyRow(item.id, item.description, reference, item.sbert, dict(item.lexical))


def write_annotated_study(selection_csv: str, annotator_csvs: list[str], resolved_csv: str, vocabulary: str,
                          out_csv: str) -> None:
    """The study table of the selection: the annotators' answer where they agree, the resolved answer
    (the filled-in disagreements CSV) where they do not."""
    vocab = get_vocabulary(vocabulary)
    items, first, second = read_two_annotators(selection_csv, annotator_csvs, vocab)
    disputed = {i.id: i.description for i in items if first[i.id] != second[i.id]}
    resolved = read_answers(resolved_csv, vocab, disputed,
                            f"the disagreements of {annotator_csvs[0]} and {annotator_csvs[1]}")
    unresolved = [i for i in disputed if i not in resolved]
    if unresolved:
        raise InputError(f"{resolved_csv}: {len(unresolved)} disagreements are not resolved, e.g. {unresolved[:3]}")
    write_study(out_csv, [_study_row(i, answer_to_category(resolved.get(i.id, first[i.id]), vocab, resolved_csv))
                          for i in items])


def write_reference_study(selection_csv: str, vocabulary: str, out_csv: str) -> None:
    """The demo's study table: each description's reference is the ground-truth category of its region
    (the synthetic generator's own knowledge), not a human label."""
    write_study(out_csv, [_study_row(i, i.gt) for i in read_selection(selection_csv, get_vocabulary(vocabulary))])

