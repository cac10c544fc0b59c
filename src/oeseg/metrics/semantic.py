"""Semantic segmentation mIoU from a confusion matrix over non-void ground-truth pixels.

The semantic ground truth is the split's own `semantic/` PNGs where it has them (ADE20K's: the
SceneParse150 annotation, which labels pixels that its panoptic one leaves void), else the panoptic
one with instances merged (crowd segments keep their category); GT void pixels are left out. A
pixel's prediction is its region's label; pixels on BACKGROUND regions, or on no region at all (a
model's own masks may leave holes; a split's own semantic map labels pixels no segment covers), form
an extra "background" column: wrong for the pixel's GT category and part of that category's union.
IoU_c = C[c, c] / (sum_j C[c, j] + sum_i C[i, c] - C[c, c]); mIoU is the mean over the categories
present in the ground truth (detectron2's SemSegEvaluator, which the paper's released script
scores with): a category only predicted has no IoU and is left out, as one absent from both.
"""

from __future__ import annotations

import numpy as np

from oeseg.data.vocabularies import Vocabulary
from oeseg.metrics.overlaps import OverlapTable


def _pixel_counts(gt_rows: np.ndarray, predicted: np.ndarray, pixels: np.ndarray, k: int) -> np.ndarray:
    """K x (K+1) pixel counts of (GT category, predicted label) pairs; a label < 0 counts as background."""
    column = np.where(predicted < 0, k, predicted)
    return np.bincount(gt_rows * (k + 1) + column, pixels, minlength=k * (k + 1)).reshape(k, k + 1)


def confusion_matrix(table: OverlapTable, labels: np.ndarray, num_categories: int) -> np.ndarray:
    """K x (K+1) pixel counts: rows GT category, columns predicted category, last column background."""
    k = num_categories
    labels = np.asarray(labels, np.int64)
    if table.semantic_pixels is not None:  # region -1 (no region) reads the -1 appended: background
        conf = _pixel_counts(table.semantic_category, np.append(labels, -1)[table.semantic_region],
                             table.semantic_pixels, k)
    else:
        conf = _pixel_counts(table.gt_category[table.pair_gt], labels[table.pair_region], table.pair_pixels, k)
        covered = np.bincount(table.pair_gt, table.pair_pixels, minlength=len(table.gt_area))
        conf[:, k] += np.bincount(table.gt_category, table.gt_area - covered, minlength=k)
    return np.rint(conf).astype(np.int64)


def iou_per_category(conf: np.ndarray) -> np.ndarray:
    """IoU of every category; NaN where the ground truth has none of its pixels."""
    k = conf.shape[0]
    tp = np.diag(conf[:, :k]).astype(float)
    gt_pixels = conf.sum(axis=1)
    union = gt_pixels + conf[:, :k].sum(axis=0) - tp
    return np.divide(tp, union, out=np.full(k, np.nan), where=gt_pixels > 0)


def mean_iou(conf: np.ndarray) -> float | None:
    """Mean IoU over the categories present in the ground truth; None if there are none."""
    iou = iou_per_category(conf)
    return None if np.isnan(iou).all() else float(np.nanmean(iou))


class SemanticMetric:
    """mIoU (and per-category IoU) of one labelling of the regions."""

    def __init__(self, vocabulary: Vocabulary) -> None:
        """The metric for the categories of `vocabulary`."""
        self.vocabulary = vocabulary

    def __call__(self, table: OverlapTable, labels: np.ndarray, scores: np.ndarray
                 ) -> tuple[dict[str, float | None], list[dict]]:
        """Summary values in percent and one row per category."""
        conf = confusion_matrix(table, labels, len(self.vocabulary))
        miou = mean_iou(conf)
        iou = iou_per_category(conf)
        return ({"mIoU": None if miou is None else 100.0 * miou},
                [{"IoU": None if np.isnan(v) else 100.0 * float(v)} for v in iou])
