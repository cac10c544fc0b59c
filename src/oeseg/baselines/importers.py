"""Converters from what other projects write to region predictions (docs/formats.md), one per format.

- `lac`: the format of the paper's published outputs and of its re-benchmarking harness: a JSON
  list of `{"image_id", "descriptions": [...]}`, one description per ground-truth panoptic
  segment in ascending segment-id order.
- `detectron2-semseg`: detectron2's SemSegEvaluator output `sem_seg_predictions.json`, a JSON
  list of `{"file_name", "category_id", "segmentation": COCO RLE}` per predicted class and image,
  written by detectron2/Mask2Former projects (OVSeg, MaskCLIP, MasQCLIP) run with the noun list
  as their class names: `category_id` indexes the noun list. Each ground-truth segment gets the
  noun covering most of its pixels (score = that fraction).
- `jsonl`: region predictions already in our format (validated).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from oeseg.data.panoptic import PanopticSplit, png_shape
from oeseg.data.predictions import (
    RegionPrediction,
    check_description,
    check_image_id,
    read_split_predictions,
    write_predictions,
)
from oeseg.io import InputError, check_known_fields, is_integer, read_json
from oeseg.registry import Registry

log = logging.getLogger("oeseg.baselines")

MISMATCH_POLICIES = ("error", "skip")
#: the fields of an entry of the `lac` format; any other is an error (a "scores" list would be ignored)
LAC_FIELDS = ("image_id", "descriptions")


def first_ids(ids: list[str]) -> str:
    """The first five ids, comma-separated, and how many in all when more."""
    return ", ".join(ids[:5]) + (f", ... ({len(ids)} in all)" if len(ids) > 5 else "")


@dataclass
class ImportSummary:
    """What an import found: images converted, images of the split without output, images whose
    description count differs from their segment count (image id -> (given, expected)),
    image ids the split does not know, empty descriptions dropped (image id -> how many: their
    regions stay undescribed)."""

    converted: int = 0
    missing: list[str] = field(default_factory=list)
    mismatched: dict[str, tuple[int, int]] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)
    empty: dict[str, int] = field(default_factory=dict)

    def text(self) -> str:
        """A one-paragraph human summary naming (the first) affected images."""
        parts = [f"{self.converted} images converted"]
        if self.missing:
            parts.append(f"{len(self.missing)} images of the split have no output: {first_ids(self.missing)}")
        if self.mismatched:
            mm = [f"{k} ({g} descriptions, {e} segments)" for k, (g, e) in self.mismatched.items()]
            parts.append(f"{len(mm)} images with a count mismatch: {first_ids(mm)}")
        if self.unknown:
            parts.append(f"{len(self.unknown)} images not in the split: {first_ids(self.unknown)}")
        if self.empty:
            parts.append(f"{sum(self.empty.values())} empty descriptions dropped (regions left undescribed) "
                         f"in {len(self.empty)} images: {first_ids([f'{k} ({n})' for k, n in self.empty.items()])}")
        return "; ".join(parts)


Converter = Callable[..., tuple[list[RegionPrediction], ImportSummary]]
IMPORT_FORMATS: Registry[Converter] = Registry("import format")


def import_lac(path: str | os.PathLike, split: PanopticSplit, *, on_mismatch: str = "error",
               **_: object) -> tuple[list[RegionPrediction], ImportSummary]:
    """Convert a published descriptions file (one description per GT segment, ascending ids).

    Images of the split missing from the file are counted (their segments stay undescribed);
    image ids the split lacks, a field other than LAC_FIELDS, and count mismatches under
    on_mismatch="error", raise InputError;
    with on_mismatch="skip" a mismatched image is dropped and counted. An empty description leaves
    its region undescribed and is counted; one over MAX_DESCRIPTION_CHARS raises.
    """
    if on_mismatch not in MISMATCH_POLICIES:
        raise InputError(f"on_mismatch must be one of {MISMATCH_POLICIES}, got {on_mismatch!r}")
    data = read_json(path)
    if not isinstance(data, list):
        raise InputError(f"{path}: expected a JSON list of {{image_id, descriptions}}, got {type(data).__name__}")
    summary = ImportSummary()
    expected = {im.id: im for im in split.images}
    seen: set[str] = set()
    predictions: list[RegionPrediction] = []
    for i, entry in enumerate(data):
        where = f"{path}: entry {i}"
        check_known_fields(entry, LAC_FIELDS, where)  # first: a misspelt "description" is named
        if not isinstance(entry, dict) or "image_id" not in entry or "descriptions" not in entry:
            raise InputError(f"{where}: expected an object with 'image_id' and 'descriptions'")
        image_id, descriptions = check_image_id(entry["image_id"], where), entry["descriptions"]
        if not isinstance(descriptions, list):
            raise InputError(f"{where} ({image_id}): 'descriptions' must be a list of strings")
        if (bad := next((n for n, d in enumerate(descriptions) if not isinstance(d, str)), None)) is not None:
            raise InputError(f"{where} ({image_id}): descriptions[{bad}] must be a string, got {descriptions[bad]!r}")
        if image_id in seen:
            raise InputError(f"{where}: image {image_id} appears twice")
        seen.add(image_id)
        image = expected.get(image_id)
        if image is None:
            summary.unknown.append(image_id)
            continue
        if len(descriptions) != len(image.segments):
            summary.mismatched[image_id] = (len(descriptions), len(image.segments))
            continue
        for n, (segment, text) in enumerate(zip(image.segments, descriptions)):
            if text.strip():
                check_description(text.strip(), f"{where} ({image_id}): descriptions[{n}]")
                predictions.append(RegionPrediction(image_id, segment.id, text.strip()))
            else:
                summary.empty[image_id] = summary.empty.get(image_id, 0) + 1
        summary.converted += 1
    summary.missing = [k for k in expected if k not in seen]
    if summary.unknown or (summary.mismatched and on_mismatch == "error"):
        raise InputError(f"{path}: does not match {split.root / 'panoptic.json'}: {summary.text()}")
    if not predictions:  # an empty list, or nothing left to describe: never a result of zero
        raise InputError(f"{path}: no description to import ({summary.text()})")
    log.info("%s: %s", path, summary.text())
    return predictions, summary


def import_jsonl(path: str | os.PathLike, split: PanopticSplit, **_: object
                 ) -> tuple[list[RegionPrediction], ImportSummary]:
    """Validate region predictions in our JSON Lines format against the split as `oeseg evaluate`
    does: every field, an unknown image, a repeated region or a segment id that is not one of the
    image's ground-truth segments raises InputError naming the line."""
    predictions = [p for _, p in read_split_predictions(path, split, gt_segments=True)]
    described = {p.image_id for p in predictions}
    summary = ImportSummary(converted=len(described))
    summary.missing = [im.id for im in split.images if im.id not in described]
    return predictions, summary


def import_detectron2_semseg(path: str | os.PathLike, split: PanopticSplit, *, nouns: list[str] | None = None,
                             **_: object) -> tuple[list[RegionPrediction], ImportSummary]:
    """Label each GT segment with the noun whose predicted class mask covers most of it."""
    from pycocotools import mask as mask_util

    if not nouns:
        raise InputError(f"{path}: the detectron2-semseg format needs the noun list the model was given (--nouns)")
    data = read_json(path)
    if not isinstance(data, list):
        raise InputError(f"{path}: expected a JSON list of {{file_name, category_id, segmentation}}")
    by_stem = {Path(im.file_name or im.panoptic_file).stem: im for im in split.images}
    by_stem.update({im.id: im for im in split.images})
    classes: dict[str, list[tuple[int, bytes]]] = {}  # checked RLEs, decoded one image at a time
    summary = ImportSummary()
    for noun in nouns:
        check_description(noun, "--nouns")
    shapes: dict[str, tuple[int, int]] = {}
    given: dict[tuple[str, int], int] = {}  # (image id, class) -> its entry: SemSegEvaluator writes each once
    unknown: list[str] = []  # the file names of no image, as given
    for i, entry in enumerate(data):
        where = f"{path}: entry {i}"
        try:
            stem, cat, rle = Path(str(entry["file_name"])).stem, entry["category_id"], entry["segmentation"]
        except (KeyError, TypeError):
            raise InputError(f"{where}: expected an object with file_name, category_id, segmentation") from None
        if not is_integer(cat) or not 0 <= cat < len(nouns):
            raise InputError(f"{where}: category_id {cat!r} is not an index of the {len(nouns)} nouns")
        if stem not in by_stem:
            if str(entry["file_name"]) not in unknown:
                unknown.append(str(entry["file_name"]))
            continue
        image = by_stem[stem]
        if (image.id, cat) in given:
            raise InputError(f"{where}: image {image.id!r}, category_id {cat} is given twice (also entry "
                             f"{given[image.id, cat]}): a class has one mask per image")
        given[image.id, cat] = i
        if image.id not in shapes:
            shapes[image.id] = png_shape(split.panoptic_path(image))
        counts = check_rle(rle, shapes[image.id], f"{where} ({image.id})")
        classes.setdefault(image.id, []).append((cat, counts.encode("ascii")))
    if unknown:
        raise InputError(f"{path}: {len(unknown)} file name(s) name no image of {split.root / 'panoptic.json'}: "
                         f"{first_ids(unknown)}")
    predictions = []
    for image in split.images:
        if image.id not in classes:
            summary.missing.append(image.id)
            continue
        ids = split.segment_ids(image)
        size = list(shapes[image.id])
        masks = [(c, mask_util.decode({"size": size, "counts": rle}).astype(bool)) for c, rle in classes[image.id]]
        for segment in image.segments:
            area = ids == segment.id
            total = int(area.sum())
            if total == 0:
                continue
            cat, overlap = max(((c, int((m & area).sum())) for c, m in masks), key=lambda t: t[1])
            if overlap:
                predictions.append(RegionPrediction(image.id, segment.id, nouns[cat], overlap / total))
        summary.converted += 1
    if not predictions:  # an empty list, or no mask on any segment: never a result of zero
        raise InputError(f"{path}: no description to import ({summary.text()})")
    log.info("%s: %s", path, summary.text())
    return predictions, summary


def rle_runs(counts: str) -> np.ndarray:
    """The run lengths of a compressed COCO RLE string (pycocotools' rleFrString, vectorised);
    ValueError for a string that is not one."""
    if not counts.isascii():
        raise ValueError("a character that is not ASCII")
    c = np.frombuffer(counts.encode("ascii"), np.uint8).astype(np.int64) - 48
    if len(c) == 0:
        return np.zeros(0, np.int64)
    if ((c < 0) | (c >= 64)).any():
        bad = int(np.flatnonzero((c < 0) | (c >= 64))[0])
        raise ValueError(f"character {counts[bad]!r} at {bad}")
    last = (c & 0x20) == 0  # the last 5-bit chunk of each value
    if not last[-1]:
        raise ValueError("the string ends inside a run length")
    value = np.concatenate([[0], np.cumsum(last)[:-1]])  # value index of each chunk
    starts = np.flatnonzero(np.concatenate([[True], last[:-1]]))
    k = np.arange(len(c)) - starts[value]  # chunk position within its value
    if k.max() > 11:  # more than 60 bits
        raise ValueError("a run length out of range")
    x = np.zeros(int(last.sum()), np.int64)
    np.add.at(x, value, (c & 0x1F) << (5 * k))
    ends = np.flatnonzero(last)
    negative = (c[ends] & 0x10) != 0
    x[negative] -= np.left_shift(np.int64(1), 5 * (k[ends][negative] + 1))
    runs = x.copy()  # from the fourth value on, each is a delta to the value two before
    runs[3::2] = np.cumsum(x[1::2])[1:]
    runs[4::2] = np.cumsum(x[2::2])[1:]
    return runs


def check_rle(rle: object, shape: tuple[int, int], where: str) -> str:
    """The compressed counts of a COCO RLE checked before any decoding: its size must be the image's
    (height, width) and its runs non-negative and summing to height x width (pycocotools decodes
    without bounds checks: a wrong size or run can crash the process). InputError otherwise."""
    if not isinstance(rle, dict) or "size" not in rle or "counts" not in rle:
        raise InputError(f"{where}: bad RLE segmentation (expected an object with 'size' and 'counts')")
    size, counts = rle["size"], rle["counts"]
    if not (isinstance(size, list) and len(size) == 2
            and all(is_integer(v) for v in size)):
        raise InputError(f"{where}: bad RLE segmentation: size {size!r} is not [height, width]")
    if tuple(size) != tuple(shape):
        raise InputError(f"{where}: RLE size {size} differs from the ground truth's {list(shape)} (height, width)")
    if not isinstance(counts, str):
        raise InputError(f"{where}: bad RLE segmentation: 'counts' must be a compressed RLE string")
    try:
        runs = rle_runs(counts)
    except ValueError as e:
        raise InputError(f"{where}: bad RLE segmentation: not a compressed RLE string ({e})") from None
    if (runs < 0).any() or int(runs.sum()) != shape[0] * shape[1]:
        raise InputError(f"{where}: bad RLE segmentation: its runs cover {int(runs.sum())} pixels, the image has "
                         f"{shape[0] * shape[1]}")
    return counts


IMPORT_FORMATS.register("lac", import_lac)
IMPORT_FORMATS.register("jsonl", import_jsonl)
IMPORT_FORMATS.register("detectron2-semseg", import_detectron2_semseg)


def convert(fmt: str, path: str | os.PathLike, split_dir: str | os.PathLike, *,
            nouns: list[str] | None = None, on_mismatch: str = "error"
            ) -> tuple[list[RegionPrediction], ImportSummary]:
    """Convert `path`, written in format `fmt`, to region predictions for the split at `split_dir`."""
    split = PanopticSplit.load(split_dir)
    return IMPORT_FORMATS.get(fmt)(path, split, nouns=nouns, on_mismatch=on_mismatch)


def import_predictions(fmt: str, path: str | os.PathLike, split_dir: str | os.PathLike,
                       output: str | os.PathLike, *, nouns: list[str] | None = None,
                       on_mismatch: str = "error") -> ImportSummary:
    """Convert `path` (format `fmt`) for the split at `split_dir` and write the predictions."""
    predictions, summary = convert(fmt, path, split_dir, nouns=nouns, on_mismatch=on_mismatch)
    write_predictions(output, predictions)
    return summary
