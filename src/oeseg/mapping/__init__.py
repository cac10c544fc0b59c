"""Mappings from free-form descriptions to a target vocabulary: lexical (ours) and Sentence-BERT.

Contract used by evaluation, figures and the human study (implemented by the mapping stage):

    map_regions(descriptions, gt_category_ids, vocabulary, method, lexicon=None, levels=LEVELS)
        -> dict[level, list[int]]

one category id per description and level, BACKGROUND (-1) where nothing relates; `gt_category_ids`
gives each description's ground-truth category (or None) for the ground-truth priority. With
method "sbert" the one forced-choice mapping fills every level. `method` names an entry of
MAPPING_METHODS, registered below.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

BACKGROUND = -1

from oeseg.data.vocabularies import Vocabulary  # noqa: E402
from oeseg.io import InputError  # noqa: E402
from oeseg.lexicon.lexicon import LEVELS, Lexicon  # noqa: E402
from oeseg.registry import Registry  # noqa: E402

#: A mapping method: `map(descriptions, gt_category_ids, vocabulary, lexicon, levels, *,
#: sbert_class_names, sbert_template) -> {level: [category id or BACKGROUND]}`, reading the
#: arguments it needs.
Mapping = Callable[..., dict[str, list[int]]]
#: The mapping methods, by the name `map_regions`, `oeseg map --method`, `oeseg evaluate --method`,
#: the config (schemas/evaluate.schema.yaml, figures.schema.yaml) and the workflow's `mapping`
#: wildcard give.
MAPPING_METHODS: Registry[Mapping] = Registry("mapping method")


def check_mapping_options(method: str, lexicon: object, sbert_classes: object) -> None:
    """Raise InputError for a command-line option that the chosen mapping does not read (so that
    nobody believes `--sbert-classes` shaped a lexical evaluation)."""
    if method != "sbert" and sbert_classes is not None:
        raise InputError(f"--sbert-classes is read by --method sbert only (the mapping here is {method})")
    if method != "lexical" and lexicon is not None:
        raise InputError(f"--lexicon is read by --method lexical only (the mapping here is {method})")


if TYPE_CHECKING:
    from oeseg.mapping.lexical import LexicalMapper
    from oeseg.mapping.sbert import SbertMapper

_LEXICAL_MAPPERS: dict[str, LexicalMapper] = {}
_SBERT_MAPPERS: dict[tuple, SbertMapper] = {}


def lexical_mapper(lexicon: Lexicon, vocabulary: Vocabulary) -> LexicalMapper:
    """The LexicalMapper of a lexicon (cached by the lexicon's content)."""
    from oeseg.mapping.lexical import LexicalMapper

    key = hashlib.sha256(json.dumps([vocabulary.name, lexicon.to_json()], sort_keys=True).encode()).hexdigest()
    if key not in _LEXICAL_MAPPERS:
        _LEXICAL_MAPPERS[key] = LexicalMapper(lexicon, vocabulary)
    return _LEXICAL_MAPPERS[key]


def sbert_mapper(vocabulary: Vocabulary, class_names: str | os.PathLike | None = None,
                 template: str | None = None) -> SbertMapper:
    """The SbertMapper for a vocabulary: prompt-engineered names from `class_names` (a class-list
    file) or, when None, the vocabulary's own names (cached)."""
    from oeseg.mapping.sbert import DEFAULT_TEMPLATE, SbertMapper, plain_class_names, read_class_names

    template = template or DEFAULT_TEMPLATE
    key = (vocabulary.name, tuple(c.name for c in vocabulary), str(class_names or ""), template)
    if key not in _SBERT_MAPPERS:
        names = read_class_names(class_names, vocabulary) if class_names else plain_class_names(vocabulary)
        _SBERT_MAPPERS[key] = SbertMapper(names, template)
    return _SBERT_MAPPERS[key]


def map_regions(descriptions: Sequence[str], gt_category_ids: Sequence[int | None] | None,
                vocabulary: Vocabulary, method: str, lexicon: Lexicon | None = None,
                levels: Sequence[str] = LEVELS, *, sbert_class_names: str | os.PathLike | None = None,
                sbert_template: str | None = None) -> dict[str, list[int]]:
    """Category id (or BACKGROUND) of each description at each level, by the lexical or SBERT mapping."""
    unknown = [level for level in levels if level not in LEVELS]
    if unknown:
        raise ValueError(f"unknown level(s) {unknown}; levels are {list(LEVELS)}")
    mapping = MAPPING_METHODS.get(method)  # an unknown one: InputError (a ValueError) naming the registered ones
    return mapping(list(descriptions), gt_category_ids, vocabulary, lexicon, levels,
                   sbert_class_names=sbert_class_names, sbert_template=sbert_template)


def map_lexical(descriptions: list[str], gt_category_ids: Sequence[int | None] | None, vocabulary: Vocabulary,
                lexicon: Lexicon | None, levels: Sequence[str], **_: object) -> dict[str, list[int]]:
    """The lexical mapping (ours), with the ground-truth priority, at each level."""
    if lexicon is None:
        raise ValueError("the lexical mapping needs a lexicon")
    return lexical_mapper(lexicon, vocabulary).map(descriptions, gt_category_ids, levels)


def map_sbert(descriptions: list[str], gt_category_ids: Sequence[int | None] | None, vocabulary: Vocabulary,
              lexicon: Lexicon | None, levels: Sequence[str], *, sbert_class_names: str | os.PathLike | None = None,
              sbert_template: str | None = None, **_: object) -> dict[str, list[int]]:
    """The Sentence-BERT mapping of prior work: one forced choice, the same at every level."""
    mapped = sbert_mapper(vocabulary, sbert_class_names, sbert_template).map(descriptions)
    return {level: list(mapped) for level in levels}


MAPPING_METHODS.register("lexical", map_lexical)
MAPPING_METHODS.register("sbert", map_sbert)
