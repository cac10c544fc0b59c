"""Small fake inputs of the figures stage, written by the tests themselves: evaluation RESULTS.json
files, a panoptic split with images, region predictions, and a stand-in for the mapping stage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from oeseg.data.panoptic import PanopticImage, panoptic_json, segments_from_ids, write_segment_ids
from oeseg.data.predictions import RegionPrediction, write_predictions
from oeseg.data.vocabularies import Vocabulary
from oeseg.io import atomic_write_json
from oeseg.lexicon.lexicon import LEVELS
from oeseg.mapping import BACKGROUND


def lac(curve: list[float]) -> float:
    """Trapezoid area under values at levels evenly spaced on [0, 1]."""
    x = np.linspace(0, 1, len(curve))
    return float(np.sum((x[1:] - x[:-1]) * (np.array(curve[1:]) + np.array(curve[:-1])) / 2))


def write_evaluation(root: Path, method: str, dataset: str, run: str, base: float, mapping: str = "lexical",
                     images: dict | None = None) -> Path:
    """A RESULTS.json whose PQ/mIoU/AP curves rise from `base` by 5 points per level (mIoU +2, AP -3);
    `images`, if given, is its `images` field (scored and total images)."""
    curves = {"PQ": [base + 5 * i for i in range(4)], "mIoU": [base + 2 + 5 * i for i in range(4)],
              "AP": [base - 3 + 5 * i for i in range(4)]}
    obj = {"levels": list(LEVELS),
           "metrics": {m: dict(zip(LEVELS, c)) for m, c in curves.items()},
           "lac": {m: lac(c) for m, c in curves.items()}, "per_category": {}}
    if images is not None:
        obj["images"] = images
    path = root / "evaluations" / method / dataset / f"{run}.{mapping}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, obj)
    return path


def make_split(root: Path, vocabulary: Vocabulary, n_images: int = 2) -> Path:
    """A val split: images with a road (id 1), a car (2) and a person (3) segment, PNGs and panoptic.json."""
    road, car, person = (vocabulary.by_name(n).id for n in ("road", "car", "person"))
    images = []
    for k in range(n_images):
        ids = np.ones((48, 64), np.int64)
        ids[10:30, 5 + k:25 + k] = 2
        ids[5:40, 40:52] = 3
        write_segment_ids(root / "panoptic" / f"im{k}.png", ids)
        rgb = np.zeros((48, 64, 3), np.uint8)
        rgb[ids == 1] = (90, 90, 90)
        rgb[ids == 2] = (200, 30, 30)
        rgb[ids == 3] = (30, 30, 200)
        (root / "images").mkdir(parents=True, exist_ok=True)
        Image.fromarray(rgb).save(root / "images" / f"im{k}.png")
        images.append(PanopticImage(f"im{k}", f"im{k}.png", f"im{k}.png", 64, 48,
                                    segments_from_ids(ids, {1: road, 2: car, 3: person})))
    atomic_write_json(root / "panoptic.json", panoptic_json(vocabulary, images))
    return root


def write_region_predictions(path: Path, texts: dict[int, str], n_images: int = 2) -> Path:
    """Predictions for segments 1-3 of every image: segment id -> description."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_predictions(path, [RegionPrediction(f"im{k}", sid, text) for k in range(n_images)
                             for sid, text in texts.items()])
    return path


SYNONYMS = {"automobile": "car", "pedestrian": "person", "street": "road"}
PARTS = {"wheel": ("car", "bicycle")}


def fake_map_regions(descriptions, gt_category_ids, vocabulary, method, lexicon=None, levels=LEVELS, **sbert):
    """A stand-in for oeseg.mapping.map_regions with known answers: lexical maps the last word by
    name (exact), SYNONYMS (synonym+) and PARTS (meronym: the ground truth where it is one of the
    parts' categories, otherwise the first); sbert maps everything to the first category."""
    if method == "sbert":
        first = vocabulary.categories[0].id
        return {lv: [first] * len(descriptions) for lv in levels}
    gts = gt_category_ids if gt_category_ids is not None else [None] * len(descriptions)
    out = {}
    for li, lv in enumerate(levels):
        row = []
        for d, gt in zip(descriptions, gts):
            word = d.lower().split()[-1]
            name = word if word in {c.display_name for c in vocabulary} else None
            if name is None and li >= 1:
                name = SYNONYMS.get(word)
            if name is None and li >= 3 and word in PARTS:
                gt_name = None if gt in (None, BACKGROUND) else vocabulary.by_id(gt).display_name
                name = gt_name if gt_name in PARTS[word] else PARTS[word][0]
            row.append(vocabulary.by_name(name).id if name else BACKGROUND)
        out[lv] = row
    return out
