"""Our mIoU against the released evaluation script's rule for the pixels it names no category for.

The paper's script (`LAC/eval_open_vocab_seg_full_metric_set.py`) scores a region mapped to no
category with equal scores for every category, and a pixel of no region with zeros; detectron2's
SemSegEvaluator takes the argmax, whose first maximum is category 0 (Cityscapes' road, ADE20K's
wall). So those pixels count as that category. Ours counts them as wrong for every category
(README, *How it scores*). Only category 0's IoU differs, so mIoU moves by at most 1/K of it.

For every method and evaluation dataset of a finished demo run (`make demo`), this maps the first
run's descriptions (in name order) as rule evaluate does (the lexical mapping, ground-truth priority) and
prints mIoU at every level and its LAC both ways, and the ratio of ours to the script's rule.

    PYTHONPATH=src python benchmarks/miou_parity.py [--config config.yaml]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from oeseg.data.panoptic import PanopticSplit
from oeseg.data.predictions import read_split_predictions
from oeseg.io import InputError, exit_status
from oeseg.lexicon import LEVELS
from oeseg.lexicon.lexicon import load_checked_lexicon
from oeseg.metrics.evaluator import assign_predictions, map_region_labels
from oeseg.metrics.lac import lac_score
from oeseg.metrics.overlaps import compute_overlaps
from oeseg.metrics.semantic import confusion_matrix, mean_iou
from oeseg.workflow import dataset_split_dir, read_config_file


def released_script_confusion(conf: np.ndarray) -> np.ndarray:
    """The confusion matrix with the pixels of no category (the last column) counted as category 0."""
    moved = conf.copy()
    moved[:, 0] += moved[:, -1]
    moved[:, -1] = 0
    return moved


def miou_both_ways(split_dir: Path, predictions: Path, lexicon: Path) -> dict[str, tuple[float, float]]:
    """Per level, (ours, the script's rule) mIoU in percent of one predictions file."""
    split = PanopticSplit.load(split_dir)
    vocabulary = split.vocabulary
    table = compute_overlaps(split)
    regions = assign_predictions(predictions, read_split_predictions(predictions, split), table)
    labels = map_region_labels(table, regions, vocabulary, "lexical", load_checked_lexicon(lexicon, vocabulary))
    values = {}
    for level, level_labels in labels.items():
        conf = confusion_matrix(table, level_labels, len(vocabulary))
        values[level] = (100 * mean_iou(conf), 100 * mean_iou(released_script_confusion(conf)))
    return values


def main(argv: list[str] | None = None) -> int:
    """Print mIoU per level and its LAC, ours and by the script's rule, per method and dataset."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=Path("config.yaml"), help="the demo run's config")
    args = parser.parse_args(argv)
    config = read_config_file(args.config)
    out = Path(config["out"])
    if not any((out / "predictions").glob("*/*/*.jsonl")):
        raise InputError(f"{out / 'predictions'}: no predictions of a finished demo run (`out` of {args.config}); "
                         "run `make demo` first, or name that run's config with --config")
    print(f"{'method':12} {'dataset':10} " + " ".join(f"{level:>15}" for level in LEVELS)
          + f" {'LAC ours':>9} {'script':>7} {'ratio':>6}")
    for method in config["methods"]:
        for dataset in config["evaluation_datasets"]:
            runs = sorted((out / "predictions" / method / dataset).glob("*.jsonl"))
            if not runs:
                continue
            predictions = runs[0]
            lexicon = out / "lexicons" / f"{config['datasets'][dataset]['vocabulary']}.json"
            values = miou_both_ways(Path(dataset_split_dir(config["data_root"], dataset, "val")), predictions, lexicon)
            ours, script = (lac_score([values[level][i] for level in LEVELS]) for i in (0, 1))
            print(f"{method:12} {dataset:10} " + " ".join(f"{v[0]:6.1f} / {v[1]:6.1f}" for v in values.values())
                  + f" {ours:9.1f} {script:7.1f} {ours / script:6.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(exit_status(main))
