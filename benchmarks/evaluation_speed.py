"""Speed and memory of the evaluation on an ADE20K-val-scale synthetic set.

Generates, in a temporary folder, a split in the panoptic format with the ADE20K vocabulary
(default 2,000 images of 512x683 pixels, 15-30 segments each, some void, some crowd) and region
labels for four cumulative lexical levels, then prints:
(a) the time of our evaluation (one overlap pass + PQ, mIoU and mask AP per level) for all four
    levels against one level (goal: at most 1.5x);
(b) the time of the reference route -- panopticapi-style PQ (np.unique over combined ids per image),
    a confusion matrix over pixels and pycocotools' COCOeval on RLE masks, run once per level as
    those tools are -- against ours for four levels (goal: ours at least 3x faster);
and the peak memory (maximum resident set size) of the main process and of the worker processes.
Both routes use the same number of worker processes for their per-image work. The mapping of
descriptions is not timed: map_regions maps every description once for all levels.

    PYTHONPATH=src python benchmarks/evaluation_speed.py [--images 2000] [--workers 2]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import resource
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from oeseg.data.panoptic import PanopticImage, PanopticSplit, Segment, panoptic_json, read_segment_ids, write_segment_ids
from oeseg.data.vocabularies import ADE20K
from oeseg.io import atomic_write_json
from oeseg.lexicon import LEVELS
from oeseg.metrics.evaluator import evaluate_labels
from oeseg.metrics.overlaps import compute_overlaps
from oeseg.metrics.reference import pq_counts

HEIGHT, WIDTH, CELL = 512, 683, 8
ISTHING = np.array([c.isthing for c in ADE20K])


def _synthetic_image(seed: int) -> tuple[np.ndarray, list[Segment]]:
    """A Voronoi partition into 15-30 segments (one per stuff category), a void strip, rare crowd."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(15, 31))
    gh, gw = HEIGHT // CELL, -(-WIDTH // CELL)
    seeds = rng.random((n, 2)) * [gh, gw]
    yy, xx = np.mgrid[0:gh, 0:gw]
    nearest = ((yy[..., None] - seeds[:, 0]) ** 2 + (xx[..., None] - seeds[:, 1]) ** 2).argmin(-1)
    grid = np.repeat(np.repeat(nearest, CELL, 0), CELL, 1)[:HEIGHT, :WIDTH]
    stuff = rng.permutation(np.flatnonzero(~ISTHING))
    things = np.flatnonzero(ISTHING)
    cats = [int(stuff[i]) if rng.random() < 0.4 else int(rng.choice(things)) for i in range(n)]
    ids = rng.choice(np.arange(1, 256**3, dtype=np.int64), n, replace=False)
    seg_map = ids[grid].astype(np.uint32)
    y = int(rng.integers(0, HEIGHT - 20))
    seg_map[y:y + int(rng.integers(5, 20))] = 0  # void
    segments, crowd_cats = [], set()
    for sid, cat in zip(ids, cats):
        area = int((seg_map == sid).sum())
        if area == 0:
            continue
        crowd = bool(ISTHING[cat]) and cat not in crowd_cats and rng.random() < 0.03
        crowd_cats.add(cat) if crowd else None
        segments.append(Segment(int(sid), cat, int(crowd), area))
    return seg_map, sorted(segments, key=lambda s: s.id)


def _write_image(task: tuple[Path, int]) -> PanopticImage:
    """Write synthetic image `n`'s panoptic PNG under root; its annotation."""
    root, n = task
    seg_map, segments = _synthetic_image(n)
    name = f"img{n:05d}"
    write_segment_ids(root / "panoptic" / f"{name}.png", seg_map)
    return PanopticImage(name, f"{name}.jpg", f"{name}.png", WIDTH, HEIGHT, segments)


def make_split(root: Path, num_images: int, workers: int) -> PanopticSplit:
    """Write the synthetic split and load it."""
    with ProcessPoolExecutor(workers) as pool:
        images = list(pool.map(_write_image, [(root, n) for n in range(num_images)], chunksize=16))
    atomic_write_json(root / "panoptic.json", panoptic_json(ADE20K, images))
    return PanopticSplit.load(root)


def cumulative_labels(split: PanopticSplit, seed: int = 0) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Labels per level (vocabulary positions; -1 background) that become right level by level."""
    rng = np.random.default_rng(seed)
    gt = np.array([s.category_id for im in split.images for s in im.segments])  # ADE20K ids = positions
    first = rng.integers(0, 5, len(gt))
    wrong = np.where(rng.random(len(gt)) < 0.5, -1, rng.integers(0, len(ADE20K), len(gt)))
    labels = {level: np.where(first <= i, gt, wrong) for i, level in enumerate(LEVELS)}
    return labels, rng.random(len(gt))


# --------------------------------------------------------------------------- the reference route
def _reference_image(task):
    """One image, one level: panopticapi's per-image PQ counts, confusion counts, RLEs (as the tools do)."""
    png, segments, labels, scores = task
    pan_gt = read_segment_ids(png)
    k = len(ADE20K)
    # the panoptic prediction: regions relabelled, stuff merged per category, background unlabelled
    pan_pred = np.zeros_like(pan_gt)
    pred_segms, stuff_ids = {}, {}
    for s, label in zip(segments, labels):
        if label < 0:
            continue
        if not ISTHING[label] and label in stuff_ids:
            pan_pred[pan_gt == s.id] = stuff_ids[label]
            continue
        pid = len(pred_segms) + 1
        pan_pred[pan_gt == s.id] = pid
        pred_segms[pid] = {"category_id": int(label)}
        if not ISTHING[label]:
            stuff_ids[label] = pid
    gt_segms = {s.id: {"category_id": s.category_id, "iscrowd": s.iscrowd, "area": s.area} for s in segments}
    tp, fp, fn, iou = np.zeros(k), np.zeros(k), np.zeros(k), np.zeros(k)
    for category, c in pq_counts(pan_gt, gt_segms, pan_pred, pred_segms).items():
        tp[category], fp[category], fn[category], iou[category] = c["tp"], c["fp"], c["fn"], c["iou"]
    # semantic maps and the confusion matrix over non-void pixels
    lut_gt = {s.id: s.category_id for s in segments}
    sem_gt = np.full(pan_gt.shape, -1, np.int64)
    sem_pred = np.full(pan_gt.shape, k, np.int64)
    for s, label in zip(segments, labels):
        mask = pan_gt == s.id
        sem_gt[mask] = lut_gt[s.id]
        if label >= 0:
            sem_pred[mask] = label
    valid = sem_gt >= 0
    conf = np.bincount(sem_gt[valid] * (k + 1) + sem_pred[valid], minlength=k * (k + 1))
    # instance masks as RLE
    gts = [(mask_utils.encode(np.asfortranarray((pan_gt == s.id).astype(np.uint8))), s.category_id, s.iscrowd)
           for s in segments if ISTHING[s.category_id]]
    dts = [(mask_utils.encode(np.asfortranarray((pan_gt == s.id).astype(np.uint8))), int(label), float(score))
           for s, label, score in zip(segments, labels, scores) if label >= 0 and ISTHING[label]]
    return tp, fp, fn, iou, conf, gts, dts


def reference_level(split: PanopticSplit, labels: np.ndarray, scores: np.ndarray, pool) -> dict:
    """PQ, mIoU and AP of one level by the reference route."""
    k = len(ADE20K)
    tasks, start = [], 0
    for im in split.images:
        n = len(im.segments)
        tasks.append((str(split.panoptic_dir / im.panoptic_file), im.segments, labels[start:start + n].tolist(),
                      scores[start:start + n].tolist()))
        start += n
    tp, fp, fn, iou = np.zeros(k), np.zeros(k), np.zeros(k), np.zeros(k)
    conf = np.zeros(k * (k + 1))
    images, gt_anns, dt_anns = [], [], []
    for n, (a, b, c, d, e, gts, dts) in enumerate(pool.map(_reference_image, tasks, chunksize=16)):
        tp, fp, fn, iou, conf = tp + a, fp + b, fn + c, iou + d, conf + e
        images.append({"id": n, "height": HEIGHT, "width": WIDTH})
        for rle, cat, crowd in gts:
            gt_anns.append({"id": len(gt_anns) + 1, "image_id": n, "category_id": cat, "segmentation": rle,
                            "area": float(mask_utils.area(rle)), "bbox": list(mask_utils.toBbox(rle)), "iscrowd": crowd})
        for rle, cat, score in dts:
            dt_anns.append({"image_id": n, "category_id": cat, "segmentation": rle, "score": score})
    present = tp + fp + fn > 0
    pq = float(np.mean((iou / np.maximum(tp + fp / 2 + fn / 2, 1e-12))[present]))
    conf = conf.reshape(k, k + 1)
    inter = np.diag(conf[:, :k])
    union = conf.sum(1) + conf[:, :k].sum(0) - inter
    present = conf.sum(1) > 0  # the GT's categories, as detectron2's SemSegEvaluator averages
    miou = float(np.mean(inter[present] / union[present]))
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = {"images": images, "annotations": gt_anns, "categories": [{"id": int(c)} for c in np.flatnonzero(ISTHING)]}
        coco_gt.createIndex()
        ev = COCOeval(coco_gt, coco_gt.loadRes(dt_anns), "segm")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {"PQ": 100 * pq, "mIoU": 100 * miou, "AP": 100 * ev.stats[0]}


# --------------------------------------------------------------------------- main
def ours(split: PanopticSplit, labels: dict[str, np.ndarray], scores: np.ndarray, workers: int) -> dict:
    """Our route: one overlap pass, then every metric at every level."""
    table = compute_overlaps(split, workers=workers)
    return evaluate_labels(table, split.vocabulary, labels, scores)


def peak_mb(who: int) -> float:
    """Peak resident set size so far, in MB (RUSAGE_SELF or RUSAGE_CHILDREN)."""
    return resource.getrusage(who).ru_maxrss / 1024


def main() -> None:
    """Time both routes and print their ratios to the goals, the metrics of each and the peak memory."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=2000, help="synthetic images (ADE20K val: 2,000)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes of both routes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="oeseg-bench-") as tmp:
        t = time.perf_counter()
        split = make_split(Path(tmp), args.images, args.workers)
        labels, scores = cumulative_labels(split)
        n_seg = sum(len(im.segments) for im in split.images)
        print(f"synthetic set: {args.images} images of {WIDTH}x{HEIGHT}, {n_seg} segments "
              f"({time.perf_counter() - t:.1f} s to generate); workers: {args.workers}")
        base_self = peak_mb(resource.RUSAGE_SELF)

        t = time.perf_counter()
        ours(split, {"exact": labels["exact"]}, scores, args.workers)
        t_one = time.perf_counter() - t
        t = time.perf_counter()
        four = ours(split, labels, scores, args.workers)
        t_four = time.perf_counter() - t
        ours_self, ours_children = peak_mb(resource.RUSAGE_SELF), peak_mb(resource.RUSAGE_CHILDREN)
        print(f"(a) ours, one level: {t_one:.1f} s; four levels: {t_four:.1f} s; "
              f"ratio {t_four / t_one:.2f}x (goal <= 1.5x)")

        t = time.perf_counter()
        with ProcessPoolExecutor(args.workers) as pool:
            reference = {level: reference_level(split, labels[level], scores, pool) for level in LEVELS}
        t_ref = time.perf_counter() - t
        print(f"(b) reference route, four levels: {t_ref:.1f} s; ours {t_four:.1f} s; "
              f"ours is {t_ref / t_four:.1f}x faster (goal >= 3x)")
        for level in LEVELS:
            got = {key: four["metrics"][key][level] for key in ("PQ", "mIoU", "AP")}
            ok = all(abs(got[key] - reference[level][key]) < 1e-6 for key in got)
            print(f"    {level:8s} ours PQ {got['PQ']:.3f} mIoU {got['mIoU']:.3f} AP {got['AP']:.3f}  "
                  f"reference PQ {reference[level]['PQ']:.3f} mIoU {reference[level]['mIoU']:.3f} "
                  f"AP {reference[level]['AP']:.3f}  {'same' if ok else 'DIFFERENT'}")
        print(f"peak memory: main process {ours_self:.0f} MB after our route ({base_self:.0f} MB after "
              f"generating the set), our worker processes {ours_children:.0f} MB; after the reference route "
              f"main {peak_mb(resource.RUSAGE_SELF):.0f} MB, workers {peak_mb(resource.RUSAGE_CHILDREN):.0f} MB")


if __name__ == "__main__":
    main()
