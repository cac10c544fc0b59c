"""The open-ended evaluation: map descriptions at every lexical level, then PQ, mIoU and mask AP.

Steps: read and check the region predictions; one overlap pass over the images (parallel over
images); the ground-truth category of each region (for the mapping's ground-truth priority: with
GT masks the segment's own category, with a model's own masks the category of the GT segment the
region overlaps best with IoU > 0.5, none otherwise); the mapping of every description at every
level; then every metric of `METRICS` at every level from the same overlap table, and the LAC
score of PQ, mIoU and AP.

Regions with no prediction: policy "background" (default) labels them BACKGROUND at every level
(a false negative for PQ, wrong pixels for mIoU, no detection for AP) and reports their number
under `regions.missing`; policy "error" rejects the predictions file instead.

Images scored: "all" (default) scores every image of the split, so an image without any prediction
is all background; "described" leaves out the images without one, ground truth included, and
reports how many under `images` (predictions published for part of a split, as the paper scored them).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from oeseg.data.panoptic import PanopticImage, PanopticSplit
from oeseg.data.predictions import RegionPrediction, read_split_predictions
from oeseg.data.vocabularies import Vocabulary
from oeseg.io import InputError, atomic_write_json
from oeseg.lexicon import LEVELS
from oeseg.lexicon.lexicon import Lexicon, load_checked_lexicon
from oeseg.mapping import MAPPING_METHODS
from oeseg.metrics.instance import InstanceMetric
from oeseg.metrics.lac import LAC_METRICS, lac_score
from oeseg.metrics.overlaps import OverlapTable, category_positions, compute_overlaps
from oeseg.metrics.panoptic import PanopticMetric
from oeseg.metrics.semantic import SemanticMetric

log = logging.getLogger(__name__)

#: the metrics computed at every level; each maps (table, labels, scores) to (summary, per-category rows)
METRICS = (PanopticMetric, SemanticMetric, InstanceMetric)
#: what happens to regions without a prediction
MISSING_POLICIES = ("background", "error")
#: which images of the split are scored: every image, or those with at least one prediction
SCORED_IMAGE_POLICIES = ("all", "described")


@dataclass(frozen=True)
class RegionDescriptions:
    """The predictions matched to region rows of an overlap table."""

    rows: np.ndarray  # region row of each prediction
    descriptions: list[str]
    scores: np.ndarray  # score of every region row (0 where no prediction)
    missing: int  # regions without a prediction


def assign_predictions(path: str | os.PathLike, lines: list[tuple[int, RegionPrediction]], table: OverlapTable,
                       missing_regions: str = "background") -> RegionDescriptions:
    """Match predictions to region rows; an unknown segment raises, missing regions follow the policy."""
    if missing_regions not in MISSING_POLICIES:
        raise InputError(f"missing-regions policy must be one of {MISSING_POLICIES}, got {missing_regions!r}")
    index = table.region_rows()
    source = "ground-truth segments" if table.gt_masks else "segments of the mask PNG"
    rows = np.zeros(len(lines), np.int64)
    scores = np.zeros(table.num_regions)
    for n, (lineno, pred) in enumerate(lines):
        row = index.get((pred.image_id, pred.segment_id))
        if row is None:
            raise InputError(f"{path}:{lineno}: segment_id {pred.segment_id} is not among the {source} "
                             f"of image {pred.image_id!r}")
        rows[n] = row
        scores[row] = pred.score
    missing = table.num_regions - len(lines)
    if missing and missing_regions == "error":
        described = np.zeros(table.num_regions, bool)
        described[rows] = True
        first = int(np.flatnonzero(~described)[0])
        raise InputError(f"{path}: no prediction for {missing} region(s), e.g. image "
                         f"{table.image_ids[table.region_image[first]]!r} segment {int(table.region_segment[first])}")
    if missing:
        log.warning("%s: %d of %d regions have no prediction; counted as background",
                    path, missing, table.num_regions)
    if len(lines) > 1 and np.all(scores[rows] == scores[rows[0]]):
        log.warning("%s: every prediction has the score %g; AP ranks them in panoptic.json's image order, "
                    "then by segment id (give scores to rank them)", path, scores[rows[0]])
    return RegionDescriptions(rows, [p.description for _, p in lines], scores, missing)


def evaluate_labels(table: OverlapTable, vocabulary: Vocabulary, labels: dict[str, np.ndarray],
                    scores: np.ndarray) -> dict:
    """Every metric at every level (labels: category position per region row, -1 = BACKGROUND)."""
    metrics = [metric(vocabulary) for metric in METRICS]
    values: dict[str, dict[str, float | None]] = {}
    per_category: dict[str, list[dict]] = {}
    for level, level_labels in labels.items():
        rows = [{"id": c.id, "name": c.name, "isthing": c.isthing} for c in vocabulary]
        for metric in metrics:
            summary, category_rows = metric(table, level_labels, scores)
            for key, value in summary.items():
                values.setdefault(key, {})[level] = value
            for row, extra in zip(rows, category_rows):
                row.update(extra)
        per_category[level] = rows
    lac = {key: lac_score([values[key][level] for level in labels]) if len(labels) > 1 else None
           for key in LAC_METRICS}
    return {"levels": list(labels), "metrics": values, "lac": lac, "per_category": per_category}


def map_region_labels(table: OverlapTable, regions: RegionDescriptions, vocabulary: Vocabulary, mapping: str,
                      lexicon: Lexicon | None, levels: tuple[str, ...] = LEVELS,
                      sbert_class_names: str | os.PathLike | None = None, sbert_template: str | None = None
                      ) -> dict[str, np.ndarray]:
    """Map the regions' descriptions (ground-truth priority from the table) at every level: the
    category position of each region row per level, -1 for BACKGROUND and undescribed regions."""
    from oeseg.mapping import map_regions

    gt_positions = table.region_gt_category()[regions.rows]
    gt_ids = [vocabulary.categories[p].id if p >= 0 else None for p in gt_positions.tolist()]
    log.info("mapping %d descriptions (%s)", len(regions.descriptions), mapping)
    mapped = map_regions(regions.descriptions, gt_ids, vocabulary, mapping, lexicon, levels=levels,
                         sbert_class_names=sbert_class_names, sbert_template=sbert_template)
    labels = {}
    for level in levels:
        level_labels = np.full(table.num_regions, -1, np.int64)
        level_labels[regions.rows] = category_positions(vocabulary, np.asarray(mapped[level], np.int64))
        labels[level] = level_labels
    return labels


def evaluate_predictions(split_dir: str | os.PathLike, predictions_path: str | os.PathLike,
                         lexicon_path: str | os.PathLike | None, mapping: str = "lexical",
                         masks_dir: str | os.PathLike | None = None, workers: int = 1,
                         missing_regions: str = "background", levels: tuple[str, ...] = LEVELS,
                         sbert_class_names: str | os.PathLike | None = None, sbert_template: str | None = None,
                         scored_images: str = "all") -> dict:
    """The RESULTS.json object of one predictions file (docs/formats.md, "Evaluation results"); the
    lexicon is needed by the lexical mapping only."""
    MAPPING_METHODS.get(mapping)  # an unknown one: InputError naming the registered ones, before any reading
    if scored_images not in SCORED_IMAGE_POLICIES:
        raise InputError(f"scored images must be one of {', '.join(SCORED_IMAGE_POLICIES)}, got {scored_images!r}")
    split = PanopticSplit.load(split_dir)
    vocabulary = split.vocabulary
    lexicon = None
    if mapping == "lexical":
        if lexicon_path is None:
            raise InputError("the lexical mapping needs the lexicon of the dataset's vocabulary (--lexicon)")
        lexicon = load_checked_lexicon(lexicon_path, vocabulary)
    if masks_dir is not None and not Path(masks_dir).is_dir():
        raise InputError(f"{masks_dir}: " + ("a file, not a folder of region mask PNGs" if Path(masks_dir).exists()
                                            else "mask folder not found"))
    lines = read_split_predictions(predictions_path, split)
    images = scored_split_images(split, lines, scored_images)
    if len(images) < len(split.images):
        log.info("%s: scoring the %d of %d images with a prediction", predictions_path, len(images), len(split.images))
    table = compute_overlaps(split, masks_dir, workers, images)
    regions = assign_predictions(predictions_path, lines, table, missing_regions)
    labels = map_region_labels(table, regions, vocabulary, mapping, lexicon, levels,
                               sbert_class_names=sbert_class_names, sbert_template=sbert_template)
    results = evaluate_labels(table, vocabulary, labels, regions.scores)
    return {"levels": results["levels"], "mapping": mapping,
            "masks": "ground-truth" if masks_dir is None else str(masks_dir),
            "images": {"total": len(split.images), "scored": len(images), "policy": scored_images},
            "regions": {"total": table.num_regions, "predicted": len(lines), "missing": regions.missing,
                        "missing_policy": missing_regions},
            "metrics": results["metrics"], "lac": results["lac"], "per_category": results["per_category"]}


def scored_split_images(split: PanopticSplit, lines: list[tuple[int, RegionPrediction]],
                        scored_images: str) -> list[PanopticImage]:
    """The split's images that are scored (SCORED_IMAGE_POLICIES): all, or those with a prediction."""
    if scored_images == "all":
        return split.images
    described = {pred.image_id for _, pred in lines}
    return [image for image in split.images if image.id in described]


def write_evaluation(output: str | os.PathLike, split_dir: str | os.PathLike, predictions_path: str | os.PathLike,
                     lexicon_path: str | os.PathLike | None, **options: Any) -> dict:
    """Evaluate (options as `evaluate_predictions`) and write RESULTS.json atomically."""
    results = evaluate_predictions(split_dir, predictions_path, lexicon_path, **options)
    atomic_write_json(output, results)
    return results
