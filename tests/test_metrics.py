"""PQ, mIoU, mask AP and the LAC against independent, straightforward implementations.

The references below work on the pixel maps directly, as the original tools do: a literal
panopticapi-style `pq_compute` loop over np.unique of combined ids (oeseg.metrics.reference), a per-pixel confusion-matrix
loop, and pycocotools' COCOeval run on RLE masks made with `pycocotools.mask.encode`.
"""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest
from metrics_cases import VOCAB, random_labels, write_case
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from oeseg.data.panoptic import (SEMANTIC_VOID, PanopticImage, PanopticSplit, Segment, panoptic_json, png_bytes,
                                 write_segment_ids, write_semantic_ids)
from oeseg.data.vocabularies import CITYSCAPES, Category, Vocabulary
from oeseg.io import InputError, atomic_write_json
from oeseg.metrics.evaluator import evaluate_labels
from oeseg.metrics.lac import lac_score
from oeseg.metrics.overlaps import category_positions, compute_overlaps
from oeseg.metrics.reference import pq_counts

K = len(VOCAB)


# --------------------------------------------------------------------------- references
def predicted_panoptic(region_map, labels):
    """A panoptic prediction PNG + segments_info: things one segment each, stuff merged per category."""
    pan = np.zeros(region_map.shape, np.uint64)
    segments_info, stuff_ids, next_id = [], {}, 1
    for rid in np.unique(region_map):
        label = labels.get(int(rid), -1)
        if rid == 0 or label < 0:
            continue
        cat = VOCAB.categories[label]
        if not cat.isthing and cat.id in stuff_ids:
            pan[region_map == rid] = stuff_ids[cat.id]
            continue
        pan[region_map == rid] = next_id
        segments_info.append({"id": next_id, "category_id": cat.id})
        if not cat.isthing:
            stuff_ids[cat.id] = next_id
        next_id += 1
    return pan, segments_info


def reference_pq(gt_maps, gt_segments, region_maps, labels):
    """panopticapi's pq_compute_single_core (oeseg.metrics.reference) + pq_average."""
    stat = {c.id: {"tp": 0, "fp": 0, "fn": 0, "iou": 0.0} for c in VOCAB}
    for n, (pan_gt, segs) in enumerate(zip(gt_maps, gt_segments)):
        pan_pred, pred_info = predicted_panoptic(region_maps[n], labels[n])
        gt_segms = {s.id: {"category_id": s.category_id, "iscrowd": s.iscrowd, "area": s.area} for s in segs}
        counts = pq_counts(pan_gt, gt_segms, pan_pred, {s["id"]: dict(s) for s in pred_info})
        for category, image_counts in counts.items():
            for key, value in image_counts.items():
                stat[category][key] += value
    out = {}
    for name, isthing in (("", None), ("_th", True), ("_st", False)):
        pq = sq = rq = 0.0
        n = 0
        for c in VOCAB:
            if isthing is not None and c.isthing != isthing:
                continue
            s = stat[c.id]
            if s["tp"] + s["fp"] + s["fn"] == 0:
                continue
            n += 1
            pq += s["iou"] / (s["tp"] + 0.5 * s["fp"] + 0.5 * s["fn"])
            sq += s["iou"] / s["tp"] if s["tp"] else 0
            rq += s["tp"] / (s["tp"] + 0.5 * s["fp"] + 0.5 * s["fn"])
        out["PQ" + name] = 100 * pq / n if n else None
        out["SQ" + name] = 100 * sq / n if n else None
        out["RQ" + name] = 100 * rq / n if n else None
    return out, stat


def reference_miou(gt_maps, gt_segments, region_maps, labels):
    """Per-pixel confusion-matrix loop; background is an extra predicted column."""
    conf = np.zeros((K, K + 1), np.int64)
    position = {c.id: i for i, c in enumerate(VOCAB)}
    for n, (gt, segs) in enumerate(zip(gt_maps, gt_segments)):
        cat_of = {s.id: position[s.category_id] for s in segs}
        for y in range(gt.shape[0]):
            for x in range(gt.shape[1]):
                g = int(gt[y, x])
                if g == 0:
                    continue
                p = labels[n].get(int(region_maps[n][y, x]), -1) if region_maps[n][y, x] != 0 else -1
                conf[cat_of[g], p if p >= 0 else K] += 1
    ious = []  # over the categories present in the ground truth (detectron2's SemSegEvaluator)
    for c in range(K):
        tp = conf[c, c]
        union = conf[c].sum() + conf[:, c].sum() - tp
        if conf[c].sum() > 0:
            ious.append(tp / union)
    return 100 * float(np.mean(ious)) if ious else None


def reference_ap(gt_maps, gt_segments, region_maps, labels, scores):
    """COCOeval (iouType segm) on RLE masks, default parameters; stats[0:3] and per-category AP."""
    images, gt_anns, dt_anns = [], [], []
    for n, (gt, segs) in enumerate(zip(gt_maps, gt_segments)):
        images.append({"id": n, "height": gt.shape[0], "width": gt.shape[1]})
        for s in segs:
            if not VOCAB.by_id(s.category_id).isthing:
                continue
            rle = mask_utils.encode(np.asfortranarray((gt == s.id).astype(np.uint8)))
            gt_anns.append({"id": len(gt_anns) + 1, "image_id": n, "category_id": s.category_id,
                            "segmentation": rle, "area": float(mask_utils.area(rle)),
                            "bbox": list(mask_utils.toBbox(rle)), "iscrowd": s.iscrowd})
        for rid in np.unique(region_maps[n]):
            label = labels[n].get(int(rid), -1)
            if rid == 0 or label < 0 or not VOCAB.categories[label].isthing:
                continue
            rle = mask_utils.encode(np.asfortranarray((region_maps[n] == rid).astype(np.uint8)))
            dt_anns.append({"image_id": n, "category_id": VOCAB.categories[label].id, "segmentation": rle,
                            "score": scores[n][int(rid)]})
    things = [{"id": c.id} for c in VOCAB if c.isthing]
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = {"images": images, "annotations": gt_anns, "categories": things}
        coco_gt.createIndex()
        if dt_anns:
            coco_dt = coco_gt.loadRes(dt_anns)
        else:
            coco_dt = COCO()
            coco_dt.dataset = {"images": images, "annotations": [], "categories": things}
            coco_dt.createIndex()
        ev = COCOeval(coco_gt, coco_dt, "segm")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    per_category = {}
    for k, cat in enumerate(ev.params.catIds):
        p = ev.eval["precision"][:, :, k, 0, 2]
        per_category[cat] = 100 * float(p[p > -1].mean()) if (p > -1).any() else None
    stats = [None if s == -1 else 100 * s for s in ev.stats[:3]]
    return dict(zip(("AP", "AP50", "AP75"), stats)), per_category


# --------------------------------------------------------------------------- helpers
def run_case(tmp_path, seed, num_images=12, own_masks=False, **labelling):
    """Evaluate one random case with our evaluator and with the references."""
    rng = np.random.default_rng(seed)
    case = write_case(tmp_path, rng, num_images, own_masks=own_masks)
    split = PanopticSplit.load(tmp_path)
    table = compute_overlaps(split, tmp_path / "masks" if own_masks else None, workers=1)
    labels = random_labels(rng, table.region_gt_category(), **labelling)
    scores = rng.choice([0.2, 0.5, 0.9, 1.0], size=table.num_regions)
    ours = evaluate_labels(table, split.vocabulary, {"level": labels}, scores)
    region_maps = case.mask_maps if own_masks else case.gt_maps
    by_image = [dict() for _ in case.images]
    score_by_image = [dict() for _ in case.images]
    for r in range(table.num_regions):
        by_image[table.region_image[r]][int(table.region_segment[r])] = int(labels[r])
        score_by_image[table.region_image[r]][int(table.region_segment[r])] = float(scores[r])
    segments = [im.segments for im in split.images]
    return ours, case, segments, region_maps, by_image, score_by_image


def assert_close(ours, reference, keys):
    for key in keys:
        if reference[key] is None:
            assert ours[key] is None, key
        else:
            assert ours[key] == pytest.approx(reference[key], abs=1e-9), key


# --------------------------------------------------------------------------- randomised comparisons
@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("own_masks", [False, True], ids=["gt-masks", "own-masks"])
def test_metrics_match_references_on_random_cases(tmp_path, seed, own_masks):
    ours, case, segments, region_maps, labels, scores = run_case(tmp_path, seed, own_masks=own_masks)
    metrics = {key: v["level"] for key, v in ours["metrics"].items()}
    pq, stat = reference_pq(case.gt_maps, segments, region_maps, labels)
    assert_close(metrics, pq, ["PQ", "SQ", "RQ", "PQ_th", "SQ_th", "RQ_th", "PQ_st", "SQ_st", "RQ_st"])
    rows = {row["id"]: row for row in ours["per_category"]["level"]}
    for cat_id, s in stat.items():
        assert (rows[cat_id]["TP"], rows[cat_id]["FP"], rows[cat_id]["FN"]) == (s["tp"], s["fp"], s["fn"])
    assert_close(metrics, {"mIoU": reference_miou(case.gt_maps, segments, region_maps, labels)}, ["mIoU"])
    ap, ap_per_category = reference_ap(case.gt_maps, segments, region_maps, labels, scores)
    assert_close(metrics, ap, ["AP", "AP50", "AP75"])
    for cat_id, value in ap_per_category.items():
        assert_close({"AP": rows[cat_id]["AP"]}, {"AP": value}, ["AP"])


@pytest.mark.parametrize("labelling", [dict(p_correct=0.0, p_background=1.0),  # empty predictions
                                       dict(p_correct=1.0, p_background=0.0),  # perfect labels
                                       dict(p_correct=0.0, p_background=0.0)],  # every label wrong
                         ids=["all-background", "all-correct", "all-wrong"])
def test_metrics_match_references_on_extreme_labellings(tmp_path, labelling):
    ours, case, segments, region_maps, labels, scores = run_case(tmp_path, 11, num_images=8, **labelling)
    metrics = {key: v["level"] for key, v in ours["metrics"].items()}
    assert_close(metrics, reference_pq(case.gt_maps, segments, region_maps, labels)[0], ["PQ", "PQ_th", "PQ_st"])
    assert_close(metrics, {"mIoU": reference_miou(case.gt_maps, segments, region_maps, labels)}, ["mIoU"])
    assert_close(metrics, reference_ap(case.gt_maps, segments, region_maps, labels, scores)[0], ["AP", "AP50", "AP75"])
    if labelling["p_correct"] == 1.0:  # GT masks with the right labels: everything perfect
        assert metrics["PQ"] == pytest.approx(100) and metrics["mIoU"] == pytest.approx(100)
        assert metrics["AP"] == pytest.approx(100)


def test_parallel_overlap_pass_equals_serial(tmp_path):
    write_case(tmp_path, np.random.default_rng(5), 10, own_masks=True)
    split = PanopticSplit.load(tmp_path)
    serial = compute_overlaps(split, tmp_path / "masks", workers=1)
    parallel = compute_overlaps(split, tmp_path / "masks", workers=2)
    for field in ("gt_area", "region_segment", "region_area", "region_void", "pair_gt", "pair_region", "pair_pixels"):
        assert np.array_equal(getattr(serial, field), getattr(parallel, field)), field


# --------------------------------------------------------------------------- hand-computed cases
def tiny_split(tmp_path, gt, segments, vocabulary=CITYSCAPES):
    write_segment_ids(tmp_path / "panoptic" / "a.png", gt)
    atomic_write_json(tmp_path / "panoptic.json", panoptic_json(
        vocabulary, [PanopticImage("a", "a.jpg", "a.png", gt.shape[1], gt.shape[0], segments)]))
    return PanopticSplit.load(tmp_path)


def test_hand_computed_gt_masks(tmp_path):
    # 4x5 image: road (id 1, 10 px), car (id 2, 6 px), sky (id 3, 2 px), 2 void pixels
    gt = np.array([[1, 1, 1, 1, 1],
                   [1, 1, 1, 1, 1],
                   [2, 2, 2, 3, 3],
                   [2, 2, 2, 0, 0]], np.uint32)
    segs = [Segment(1, 0, 0, 10), Segment(2, 13, 0, 6), Segment(3, 10, 0, 2)]
    split = tiny_split(tmp_path, gt, segs)
    table = compute_overlaps(split)
    labels = category_positions(CITYSCAPES, np.array([0, 13, 0]))  # sky called "road"
    out = evaluate_labels(table, CITYSCAPES, {"x": labels}, np.ones(3))
    m = {k: v["x"] for k, v in out["metrics"].items()}
    # road + sky merged into one road segment (12 px): IoU with GT road = 10/12 > 0.5 -> TP;
    # sky FN. PQ: road 10/12, car 1, sky 0 -> (10/12 + 1 + 0) / 3
    assert m["PQ"] == pytest.approx(100 * (10 / 12 + 1) / 3)
    assert m["PQ_th"] == pytest.approx(100) and m["PQ_st"] == pytest.approx(100 * (10 / 12) / 2)
    # panopticapi averages SQ over the same categories as PQ: sky (no TP) counts with SQ 0
    assert m["SQ"] == pytest.approx(100 * (10 / 12 + 1 + 0) / 3)
    # mIoU: road 10/12, car 1, sky 0 over 3 categories
    assert m["mIoU"] == pytest.approx(100 * (10 / 12 + 1 + 0) / 3)
    # one car GT, one car detection with IoU 1 -> AP 100
    assert (m["AP"], m["AP50"], m["AP75"]) == (pytest.approx(100), pytest.approx(100), pytest.approx(100))


def test_the_first_category_of_a_vocabulary_counts_like_any_other(tmp_path):
    """Vocabulary position 0 is a category like the others (BACKGROUND is -1): here a thing, whose
    correctly labelled instances are detections for mask AP and segments for PQ."""
    vocabulary = Vocabulary("things-first", (Category(4, "car", True), Category(9, "road", False)))
    gt = np.array([[1, 1, 2, 2], [1, 1, 2, 2]], np.uint32)
    split = tiny_split(tmp_path, gt, [Segment(1, 4, 0, 4), Segment(2, 9, 0, 4)], vocabulary)
    table = compute_overlaps(split)
    out = evaluate_labels(table, vocabulary, {"x": np.array([0, 1])}, np.ones(2))
    m = {k: v["x"] for k, v in out["metrics"].items()}
    # both regions are their own GT segment, correctly labelled: every IoU is 1
    assert (m["AP"], m["PQ_th"], m["PQ"], m["mIoU"]) == (pytest.approx(100),) * 4


def test_gt_areas_are_optional_in_panoptic_json(tmp_path):
    """panoptic.json may leave out a segment's `area` (read as 0): the PNG's pixels count, as with it."""
    gt = np.array([[1, 1, 1, 5]], np.uint32)
    tiny_split(tmp_path, gt, [Segment(1, 0, 0, 3), Segment(5, 13, 0, 1)])
    obj = json.loads((tmp_path / "panoptic.json").read_text())
    for segment in obj["annotations"][0]["segments_info"]:
        del segment["area"]
    (tmp_path / "panoptic.json").write_text(json.dumps(obj))
    assert compute_overlaps(PanopticSplit.load(tmp_path)).gt_area.tolist() == [3, 1]


def test_hand_computed_own_masks_void_and_crowd(tmp_path):
    # GT: car (id 5, 8 px, left), person crowd (id 6, 4 px), void elsewhere
    gt = np.array([[5, 5, 5, 5, 0, 6],
                   [5, 5, 5, 5, 0, 6],
                   [0, 0, 0, 0, 0, 6],
                   [0, 0, 0, 0, 0, 6]], np.uint32)
    split = tiny_split(tmp_path, gt, [Segment(5, 13, 0, 8), Segment(6, 11, 1, 4)])
    masks = np.array([[1, 1, 1, 1, 1, 2],
                      [1, 1, 1, 1, 1, 2],
                      [1, 1, 1, 1, 0, 2],
                      [1, 1, 1, 1, 0, 3]], np.uint32)
    write_segment_ids(tmp_path / "masks" / "a.png", masks)
    table = compute_overlaps(split, tmp_path / "masks")
    # region 1: 18 px, 8 on car, 10 on void; region 2: 3 px on the crowd; region 3: 1 px on the crowd
    assert table.region_area.tolist() == [18, 3, 1] and table.region_void.tolist() == [10, 0, 0]
    # best GT by plain IoU > 0.5: region 1 8/18, region 2 3/4 (person), region 3 1/4
    assert table.region_gt_category().tolist() == [-1, 11, -1]
    labels = category_positions(CITYSCAPES, np.array([13, 11, 13]))
    out = evaluate_labels(table, CITYSCAPES, {"x": labels}, np.array([0.9, 0.8, 0.7]))
    rows = {r["id"]: r for r in out["per_category"]["x"]}
    # car: union leaves out the 10 void pixels: IoU = 8 / (18 + 8 - 8 - 10) = 1 -> TP;
    # region 3 (car) lies on the person crowd, not a car crowd: FP for car
    assert (rows[13]["TP"], rows[13]["FP"], rows[13]["FN"]) == (1, 1, 0)
    # region 2 (person) lies entirely on the person crowd: ignored, and crowd GT gives no FN
    assert (rows[11]["TP"], rows[11]["FP"], rows[11]["FN"]) == (0, 0, 0)
    assert out["metrics"]["PQ"]["x"] == pytest.approx(100 * 1 / (1 + 0.5))
    # AP (COCO has no void): car detection IoU 8/18 < 0.5 and the 1-px car detection misses: AP 0
    assert out["metrics"]["AP50"]["x"] == pytest.approx(0)
    # mIoU over non-void pixels: car row 8 px all predicted car, car column 8 + 1 crowd pixel -> 8/9;
    # person row 4 px, 3 predicted person -> 3/4; the other categories have an empty union
    assert out["metrics"]["mIoU"]["x"] == pytest.approx(100 * (8 / 9 + 3 / 4) / 2)


def test_only_the_last_crowd_segment_of_a_category_excuses_a_prediction(tmp_path):
    # GT: two person crowd segments (ids 6 and 7), a car crowd segment (id 8) and void; panopticapi
    # keeps the last crowd segment of each category (person: id 7; car: id 8)
    gt = np.array([[6, 6, 0, 7, 7, 8, 8],
                   [6, 6, 0, 7, 7, 8, 8]], np.uint32)
    segments = [Segment(6, 11, 1, 4), Segment(7, 11, 1, 4), Segment(8, 13, 1, 4)]
    split = tiny_split(tmp_path, gt, segments)
    masks = np.array([[1, 1, 0, 2, 2, 3, 3],
                      [1, 1, 0, 2, 2, 3, 3]], np.uint32)
    write_segment_ids(tmp_path / "masks" / "a.png", masks)
    table = compute_overlaps(split, tmp_path / "masks")
    gt_segments = {s.id: {"category_id": s.category_id, "iscrowd": s.iscrowd, "area": s.area} for s in segments}
    for ids, person in (([11, 11, 13], (0, 1, 0)), ([-1, 11, 13], (0, 0, 0))):
        labels = category_positions(CITYSCAPES, np.array(ids))
        out = evaluate_labels(table, CITYSCAPES, {"x": labels}, np.array([0.9, 0.8, 0.7]))
        rows = {r["id"]: r for r in out["per_category"]["x"]}
        # a person region on crowd 6, which panopticapi does not count, is an FP; one on crowd 7 is
        # ignored (only the region on crowd 6 tells them apart: the second labelling leaves it out);
        # the car region lies on the car crowd: ignored
        assert (rows[11]["TP"], rows[11]["FP"], rows[11]["FN"]) == person, ids
        assert (rows[13]["TP"], rows[13]["FP"], rows[13]["FN"]) == (0, 0, 0), ids
        # the literal reference counts the same
        pan_pred = np.where(np.isin(masks, [r + 1 for r, c in enumerate(ids) if c >= 0]), masks, 0)
        reference = pq_counts(gt, gt_segments, pan_pred, {r + 1: {"category_id": c} for r, c in enumerate(ids) if c >= 0})
        assert {c: (s["tp"], s["fp"], s["fn"]) for c, s in reference.items()} == ({11: person} if any(person) else {})


def test_boundaries_of_the_rules_by_hand(tmp_path):
    """The boundaries that random cases seldom hit: PQ needs IoU > 0.5 (COCO's AP takes >= 0.5); a
    prediction exactly half on void is still a false positive; mIoU counts a category predicted but
    absent from the ground truth, and leaves out one predicted on void only."""
    # image a: car (id 5, 4 px) over road (id 1, 4 px); one region (8 px) covers both
    # image b: void (left half) and road (id 1, 4 px); region 7: 2 void + 2 road px, region 6: 2 void px,
    # region 8: 2 road px
    gt_a = np.array([[5, 5, 5, 5], [1, 1, 1, 1]], np.uint32)
    gt_b = np.array([[0, 0, 1, 1], [0, 0, 1, 1]], np.uint32)
    masks_a = np.full((2, 4), 9, np.uint32)
    masks_b = np.array([[7, 7, 8, 8], [6, 6, 7, 7]], np.uint32)
    images = [PanopticImage("a", "a.jpg", "a.png", 4, 2, [Segment(1, 0, 0, 4), Segment(5, 13, 0, 4)]),
              PanopticImage("b", "b.jpg", "b.png", 4, 2, [Segment(1, 0, 0, 4)])]
    for name, gt, masks in (("a", gt_a, masks_a), ("b", gt_b, masks_b)):
        write_segment_ids(tmp_path / "panoptic" / f"{name}.png", gt)
        write_segment_ids(tmp_path / "masks" / f"{name}.png", masks)
    atomic_write_json(tmp_path / "panoptic.json", panoptic_json(CITYSCAPES, images))
    table = compute_overlaps(PanopticSplit.load(tmp_path), tmp_path / "masks")
    label_of = {("a", 9): 13, ("b", 7): 10, ("b", 6): 15}  # car, sky, bus; region b/8 background
    ids = [label_of.get((table.image_ids[i], int(s)), -1) for i, s in zip(table.region_image, table.region_segment)]
    out = evaluate_labels(table, CITYSCAPES, {"x": category_positions(CITYSCAPES, np.array(ids))},
                          np.ones(table.num_regions))
    m = {k: v["x"] for k, v in out["metrics"].items()}
    rows = {r["id"]: r for r in out["per_category"]["x"]}
    counts = {cid: (rows[cid]["TP"], rows[cid]["FP"], rows[cid]["FN"]) for cid in (0, 10, 13, 15)}
    # car: IoU 4/8 = 0.5 is no match (FP + FN); road: two FN; sky: 2 of its 4 px on void, not more
    # than half: FP; bus: all on void, ignored, so out of the averages
    assert counts == {13: (0, 1, 1), 0: (0, 0, 2), 10: (0, 1, 0), 15: (0, 0, 0)}
    assert rows[10]["PQ"] == 0 and rows[15]["PQ"] is None and m["PQ"] == 0
    # mIoU over the GT's categories (detectron2's SemSegEvaluator): car 4/8, road 0/8; sky, predicted
    # but absent from the GT, has no IoU (counted as 0/2 it would give 100 * 0.5 / 3); bus none
    assert rows[10]["IoU"] is None and rows[15]["IoU"] is None and m["mIoU"] == pytest.approx(100 * 0.5 / 2)
    # mask AP: the car detection's IoU 0.5 passes COCO's first threshold only
    assert (m["AP50"], m["AP75"], m["AP"]) == (pytest.approx(100), pytest.approx(0), pytest.approx(10))
    # no region has a GT category: IoU exactly 0.5 is no match (a/9: car 4/8, road 4/8; b/8: road
    # 2/(2 + 4 - 2)); b/7: road 2/6; b/6 only on void
    assert table.region_gt_category().tolist() == [-1, -1, -1, -1]
    # the literal reference (oeseg.metrics.reference) draws the same boundaries: image a, car IoU 4/8
    # is no match; image b, sky half on void is an FP, bus all on void is none
    segs = {1: {"category_id": 0, "iscrowd": 0, "area": 4}, 5: {"category_id": 13, "iscrowd": 0, "area": 4}}
    a = pq_counts(gt_a, segs, masks_a, {9: {"category_id": 13}})
    b = pq_counts(gt_b, {1: segs[1]}, np.where(masks_b == 8, 0, masks_b), {7: {"category_id": 10}, 6: {"category_id": 15}})
    assert {c: (s["tp"], s["fp"], s["fn"]) for c, s in a.items()} == {13: (0, 1, 1), 0: (0, 0, 1)}
    assert {c: (s["tp"], s["fp"], s["fn"]) for c, s in b.items()} == {0: (0, 0, 1), 10: (0, 1, 0)}


def _semantic_case(tmp_path, semantic):
    """A 2x4 Cityscapes image: road (segment 1) on two pixels of the top row, whose other two are
    void, a car (segment 5) on the bottom row; `semantic`, if given, as its own semantic PNG."""
    gt = np.array([[1, 1, 0, 0], [5, 5, 5, 5]], np.uint32)
    write_segment_ids(tmp_path / "panoptic" / "a.png", gt)
    images = [PanopticImage("a", "a.jpg", "a.png", 4, 2, [Segment(1, 0, 0, 2), Segment(5, 13, 0, 4)])]
    atomic_write_json(tmp_path / "panoptic.json", panoptic_json(CITYSCAPES, images))
    if semantic is not None:
        write_semantic_ids(tmp_path / "semantic" / "a.png", semantic)
    return PanopticSplit.load(tmp_path)


def _miou(split, car_label, masks_dir=None):
    """mIoU and per-category IoU (by id) with road (region 1) labelled road and the car (region 5)
    `car_label` (-1: background); the regions are the GT segments, or those of `masks_dir`."""
    table = compute_overlaps(split, masks_dir)
    ids = [{1: 0, 5: car_label}[int(s)] for s in table.region_segment]
    out = evaluate_labels(table, CITYSCAPES, {"x": category_positions(CITYSCAPES, np.array(ids))},
                          np.ones(table.num_regions))
    return out["metrics"]["mIoU"]["x"], {r["id"]: r["IoU"] for r in out["per_category"]["x"]}


def test_miou_scores_against_the_splits_own_semantic_map_by_hand(tmp_path):
    """With `semantic/`, mIoU counts the pixels its map labels and the panoptic one leaves void (no
    region: wrong), and each pixel's own semantic category (a thing painted over stuff)."""
    # semantic: road, road, sidewalk (panoptic void), void / car, car, car, road (the car painted over it)
    semantic = np.array([[0, 0, 1, SEMANTIC_VOID], [13, 13, 13, 0]], np.uint8)
    assert _miou(_semantic_case(tmp_path / "panoptic_only", None), 13)[0] == pytest.approx(100)
    miou, iou = _miou(_semantic_case(tmp_path / "own", semantic), 13)
    # road: 2 right of 3 GT pixels + 0 other predictions -> 2/3; sidewalk 0/1 (no region); car 3/(3 + 4 - 3)
    assert iou[0] == pytest.approx(100 * 2 / 3) and iou[1] == 0 and iou[13] == pytest.approx(75)
    assert miou == pytest.approx(100 * (2 / 3 + 0 + 3 / 4) / 3)
    # the car described as background: its pixels are wrong for car and for the road under it
    miou, iou = _miou(_semantic_case(tmp_path / "own", semantic), -1)
    assert iou[0] == pytest.approx(100 * 2 / 3) and iou[13] == 0 and miou == pytest.approx(100 * (2 / 3) / 3)
    # a model's own masks, its road region also on the sidewalk pixel: road 2/(3 + 3 - 2), sidewalk 0/1
    write_segment_ids(tmp_path / "masks" / "a.png", np.array([[1, 1, 1, 0], [5, 5, 5, 5]], np.uint32))
    miou, iou = _miou(_semantic_case(tmp_path / "own", semantic), 13, tmp_path / "masks")
    assert iou[0] == pytest.approx(50) and iou[1] == 0 and miou == pytest.approx(100 * (0.5 + 0 + 0.75) / 3)


@pytest.mark.parametrize("semantic, message", [
    (None, r"semantic/a.png: semantic PNG not found"),
    (np.zeros((2, 3), np.uint8), r"semantic/a.png: semantic PNG is 3x2 pixels, the panoptic one 4x2"),
    (np.full((2, 4), 19, np.uint8), r"semantic/a.png: pixel value 19 is no category id of the split"),
    (np.zeros((2, 4, 3), np.uint8), r"semantic/a.png: a 'RGB' PNG; a semantic PNG has one 8-bit channel"),
])
def test_a_bad_semantic_png_is_an_error_naming_it(tmp_path, semantic, message):
    """Each image of a split with `semantic/` needs its PNG there, of the image's size and of its categories."""
    split = _semantic_case(tmp_path, np.zeros((2, 4), np.uint8))
    if semantic is None:
        (tmp_path / "semantic" / "a.png").unlink()
    else:
        (tmp_path / "semantic" / "a.png").write_bytes(png_bytes(semantic))
    with pytest.raises(InputError, match=message):
        compute_overlaps(split)


def test_a_vocabulary_id_of_255_or_more_is_an_error_with_semantic_maps(tmp_path):
    """A semantic PNG holds ids 0..254 (255 void): with `semantic/`, a vocabulary id >= 255 is refused."""
    vocabulary = Vocabulary("wide", (Category(3, "road", False), Category(255, "car", True)))
    split = tiny_split(tmp_path, np.array([[1, 1]], np.uint32), [Segment(1, 3, 0, 2)], vocabulary)
    assert compute_overlaps(split).semantic_pixels is None  # without semantic/: no limit
    write_semantic_ids(tmp_path / "semantic" / "a.png", np.zeros((1, 2), np.uint8))
    with pytest.raises(InputError, match=r"semantic: .*category ids below 255; the split's vocabulary has id 255"):
        compute_overlaps(split)


def test_miou_with_semantic_maps_and_no_region_at_all(tmp_path):
    """Images without a segment: every labelled pixel of the semantic map is on no region, so wrong
    (as the panoptic ground truth's pixels are without regions), not an IndexError on zero regions."""
    split = tiny_split(tmp_path, np.zeros((2, 4), np.uint32), [])
    write_semantic_ids(tmp_path / "semantic" / "a.png", np.array([[0, 0, 1, SEMANTIC_VOID]] * 2, np.uint8))
    table = compute_overlaps(split)
    assert table.num_regions == 0
    out = evaluate_labels(table, CITYSCAPES, {"x": np.zeros(0, np.int64)}, np.ones(0))
    rows = {r["id"]: r["IoU"] for r in out["per_category"]["x"]}
    assert out["metrics"]["mIoU"]["x"] == 0 and rows[0] == 0 and rows[1] == 0 and rows[2] is None


def random_semantic(rng, gt, segments):
    """A split's own semantic map: the panoptic ground truth's categories (void 255), with patches of
    other categories, of categories on its void and of void, as SceneParse150's differs from ADE20K's
    panoptic one."""
    semantic = np.full(gt.shape, SEMANTIC_VOID, np.uint8)
    for s in segments:
        semantic[gt == s.id] = s.category_id
    h, w = gt.shape
    for _ in range(rng.integers(0, 5)):
        y, x = rng.integers(0, h), rng.integers(0, w)
        value = SEMANTIC_VOID if rng.random() < 0.3 else VOCAB.categories[rng.integers(len(VOCAB))].id
        semantic[y:y + rng.integers(1, h), x:x + rng.integers(1, w)] = value
    return semantic


def reference_semantic_miou(semantic_maps, region_maps, labels):
    """Per-pixel confusion-matrix loop over the semantic maps' non-void pixels."""
    conf = np.zeros((K, K + 1), np.int64)
    position = {c.id: i for i, c in enumerate(VOCAB)}
    for n, semantic in enumerate(semantic_maps):
        for y in range(semantic.shape[0]):
            for x in range(semantic.shape[1]):
                if semantic[y, x] == SEMANTIC_VOID:
                    continue
                region = int(region_maps[n][y, x])
                p = labels[n].get(region, -1) if region != 0 else -1
                conf[position[int(semantic[y, x])], p if p >= 0 else K] += 1
    tp = np.diag(conf[:, :K])
    union = conf.sum(axis=1) + conf[:, :K].sum(axis=0) - tp
    present = conf.sum(axis=1) > 0  # categories of the ground truth
    return 100 * float(np.mean(tp[present] / union[present]))


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("own_masks", [False, True], ids=["gt-masks", "own-masks"])
def test_miou_with_semantic_maps_matches_a_pixel_loop_on_random_cases(tmp_path, own_masks, workers):
    """mIoU against a split's own semantic maps (one all void, one of an image without segments) equals
    a per-pixel loop, with the GT masks or a model's own, in one process or several."""
    rng = np.random.default_rng(17)
    case = write_case(tmp_path, rng, 9, own_masks=own_masks)
    empty = PanopticImage("empty", "empty.jpg", "empty.png", 7, 5, [])
    write_segment_ids(tmp_path / "panoptic" / "empty.png", np.zeros((5, 7), np.uint32))
    atomic_write_json(tmp_path / "panoptic.json", panoptic_json(VOCAB, [*case.images, empty]))
    gt_maps = [*case.gt_maps, np.zeros((5, 7), np.uint32)]
    region_maps = gt_maps
    if own_masks:
        region_maps = [*case.mask_maps, rng.integers(0, 3, (5, 7)).astype(np.uint32)]
        write_segment_ids(tmp_path / "masks" / "empty.png", region_maps[-1])
    semantic_maps = [random_semantic(rng, gt, im.segments) for gt, im in zip(gt_maps, [*case.images, empty])]
    semantic_maps[1][:] = SEMANTIC_VOID
    for im, semantic in zip([*case.images, empty], semantic_maps):
        write_semantic_ids(tmp_path / "semantic" / im.panoptic_file, semantic)
    table = compute_overlaps(PanopticSplit.load(tmp_path), tmp_path / "masks" if own_masks else None, workers)
    labels = random_labels(rng, table.region_gt_category())
    ours = evaluate_labels(table, VOCAB, {"x": labels}, np.ones(table.num_regions))
    by_image = [dict() for _ in gt_maps]
    for r in range(table.num_regions):
        by_image[table.region_image[r]][int(table.region_segment[r])] = int(labels[r])
    assert ours["metrics"]["mIoU"]["x"] == pytest.approx(reference_semantic_miou(semantic_maps, region_maps, by_image))


# --------------------------------------------------------------------------- LAC
def test_lac_trapezoid_by_hand():
    # levels at 0, 1/3, 2/3, 1: area = 1/3 * (10/2 + 20 + 40 + 50/2) = 30
    assert lac_score([10, 20, 40, 50]) == pytest.approx(30)
    assert lac_score([50, 50, 50, 50]) == pytest.approx(50)
    assert lac_score([0, 0, 0, 90]) == pytest.approx(15)
    assert lac_score([10, None, 40, 50]) is None
    # two levels at 0 and 1: the mean of the two; one level has no area, and is an error, not 0
    assert lac_score([10, 30]) == pytest.approx(20)
    with pytest.raises(ValueError, match="at least two levels"):
        lac_score([50])


@pytest.mark.parametrize("seed", range(4))
def test_lac_curve_monotone_for_cumulative_labellings(tmp_path, seed):
    """Levels are cumulative with ground-truth priority: a region correct at one level stays correct,
    the others keep their label until they become correct; every curve is then non-decreasing."""
    rng = np.random.default_rng(100 + seed)
    write_case(tmp_path, rng, 10, crowd_rate=0.2)
    split = PanopticSplit.load(tmp_path)
    table = compute_overlaps(split)
    correct = table.region_gt_category()
    first_correct = rng.integers(0, 5, table.num_regions)  # 4 = never
    wrong = random_labels(rng, correct, p_correct=0.0, p_background=0.5)
    labels = {f"L{level}": np.where(first_correct <= level, correct, wrong) for level in range(4)}
    scores = rng.random(table.num_regions)
    out = evaluate_labels(table, split.vocabulary, labels, scores)
    for key in ("PQ", "PQ_th", "PQ_st", "RQ", "mIoU", "AP", "AP50", "AP75"):  # SQ need not be monotone
        curve = [out["metrics"][key][f"L{level}"] for level in range(4)]
        if None in curve:
            continue
        assert all(b >= a - 1e-9 for a, b in zip(curve, curve[1:])), (key, curve)
    for key in ("PQ", "mIoU", "AP"):  # each metric's LAC is the area under its own curve (Table 1's columns)
        assert out["lac"][key] == pytest.approx(lac_score([out["metrics"][key][f"L{i}"] for i in range(4)]))
    assert len({out["lac"][key] for key in ("PQ", "mIoU", "AP")}) == 3
    # evaluations reused across levels (mask AP's per-image cache) change nothing
    for level in ("L2", "L3"):
        alone = evaluate_labels(table, split.vocabulary, {level: labels[level]}, scores)
        assert {k: v[level] for k, v in alone["metrics"].items()} == {k: v[level] for k, v in out["metrics"].items()}
