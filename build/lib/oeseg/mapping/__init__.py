"""Mappings from free-form descriptions to a target vocabulary: lexical (ours) and Sentence-BERT.

Contract used by evaluation, figures and the human study (implemented by the mapping stage):

    map_regions(descriptions, gt_category_ids, vocabulary, method, lexicon=None, levels=LEVELS)
        -> dict[level, list[int]]

one category id per description and level, BACKGROUND (-1) where nothing relates; `gt_category_ids`
gives each description's ground-truth category (or None) for the ground-truth priority. With
method "sbert" the one forced-choice mapping fills every level.
"""

BACKGROUND = -1
