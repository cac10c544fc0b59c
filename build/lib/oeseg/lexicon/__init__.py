"""Lexicons: nouns related to each target category by level (exact, synonym, hyponym, meronym)."""

from oeseg.lexicon.lexicon import LEVELS, Lexicon, LexiconEntry, load_lexicon

__all__ = ["LEVELS", "Lexicon", "LexiconEntry", "load_lexicon"]
