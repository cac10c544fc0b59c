"""The lexical mapping (docs/formats.md, "Lexical mapping"; the paper's Section 3).

For a description, take its subject (oeseg.mapping.subject) and, at level L, collect every
category related to it at a level at or below L. If the ground-truth category is among them the
description maps to it; otherwise to the category of the strongest relation (exact > synonym >
hyponym > meronym; between categories related equally strongly, the first in vocabulary order);
none: BACKGROUND.

What "related to the subject" means, in order:
1. the subject phrase with its compounds ("traffic light", "taxi cab"): it alone can choose a
   category other than the ground truth. The whole description (without article) counts first
   when the lexicon knows it ("crt screen", "parked car", "chest of drawers"); forms as written
   ("falls", "people") and in singular form count alike, the stronger relation winning; where
   neither relates, the phrase without its leading adjectives ("silver car" -> car). From the
   hyponym level the complement of a leading "a <noun> of <noun>" chooses instead when it
   relates more strongly ("a body of water" -> water, not person), as the paper's script applies
   it (its published human-study mapping shows the complement acting from the hyponym level);
2. nouns that can only confirm the ground-truth category, never choose another one (as in the
   paper's own mapping): the phrase without its first words, down to the head noun alone, when
   the phrase does not relate to the ground truth ("white lamp shade" -> lamp shade, "street
   light" -> light, at the shorter phrase's own relation level); from the hyponym level, the
   complement of a leading "a <noun> of <noun>" ("a row of cars" -> car); at the meronym level,
   the objects of "of"/"on" ("the mirror of a car", "a sign on a building") and the single words
   of a compound subject ("a yellow taxi cab" -> taxi).

Lexicon terms are normalised as subjects are (lower case, the last word singular), and indexed
under both their written and their normal form; between equally strong relations, a term as
written wins over a normal form ("stair" is ADE20K's "step, stair", not "stairs, steps"). Categories of the lexicon that the vocabulary
lacks are left out (a lexicon of ADE20K serves the demo's ADE20K subset).
"""

from __future__ import annotations

from collections.abc import Sequence

from oeseg.data.vocabularies import Vocabulary
from oeseg.io import InputError
from oeseg.lexicon.lexicon import LEVELS, Lexicon
from oeseg.mapping import BACKGROUND
from oeseg.mapping.subject import Subject, normalize_terms, parse_subjects

#: Level index from which each kind of context noun may confirm the ground truth (and the
#: complement of "a <noun> of <noun>" choose a category).
_OF_COMPLEMENT_LEVEL = LEVELS.index("hyponym")
_CONTEXT_LEVEL = LEVELS.index("meronym")


class LexicalMapper:
    """A lexicon's term index, ready to map descriptions at every level."""

    def __init__(self, lexicon: Lexicon, vocabulary: Vocabulary) -> None:
        """Index the terms of the lexicon's entries for the categories of `vocabulary`."""
        order = {c.id: i for i, c in enumerate(vocabulary)}
        entries = [e for e in lexicon.entries if e.id in order]
        if not entries:
            raise InputError(f"lexicon {lexicon.vocabulary!r} has no category of vocabulary {vocabulary.name!r}")
        if len(entries) < len(lexicon.entries):  # e.g. ADE20K's lexicon for the demo's ADE subset
            lexicon = Lexicon(lexicon.vocabulary, lexicon.builder, entries)
        raw = lexicon.term_index()
        normal = normalize_terms(raw)
        # term -> {category: (level, whether only through a normal form)}
        index: dict[str, dict[int, tuple[int, bool]]] = {}
        for term, relations in raw.items():
            for key in {term, normal[term]}:
                slot = index.setdefault(key, {})
                for cid, level in relations.items():
                    rank = (level, key != term)
                    if rank < slot.get(cid, (len(LEVELS), True)):
                        slot[cid] = rank
        # relations sorted strongest first; between equally strong ones a term as the lexicon
        # writes it before one only its normal form matches ("stair" vs "stairs"), then
        # vocabulary order
        self.index = {t: [(cid, rank[0]) for cid, rank in sorted(r.items(), key=lambda kv: (kv[1], order[kv[0]]))]
                      for t, r in index.items()}
        self.vocabulary = vocabulary
        self.order = order

    def relations(self, term: str) -> list[tuple[int, int]]:
        """(category id, level index) pairs relating `term`, strongest first."""
        return self.index.get(term, [])

    def _group_relations(self, terms: tuple[str, ...]) -> list[tuple[int, int]]:
        """Relations of several forms of one term, strongest first; between equally strong ones
        the earlier form, then vocabulary order."""
        if len(terms) == 1:
            return self.relations(terms[0])
        best: dict[int, tuple[int, int]] = {}
        for rank, term in enumerate(terms):
            for cid, level in self.relations(term):
                if (level, rank) < best.get(cid, (len(LEVELS), rank)):
                    best[cid] = (level, rank)
        return [(cid, level) for cid, (level, _) in
                sorted(best.items(), key=lambda kv: (kv[1], self.order[kv[0]]))]

    def subject_relations(self, subject: Subject) -> list[tuple[int, int]]:
        """(category id, level index) pairs relating the subject, strongest first: those of the
        whole description when the lexicon knows it, else those of the subject phrase."""
        return next((r for r in map(self._group_relations, subject.term_groups) if r), [])

    def map_subject(self, subject: Subject, gt: int | None, levels: Sequence[int]) -> list[int]:
        """The category at each level index of `levels` for one parsed description."""
        rel = self.subject_relations(subject)
        gt_level = len(LEVELS)
        if gt is not None:
            # the phrase without its leading adjectives counts only where the phrase with them relates to nothing
            groups = subject.term_groups
            if subject.unmodified and any(map(self._group_relations, subject.written_groups)):
                groups = subject.written_groups
            gt_level = min((lv for group in groups for cid, lv in self._group_relations(group)
                            if cid == gt), default=len(LEVELS))
            candidates = [(t, 0) for t in subject.suffixes] if gt_level == len(LEVELS) else []
            if subject.of_complement:
                candidates.append((subject.of_complement, _OF_COMPLEMENT_LEVEL))
            candidates += [(t, _CONTEXT_LEVEL) for t in (*subject.attachments, *subject.parts)]
            for term, min_level in candidates:
                if min_level >= gt_level:
                    continue
                for cid, lv in self.relations(term):
                    if cid == gt:
                        gt_level = min(gt_level, max(lv, min_level))
        # from the hyponym level, the complement of "a <noun> of <noun>" chooses when it relates
        # more strongly than the subject ("a body of water" -> water), as in the paper
        complement = self.relations(subject.of_complement) if subject.of_complement and rel else []
        out = []
        for level in levels:
            if level >= gt_level:
                out.append(gt)
            elif level >= _OF_COMPLEMENT_LEVEL and complement and complement[0][1] < rel[0][1]:
                out.append(complement[0][0])
            else:
                out.append(next((cid for cid, lv in rel if lv <= level), BACKGROUND))
        return out

    def map(self, descriptions: Sequence[str], gt_category_ids: Sequence[int | None] | None = None,
            levels: Sequence[str] = LEVELS) -> dict[str, list[int]]:
        """Category id per description at each named level (BACKGROUND where nothing relates)."""
        gts = list(gt_category_ids) if gt_category_ids is not None else [None] * len(descriptions)
        if len(gts) != len(descriptions):
            raise ValueError(f"{len(descriptions)} descriptions but {len(gts)} ground-truth ids")
        level_ids = [LEVELS.index(level) for level in levels]
        memo: dict[tuple[str, int | None], list[int]] = {}
        out: dict[str, list[int]] = {level: [] for level in levels}
        for description, subject, gt in zip(descriptions, parse_subjects(descriptions), gts):
            key = (description, gt)
            row = memo.get(key)
            if row is None:
                row = memo[key] = self.map_subject(subject, gt, level_ids)
            for level, cid in zip(levels, row):
                out[level].append(cid)
        return out
