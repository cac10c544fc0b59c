"""`oeseg lexicon`: build the lexicon of a vocabulary (WordNet offline, or an LLM as the paper did)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from oeseg.data.vocabularies import get_vocabulary
from oeseg.io import InputError, read_yaml
from oeseg.lexicon.build import build_lexicon, lexicon_term_count, noun_builders, openai_builder_settings

HELP = "build the lexicon of a vocabulary (synonyms, hyponyms, meronyms of its categories) for the lexical mapping"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the options of `oeseg lexicon`."""
    parser.add_argument("--vocabulary", required=True, help="a built-in vocabulary name or a JSON file")
    parser.add_argument("--builder", choices=noun_builders(), default="wordnet",
                        help="wordnet (offline, the default) or openai (an OpenAI-compatible server)")
    parser.add_argument("--nouns", type=Path, metavar="NOUNS.txt",
                        help="the nouns to relate, one per line (the vocabulary's category names are added); "
                             "default for wordnet: WordNet's nouns tagged at least 3 times, as the offline default")
    parser.add_argument("--openai", type=Path, metavar="SETTINGS.yaml",
                        help="the openai builder's settings: a workflow config (its lexicon.openai) or a file "
                             "with just those keys")
    parser.add_argument("--synsets", type=Path, metavar="SYNSETS.yaml",
                        help="wordnet: the WordNet senses of the vocabulary's categories (default: the packaged "
                             "ones of Cityscapes and ADE20K, else each name's most frequent noun sense)")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="LEX.json", help="the lexicon")


def openai_settings(path: Path) -> dict:
    """The openai builder's settings from a workflow config's `lexicon.openai` or a file of those keys,
    checked before any noun is asked: a missing, unknown or bad setting names the file and the key."""
    data = read_yaml(path, "openai settings")
    if isinstance(data, dict) and "lexicon" in data:
        section = data["lexicon"].get("openai") if isinstance(data["lexicon"], dict) else None
        if not isinstance(section, dict):
            raise InputError(f"{path}: lexicon.openai: not a mapping of the openai builder's settings")
    elif not isinstance(data, dict):
        raise InputError(f"{path}: not a mapping of the openai builder's settings (base_url, model, ...)")
    else:
        section = data
    try:
        openai_builder_settings(section)
    except InputError as error:
        raise InputError(f"{path}: {error}") from None
    return section


def run(args: argparse.Namespace) -> int:
    """Build the lexicon and write it atomically; a build the server stopped (LLMError) exits 1 with
    its message, the answers got kept in the cache."""
    from oeseg.cli import logging_to_stderr
    from oeseg.lexicon.llm import LLMError
    from oeseg.lexicon.nouns import offline_nouns, read_nouns, with_category_names

    if args.builder == "openai" and (args.nouns is None or args.openai is None):
        raise InputError("--builder openai needs --nouns (every noun is one request) and --openai (its settings)")
    if args.builder == "wordnet" and args.openai is not None:
        raise InputError("--openai goes with --builder openai; the wordnet builder would ignore it")
    if args.builder == "openai" and args.synsets is not None:
        raise InputError("--synsets goes with --builder wordnet; the openai builder would ignore it")
    vocabulary = get_vocabulary(args.vocabulary)
    nouns = (with_category_names(read_nouns(args.nouns), [vocabulary])[0] if args.nouns is not None
             else offline_nouns(vocabulary))
    settings = openai_settings(args.openai) if args.openai is not None else None
    try:
        with logging_to_stderr("oeseg.lexicon"):  # an LLM build takes hours: its progress, retries, warnings
            lexicon, summary = build_lexicon(args.builder, vocabulary, nouns, openai=settings, synsets=args.synsets)
    except LLMError as e:  # the server's failure, not bad input: one line, no traceback
        print(f"oeseg lexicon: error: {e}", file=sys.stderr)
        return 1
    lexicon.save(args.output)
    asked = (f"; {summary['run_calls']} requests, {summary['cache_hits']} answers from the cache "
             f"{Path(str(settings['cache_dir'])).resolve()}" if summary is not None and settings else "")
    print(f"lexicon of {vocabulary.name} ({args.builder}, {len(nouns)} nouns{asked}): "
          f"{lexicon_term_count(lexicon)} terms -> {args.output}")
    return 0
