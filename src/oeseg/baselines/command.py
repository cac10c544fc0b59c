"""`oeseg import`: convert predictions produced elsewhere into region predictions (docs/cli.md)."""

from __future__ import annotations

import argparse

from oeseg.baselines.importers import IMPORT_FORMATS, MISMATCH_POLICIES, import_predictions
from oeseg.io import InputError
from oeseg.lexicon.nouns import read_nouns

HELP = "convert another project's output (published descriptions, detectron2, ...) to region predictions"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `oeseg import`."""
    parser.add_argument("--format", required=True, choices=IMPORT_FORMATS.names(),
                        help="lac: the paper's published descriptions; detectron2-semseg: "
                             "sem_seg_predictions.json over a noun list; jsonl: our own format")
    parser.add_argument("--dataset", required=True, metavar="SPLIT_DIR",
                        help="split folder holding panoptic.json and panoptic/")
    parser.add_argument("--nouns", metavar="NOUNS.txt",
                        help="the noun list the model was given (detectron2-semseg)")
    parser.add_argument("--on-mismatch", choices=MISMATCH_POLICIES, default=None,
                        help="lac: an image whose description count differs from its segment count: "
                             "fail (default) or skip it and count it in the summary")
    parser.add_argument("input", metavar="INPUT")
    parser.add_argument("-o", "--output", required=True, metavar="PRED.jsonl")


def check_format_options(fmt: str, nouns: object, on_mismatch: object) -> None:
    """Raise InputError for an option that the chosen format does not read (it would be ignored)."""
    if nouns is not None and fmt != "detectron2-semseg":
        raise InputError(f"--nouns is read by --format detectron2-semseg only (the format here is {fmt})")
    if on_mismatch is not None and fmt != "lac":
        raise InputError(f"--on-mismatch is read by --format lac only (the format here is {fmt})")


def run(args: argparse.Namespace) -> int:
    """Convert, write the predictions and print the summary."""
    check_format_options(args.format, args.nouns, args.on_mismatch)
    nouns = read_nouns(args.nouns) if args.nouns else None
    summary = import_predictions(args.format, args.input, args.dataset, args.output,
                                 nouns=nouns, on_mismatch=args.on_mismatch or "error")
    print(f"{args.input}: {summary.text()}")
    return 0
