"""Selecting the descriptions to annotate (paper Section 5.1, Appendix C.1).

`select_study_descriptions`: region descriptions of chosen methods on a dataset, mapped by both
mappings; those where Sentence-BERT and the lexical mapping disagree at one or more levels, written
as a selection CSV (`id, method, image_id, segment_id, description, gt, sbert, <levels>`).
"""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from dataclasses import dataclass

from oeseg.data.panoptic import PanopticSplit
from oeseg.data.predictions import read_split_predictions
from oeseg.data.vocabularies import Vocabulary, get_vocabulary
from oeseg.human_study.table import category_ids
from oeseg.io import InputError, atomic_write_text, csv_text, read_csv_rows
from oeseg.lexicon.lexicon import LEVELS, Lexicon


SELECTION_FIELDS = ("id", "method", "image_id", "segment_id", "description", "gt", "sbert") + LEVELS


@dataclass(frozen=True)
class StudyItem:
    """A region description selected for annotation, with its ground truth and both mappings (the
    lexical one with the ground truth as the priority)."""

    id: str
    method: str
    image_id: str
    segment_id: int
    description: str
    gt: int
    sbert: int
    lexical: dict[str, int]


def write_selection(path: str | os.PathLike, items: list[StudyItem]) -> None:
    """Write selected descriptions (CSV) atomically."""
    atomic_write_text(path, csv_text(SELECTION_FIELDS, (
        [i.id, i.method, i.image_id, i.segment_id, i.description, i.gt, i.sbert] + [i.lexical[lv] for lv in LEVELS]
        for i in items)))


def read_selection(path: str | os.PathLike, vocabulary: Vocabulary) -> list[StudyItem]:
    """Read selected descriptions of a vocabulary; a bad row names the file, line and column."""
    items = []
    for lineno, r in read_csv_rows(path, SELECTION_FIELDS)[1]:
        try:
            segment_id = int(r["segment_id"])
        except ValueError:
            raise InputError(f"{path}:{lineno}:segment_id: segment ids must be integers, not "
                             f"{r['segment_id']!r}") from None
        ids = category_ids(path, lineno, r, ("gt", "sbert") + LEVELS, vocabulary)
        items.append(StudyItem(r["id"], r["method"], r["image_id"], segment_id, r["description"],
                               ids["gt"], ids["sbert"], {lv: ids[lv] for lv in LEVELS}))
    return items


def lexical_mappings(descriptions: Sequence[str], priorities: Sequence[int | None], vocabulary: Vocabulary,
                     lexicon: Lexicon) -> list[dict[str, int]]:
    """The lexical mapping of each description at every level, with `priorities` as the ground-truth
    priority of each (None: no priority): the study's one lexical mapping, at selection and after it."""
    from oeseg import mapping

    mapped = mapping.map_regions(descriptions, priorities, vocabulary, "lexical", lexicon=lexicon)
    return [{lv: mapped[lv][i] for lv in LEVELS} for i in range(len(descriptions))]


def disagreeing_items(candidates: list[StudyItem]) -> list[StudyItem]:
    """The items where Sentence-BERT and the lexical mapping differ at one or more levels."""
    return [i for i in candidates if any(i.lexical[lv] != i.sbert for lv in LEVELS)]


def select_study_descriptions(predictions: dict[str, str], split_dir: str, vocabulary: str, lexicon_path: str,
                              out_csv: str, max_descriptions: int = 0, seed: int = 0,
                              sbert_class_names: str | None = None, sbert_template: str | None = None
                              ) -> list[StudyItem]:
    """Map the methods' descriptions of ground-truth regions both ways and keep the disagreements.

    `predictions`: method -> region predictions (JSONL) on the split; `max_descriptions` > 0 keeps
    a reproducible random sample of that many; `sbert_class_names`: the Sentence-BERT mapping's
    class list (None: the category names)."""
    from oeseg import mapping
    from oeseg.lexicon.lexicon import load_checked_lexicon

    vocab = get_vocabulary(vocabulary)
    split = PanopticSplit.load(split_dir)
    gt = {(im.id, s.id): s.category_id for im in split.images for s in im.segments}
    # a region given twice, or not a ground-truth segment, is an error naming its line: two rows of
    # one region would share an id on the annotation page
    rows = [(method, p) for method, path in predictions.items()
            for _, p in read_split_predictions(path, split, gt_segments=True)]
    descriptions = [p.description for _, p in rows]
    gts = [gt[(p.image_id, p.segment_id)] for _, p in rows]
    lexicon = load_checked_lexicon(lexicon_path, vocab)
    lexical = lexical_mappings(descriptions, gts, vocab, lexicon)
    sbert = mapping.map_regions(descriptions, gts, vocab, "sbert", sbert_class_names=sbert_class_names,
                                sbert_template=sbert_template)
    candidates = [StudyItem(f"{m}/{p.image_id}/{p.segment_id}", m, p.image_id, p.segment_id, p.description, gts[i],
                            sbert[LEVELS[0]][i], lexical[i])
                  for i, (m, p) in enumerate(rows)]
    items = disagreeing_items(candidates)
    if max_descriptions and len(items) > max_descriptions:
        items = sorted(random.Random(seed).sample(items, max_descriptions), key=lambda i: i.id)
    if not items:
        raise InputError(f"no description of {sorted(predictions)} on {split_dir} is mapped differently by the "
                         "two mappings: nothing to annotate")
    write_selection(out_csv, items)
    return items

