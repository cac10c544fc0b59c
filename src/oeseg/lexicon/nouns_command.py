"""`oeseg nouns`: a noun list (one noun per line) from tag lists or WordNet, as the workflow's rule nouns makes it."""

from __future__ import annotations

import argparse
from pathlib import Path

from oeseg.io import InputError

HELP = "make the noun list that lexicons relate, from tag lists (Tag2Text's, RAM's) or WordNet, as rule nouns does"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the options of `oeseg nouns`."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--tags", type=Path, nargs="+", metavar="TAGS.txt",
                        help="tag lists, one tag per line: their nouns, in the order of the lists (nouns.source tag2text)")
    source.add_argument("--wordnet", type=int, metavar="MIN_COUNT",
                        help="WordNet's noun lemmas tagged at least MIN_COUNT times in its sense counts, 0: all "
                             "(nouns.source wordnet)")
    parser.add_argument("--every-tag", action="store_true",
                        help="with --tags: keep every tag, verbs and adjectives too, as the paper's list (nouns.only_nouns false)")
    parser.add_argument("--vocabulary", nargs="+", default=[], metavar="NAME|PATH",
                        help="append the category names of these vocabularies that the list lacks (nouns.category_names)")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="NOUNS.txt", help="the noun list")


def run(args: argparse.Namespace) -> int:
    """Write the noun list atomically and print its size."""
    from oeseg.lexicon.nouns import write_noun_list

    if args.every_tag and args.tags is None:
        raise InputError("--every-tag goes with --tags; WordNet's list holds nouns only")
    if args.wordnet is not None and args.wordnet < 0:
        raise InputError(f"--wordnet: {args.wordnet} is not a count (0 or more)")
    nouns = write_noun_list(args.output, source="wordnet" if args.tags is None else "tag2text",
                            tag_lists=args.tags or (), min_wordnet_count=args.wordnet or 0,
                            vocabularies=args.vocabulary, only_nouns=not args.every_tag)
    print(f"{len(nouns)} nouns -> {args.output}")
    return 0
