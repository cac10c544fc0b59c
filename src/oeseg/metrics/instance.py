"""Mask AP, AP50 and AP75 with pycocotools' COCOeval, mask IoUs taken from the overlap table.

Instance ground truth: the GT segments of thing categories, crowd segments as `iscrowd` (COCOeval
ignores them and the detections they absorb). Detections: the regions labelled with a thing
category, scored by their predictions' `score`; regions labelled with a stuff category or BACKGROUND
are no detections. COCOeval runs unchanged (matching in score order, 10 IoU thresholds, 101-point
interpolated precision, at most 100 detections per image, area range "all") except that
`computeIoU` reads the IoUs from the pixel counts of the overlap table, which are exactly the mask
IoUs `pycocotools.mask.iou` computes on RLE masks (for a crowd GT: intersection / detection area).
The table is computed once for every level, so no RLE encoding is repeated per level.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from oeseg.data.vocabularies import Vocabulary
from oeseg.metrics.overlaps import OverlapTable

#: area range "all" of COCOeval's default parameters
AREA_ALL = [0**2, 1e5**2]
MAX_DETS = 100


class TableCOCOeval(COCOeval):
    """COCOeval whose mask IoUs come from the overlap table's intersections."""

    def __init__(self, coco_gt: COCO, coco_dt: COCO, table: OverlapTable):
        # iouType "bbox" only keeps _prepare from converting `segmentation` fields to RLE: the
        # detection parameters are the same for "segm" and computeIoU is replaced below.
        super().__init__(coco_gt, coco_dt, iouType="bbox")
        self.table = table

    def computeIoU(self, imgId, catId):  # noqa: N802 (COCOeval's name)
        """Mask IoUs of the detections (score order, as COCOeval sorts them) with the GT instances."""
        gt = self._gts[imgId, catId]
        dt = self._dts[imgId, catId]
        if len(gt) == 0 or len(dt) == 0:
            return []
        order = np.argsort([-d["score"] for d in dt], kind="mergesort")
        dt = [dt[i] for i in order][: self.params.maxDets[-1]]
        intersections = self.table.intersections
        ious = np.zeros((len(dt), len(gt)))
        for j, g in enumerate(gt):
            for i, d in enumerate(dt):
                inter = intersections.get((g["row"], d["row"]), 0)
                union = d["area"] if g["iscrowd"] else d["area"] + g["area"] - inter
                ious[i, j] = inter / union if union > 0 else 0.0
        return ious


def _coco(images: list[int], categories: list[int], annotations: list[dict]) -> COCO:
    coco = COCO()
    coco.dataset = {"images": [{"id": i} for i in images], "categories": [{"id": c} for c in categories],
                    "annotations": annotations}
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def coco_precision(table: OverlapTable, labels: np.ndarray, scores: np.ndarray, isthing: np.ndarray
                   ) -> np.ndarray | None:
    """COCOeval's precision array [T, R, K_things] (area all, 100 detections); None without thing GT."""
    labels = np.asarray(labels, np.int64)
    things = [int(c) for c in np.flatnonzero(isthing)]
    gt_rows = np.flatnonzero(isthing[table.gt_category])
    if len(gt_rows) == 0:
        return None
    gt_anns = [{"id": n + 1, "row": int(r), "image_id": int(table.gt_image[r]),
                "category_id": int(table.gt_category[r]), "iscrowd": int(table.gt_iscrowd[r]),
                "area": int(table.gt_area[r])} for n, r in enumerate(gt_rows)]
    dt_rows = np.flatnonzero((labels >= 0) & isthing[np.maximum(labels, 0)])
    dt_anns = [{"id": n + 1, "row": int(r), "image_id": int(table.region_image[r]),
                "category_id": int(labels[r]), "score": float(scores[r]), "area": int(table.region_area[r])}
               for n, r in enumerate(dt_rows)]
    image_ids = sorted({a["image_id"] for a in gt_anns} | {a["image_id"] for a in dt_anns})
    evaluator = TableCOCOeval(_coco(image_ids, things, gt_anns), _coco(image_ids, things, dt_anns), table)
    evaluator.params.imgIds = image_ids
    evaluator.params.catIds = things
    evaluator.params.areaRng = [AREA_ALL]
    evaluator.params.areaRngLbl = ["all"]
    evaluator.params.maxDets = [MAX_DETS]
    with contextlib.redirect_stdout(io.StringIO()):
        evaluator.evaluate()
        evaluator.accumulate()
    return evaluator.eval["precision"][:, :, :, 0, 0]


def _mean_defined(precision: np.ndarray) -> float | None:
    defined = precision[precision > -1]
    return float(defined.mean()) if defined.size else None


class InstanceMetric:
    """Mask AP, AP50, AP75 (and per-category AP) of one labelling of the regions."""

    name = "instance"

    def __init__(self, vocabulary: Vocabulary):
        self.vocabulary = vocabulary
        self.isthing = np.array([c.isthing for c in vocabulary], bool)

    def __call__(self, table: OverlapTable, labels: np.ndarray, scores: np.ndarray
                 ) -> tuple[dict[str, float | None], list[dict]]:
        """Summary values in percent and one row per category (AP None for stuff or absent things)."""
        precision = coco_precision(table, labels, scores, self.isthing)
        rows: list[dict] = [{"AP": None} for _ in self.isthing]
        if precision is None:
            return {"AP": None, "AP50": None, "AP75": None}, rows
        for k, position in enumerate(np.flatnonzero(self.isthing)):
            ap = _mean_defined(precision[:, :, k])
            rows[position]["AP"] = None if ap is None else 100.0 * ap
        summary = {"AP": _mean_defined(precision), "AP50": _mean_defined(precision[0]),
                   "AP75": _mean_defined(precision[5])}
        return {key: None if v is None else 100.0 * v for key, v in summary.items()}, rows
