"""ADE20K-150 in the panoptic format, as Mask2Former/detectron2 prepare it.

Inputs: `ADEChallengeData2016.zip` (images/{training,validation}/*.jpg; annotations/.../*.png
with the 150 semantic classes as 1..150, 0 = other) and the instance annotations of the 2017
Places challenge (`annotations_instance.tar`: annotations_instance/{training,validation}/*.png,
RGB with R = instance class 1..100, G = instance number, 0 = none). Instance class k is the
k-th thing category of ADE20K-150 in id order (Mask2Former's ade20k_instance_catid_mapping.txt).
Stuff segments come from the semantic map, one per class; thing segments from the instance map,
painted over the stuff (the two annotations overlap slightly); thing pixels of the semantic map
without an instance are void. Category ids are the ADE20K vocabulary ids 0..149.
Segments are numbered 1, 2, ... in the order of the ids Mask2Former's prepare_ade20k_pan_seg.py
gives them (panopticapi's IdGenerator): a stuff segment, and the first instance of a thing class,
get the id of its category's palette colour (R + 256 G + 256² B); the further instances of a class
get that colour jittered at random (unseeded, up to ±30 per channel), so their place is taken as
the colour's, by instance number. The paper's harness describes the segments in ascending id,
so its published ADE20K descriptions follow this order (a few instances aside: README, Datasets).
The semantic map itself is kept as the split's `semantic/` PNGs (class - 1, "other" void): the
ground truth that ADE20K-150's mIoU, the paper's included, is scored against.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from oeseg.data.archives import Archive
from oeseg.data.convert import SplitWriter, check_pairs
from oeseg.data.panoptic import SEMANTIC_VOID
from oeseg.data.vocabularies import ADE20K
from oeseg.io import InputError

log = logging.getLogger(__name__)

SPLIT_FOLDERS = {"train": "training", "val": "validation"}


#: Where prepare_ade20k_pan_seg.py's PALETTE differs from the vocabulary's colours (category id -> RGB).
PANOPTIC_PALETTE_DIFFERENCES = {ADE20K.by_name("skyscraper").id: (140, 140, 200)}


def instance_class_categories() -> list[int]:
    """ADE20K-150 category id of each instance class 1..100 (index 0 = class 1)."""
    return [c.id for c in ADE20K if c.isthing]


def panoptic_palette_id(category_id: int) -> int:
    """The panoptic id Mask2Former's ADE20K preparation gives a category's stuff segment or first instance."""
    r, g, b = PANOPTIC_PALETTE_DIFFERENCES.get(category_id, ADE20K.by_id(category_id).color)
    return int(r) + 256 * int(g) + 256 * 256 * int(b)


def ade20k_segments(semantic: np.ndarray, instances: np.ndarray, semantic_where: str, instance_where: str
                    ) -> tuple[np.ndarray, dict[int, int]]:
    """Segment-id map and segment id -> category id from a semantic and an instance PNG array; errors
    name the PNG at fault (`semantic_where`, `instance_where`)."""
    if semantic.ndim != 2:
        raise InputError(f"{semantic_where}: expected a one-channel semantic PNG (classes 1..{len(ADE20K)}, "
                         f"0 = other), not an array of shape {semantic.shape}")
    if instances.ndim != 3 or instances.shape[:2] != semantic.shape:
        raise InputError(f"{instance_where}: instance PNG must be RGB of the semantic map's size {semantic.shape}")
    things = instance_class_categories()
    stuff: list[tuple[tuple[int, int], np.ndarray, int]] = []  # (order key, mask, category id)
    for value in np.unique(semantic):
        if value == 0:
            continue
        if value > len(ADE20K):
            raise InputError(f"{semantic_where}: semantic class {value} outside 1..{len(ADE20K)}")
        category = ADE20K.by_id(int(value) - 1)
        if not category.isthing:
            stuff.append(((panoptic_palette_id(category.id), 0), semantic == value, category.id))
    instance_segments: list[tuple[tuple[int, int], np.ndarray, int]] = []
    classes, numbers = instances[..., 0], instances[..., 1]
    for number in np.unique(numbers):
        if number == 0:
            continue
        mask = numbers == number
        cls = np.unique(classes[mask])
        if len(cls) != 1 or not 1 <= cls[0] <= len(things):
            raise InputError(f"{instance_where}: instance {number} has instance class(es) {cls.tolist()}, "
                             f"expected one in 1..{len(things)}")
        category_id = things[int(cls[0]) - 1]
        instance_segments.append(((panoptic_palette_id(category_id), int(number)), mask, category_id))
    order = sorted(stuff + instance_segments, key=lambda entry: entry[0])  # keys are unique
    rank = {key: n for n, (key, _, _) in enumerate(order, 1)}
    ranks = np.zeros(semantic.shape, np.int64)
    for key, mask, _ in stuff + instance_segments:  # stuff first: the instances are painted over it
        ranks[mask] = rank[key]
    present = np.unique(ranks[ranks > 0])  # a stuff segment all under instances is gone
    ids = np.where(ranks > 0, np.searchsorted(present, ranks) + 1, 0).astype(np.uint32)
    categories = {n: order[int(r) - 1][2] for n, r in enumerate(present, 1)}
    return ids, categories


def semantic_category_ids(semantic: np.ndarray) -> np.ndarray:
    """The SceneParse150 semantic map (classes 1..150, 0 = other) as category ids with SEMANTIC_VOID
    for "other": the ground truth of ADE20K-150's mIoU (detectron2's `annotations_detectron2`)."""
    return np.where(semantic == 0, SEMANTIC_VOID, semantic.astype(np.int64) - 1).astype(np.uint8)


def convert_ade20k(scene_parsing: str | Path, instances: str | Path, split: str, out_dir: str | Path,
                   limit: int | None = None) -> int:
    """Convert one split (train | val) of ADE20K to the panoptic format; returns the image count."""
    if split not in SPLIT_FOLDERS:
        raise InputError(f"ADE20K split {split!r}: expected one of {sorted(SPLIT_FOLDERS)}")
    folder = SPLIT_FOLDERS[split]
    with Archive(scene_parsing) as sp, Archive(instances) as inst:
        images = sp.match(rf"(?:^|/)images/{folder}/([^/]+)\.jpg$")
        semantics = sp.match(rf"(?:^|/)annotations/{folder}/([^/]+)\.png$")
        instance_pngs = inst.match(rf"(?:^|/)annotations_instance/{folder}/([^/]+)\.png$")
        if not images:
            raise InputError(f"{scene_parsing}: no images/{folder}/*.jpg (is it ADEChallengeData2016.zip?)")
        check_pairs((scene_parsing, images, "image"), (scene_parsing, semantics, "semantic PNG"))
        check_pairs((scene_parsing, images, "image"), (instances, instance_pngs, "instance PNG"))
        writer = SplitWriter(out_dir, ADE20K)
        for image_id in sorted(images)[:limit]:
            semantic = sp.read_image(semantics[image_id])
            ids, categories = ade20k_segments(semantic, inst.read_image(instance_pngs[image_id]),
                                              f"{scene_parsing}:{semantics[image_id]}",
                                              f"{instances}:{instance_pngs[image_id]}")
            writer.add(image_id, f"{image_id}.jpg", sp.read(images[image_id]), ids, categories,
                       source=f"{scene_parsing}:{images[image_id]}", semantic=semantic_category_ids(semantic),
                       annotation=f"{scene_parsing}:{semantics[image_id]}")
        writer.finish({"source": "ADE20K (ADEChallengeData2016 + annotations_instance)", "split": split})
    log.info("ADE20K %s: %d images converted to %s", split, len(writer.images), out_dir)
    return len(writer.images)
