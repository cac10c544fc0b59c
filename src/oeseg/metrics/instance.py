"""Mask AP, AP50 and AP75 with pycocotools' COCOeval, mask IoUs taken from the overlap table.

Instance ground truth: the GT segments of thing categories, crowd segments as `iscrowd` (COCOeval
ignores them and the detections they absorb). Detections: the regions labelled with a thing
category, scored by their predictions' `score` (equal scores, e.g. the default 1.0, keep the order
of image and segment id, as COCOeval keeps annotation order); regions labelled with a stuff category or BACKGROUND
are no detections. COCOeval's matching (`evaluateImg`: score order, 10 IoU thresholds, at most 100
detections per image, area range "all") and accumulation (101-point interpolated precision) run
unchanged; `evaluate` visits only the (image, category) pairs that have GT or detections (the
others are None, as COCOeval makes them), and `computeIoU` reads the IoUs from the pixel counts of
the overlap table, which are exactly the mask IoUs `pycocotools.mask.iou` computes on RLE masks (for
a crowd GT: intersection / detection area).
The table is computed once for every level, so no RLE encoding is repeated per level; and as
annotation ids are stable across levels (GT row + 1, region row + 1), the per-image, per-category
evaluations of a level whose detections did not change since an earlier level are reused as they
are (COCOeval's result for an image and category depends only on its GT and detections).
"""

from __future__ import annotations

import contextlib
import copy
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

    def __init__(self, coco_gt: COCO, coco_dt: COCO, table: OverlapTable, cache: dict) -> None:
        """An evaluation of `coco_dt` against `coco_gt`, its IoUs from `table`, its evaluations kept in `cache`."""
        # iouType "bbox" only keeps _prepare from converting `segmentation` fields to RLE: the
        # detection parameters are the same for "segm" and computeIoU is replaced below.
        super().__init__(coco_gt, coco_dt, iouType="bbox")
        self.table = table
        self.cache = cache

    def evaluate(self) -> None:
        """COCOeval.evaluate, visiting only the (image, category) pairs with GT or detections (the
        others evaluate to None, as in COCOeval) and reusing unchanged pairs' evaluations."""
        p = self.params
        p.imgIds, p.catIds, p.maxDets = list(np.unique(p.imgIds)), list(np.unique(p.catIds)), sorted(p.maxDets)
        self._prepare()
        pairs = set(self._gts) | set(self._dts)
        self.ious = {pair: self.computeIoU(*pair) for pair in pairs}
        self.evalImgs = [self.evaluateImg(img, cat, area, p.maxDets[-1]) if (img, cat) in pairs else None
                         for cat in p.catIds for area in p.areaRng for img in p.imgIds]
        self._paramsEval = copy.deepcopy(self.params)

    def evaluateImg(self, imgId: int, catId: int, aRng: list[float], maxDet: int  # noqa: N802 (COCOeval's name)
                    ) -> dict | None:
        """COCOeval's evaluation of one image and category, reused while its detections are the same."""
        key = (imgId, catId, tuple(aRng), maxDet, tuple(d["id"] for d in self._dts.get((imgId, catId), [])))
        if key not in self.cache:
            self.cache[key] = super().evaluateImg(imgId, catId, aRng, maxDet)
        return self.cache[key]

    def computeIoU(self, imgId: int, catId: int) -> np.ndarray | list:  # noqa: N802 (COCOeval's name)
        """Mask IoUs of the detections (score order, as COCOeval sorts them) with the GT instances."""
        gt = self._gts.get((imgId, catId), [])
        dt = self._dts.get((imgId, catId), [])
        if len(gt) == 0 or len(dt) == 0:
            return []
        key = ("iou", imgId, catId, tuple(d["id"] for d in dt))
        if key not in self.cache:
            order = np.argsort([-d["score"] for d in dt], kind="mergesort")
            dt = [dt[i] for i in order][: self.params.maxDets[-1]]
            intersections = self.table.intersections
            ious = np.zeros((len(dt), len(gt)))
            for j, g in enumerate(gt):
                for i, d in enumerate(dt):
                    inter = intersections.get((g["row"], d["row"]), 0)
                    union = d["area"] if g["iscrowd"] else d["area"] + g["area"] - inter
                    ious[i, j] = inter / union if union > 0 else 0.0
            self.cache[key] = ious
        return self.cache[key]


def _coco(images: list[int], categories: list[int], annotations: list[dict]) -> COCO:
    """A COCO dataset of these image ids, category ids and annotations, indexed (its output silenced)."""
    coco = COCO()
    coco.dataset = {"images": [{"id": i} for i in images], "categories": [{"id": c} for c in categories],
                    "annotations": annotations}
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


class TableAP:
    """Mask AP of the labellings of one overlap table: the GT instances and the per-image,
    per-category evaluations are kept for the next labelling (annotation ids are table rows + 1)."""

    def __init__(self, table: OverlapTable, isthing: np.ndarray) -> None:
        """The GT instances (thing segments) of `table`, `isthing` telling thing categories by id."""
        self.table = table
        self.isthing = isthing
        self.things = [int(c) for c in np.flatnonzero(isthing)]
        self.images = list(range(len(table.image_ids)))
        gt_rows = np.flatnonzero(isthing[table.gt_category])
        self.gt = _coco(self.images, self.things, [
            {"id": int(r) + 1, "row": int(r), "image_id": int(table.gt_image[r]),
             "category_id": int(table.gt_category[r]), "iscrowd": int(table.gt_iscrowd[r]),
             "area": int(table.gt_area[r])} for r in gt_rows]) if len(gt_rows) else None
        self.cache: dict = {}

    def precision(self, labels: np.ndarray, scores: np.ndarray) -> np.ndarray | None:
        """COCOeval's precision array [T, R, K_things] (area all, 100 detections); None without thing GT."""
        if self.gt is None:
            return None
        labels = np.asarray(labels, np.int64)
        table = self.table
        dt_rows = np.flatnonzero((labels >= 0) & self.isthing[np.maximum(labels, 0)])
        dt = _coco(self.images, self.things, [
            {"id": int(r) + 1, "row": int(r), "image_id": int(table.region_image[r]), "category_id": int(labels[r]),
             "score": float(scores[r]), "area": int(table.region_area[r])} for r in dt_rows])
        evaluator = TableCOCOeval(self.gt, dt, table, self.cache)
        evaluator.params.imgIds = self.images
        evaluator.params.catIds = self.things
        evaluator.params.areaRng = [AREA_ALL]
        evaluator.params.areaRngLbl = ["all"]
        evaluator.params.maxDets = [MAX_DETS]
        with contextlib.redirect_stdout(io.StringIO()):
            evaluator.evaluate()
            evaluator.accumulate()
        return evaluator.eval["precision"][:, :, :, 0, 0]


def _mean_defined(precision: np.ndarray) -> float | None:
    """The mean of the defined (> -1) precision values, None when there are none."""
    defined = precision[precision > -1]
    return float(defined.mean()) if defined.size else None


class InstanceMetric:
    """Mask AP, AP50, AP75 (and per-category AP) of one labelling of the regions."""

    def __init__(self, vocabulary: Vocabulary) -> None:
        """The metric for the categories of `vocabulary`."""
        self.isthing = np.array([c.isthing for c in vocabulary], bool)
        self._ap: TableAP | None = None

    def __call__(self, table: OverlapTable, labels: np.ndarray, scores: np.ndarray
                 ) -> tuple[dict[str, float | None], list[dict]]:
        """Summary values in percent and one row per category (AP None for stuff or absent things)."""
        if self._ap is None or self._ap.table is not table:
            self._ap = TableAP(table, self.isthing)
        precision = self._ap.precision(labels, scores)
        rows: list[dict] = [{"AP": None} for _ in self.isthing]
        if precision is None:
            return {"AP": None, "AP50": None, "AP75": None}, rows
        for k, position in enumerate(np.flatnonzero(self.isthing)):
            ap = _mean_defined(precision[:, :, k])
            rows[position]["AP"] = None if ap is None else 100.0 * ap
        summary = {"AP": _mean_defined(precision), "AP50": _mean_defined(precision[0]),
                   "AP75": _mean_defined(precision[5])}
        return {key: None if v is None else 100.0 * v for key, v in summary.items()}, rows
