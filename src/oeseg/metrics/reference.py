"""panopticapi's per-image PQ counting, written out literally on the pixel maps.

The independent reference that the evaluator's PQ (one overlap pass, relabelled per level) is
checked against by the tests and timed against by benchmarks/evaluation_speed.py. It follows
panopticapi's `pq_compute_single_core`: np.unique over combined ids, a match is IoU > 0.5 with the
same category (void pixels left out of the union), crowd segments never matched, and an unmatched
prediction is no false positive when more than half of it lies on void or on the crowd segment of
its own category.
"""

from __future__ import annotations

import numpy as np

#: panopticapi's OFFSET: a (ground truth, prediction) pair of segment ids as one integer
OFFSET = 256 * 256 * 256


def pq_counts(pan_gt: np.ndarray, gt_segments: dict[int, dict], pan_pred: np.ndarray,
              pred_segments: dict[int, dict]) -> dict[int, dict[str, float]]:
    """One image's PQ counts per category id: {"tp", "fp", "fn", "iou"} (categories seen only).

    `gt_segments`: segment id -> {"category_id", "iscrowd", "area"}; `pred_segments`: segment id ->
    {"category_id"} (areas are counted here); id 0 is void in both maps."""
    stat: dict[int, dict[str, float]] = {}

    def count(category: int, key: str, value: float = 1) -> None:
        """Add `value` to count `key` of `category`."""
        stat.setdefault(category, {"tp": 0, "fp": 0, "fn": 0, "iou": 0.0})[key] += value

    pred_area = {int(i): int(n) for i, n in zip(*np.unique(pan_pred, return_counts=True)) if i != 0}
    ids, counts = np.unique(pan_gt.astype(np.uint64) * OFFSET + pan_pred.astype(np.uint64), return_counts=True)
    overlap = {(int(i // OFFSET), int(i % OFFSET)): int(n) for i, n in zip(ids, counts)}
    gt_matched, pred_matched = set(), set()
    for (g, p), inter in overlap.items():
        if g not in gt_segments or p not in pred_segments or gt_segments[g]["iscrowd"] == 1:
            continue
        category = gt_segments[g]["category_id"]
        if category != pred_segments[p]["category_id"]:
            continue
        iou = inter / (pred_area[p] + gt_segments[g]["area"] - inter - overlap.get((0, p), 0))
        if iou > 0.5:
            count(category, "tp")
            count(category, "iou", iou)
            gt_matched.add(g)
            pred_matched.add(p)
    crowd = {}
    for g, info in gt_segments.items():
        if g in gt_matched:
            continue
        if info["iscrowd"] == 1:
            crowd[info["category_id"]] = g
            continue
        count(info["category_id"], "fn")
    for p, info in pred_segments.items():
        if p in pred_matched:
            continue
        ignored = overlap.get((0, p), 0)
        if info["category_id"] in crowd:
            ignored += overlap.get((crowd[info["category_id"]], p), 0)
        if ignored / pred_area[p] <= 0.5:
            count(info["category_id"], "fp")
    return stat
