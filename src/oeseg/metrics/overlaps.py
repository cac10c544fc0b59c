"""Region-to-ground-truth overlaps: the one pixel pass per image that every level and metric reuses.

Matching a predicted region to ground truth does not depend on the region's label, so each image is
read once and reduced to pixel counts: the area of every ground-truth segment, the area of every
region, the pixels of every region on ground-truth void, and every non-zero intersection between a
ground-truth segment and a region; where the split has its own semantic ground truth (`semantic/`),
also every non-zero intersection of a semantic category with a region (or with no region). PQ, mIoU
and mask AP are then computed from these counts alone, once per lexical level, by relabelling the
regions.

Regions come from one of two mask sources:
- the ground-truth protocol (Osprey's and the paper's: the model describes given masks): the region
  map IS the ground-truth map, so the regions are the ground-truth segments themselves;
- a model's own panoptic PNG (`--masks`): the regions are the non-zero ids of that PNG.

Categories are stored as positions in the vocabulary (0..K-1), not as ids.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from oeseg.data.panoptic import SEMANTIC_VOID, PanopticImage, PanopticSplit, read_segment_ids, read_semantic_ids
from oeseg.data.vocabularies import Vocabulary
from oeseg.io import InputError


@dataclass(frozen=True)
class ImageOverlaps:
    """Pixel counts of one image; GT indices follow the given GT segment ids, regions are sorted ids."""

    gt_area: np.ndarray  # (n_gt,) pixels of each ground-truth segment
    region_ids: np.ndarray  # (n_regions,) segment ids of the regions in the region map
    region_area: np.ndarray  # (n_regions,) pixels of each region
    region_void: np.ndarray  # (n_regions,) pixels of each region on ground-truth void
    pair_gt: np.ndarray  # (n_pairs,) ground-truth index of each non-zero intersection
    pair_region: np.ndarray  # (n_pairs,) region index of each non-zero intersection
    pair_pixels: np.ndarray  # (n_pairs,) pixels of each intersection
    semantic_category: np.ndarray | None = None  # (n_sem,) category position of each semantic intersection
    semantic_region: np.ndarray | None = None  # (n_sem,) its region index, -1 for pixels of no region
    semantic_pixels: np.ndarray | None = None  # (n_sem,) its pixels


def _lookup_size(ids: np.ndarray) -> int:
    """The smallest size >= 2 len(ids) whose remainders of `ids` are all different (a perfect hash)."""
    size = 2 * len(ids)
    while len(np.unique(ids % np.uint32(size))) < len(ids):
        size += 1
    return size


def _positions(ids: np.ndarray, known_ids: np.ndarray, where: str) -> np.ndarray:
    """Position of each pixel's id in [0 (void), *known_ids]; an id not listed raises InputError."""
    table = np.concatenate([[0], known_ids]).astype(np.uint32)
    size = np.uint32(_lookup_size(table))
    lookup = np.zeros(int(size), np.int64)
    lookup[table % size] = np.arange(len(table))
    found = lookup[ids % size]
    unknown = table[found] != ids
    if unknown.any():
        raise InputError(f"{where}: segment id {int(ids[unknown][0])} is in the PNG but not in panoptic.json")
    return found


def _semantic_intersections(semantic: np.ndarray, region_pos: np.ndarray, n_regions: int
                            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(category, region index or -1, pixels) of every non-zero intersection of the semantic map
    (category positions, -1 void) with the region positions (0 = no region)."""
    valid = semantic >= 0
    counts = np.bincount(semantic[valid] * (n_regions + 1) + region_pos[valid])
    codes = np.flatnonzero(counts)
    return codes // (n_regions + 1), codes % (n_regions + 1) - 1, counts[codes].astype(np.int64)


def image_overlaps(gt_map: np.ndarray, gt_segment_ids: np.ndarray, region_map: np.ndarray | None = None,
                   gt_where: str = "", region_where: str = "", semantic: np.ndarray | None = None) -> ImageOverlaps:
    """Count areas and intersections of one image; without `region_map` the regions are the GT segments.
    `semantic`: the image's own semantic ground truth as category positions (-1 void), if the split has
    one. Errors name `gt_where` (the ground-truth PNG) or `region_where` (the mask PNG)."""
    gt_segment_ids = np.asarray(gt_segment_ids, dtype=np.int64)
    n_gt = len(gt_segment_ids)
    gt_pos = _positions(gt_map.ravel(), gt_segment_ids, gt_where)
    if region_map is None:
        gt_area = np.bincount(gt_pos, minlength=n_gt + 1)[1:].astype(np.int64)
        present = np.flatnonzero(gt_area)
        sem = () if semantic is None else _semantic_intersections(semantic.ravel(), gt_pos, n_gt)
        return ImageOverlaps(gt_area, gt_segment_ids, gt_area.copy(), np.zeros(n_gt, np.int64),
                             present, present, gt_area[present], *sem)
    if region_map.shape != gt_map.shape:
        raise InputError(f"{region_where}: mask PNG is {region_map.shape[1]}x{region_map.shape[0]} pixels, "
                         f"ground truth is {gt_map.shape[1]}x{gt_map.shape[0]}")
    region_ids, region_pos = np.unique(region_map.ravel(), return_inverse=True)
    if region_ids[0] != 0:  # keep position 0 for region void even when the map has none
        region_ids = np.concatenate([[0], region_ids])
        region_pos = region_pos + 1
    n_regions = len(region_ids) - 1
    counts = np.bincount(gt_pos * (n_regions + 1) + region_pos, minlength=(n_gt + 1) * (n_regions + 1))
    counts = counts.reshape(n_gt + 1, n_regions + 1).astype(np.int64)
    pair_gt, pair_region = np.nonzero(counts[1:, 1:])
    sem = () if semantic is None else _semantic_intersections(semantic.ravel(), region_pos, n_regions)
    return ImageOverlaps(counts[1:].sum(axis=1), region_ids[1:].astype(np.int64), counts[:, 1:].sum(axis=0),
                         counts[0, 1:].copy(), pair_gt, pair_region, counts[1:, 1:][pair_gt, pair_region], *sem)


def check_gt_areas(gt_png: str, gt_segment_ids: np.ndarray, listed_areas: np.ndarray, pixels: np.ndarray) -> None:
    """Raise InputError unless the PNG and panoptic.json agree: every listed segment has pixels, and
    its listed area (where non-zero: the field is optional) is its pixel count (panopticapi checks
    this for predictions only)."""
    for sid, listed, count in zip(gt_segment_ids.tolist(), listed_areas.tolist(), pixels.tolist()):
        if count == 0:
            raise InputError(f"{gt_png}: segment {sid} is listed in panoptic.json but absent from the PNG")
        if listed and listed != count:
            raise InputError(f"{gt_png}: segment {sid} has area {listed} in panoptic.json, {count} pixels in the PNG")


def semantic_positions(semantic_png: str, category_ids: np.ndarray) -> np.ndarray:
    """A semantic PNG as category positions (-1 void): an id (pixel value) outside the vocabulary
    raises InputError naming the PNG."""
    values = read_semantic_ids(semantic_png)
    lookup = np.full(256, -2, np.int64)
    lookup[SEMANTIC_VOID] = -1
    lookup[category_ids] = np.arange(len(category_ids))  # ids below SEMANTIC_VOID (compute_overlaps)
    positions = lookup[values]
    if (positions == -2).any():
        raise InputError(f"{semantic_png}: pixel value {int(values[positions == -2][0])} is no category id of "
                         f"the split (void is {SEMANTIC_VOID})")
    return positions


def _load_image_overlaps(task: tuple[str, np.ndarray, str | None, np.ndarray, str | None, np.ndarray]
                         ) -> ImageOverlaps:
    """The overlaps of one image from its (GT PNG, GT segment ids, mask PNG or None, listed GT areas,
    semantic PNG or None, the vocabulary's category ids), the listed areas checked against the PNG."""
    gt_png, gt_segment_ids, mask_png, gt_areas, semantic_png, category_ids = task
    gt_map = read_segment_ids(gt_png)
    region_map = read_segment_ids(mask_png, "region mask") if mask_png is not None else None
    semantic = None
    if semantic_png is not None:
        semantic = semantic_positions(semantic_png, category_ids)
        if semantic.shape != gt_map.shape:
            raise InputError(f"{semantic_png}: semantic PNG is {semantic.shape[1]}x{semantic.shape[0]} pixels, "
                             f"the panoptic one {gt_map.shape[1]}x{gt_map.shape[0]}")
    overlaps = image_overlaps(gt_map, gt_segment_ids, region_map, gt_where=gt_png, region_where=mask_png or "",
                              semantic=semantic)
    check_gt_areas(gt_png, gt_segment_ids, gt_areas, overlaps.gt_area)
    return overlaps


@dataclass(frozen=True)
class OverlapTable:
    """Pixel counts of a whole split: one row per GT segment, per region and per intersection."""

    image_ids: list[str]
    gt_image: np.ndarray  # image position of each ground-truth segment
    gt_category: np.ndarray  # category position in the vocabulary
    gt_iscrowd: np.ndarray  # bool
    gt_area: np.ndarray
    region_image: np.ndarray  # image position of each region
    region_segment: np.ndarray  # segment id in the region map
    region_area: np.ndarray
    region_void: np.ndarray
    pair_gt: np.ndarray  # ground-truth row of each intersection
    pair_region: np.ndarray  # region row of each intersection
    pair_pixels: np.ndarray
    gt_masks: bool  # True: the regions are the ground-truth segments (same rows)
    semantic_category: np.ndarray | None = None  # the split's own semantic ground truth (None: none):
    semantic_region: np.ndarray | None = None  # category position, region row (-1: no region) and
    semantic_pixels: np.ndarray | None = None  # pixels of each non-zero intersection

    @property
    def num_regions(self) -> int:
        """Number of region rows."""
        return len(self.region_area)

    def region_rows(self) -> dict[tuple[str, int], int]:
        """(image id, segment id) -> region row."""
        return {(self.image_ids[i], int(s)): r
                for r, (i, s) in enumerate(zip(self.region_image.tolist(), self.region_segment.tolist()))}

    @cached_property
    def intersections(self) -> dict[tuple[int, int], int]:
        """(GT row, region row) -> pixels, for every non-zero intersection."""
        return dict(zip(zip(self.pair_gt.tolist(), self.pair_region.tolist()), self.pair_pixels.tolist()))

    def region_gt_category(self) -> np.ndarray:
        """The GT category position of each region: its own segment's with GT masks, else the one of
        the GT segment it overlaps best with IoU > 0.5 (plain IoU, void included), -1 where none."""
        if self.gt_masks:
            return self.gt_category.copy()
        iou = self.pair_pixels / (self.region_area[self.pair_region] + self.gt_area[self.pair_gt] - self.pair_pixels)
        best = np.full(self.num_regions, -1, np.int64)
        matched = iou > 0.5  # at most one GT segment per region can pass
        best[self.pair_region[matched]] = self.gt_category[self.pair_gt[matched]]
        return best


def category_positions(vocabulary: Vocabulary, category_ids: np.ndarray) -> np.ndarray:
    """Position in the vocabulary of each category id; negative ids (BACKGROUND) stay -1."""
    ids = np.array([c.id for c in vocabulary], dtype=np.int64)
    order = np.argsort(ids)
    category_ids = np.asarray(category_ids, dtype=np.int64)
    found = np.minimum(np.searchsorted(ids[order], category_ids), len(ids) - 1)
    known = ids[order][found] == category_ids
    if not (known | (category_ids < 0)).all():
        bad = category_ids[~known & (category_ids >= 0)][0]
        raise ValueError(f"category id {int(bad)} is not in vocabulary {vocabulary.name}")
    return np.where(category_ids < 0, -1, order[found])


def compute_overlaps(split: PanopticSplit, masks_dir: str | os.PathLike | None = None, workers: int = 1,
                     images: list[PanopticImage] | None = None) -> OverlapTable:
    """Read every image once (in `workers` processes) and collect its overlaps into one table."""
    images = split.images if images is None else images
    semantic_dir = split.semantic_dir
    category_ids = np.array([c.id for c in split.vocabulary], np.int64)
    if semantic_dir is not None and (category_ids >= SEMANTIC_VOID).any():
        raise InputError(f"{semantic_dir}: a semantic PNG holds category ids below {SEMANTIC_VOID}; the split's "
                         f"vocabulary has id {int(category_ids.max())}")
    tasks = [(str(split.panoptic_path(im)), np.array([s.id for s in im.segments], np.int64),
              str(Path(masks_dir) / im.panoptic_file) if masks_dir is not None else None,
              np.array([s.area for s in im.segments], np.int64),
              str(semantic_dir / im.panoptic_file) if semantic_dir is not None else None, category_ids)
             for im in images]
    if workers > 1 and len(tasks) > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            per_image = list(pool.map(_load_image_overlaps, tasks, chunksize=max(1, len(tasks) // (8 * workers))))
    else:
        per_image = [_load_image_overlaps(t) for t in tasks]
    return _concatenate(split.vocabulary, images, per_image, gt_masks=masks_dir is None)


def _concatenate(vocabulary: Vocabulary, images: list[PanopticImage], per_image: list[ImageOverlaps],
                 gt_masks: bool) -> OverlapTable:
    """The overlap table of a split from its images' overlaps (GT rows and region rows image by image)."""
    segments = [s for im in images for s in im.segments]
    gt_offsets = np.cumsum([0] + [len(im.segments) for im in images])
    region_offsets = np.cumsum([0] + [len(o.region_ids) for o in per_image])
    cat = lambda a: np.concatenate(a).astype(np.int64) if a else np.zeros(0, np.int64)  # noqa: E731
    semantic = bool(per_image) and per_image[0].semantic_pixels is not None
    return OverlapTable(
        image_ids=[im.id for im in images],
        gt_image=cat([np.full(len(im.segments), i) for i, im in enumerate(images)]),
        gt_category=category_positions(vocabulary, np.array([s.category_id for s in segments], np.int64)),
        gt_iscrowd=np.array([bool(s.iscrowd) for s in segments], bool),
        gt_area=cat([o.gt_area for o in per_image]),
        region_image=cat([np.full(len(o.region_ids), i) for i, o in enumerate(per_image)]),
        region_segment=cat([o.region_ids for o in per_image]),
        region_area=cat([o.region_area for o in per_image]),
        region_void=cat([o.region_void for o in per_image]),
        pair_gt=cat([o.pair_gt + gt_offsets[i] for i, o in enumerate(per_image)]),
        pair_region=cat([o.pair_region + region_offsets[i] for i, o in enumerate(per_image)]),
        pair_pixels=cat([o.pair_pixels for o in per_image]),
        gt_masks=gt_masks,
        semantic_category=cat([o.semantic_category for o in per_image]) if semantic else None,
        semantic_region=cat([np.where(o.semantic_region < 0, -1, o.semantic_region + region_offsets[i])
                             for i, o in enumerate(per_image)]) if semantic else None,
        semantic_pixels=cat([o.semantic_pixels for o in per_image]) if semantic else None,
    )
