"""`oeseg evaluate`: PQ, mIoU and mask AP at every lexical level, and the LAC score of each."""

from __future__ import annotations

import argparse

from oeseg.mapping import MAPPING_METHODS, check_mapping_options
from oeseg.metrics.evaluator import MISSING_POLICIES, SCORED_IMAGE_POLICIES, write_evaluation

HELP = "score region predictions: PQ, mIoU and mask AP at every lexical level, and their LAC"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the options of `oeseg evaluate`."""
    parser.add_argument("--dataset", required=True, metavar="SPLIT_DIR",
                        help="split folder with panoptic.json and panoptic/")
    parser.add_argument("--predictions", required=True, metavar="PRED.jsonl", help="region predictions (JSON Lines)")
    parser.add_argument("--lexicon", metavar="LEX.json",
                        help="lexicon of the dataset's vocabulary (needed by the lexical mapping)")
    parser.add_argument("--method", dest="mapping", choices=MAPPING_METHODS.names(), default="lexical",
                        help="mapping of descriptions to categories (default: lexical)")
    parser.add_argument("--masks", metavar="DIR", default=None,
                        help="the model's own panoptic PNGs, named like the ground truth's "
                             "(default: the regions are the ground-truth segments)")
    parser.add_argument("--workers", type=_positive_int, default=1,
                        help="processes for the pass over the images (default 1)")
    parser.add_argument("--missing-regions", choices=MISSING_POLICIES, default="background",
                        help="regions without a prediction: count them as background (default) or fail")
    parser.add_argument("--scored-images", choices=SCORED_IMAGE_POLICIES, default="all",
                        help="score every image of the split (default), or only those with a prediction")
    parser.add_argument("--sbert-classes", metavar="PATH", default=None,
                        help="prompt-engineered class list `id:name1,name2,...` for --method sbert "
                             "(default: the category names)")
    parser.add_argument("-o", "--output", required=True, metavar="RESULTS.json", help="where to write the results")


def _positive_int(text: str) -> int:
    """A count of 1 or more, as argparse reads an option (0, -2 or "two" is a usage error naming it)."""
    if not text.strip().isdecimal() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of 1 or more, got {text!r}")
    return int(text)


def run(args: argparse.Namespace) -> int:
    """Evaluate and write RESULTS.json atomically."""
    check_mapping_options(args.mapping, args.lexicon, args.sbert_classes)
    results = write_evaluation(args.output, args.dataset, args.predictions, args.lexicon, mapping=args.mapping,
                               masks_dir=args.masks, workers=args.workers,
                               missing_regions=args.missing_regions, sbert_class_names=args.sbert_classes,
                               scored_images=args.scored_images)
    lac = results["lac"]
    print(f"LAC: PQ {_fmt(lac['PQ'])}  mIoU {_fmt(lac['mIoU'])}  AP {_fmt(lac['AP'])}  -> {args.output}")
    return 0


def _fmt(value: float | None) -> str:
    """A metric value with one decimal, or "n/a" when undefined."""
    return "n/a" if value is None else f"{value:.1f}"
