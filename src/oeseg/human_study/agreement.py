"""Annotators' answers -> agreement, the disagreements to resolve, and the final study table.

`write_agreement` compares two exported CSVs, each checked against the selection (a JSON report
and a CSV of disagreements for the second stage); `write_annotated_study` takes the agreed or
resolved label of every selected description: the second stage is one consensus CSV answering the
disagreements alone, or two or more independent re-annotations of them, which must all agree; with
no disagreements it may be left out. Its lexical mapping with the human label as the ground-truth
priority maps each description again (the selection's mapping has the region's ground truth as the
priority; the table keeps both).
The demo has no annotators: `write_reference_study` takes the ground-truth category of each region,
so both of its lexical mappings are the selection's.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from oeseg.data.vocabularies import Vocabulary, get_vocabulary
from oeseg.human_study.annotation import ANNOTATION_FIELDS, answer_to_category, read_annotations, read_answers
from oeseg.human_study.selection import StudyItem, lexical_mappings, read_selection
from oeseg.human_study.table import StudyRow, write_study
from oeseg.io import InputError, atomic_write_json, atomic_write_text, csv_text
from oeseg.lexicon.lexicon import load_checked_lexicon
from oeseg.mapping import BACKGROUND

#: where rule human_study_second_page writes the second stage's page (the rules pass the real path)
SECOND_STAGE_PAGE = "<out>/human_study/second_stage.html"
#: the second stage's report where the first stage's annotators agree on every description
NO_DISAGREEMENTS = "no disagreements: the first stage's annotators agree on every description, none to re-annotate"


def annotator_agreement(items: list[StudyItem], answers: Sequence[Mapping[str, str]], names: Sequence[str]) -> dict:
    """Agreement of annotators' answers (each id -> answer) to the items: counts, percent and the items
    on which they do not all agree (`answer_1`, `answer_2`, ... in the order of `answers`)."""
    disagreements = [{"id": i.id, "description": i.description,
                      **{f"answer_{k}": a[i.id] for k, a in enumerate(answers, start=1)}}
                     for i in sorted(items, key=lambda i: i.id) if len({a[i.id] for a in answers}) > 1]
    n = len(items)
    return {"annotators": [str(name) for name in names], "n": n, "agreed": n - len(disagreements),
            "agreement_percent": 100.0 * (n - len(disagreements)) / n if n else None,
            "disagreements": disagreements}


def read_two_annotators(selection_csv: str, annotator_csvs: list[str], vocabulary: Vocabulary
                        ) -> tuple[list[StudyItem], dict[str, str], dict[str, str]]:
    """The selected items and the two annotators' answers to every one of them (two CSVs, not one twice)."""
    if len(annotator_csvs) != 2:
        raise InputError(f"human_study.annotators: expected two annotator CSVs, got {len(annotator_csvs)}")
    if os.path.realpath(annotator_csvs[0]) == os.path.realpath(annotator_csvs[1]):
        raise InputError(f"human_study.annotators: {annotator_csvs[1]} is given twice (a CSV agrees with itself: "
                         "100 % agreement, no disagreements); name each annotator's CSV once")
    items = read_selection(selection_csv, vocabulary)
    first, second = (read_annotations(p, vocabulary, items, selection_csv) for p in annotator_csvs)
    return items, first, second


def write_agreement(selection_csv: str, annotator_csvs: list[str], vocabulary: str, report_json: str,
                    disagreements_csv: str) -> dict:
    """Compare two annotators' CSVs of the selection: a JSON report and the disagreements (CSV) for the
    second stage.

    The disagreements CSV has the annotation columns (id, description, answer) with the answer left
    empty, plus both first-stage answers; filled in, it is a resolved CSV."""
    items, first, second = read_two_annotators(selection_csv, annotator_csvs, get_vocabulary(vocabulary))
    report = annotator_agreement(items, [first, second], annotator_csvs)
    atomic_write_json(report_json, report)
    atomic_write_text(disagreements_csv, csv_text(ANNOTATION_FIELDS + ("answer_1", "answer_2"), (
        [d["id"], d["description"], "", d["answer_1"], d["answer_2"]] for d in report["disagreements"])))
    return report


def resolve_disagreements(disputed: list[StudyItem], resolved_csvs: str | Sequence[str] | None,
                          vocabulary: Vocabulary, scope: str,
                          second_page: str = SECOND_STAGE_PAGE) -> tuple[dict[str, str], dict]:
    """The second stage: the final answer (id -> answer) to each of the `disputed` items and its report.

    `resolved_csvs` is one consensus CSV, or two or more independent re-annotations whose answers
    must all agree (a description they still differ on is an InputError naming the files and ids).
    Each answers exactly the disputed items (`read_answers`, with `scope` naming them). None (or [])
    is no second stage: with no disputed items the report says there were none to re-annotate; with
    some, it is an InputError naming how many and the second stage's page (`second_page`) to answer."""
    if not resolved_csvs:
        if disputed:
            raise InputError(
                f"human_study.resolved: not given, but the first stage's annotators disagree on {len(disputed)} "
                f"description(s) ({scope}): re-annotate them on the second stage's page (snakemake "
                f"human_study_second_page writes {second_page}) and name its CSVs in human_study.resolved (one "
                f"consensus CSV, or a list of two or more independent re-annotations)")
        return {}, {"annotators": [], "n": 0, "agreed": None, "agreement_percent": None, "disagreements": [],
                    "note": NO_DISAGREEMENTS}
    paths = [resolved_csvs] if isinstance(resolved_csvs, str) else [str(p) for p in resolved_csvs]
    if not isinstance(resolved_csvs, str) and len(paths) < 2:
        raise InputError(f"human_study.resolved: a list names two or more independent re-annotations of the "
                         f"disagreements, not {len(paths)}; give one consensus CSV as a string")
    descriptions = {i.id: i.description for i in disputed}
    answers = []
    for path in paths:
        answered = read_answers(path, vocabulary, descriptions, scope)
        unresolved = [i for i in descriptions if i not in answered]
        if unresolved:
            raise InputError(f"{path}: {len(unresolved)} disagreements are not resolved, e.g. {unresolved[:3]}")
        answers.append(answered)
    report = annotator_agreement(disputed, answers, paths)
    if len(paths) == 1:  # a consensus: nothing to agree with
        report.update(agreed=None, agreement_percent=None)
    elif report["disagreements"]:
        still = report["disagreements"]
        examples = ", ".join(f"{d['id']!r} ({' / '.join(d[f'answer_{k}'] for k in range(1, len(paths) + 1))})"
                             for d in still[:3])
        raise InputError(
            f"human_study.resolved: the re-annotations {', '.join(paths)} still disagree on {len(still)} of the "
            f"{report['n']} disagreements ({report['agreement_percent']:.1f} % agreement), e.g. {examples}; the "
            f"final annotations must agree: resolve these (give one consensus CSV as human_study.resolved) or "
            f"re-annotate them")
    return answers[0], report


def _study_row(item: StudyItem, reference: int, lexical: dict[str, int]) -> StudyRow:
    """The study-table row of an item with `reference` as its reference category and `lexical` as its
    lexical mapping with that reference as the priority (the selection's has the region's ground truth)."""
    return StudyRow(item.id, item.description, reference, item.sbert, lexical, dict(item.lexical))


def write_annotated_study(selection_csv: str, annotator_csvs: list[str], resolved_csvs: str | Sequence[str] | None,
                          vocabulary: str, lexicon: str, out_csv: str, report_json: str | None = None,
                          second_page: str = SECOND_STAGE_PAGE) -> dict:
    """The study table of the selection: the annotators' answer where they agree, the second stage's
    (`resolve_disagreements`, None where there is none) where they do not; its report (JSON) to
    `report_json`, and returned.

    `lexicon`: the selection's lexicon, with which each description is mapped again with its final
    label as the ground-truth priority (none for "None of the above")."""
    vocab = get_vocabulary(vocabulary)
    items, first, second = read_two_annotators(selection_csv, annotator_csvs, vocab)
    disputed = [i for i in items if first[i.id] != second[i.id]]
    resolved, report = resolve_disagreements(disputed, resolved_csvs, vocab,
                                             f"the disagreements of {annotator_csvs[0]} and {annotator_csvs[1]}",
                                             second_page)
    where = ", ".join(report["annotators"])  # the second stage's CSVs
    references = [answer_to_category(resolved.get(i.id, first[i.id]), vocab, where) for i in items]
    by_reference = lexical_mappings([i.description for i in items],
                                    [None if r == BACKGROUND else r for r in references], vocab,
                                    load_checked_lexicon(lexicon, vocab))
    write_study(out_csv, [_study_row(i, r, lexical) for i, r, lexical in zip(items, references, by_reference)])
    if report_json is not None:
        atomic_write_json(report_json, report)
    return report


def write_reference_study(selection_csv: str, vocabulary: str, out_csv: str) -> None:
    """The demo's study table: each description's reference is the ground-truth category of its region
    (the synthetic generator's own knowledge), not a human label; both lexical mappings are the selection's."""
    write_study(out_csv, [_study_row(i, i.gt, dict(i.lexical))
                          for i in read_selection(selection_csv, get_vocabulary(vocabulary))])
