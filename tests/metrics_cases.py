"""Random panoptic cases for the metric tests: split folders on disk, region labels and scores."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from oeseg.data.panoptic import PanopticImage, Segment, panoptic_json, write_segment_ids
from oeseg.data.vocabularies import Category, Vocabulary
from oeseg.io import atomic_write_json

#: a small vocabulary with non-contiguous ids (positions differ from ids) so that labels collide often
VOCAB = Vocabulary("tiny", (Category(3, "road", False), Category(7, "car", True), Category(8, "person", True),
                            Category(11, "sky", False), Category(20, "bus", True), Category(21, "grass", False)))


@dataclass
class Case:
    """A split folder with its maps kept in memory."""

    root: Path
    images: list[PanopticImage]
    gt_maps: list[np.ndarray]
    mask_maps: list[np.ndarray] | None  # the model's own region maps (None: GT masks protocol)


def random_gt(rng: np.random.Generator, height: int, width: int,
              crowd_rate: float = 0.2) -> tuple[np.ndarray, list[Segment]]:
    """A ground-truth map with random rectangles, void and crowd segments (one crowd per category),
    one segment per stuff category, as panoptic ground truth has (PanopticSplit.load checks it)."""
    ids = np.zeros((height, width), np.uint32)
    cats: dict[int, int] = {}
    used_stuff: set[int] = set()
    for _ in range(rng.integers(2, 10)):
        cat = VOCAB.categories[rng.integers(len(VOCAB))]
        if not cat.isthing and cat.id in used_stuff:
            continue
        used_stuff.add(cat.id)
        sid = int(rng.integers(1, 256**3))
        y, x = rng.integers(0, height - 2), rng.integers(0, width - 2)
        ids[y:y + rng.integers(2, height), x:x + rng.integers(2, width)] = sid
        cats[sid] = cat.id
    if rng.random() < 0.5:  # void patch
        y, x = rng.integers(0, height), rng.integers(0, width)
        ids[y:y + rng.integers(1, 8), x:x + rng.integers(1, 8)] = 0
    segments, crowd_cats = [], set()
    for sid in np.unique(ids):
        if sid == 0:
            continue
        cat = cats[int(sid)]
        crowd = VOCAB.by_id(cat).isthing and cat not in crowd_cats and rng.random() < crowd_rate
        if crowd:
            crowd_cats.add(cat)
        segments.append(Segment(int(sid), cat, int(crowd), int((ids == sid).sum()), [0, 0, 0, 0]))
    return ids, segments


def random_masks(rng: np.random.Generator, gt: np.ndarray) -> np.ndarray:
    """A model's own region map: the GT regions renumbered, partly merged, with new blobs and holes."""
    out = np.zeros_like(gt)
    for sid in np.unique(gt):
        if sid != 0:
            out[gt == sid] = rng.integers(1, 1000) if rng.random() < 0.2 else rng.integers(1000, 256**3)
    h, w = gt.shape
    for _ in range(rng.integers(0, 4)):
        y, x = rng.integers(0, h), rng.integers(0, w)
        out[y:y + rng.integers(2, h), x:x + rng.integers(2, w)] = 0 if rng.random() < 0.3 else rng.integers(1, 256**3)
    return out


def write_case(root: Path, rng: np.random.Generator, num_images: int, own_masks: bool = False,
               crowd_rate: float = 0.2) -> Case:
    """Write a random split (panoptic.json, panoptic/, and masks/ for the own-masks protocol)."""
    images, gt_maps, mask_maps = [], [], []
    for n in range(num_images):
        h, w = int(rng.integers(12, 30)), int(rng.integers(12, 30))
        gt, segments = random_gt(rng, h, w, crowd_rate)
        name = f"im{n:03d}"
        write_segment_ids(root / "panoptic" / f"{name}.png", gt)
        images.append(PanopticImage(name, f"{name}.jpg", f"{name}.png", w, h, segments))
        gt_maps.append(gt)
        if own_masks:
            masks = random_masks(rng, gt)
            write_segment_ids(root / "masks" / f"{name}.png", masks)
            mask_maps.append(masks)
    atomic_write_json(root / "panoptic.json", panoptic_json(VOCAB, images))
    return Case(root, images, gt_maps, mask_maps if own_masks else None)


def random_labels(rng: np.random.Generator, correct: np.ndarray, p_correct: float = 0.55,
                  p_background: float = 0.2) -> np.ndarray:
    """Vocabulary positions per region: the correct one, another category, or -1 (BACKGROUND)."""
    r = rng.random(len(correct))
    other = rng.integers(0, len(VOCAB), len(correct))
    labels = np.where(r < p_correct, correct, other)
    labels = np.where((correct < 0) & (r < p_correct), other, labels)
    return np.where(r > 1 - p_background, -1, labels).astype(np.int64)
