"""`oeseg map`: map a CSV of descriptions to a vocabulary with the lexical or Sentence-BERT mapping."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from oeseg.data.predictions import check_description
from oeseg.data.vocabularies import Vocabulary, get_vocabulary
from oeseg.io import InputError, atomic_write_text, csv_text, read_csv_rows, read_yaml
from oeseg.lexicon.lexicon import LEVELS, Lexicon, load_checked_lexicon
from oeseg.mapping import BACKGROUND, MAPPING_METHODS, check_mapping_options, map_regions

HELP = "map free-form descriptions (CSV column `description`) to a vocabulary's categories"
#: The workflow's config, read for the path of the lexicons it built.
WORKFLOW_CONFIG = Path("config.yaml")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the options of `oeseg map`."""
    parser.add_argument("--vocabulary", required=True, help="a built-in vocabulary name or a JSON file")
    parser.add_argument("--method", required=True, choices=MAPPING_METHODS.names())
    parser.add_argument("--level",
                        help=f"lexical level, one of {', '.join(LEVELS)} (default meronym; --method lexical only)")
    parser.add_argument("--lexicon", type=Path, help="lexicon JSON (ours or the paper's GPT-4 format)")
    parser.add_argument("--sbert-classes", type=Path,
                        help="prompt-engineered class list `id:name1,name2,...` (default: category names)")
    parser.add_argument("input", type=Path, help="CSV with a `description` and optionally a `gt` column")
    parser.add_argument("-o", "--output", type=Path, required=True, help="CSV: the input plus `category`")


def read_descriptions(path: Path, vocabulary: Vocabulary) -> tuple[list[str], list[dict], list[int | None]]:
    """The CSV's header, rows and ground-truth category ids (None where `gt` is absent or empty)."""
    header, lines = read_csv_rows(path, ["description"])
    if not lines:
        raise InputError(f"{path}: no descriptions: the header line alone")
    if "category" in header:
        raise InputError(f"{path}:1: has a column 'category', which the output's mapped category would "
                         "overwrite: rename it")
    for line, row in lines:
        check_description(row["description"], f"{path}:{line}")
    rows = [row for _, row in lines]
    gts = [_ground_truth(row.get("gt"), vocabulary, f"{path}:{line}: field 'gt'") for line, row in lines]
    return header, rows, gts


def _ground_truth(value: str | None, vocabulary: Vocabulary, where: str) -> int | None:
    """The category id of a ground-truth cell (an id or a category name of `vocabulary`), None when empty."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if re.fullmatch(r"-?\d+", value):  # not isdigit(): "²" is a digit that int() refuses; not "--3"
        try:
            return vocabulary.by_id(int(value)).id
        except KeyError:
            raise InputError(f"{where}: {value!r} is not a category id of vocabulary {vocabulary.name}") from None
    try:
        return vocabulary.by_name(value).id
    except KeyError as e:  # no category, or several (named with their ids)
        raise InputError(f"{where}: {e.args[0]}") from None


def workflow_lexicon_path(vocabulary: Vocabulary, config: Path = WORKFLOW_CONFIG) -> Path | None:
    """LEXICON of the workflow (`{out}/lexicons/{vocabulary}.json` of config.yaml), if configured."""
    if not config.exists():
        return None
    out = (read_yaml(config, "config file") or {}).get("out")
    return Path(out) / "lexicons" / f"{vocabulary.name}.json" if out else None


def default_lexicon(vocabulary: Vocabulary) -> tuple[Lexicon, str]:
    """The lexicon the workflow built for this vocabulary (`out` of ./config.yaml), else one from the
    offline WordNet builder; and which it is, in words."""
    path = workflow_lexicon_path(vocabulary)
    if path is not None and path.exists():
        return load_checked_lexicon(path, vocabulary, larger=True), f"{path} (the workflow's, `out` of ./{WORKFLOW_CONFIG})"
    from oeseg.cli import logging_to_stderr
    from oeseg.lexicon.nouns import offline_nouns
    from oeseg.lexicon.wordnet import build_wordnet_lexicon

    with logging_to_stderr("oeseg.lexicon"):  # the senses it guesses for a vocabulary of one's own
        lexicon = build_wordnet_lexicon(vocabulary, offline_nouns(vocabulary))
    return lexicon, (f"WordNet's, built now as the offline default builds it (no "
                     f"{path or 'lexicon of a workflow config in this folder'})")


def run(args: argparse.Namespace) -> int:
    """Map the descriptions of the input CSV and write it back with a `category` column."""
    if args.level is not None and args.method != "lexical":  # Sentence-BERT has no levels
        raise InputError(f"--level is read by --method lexical only (the mapping here is {args.method})")
    level = LEVELS[-1] if args.level is None else args.level
    if level not in LEVELS:
        raise InputError(f"--level {level!r}: not one of {', '.join(LEVELS)}")
    check_mapping_options(args.method, args.lexicon, args.sbert_classes)
    vocabulary = get_vocabulary(args.vocabulary)
    header, rows, gts = read_descriptions(args.input, vocabulary)
    lexicon, source = None, "none (Sentence-BERT)"
    if args.method == "lexical":
        lexicon, source = ((load_checked_lexicon(args.lexicon, vocabulary, larger=True), str(args.lexicon)) if args.lexicon
                           else default_lexicon(vocabulary))
    mapped = map_regions([r["description"] for r in rows], gts, vocabulary, args.method, lexicon,
                         levels=[level], sbert_class_names=args.sbert_classes)[level]
    categories = ["background" if cid == BACKGROUND else vocabulary.by_id(cid).name for cid in mapped]
    atomic_write_text(args.output, csv_text(header + ["category"], (
        [row[k] for k in header] + [category] for row, category in zip(rows, categories))))
    shape = f"lexical, level {level}" if args.method == "lexical" else args.method
    print(f"{len(rows)} descriptions mapped ({shape}; lexicon: {source}) -> {args.output}")
    return 0
