"""Panoptic quality (PQ, SQ, RQ) by panopticapi's rules, from the overlap table.

The labelled regions of an image form its panoptic prediction: a region labelled with a thing
category is one segment; regions labelled with the same stuff category are merged into one segment
(a panoptic prediction has at most one segment per stuff class, as detectron2/Mask2Former panoptic
inference builds it); BACKGROUND regions are left unlabelled (prediction void). Then, as
panopticapi's `pq_compute`:
- a prediction matches a non-crowd GT segment of the same category when IoU > 0.5, where the union
  leaves out the prediction's pixels on GT void;
- unmatched non-crowd GT segments are false negatives; crowd GT segments are never matched;
- an unmatched prediction is a false positive unless more than half of it lies on GT void or on
  the crowd GT segment of its own category (where an image has several crowd segments of one
  category, the one with the highest segment id counts; panopticapi counts the last one listed in
  `segments_info`, the same segment where ids are listed in ascending order, as every converter
  here writes them);
- per category PQ = sum IoU / (TP + FP/2 + FN/2), SQ = sum IoU / TP, RQ = TP / (TP + FP/2 + FN/2);
  the averages run over the categories with TP + FP + FN > 0, for all, things and stuff.
Areas are pixel counts of the PNGs. panopticapi takes GT areas from the JSON unchecked; they agree
for well-formed data, but not in Mask2Former's ADE20K JSON, whose stuff areas count the pixels
under instances (README, "Where the paper's ground truth differs").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from oeseg.data.vocabularies import Vocabulary
from oeseg.metrics.overlaps import OverlapTable


@dataclass(frozen=True)
class PQStat:
    """Per-category counts over a dataset, indexed by vocabulary position."""

    tp: np.ndarray
    fp: np.ndarray
    fn: np.ndarray
    iou: np.ndarray  # sum of the IoUs of the true positives


def pq_stat(table: OverlapTable, labels: np.ndarray, isthing: np.ndarray) -> PQStat:
    """Match labelled regions to GT segments and count TP/FP/FN and IoU per category."""
    k = len(isthing)
    labels = np.asarray(labels, np.int64)
    valid = np.flatnonzero(labels >= 0)
    lab = labels[valid]
    # one segment per thing region, one per (image, stuff category)
    key = np.where(isthing[lab], valid, table.num_regions + table.region_image[valid] * k + lab)
    _, seg_of = np.unique(key, return_inverse=True)
    n_seg = int(seg_of.max()) + 1 if len(seg_of) else 0
    seg_area = np.bincount(seg_of, table.region_area[valid], minlength=n_seg).astype(float)
    seg_void = np.bincount(seg_of, table.region_void[valid], minlength=n_seg).astype(float)
    seg_cat = np.zeros(n_seg, np.int64)
    seg_cat[seg_of] = lab

    region_seg = np.full(table.num_regions, -1, np.int64)
    region_seg[valid] = seg_of
    pair_seg = region_seg[table.pair_region]
    keep = pair_seg >= 0
    pair_key, pair_of = np.unique(table.pair_gt[keep] * max(n_seg, 1) + pair_seg[keep], return_inverse=True)
    inter = np.bincount(pair_of, table.pair_pixels[keep], minlength=len(pair_key)).astype(float)
    gt, seg = pair_key // max(n_seg, 1), pair_key % max(n_seg, 1)
    same = table.gt_category[gt] == seg_cat[seg]
    crowd = table.gt_iscrowd[gt]
    counted_crowd = last_crowd_segments(table, k)[gt]

    union = seg_area[seg] + table.gt_area[gt] - inter - seg_void[seg]
    iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    match = same & ~crowd & (iou > 0.5)
    tp = np.bincount(table.gt_category[gt[match]], minlength=k)
    iou_sum = np.bincount(table.gt_category[gt[match]], iou[match], minlength=k).astype(float)

    gt_matched = np.zeros(len(table.gt_area), bool)
    gt_matched[gt[match]] = True
    fn = np.bincount(table.gt_category[~gt_matched & ~table.gt_iscrowd], minlength=k)

    seg_matched = np.zeros(n_seg, bool)
    seg_matched[seg[match]] = True
    on_crowd = same & counted_crowd
    ignored = seg_void + np.bincount(seg[on_crowd], inter[on_crowd], minlength=n_seg)
    fp = np.bincount(seg_cat[~seg_matched & ~(ignored / np.maximum(seg_area, 1) > 0.5)], minlength=k)
    return PQStat(tp, fp, fn, iou_sum)


def last_crowd_segments(table: OverlapTable, k: int) -> np.ndarray:
    """Mask of the GT crowd segments counted: per (image, category) the one with the highest id."""
    counted = np.zeros(len(table.gt_iscrowd), bool)
    crowd = np.flatnonzero(table.gt_iscrowd)
    if len(crowd):
        key = (table.gt_image[crowd] * k + table.gt_category[crowd])[::-1]
        _, first_of_reversed = np.unique(key, return_index=True)
        counted[crowd[::-1][first_of_reversed]] = True
    return counted


def pq_average(stat: PQStat, isthing: np.ndarray, subset: bool | None = None) -> dict[str, float | None]:
    """Mean PQ/SQ/RQ over the categories with any TP, FP or FN (all, things or stuff); None if none."""
    chosen = np.ones(len(isthing), bool) if subset is None else isthing == subset
    chosen &= (stat.tp + stat.fp + stat.fn) > 0
    per = pq_per_category(stat)
    n = int(chosen.sum())
    if n == 0:
        return {"pq": None, "sq": None, "rq": None, "n": 0}
    return {"pq": float(per["pq"][chosen].sum() / n), "sq": float(per["sq"][chosen].sum() / n),
            "rq": float(per["rq"][chosen].sum() / n), "n": n}


def pq_per_category(stat: PQStat) -> dict[str, np.ndarray]:
    """PQ, SQ and RQ of every category (0 where it has no TP, FP or FN, as panopticapi)."""
    denom = stat.tp + 0.5 * stat.fp + 0.5 * stat.fn
    safe = np.maximum(denom, 1e-12)
    return {"pq": np.where(denom > 0, stat.iou / safe, 0.0),
            "sq": np.where(stat.tp > 0, stat.iou / np.maximum(stat.tp, 1), 0.0),
            "rq": np.where(denom > 0, stat.tp / safe, 0.0)}


def _percent(value: float | None) -> float | None:
    """A fraction in percent; None stays None."""
    return None if value is None else 100.0 * value


class PanopticMetric:
    """PQ, SQ, RQ (and their things/stuff splits) of one labelling of the regions."""

    def __init__(self, vocabulary: Vocabulary) -> None:
        """The metric for the categories of `vocabulary`."""
        self.isthing = np.array([c.isthing for c in vocabulary], bool)

    def __call__(self, table: OverlapTable, labels: np.ndarray, scores: np.ndarray
                 ) -> tuple[dict[str, float | None], list[dict]]:
        """Summary values in percent and one row per category."""
        stat = pq_stat(table, labels, self.isthing)
        summary: dict[str, float | None] = {}
        for suffix, subset in (("", None), ("_th", True), ("_st", False)):
            avg = pq_average(stat, self.isthing, subset)
            for key in ("pq", "sq", "rq"):
                summary[key.upper() + suffix] = _percent(avg[key])
        per = pq_per_category(stat)
        present = (stat.tp + stat.fp + stat.fn) > 0
        rows = [{**{key.upper(): 100.0 * float(per[key][i]) if present[i] else None for key in ("pq", "sq", "rq")},
                 "TP": int(stat.tp[i]), "FP": int(stat.fp[i]), "FN": int(stat.fn[i])}
                for i in range(len(self.isthing))]
        return summary, rows
