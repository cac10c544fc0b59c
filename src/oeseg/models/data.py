"""Training and inference data: image samples with their regions (masks) and texts.

Sources: the demo's synthetic splits (regions.jsonl + images/ + panoptic/, docs/formats.md), and the
annotation files Osprey trains on. Stage 1: LLaVA image-text JSON (`image`, `conversations`).
Stage 2: COCO-format files whose regions are described by the category name (COCO instances,
PartImageNet, Pascal-Part), by the annotation's `caption` (Visual Genome) or by the image's
`caption` (RefCOCO/RefCOCO+, one referred region per image entry). Stage 3, Osprey-724K: detailed
descriptions (`annotation[i].segmentation` with `description[i]` = "<region{i+1}>: text") and the
multi-region conversations (conversation, short-form, part-level and LVIS positive/negative files:
`annotation`, `conversations` turns naming `<region{k}>`).
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import functools
import itertools
import logging
import math
import os
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from transformers import PreTrainedTokenizerBase

from oeseg.data.panoptic import PanopticSplit, check_image_size, png_shape, read_rgb, read_segment_ids
from oeseg.data.regions import read_regions
from oeseg.io import InputError, integral, is_number, read_json
from oeseg.models import conversation as conv
from oeseg.models.tokenization import IGNORE_INDEX, encode_conversation, encode_description, region_token_ids
from oeseg.models.vision import CLIP_MEAN, CLIP_STD
from oeseg.models.workflow import DEMO_FORMATS, source_file, source_paths

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RegionRecord:
    """One training/inference item: an image, its region(s) and the texts about them.

    Most sources give one region (a panoptic segment or a COCO segmentation) and its reference
    descriptions: the item asks `question` (empty: the evaluation prompt) and answers with one of
    the descriptions, which is also the region's text for the contrastive loss. Osprey-724K's
    conversations give fixed `turns` instead, whose questions hold one `<mask><pos>` per entry of
    `regions` (COCO segmentations, in reading order); they have no contrastive text. Image-text
    pairs (stage 1) have no region.

    `category` (one region) or `region_categories` (per region) carry the ground-truth class
    where the source has one (the demo's panoptic category, a COCO-format category); the
    contrastive loss may use it for positives. Records with `turn_per_region` (an image's regions
    asked one by one) give one contrastive pair per turn: its answer and its region; their
    `regions` are segment ids of `segments_path` where it is set, each turn's answer is drawn
    from its entry of `region_descriptions`, and with `drawn_regions` each epoch asks a random
    draw of that many of its regions (all, where it has fewer) in random order; otherwise all in
    the stored order, and the first turn, the only one shaped like the evaluation prompt, always
    asks about the same region (a model can learn to answer it without looking at the mask).

    Records of an annotation file name their entry in `origin` ("<file>: entry <n>", or "<file>:
    image id <id>" in COCO-format files), and their `height` and `width` are the entry's: a
    sample whose image is of another size is refused when it is loaded, naming the entry."""

    image_path: str
    descriptions: tuple[str, ...]
    segments_path: str | None = None    # panoptic PNG holding the region
    segment_id: int = 0
    polygons: object = None             # COCO segmentation (polygons or RLE) of the region
    height: int = 0
    width: int = 0
    image_id: str = ""
    question: str = ""
    turns: tuple[tuple[str, str], ...] = ()
    regions: tuple[object, ...] = ()    # COCO segmentations, or segment ids of `segments_path`
    category: str | None = None         # the region's ground-truth class, where the source knows it
    region_categories: tuple[str | None, ...] = ()  # per entry of `regions`, where known
    turn_per_region: bool = False       # turn k asks about region k alone and its answer describes it
    region_descriptions: tuple[tuple[str, ...], ...] = ()  # turn_per_region: the answers to draw from
    drawn_regions: int = 0              # turn_per_region: ask a new random draw of this many each epoch
    intro: str = ""                     # turn_per_region: what opens the first turn asked
    origin: str = ""                    # the annotation file and entry it comes from, for errors


def has_region_description(record: RegionRecord) -> bool:
    """Whether a record gives the contrastive loss a pair: regions asked one by one, or one region
    with descriptions (not a conversation, not an image-text pair)."""
    if record.turn_per_region:
        return True
    one_region = record.segments_path is not None or record.polygons is not None
    return bool(record.descriptions) and not record.turns and one_region


def prepare_image(array: np.ndarray, size: int) -> torch.Tensor:
    """An HxWx3 RGB array as Osprey prepares an image, normalised with CLIP's mean and std: (3,S,S).
    CLIP's image processor resizes the shorter side to S (bicubic, PIL), without a centre crop;
    then the image is squeezed bilinearly into S x S."""
    rgb = Image.fromarray(array)
    w, h = rgb.size
    short, long = sorted((w, h))
    long = int(size * long / short)  # as transformers' get_resize_output_image_size (shortest_edge)
    rgb = rgb.resize((size, long) if w <= h else (long, size), Image.BICUBIC)
    arr = np.asarray(rgb, dtype=np.float32) / 255.0
    x = torch.from_numpy(arr).permute(2, 0, 1)[None]
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)[0]
    return (x - torch.tensor(CLIP_MEAN)[:, None, None]) / torch.tensor(CLIP_STD)[:, None, None]


def resize_mask(mask: np.ndarray, size: int) -> torch.Tensor:
    """A boolean HxW mask resized (nearest) to size x size, as float (S,S)."""
    m = torch.from_numpy(mask.astype(np.float32))[None, None]
    return F.interpolate(m, size=(size, size), mode="nearest")[0, 0]


def stack_masks(masks: list[np.ndarray]) -> torch.Tensor:
    """Boolean HxW masks of one image at its own resolution, as Osprey passes them (the mask
    extractor resizes them to each feature map): (Q,H,W) bool, (0,1,1) for none."""
    return torch.from_numpy(np.stack(masks).astype(bool)) if masks else torch.zeros(0, 1, 1, dtype=torch.bool)


def _coco_mask(segmentation: object, height: int, width: int) -> np.ndarray:
    """The HxW mask of a COCO segmentation (polygons, uncompressed or compressed RLE)."""
    from pycocotools import mask as mask_utils

    if isinstance(segmentation, list):
        rle = mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
    elif isinstance(segmentation, dict) and isinstance(segmentation.get("counts"), list):
        rle = mask_utils.frPyObjects(segmentation, height, width)
    else:
        rle = segmentation
    return mask_utils.decode(rle).astype(bool)


def region_mask(record: RegionRecord, segment_ids: Callable[[str], np.ndarray] = read_segment_ids) -> np.ndarray:
    """The record's (single) region as a boolean HxW mask (`segment_ids` reads a panoptic PNG)."""
    if record.segments_path is not None:
        return segment_ids(record.segments_path) == record.segment_id
    return _coco_mask(record.polygons, record.height, record.width)


def record_masks(record: RegionRecord, segment_ids: Callable[[str], np.ndarray] = read_segment_ids) -> list[np.ndarray]:
    """Every region of the record as boolean HxW masks, in the order of its `<mask>` placeholders."""
    if record.turns and record.segments_path is not None:
        ids = segment_ids(record.segments_path)
        return [ids == segment for segment in record.regions]
    if record.turns:
        return [_coco_mask(r, record.height, record.width) for r in record.regions]
    if record.segments_path is not None or record.polygons is not None:
        return [region_mask(record, segment_ids)]
    return []


# --- record readers -------------------------------------------------------------------------
def demo_region_records(split_dir: str | os.PathLike) -> list[RegionRecord]:
    """One record per ground-truth segment of a synthetic split (regions.jsonl); an image of another
    size than its panoptic PNG is an InputError naming both (its masks would cut it elsewhere)."""
    split = PanopticSplit.load(split_dir)
    records, checked = [], set()
    for region in read_regions(split):
        image = split.image(region.image_id)
        if image.id not in checked:
            png = split.panoptic_path(image)
            check_image_size(split.image_path(image), png, png_shape(png))
            checked.add(image.id)
        category = None if region.category_id is None else str(region.category_id)
        records.append(RegionRecord(str(split.image_path(image)), region.descriptions,
                                    str(split.panoptic_path(image)), region.segment_id,
                                    image_id=image.id, category=category))
    return records


def record_texts(records: list[RegionRecord]) -> list[str]:
    """Every reference description of the records, in order: a record's own, and a grouped
    record's per region (`region_descriptions`)."""
    return [t for r in records for texts in (r.descriptions, *r.region_descriptions) for t in texts]


def demo_caption_records(split_dir: str | os.PathLike) -> list[RegionRecord]:
    """Stage-1 image-text pairs of a synthetic split: the names of its regions, comma-joined."""
    by_image: dict[str, list[str]] = {}
    paths: dict[str, str] = {}
    for r in demo_region_records(split_dir):
        by_image.setdefault(r.image_id, []).append(r.descriptions[0])
        paths[r.image_id] = r.image_path
    return [RegionRecord(paths[i], (", ".join(texts),), image_id=i) for i, texts in by_image.items()]


DETAIL_QUESTION = conv.IMAGE_INTRO + "Describe the region <mask><pos> of the image in detail."
REFER_QUESTION = (conv.IMAGE_INTRO + "Describe the object in <mask><pos> so that it can be told apart from the "
                  "other objects of the image.")
SHORT_ANSWER = " Answer the question using a single word or phrase."
_REGION_NAME = re.compile(r"<region(\d+)>")


def _dims(entry: dict) -> tuple[int, int]:
    """The (height, width) of an annotation entry, positive integers."""
    dims = []
    for key in ("height", "width"):
        size = integral(entry[key])
        if size is None or size < 1:
            raise ValueError(f"{key} {entry[key]!r} is not a positive integer")
        dims.append(size)
    return dims[0], dims[1]


def _text(value: object, field: str) -> str:
    """`value` where it is a string (a text the model reads or answers); else a ValueError naming `field`."""
    if not isinstance(value, str):
        raise ValueError(f"{field}: {value!r} is not a text (a JSON string)")
    return value


def _items(entry: dict, key: str) -> list:
    """The list `entry[key]`; another value (a string would be read one character at a time) is a ValueError."""
    if not isinstance(entry[key], list):
        raise ValueError(f"{key}: a list expected, not a JSON {type(entry[key]).__name__}")
    return entry[key]


@dataclass
class _Listing:
    """One listing of an image folder: its names, its subfolders and its symbolic links not yet followed."""

    names: set[str]
    folders: set[str]
    links: set[str]


class _ImageFiles:
    """The image files an annotation file names, checked to exist when it is read (not when training
    draws them): each folder is listed once and no image is opened, so that a file of 700k entries
    costs a set lookup per entry; only a symbolic link is followed (once), its target checked to be
    a file. An image's size is checked when its sample is loaded (RegionDataset)."""

    def __init__(self, ann_file: str) -> None:
        """Checks for the images of `ann_file`."""
        self.ann_file = ann_file
        self._listed: dict[str, _Listing] = {}

    def _list(self, folder: str) -> _Listing:
        """Lists `folder` once: its names, which of them are folders and which symbolic links (as the
        listing tells, without a call per name)."""
        if folder not in self._listed:
            listing = _Listing(set(), set(), set())
            try:
                with os.scandir(folder or ".") as entries:
                    for item in entries:
                        listing.names.add(item.name)
                        if item.is_symlink():
                            listing.links.add(item.name)
                        elif item.is_dir(follow_symlinks=False):
                            listing.folders.add(item.name)
            except OSError:  # no such folder (or not one): no file of it exists
                listing = _Listing(set(), set(), set())
            self._listed[folder] = listing
        return self._listed[folder]

    def path(self, image_root: str, name: str, entry: str) -> str:
        """The path of image `name` under `image_root`; a missing file (a folder, or a symbolic link
        to no file) is an InputError naming the annotation file, its `entry` and the path."""
        path = os.path.join(image_root, name)
        folder, base = os.path.split(path)
        listing = self._list(folder)
        if base not in listing.names:
            why = "" if os.path.isdir(folder or ".") else f" (no folder {folder})"
            raise InputError(f"{self.ann_file}: {entry}: image {path} not found{why}")
        if base in listing.folders:
            raise InputError(f"{self.ann_file}: {entry}: image {path} is a folder, not an image file")
        if base in listing.links:
            if not os.path.isfile(path):
                raise InputError(f"{self.ann_file}: {entry}: image {path} not found "
                                 f"(a symbolic link to {os.readlink(path)}, which is no file)")
            listing.links.discard(base)  # followed once
        return path


def _inside(polygon: list, height: int, width: int) -> bool:
    """Whether a polygon's bounding box (x, y numbers) overlaps the image of `height` x `width`."""
    xs, ys = polygon[0::2], polygon[1::2]
    return max(xs) > 0 and min(xs) < width and max(ys) > 0 and min(ys) < height


#: how many image sizes outside its image a polygon point may lie: pycocotools rasterises every
#: step of an edge, so a point far out (or NaN, or infinite) would take all the memory there is
POLYGON_REACH = 10


def _far_point(polygon: list, height: int, width: int) -> tuple[float, float] | None:
    """The first (x, y) point of a polygon more than POLYGON_REACH image sizes outside the image of
    `height` x `width` (NaN and infinite points included); None where all lie within."""
    xs, ys = polygon[0::2], polygon[1::2]
    lo_x, hi_x = -POLYGON_REACH * width, (POLYGON_REACH + 1) * width
    lo_y, hi_y = -POLYGON_REACH * height, (POLYGON_REACH + 1) * height
    if math.isfinite(sum(polygon)) and lo_x <= min(xs) and max(xs) <= hi_x and lo_y <= min(ys) and max(ys) <= hi_y:
        return None  # the usual case, checked fast (no NaN: min and max hold)
    return next((x, y) for x, y in zip(xs, ys) if not (lo_x <= x <= hi_x and lo_y <= y <= hi_y))


def _rle_runs(counts: str) -> list[int] | None:
    """The run lengths of a compressed COCO RLE string, read as pycocotools' rleFrString reads
    it (5 bits a character from '0', a continuation bit, runs after the third relative to the
    run two before); None where a character is outside its alphabet or the string ends inside a run."""
    runs: list[int] = []
    x = k = 0
    for char in counts:
        c = ord(char) - 48
        if not 0 <= c < 64:
            return None
        x |= (c & 0x1F) << 5 * k
        k += 1
        if c & 0x20:
            continue
        if c & 0x10:
            x |= -1 << 5 * k
        runs.append(x + (runs[-2] if len(runs) > 2 else 0))
        x = k = 0
    return None if k else runs


def _segmentation(segmentation: object, height: int, width: int) -> object:
    """A COCO segmentation checked for its shape: polygons (lists of x, y numbers) or RLE (an object
    with `size` [height, width] and `counts`). A polygon part of fewer than 3 points has no area
    (and pycocotools reads a lone 4-number part as a box): it is dropped, as detectron2's COCO
    reader drops it; None where no part is left (the region has no area). Polygons that all lie
    outside the image (a mask of no pixel) or that reach too far out (`_far_point`), and an RLE
    whose run lengths do not cover the image (pycocotools would decode memory past them), are a
    ValueError."""
    if isinstance(segmentation, list):
        if not segmentation or not all(
                isinstance(poly, list) and len(poly) % 2 == 0
                and all(is_number(v) for v in poly) for poly in segmentation):
            raise ValueError("segmentation: polygons must be lists of x, y numbers (an even count)")
        parts = [poly for poly in segmentation if len(poly) >= 6]
        far = next((p for p in (_far_point(poly, height, width) for poly in parts) if p is not None), None)
        if far is not None:
            raise ValueError(f"segmentation: the polygon point {far} lies more than {POLYGON_REACH} image sizes "
                             f"outside the {width}x{height} image")
        if parts and not any(_inside(poly, height, width) for poly in parts):
            raise ValueError(f"segmentation: its polygons lie outside the {width}x{height} image")
        return parts or None
    if isinstance(segmentation, dict):
        if segmentation.get("size") != [height, width] or not isinstance(segmentation.get("counts"), (str, list)):
            raise ValueError(f"segmentation: an RLE must have size [{height}, {width}] (the image's) and counts")
        counts = segmentation["counts"]
        runs = _rle_runs(counts) if isinstance(counts, str) else counts
        if runs is None or not (all(integral(c) is not None and c >= 0 for c in runs) and sum(runs) == height * width):
            raise ValueError(f"segmentation: an RLE's counts are run lengths (integers >= 0; a string: as "
                             f"pycocotools encodes them) adding up to the image's {height} x {width} = "
                             f"{height * width} pixels")
        return segmentation
    raise ValueError(f"segmentation: {type(segmentation).__name__}, neither polygons nor RLE")


def _warn_no_area(ann_file: str, skipped: int) -> None:
    """Log the regions of `ann_file` left out for having no polygon of 3 points (no area)."""
    if skipped:
        log.warning("%s: %d region(s) without a polygon of at least 3 points (no area) left out", ann_file, skipped)


def _by_id(ann_file: str, items: list, section: str) -> dict:
    """{id: item} of a COCO file's `images` or `categories` list; an id given twice is an InputError
    naming both places (which of the two would the annotations mean?)."""
    found: dict = {}
    place: dict = {}
    for i, item in enumerate(items):
        key = item["id"]
        if key in found:
            raise InputError(f"{ann_file}: {section}[{i}]: id {key!r} is given twice (also {section}[{place[key]}])")
        found[key], place[key] = item, i
    return found


def _coco_region_records(ann_file: str, image_root: str, text: str) -> list[RegionRecord]:
    """A COCO-format file described by `text`: the category name (`category`), the annotation's
    `caption` (`caption`) or the image's `caption` (`image_caption`, RefCOCO's files, whose image
    file names carry a prefix before the last '_'), one record per annotation. Each region carries
    its category name when the file has categories."""
    obj = read_json(ann_file)
    try:
        cats = {i: c["name"] for i, c in _by_id(ann_file, obj.get("categories", []), "categories").items()}
        images = _by_id(ann_file, obj["images"], "images")
        annotations = obj["annotations"]
    except (KeyError, TypeError, AttributeError):
        raise InputError(f"{ann_file}: not a COCO-format file (an object with images, annotations, "
                         "categories)") from None
    records = []
    skipped = 0
    files, origins = _ImageFiles(ann_file), {}
    try:
        for n, a in enumerate(annotations):
            if not isinstance(a, dict):
                raise InputError(f"{ann_file}: annotation {n}: not an object (a JSON {type(a).__name__})")
            if a.get("ignore", False):
                continue
            im = images[a["image_id"]]
            category = cats.get(a.get("category_id"))
            name = _text(im["file_name"], "file_name")
            if text == "category":
                description, question = _text(cats[a["category_id"]], "category name"), ""
            elif text == "caption":
                description, question = _text(a["caption"], "caption"), ""
            else:
                description, question, name = _text(im["caption"], "image caption"), REFER_QUESTION, name.split("_")[-1]
            height, width = _dims(im)
            polygons = _segmentation(a["segmentation"], height, width)
            if polygons is None:
                skipped += 1
                continue
            path = files.path(image_root, name, f"annotation {n} (image id {a['image_id']})")
            if a["image_id"] not in origins:  # one string per image, not per region
                origins[a["image_id"]] = f"{ann_file}: image id {a['image_id']}"
            records.append(RegionRecord(path, (description,), polygons=polygons, height=height, width=width,
                                        image_id=str(a["image_id"]), question=question, category=category,
                                        origin=origins[a["image_id"]]))
    except KeyError as e:
        raise InputError(f"{ann_file}: annotation {n}: missing field or unknown id {e}") from None
    except (TypeError, ValueError, AttributeError) as e:
        raise InputError(f"{ann_file}: annotation {n}: {e}") from None
    _warn_no_area(ann_file, skipped)
    return records


def _group_by_image(records: list[RegionRecord], limit: int, draw: bool = False,
                   instruction: str | None = None) -> list[RegionRecord]:
    """One record per image of one-region `records` (COCO segmentations or panoptic segments), one
    turn per region: its first `limit` regions, or with `draw` all of them, of which each epoch
    asks a new random draw of `limit` in random order. Each turn asks the record's own question,
    or the evaluation one, the first opened by the image overview; with an `instruction` (the
    released OPAL code's layout), the first opens with the image and the instruction instead and
    each turn is the region's `<mask><pos>` alone."""
    by_image: dict[str, list[RegionRecord]] = {}
    for r in records:
        by_image.setdefault(r.image_id, []).append(r)
    intro = conv.IMAGE_INTRO if instruction is None else f"{conv.IMAGE_PLACEHOLDER}\n{instruction}"
    grouped = []
    for rs in by_image.values():
        rs = rs if draw else rs[:limit]
        questions = [conv.REGION_PLACEHOLDER if instruction is not None else
                     r.question.removeprefix(conv.IMAGE_INTRO) or conv.EVAL_QUESTION for r in rs]
        turns = [((intro if k == 0 else "") + q, r.descriptions[0]) for k, (q, r) in enumerate(zip(questions, rs))]
        segments = rs[0].segments_path
        grouped.append(RegionRecord(rs[0].image_path, (), segments_path=segments, height=rs[0].height,
                                    width=rs[0].width, image_id=rs[0].image_id, turns=tuple(turns),
                                    regions=tuple(r.segment_id if segments else r.polygons for r in rs),
                                    region_categories=tuple(r.category for r in rs), turn_per_region=True,
                                    region_descriptions=tuple(r.descriptions for r in rs),
                                    drawn_regions=limit if draw else 0, intro=intro, origin=rs[0].origin))
    return grouped


def coco_instance_records(ann_file: str, image_root: str) -> list[RegionRecord]:
    """COCO instance annotations (also PartImageNet, Pascal-Part): each instance a region
    described by its category name."""
    return _coco_region_records(ann_file, image_root, "category")


def vg_region_records(ann_file: str, image_root: str) -> list[RegionRecord]:
    """Visual Genome regions in COCO format: each annotation's `caption` describes it."""
    return _coco_region_records(ann_file, image_root, "caption")


def refcoco_records(ann_file: str, image_root: str) -> list[RegionRecord]:
    """RefCOCO/RefCOCO+ in COCO format: each image entry's `caption` refers to its region (its
    class: the annotation's category)."""
    return _coco_region_records(ann_file, image_root, "image_caption")


_REGION_PREFIX = re.compile(r"^<[^>]*>:\s*(.*)$", re.S)


@contextlib.contextmanager
def _entry(ann_file: str, n: int) -> Iterator[None]:
    """Reading entry `n` of an annotation list: a missing or malformed field becomes an error naming both."""
    try:
        yield
    except InputError:
        raise
    except KeyError as e:
        raise InputError(f"{ann_file}: entry {n}: missing field {e}") from None
    except (TypeError, ValueError, AttributeError) as e:
        raise InputError(f"{ann_file}: entry {n}: {e}") from None


def _entry_list(ann_file: str) -> list:
    """The entries of an annotation file that holds a JSON list (Osprey's, LLaVA's); another value is
    an InputError naming the file."""
    entries = read_json(ann_file)
    if not isinstance(entries, list):
        raise InputError(f"{ann_file}: a list of entries expected, not a JSON {type(entries).__name__}")
    return entries


def osprey_description_records(ann_file: str, image_root: str) -> list[RegionRecord]:
    """Osprey-724K detailed descriptions: `annotation[i].segmentation` with `description[i]` (a
    region without its text is an error; texts after the last region are unused, as in Osprey's
    reader, and counted in a warning)."""
    records = []
    skipped = extra = 0
    files = _ImageFiles(ann_file)
    for n, ann in enumerate(_entry_list(ann_file)):
        with _entry(ann_file, n):
            name = _text(ann["file_name"], "file_name").split("_")[-1]
            height, width = _dims(ann)
            regions, texts = _items(ann, "annotation"), _items(ann, "description")
            if len(regions) > len(texts):
                raise InputError(f"{ann_file}: entry {n}: {len(regions)} regions in 'annotation' but "
                                 f"{len(texts)} texts in 'description' (one per region)")
            extra += len(texts) > len(regions)
            described = [(_segmentation(region["segmentation"], height, width), _text(text, f"description[{k}]"))
                         for k, (region, text) in enumerate(zip(regions, texts))]
            kept = [(polygons, text) for polygons, text in described if polygons is not None]
            skipped += len(described) - len(kept)
            if not kept:
                continue
            path, origin = files.path(image_root, name, f"entry {n}"), f"{ann_file}: entry {n}"
            for polygons, text in kept:
                m = _REGION_PREFIX.match(text)
                records.append(RegionRecord(path, ((m.group(1) if m else text).strip(),), polygons=polygons,
                                            height=height, width=width, image_id=str(ann.get("id", n)),
                                            question=DETAIL_QUESTION, origin=origin))
    if extra:
        log.warning("%s: %d entries have more texts in 'description' than regions; those after the last region "
                    "are unused", ann_file, extra)
    _warn_no_area(ann_file, skipped)
    return records


def _conversation_turns(ann_file: str, n: int, turns: list) -> list[tuple[str, str]]:
    """(question, answer) pairs of an alternating human/gpt `conversations` list; a last human
    question without its answer trains nothing and is left out, as in Osprey's reader."""
    if len(turns) % 2:
        last = turns[-1].get("from") if isinstance(turns[-1], dict) else turns[-1]
        if last != "human":
            raise InputError(f"{ann_file}: entry {n}: conversations has {len(turns)} turns, an odd count: its last "
                             f"({last!r}) is not part of a human/gpt pair")
        turns = turns[:-1]
    pairs = []
    for k in range(0, len(turns), 2):
        q, a = turns[k], turns[k + 1]
        if not (isinstance(q, dict) and isinstance(a, dict) and q.get("from") == "human" and a.get("from") == "gpt"):
            raise InputError(f"{ann_file}: entry {n}: conversations[{k}:{k + 2}] is not a human/gpt pair")
        pairs.append((_text(q["value"], f"conversations[{k}].value"), _text(a["value"], f"conversations[{k + 1}].value")))
    return pairs


def osprey_conversation_records(ann_file: str, image_root: str, *, short_answers: bool = False,
                                regions_inline: bool = False) -> list[RegionRecord]:
    """Osprey-724K conversations: one record per image entry with all its regions.

    By default (conversation, short-form and part-level files) the first question lists the
    regions ("region1<mask><pos>, ...") and the turns name them as plain `region{k}`;
    `short_answers` asks for a word or phrase. With `regions_inline` (the LVIS positive/negative
    file) each `<region{k}>` in a question is replaced by that region's `<mask><pos>`. A turn
    naming a `<region{k}>` beyond the entry's regions is an InputError."""
    records = []
    files = _ImageFiles(ann_file)
    for n, ann in enumerate(_entry_list(ann_file)):
        with _entry(ann_file, n):
            file_name = _text(ann["file_name"], "file_name")
            height, width = _dims(ann)
            segs = [_segmentation(a["segmentation"], height, width) for a in _items(ann, "annotation")]
            if any(seg is None for seg in segs):  # the turns name regions by their place: none can go
                raise InputError(f"{ann_file}: entry {n}: annotation {segs.index(None)} has no polygon of at "
                                 "least 3 points (no area)")
            pairs = _conversation_turns(ann_file, n, _items(ann, "conversations"))
            if not pairs or not segs:
                continue
            named = [int(k) for turn in pairs for text in turn for k in _REGION_NAME.findall(text)]
            beyond = next((k for k in named if not 1 <= k <= len(segs)), None)
            if beyond is not None:  # a turn about a region the entry does not have
                raise InputError(f"{ann_file}: entry {n}: conversations name <region{beyond}>, a region beyond its "
                                 f"{len(segs)} in 'annotation'")
            path = files.path(image_root, file_name if regions_inline else file_name.split("_")[-1], f"entry {n}")
            if regions_inline:
                order = [int(k) for q, _ in pairs for k in _REGION_NAME.findall(q)]
                regions = tuple(segs[k - 1] for k in order)
                turns = [(_REGION_NAME.sub(conv.REGION_PLACEHOLDER, q), a) for q, a in pairs]
            else:
                regions = tuple(segs)
                listing = ", ".join(f"region{k + 1}{conv.REGION_PLACEHOLDER}" for k in range(len(segs)))
                plural = "region" if len(segs) == 1 else "regions"
                turns = [(re.sub(r"[<>]", "", q) + (SHORT_ANSWER if short_answers else ""), re.sub(r"[<>]", "", a))
                         for q, a in pairs]
                turns[0] = (f"There are {len(segs)} {plural} in the picture: {listing}. " + turns[0][0], turns[0][1])
            turns[0] = (conv.IMAGE_INTRO + turns[0][0], turns[0][1])
            records.append(RegionRecord(path, (), height=height, width=width, image_id=str(ann.get("id", n)),
                                        turns=tuple(turns), regions=regions, origin=f"{ann_file}: entry {n}"))
    return records


def llava_caption_records(ann_file: str, image_root: str) -> list[RegionRecord]:
    """LLaVA pretraining pairs: the image and its first assistant answer."""
    records = []
    files = _ImageFiles(ann_file)
    for n, ann in enumerate(_entry_list(ann_file)):
        try:
            image, answer = ann["image"], next(t["value"] for t in ann["conversations"] if t["from"] == "gpt")
        except (KeyError, StopIteration, TypeError, AttributeError):
            raise InputError(f"{ann_file}: entry {n}: needs 'image' and a 'gpt' turn in 'conversations'") from None
        with _entry(ann_file, n):
            path = files.path(image_root, _text(image, "image"), f"entry {n}")
            records.append(RegionRecord(path, (_text(answer, "the 'gpt' turn's value"),), image_id=str(ann.get("id", n))))
    return records


READERS = {
    "coco_instances": coco_instance_records,
    "vg_regions": vg_region_records,
    "refcoco": refcoco_records,
    "osprey_description": osprey_description_records,
    "osprey_conversation": osprey_conversation_records,
    "osprey_short_form": functools.partial(osprey_conversation_records, short_answers=True),
    "osprey_part_level": functools.partial(osprey_conversation_records, short_answers=True),
    "osprey_lvis_posneg": functools.partial(osprey_conversation_records, regions_inline=True),
    "llava_captions": llava_caption_records,
}


GROUPABLE = ("coco_instances", "vg_regions", "refcoco")


def records_from_source(source: dict, where: str = "opal data source") -> list[RegionRecord]:
    """Records of one configured source: {format: demo_regions | demo_captions | one of READERS,
    split_dir | ann_file + image_root, regions_per_sample (demo regions and COCO-format files: an
    image's regions in one sample: the first ones, or with shuffle_regions a new random draw of
    them in random order each epoch), instruction (with regions_per_sample: the first turn's
    text, `_group_by_image`)}. Errors name the source as `where` (e.g. opal.data.stage2[0]); a
    source that gives no sample is one."""
    known = (*DEMO_FORMATS, *READERS)
    if isinstance(source, dict) and source.get("format") not in known:
        raise InputError(f"{where}.format: unknown format {source.get('format')!r} (known: {', '.join(known)})")
    paths = source_paths(source, where)  # also: a source that is not a mapping
    kind = source["format"]
    grouping = {k: source[k] for k in ("regions_per_sample", "shuffle_regions", "instruction") if k in source}
    if grouping and kind not in ("demo_regions", *GROUPABLE):
        raise InputError(f"{where} ({kind}): {', '.join(grouping)} applies to demo_regions, "
                         f"{', '.join(GROUPABLE)} only")
    for key in ("shuffle_regions", "instruction"):
        if key in grouping and "regions_per_sample" not in grouping:
            raise InputError(f"{where} ({kind}): {key} needs regions_per_sample")
    limit, shuffle = int(grouping.get("regions_per_sample", 0)), bool(grouping.get("shuffle_regions", False))
    if kind == "demo_captions":
        records = demo_caption_records(paths["split_dir"])
    elif kind == "demo_regions":
        records = demo_region_records(paths["split_dir"])
    else:
        records = READERS[kind](paths["ann_file"], paths["image_root"])
    if not records:
        raise InputError(f"{where}: {source_file(source, where)} gives no training sample ({kind})")
    return _group_by_image(records, limit, shuffle, grouping.get("instruction")) if limit > 0 else records


# --- samples and batches --------------------------------------------------------------------
#: a decoded file: an image's tensor and (height, width), or a panoptic PNG's segment ids
Decoded = tuple[torch.Tensor, tuple[int, int]] | np.ndarray


class RegionDataset(torch.utils.data.Dataset):
    """Items: image tensor, region mask (or none), question and one of the reference texts (drawn
    with a seeded generator per epoch and index, so a resumed run sees the same texts). The last
    `cached_files` decoded files (images, panoptic PNGs) are kept: an image's regions are read one
    after another, and at the paper's 512 px an image takes 3 MB, so the cache is bounded. An image
    of another size than its annotation entry says is an InputError naming the entry."""

    def __init__(self, records: list[RegionRecord], image_size: int, seed: int = 0, cached_files: int = 1024) -> None:
        """A dataset of `records` at `image_size` px, its draws seeded by `seed`."""
        self.records, self.image_size, self.seed, self.epoch = records, image_size, seed, 0
        self.cached_files = cached_files
        self._decoded: collections.OrderedDict[tuple[str, str], Decoded] = collections.OrderedDict()

    def __len__(self) -> int:
        """The number of records."""
        return len(self.records)

    def _cached(self, kind: str, path: str, read: Callable[[str], Decoded]) -> Decoded:
        """The decoded file `path` (`read` on a cache miss), kept among the last `cached_files`."""
        key = (kind, path)
        if key in self._decoded:
            self._decoded.move_to_end(key)
        else:
            self._decoded[key] = read(path)
            if len(self._decoded) > self.cached_files:
                self._decoded.popitem(last=False)
        return self._decoded[key]

    def _read_image(self, path: str) -> tuple[torch.Tensor, tuple[int, int]]:
        """The CLIP-normalised image tensor of `path` and the image's (height, width)."""
        rgb = read_rgb(path)
        return prepare_image(rgb, self.image_size), rgb.shape[:2]

    def _image(self, record: RegionRecord) -> torch.Tensor:
        """The CLIP-normalised image tensor of the record's image (cached); where the record gives its
        image's size (an annotation entry's), an image of another size is an InputError naming the
        entry and both sizes: the entry's masks would not fit it."""
        image, (height, width) = self._cached("image", record.image_path, self._read_image)
        if record.height and (height, width) != (record.height, record.width):
            raise InputError(f"{record.origin or record.image_path}: the image {record.image_path} is {width}x{height} "
                             f"pixels but the entry says {record.width}x{record.height} (width x height): its "
                             "regions' masks, drawn at the entry's size, would not fit the image")
        return image

    def _segment_ids(self, path: str) -> np.ndarray:
        """The segment-id map of the panoptic PNG `path` (cached)."""
        return self._cached("segments", path, read_segment_ids)

    def __getitem__(self, index: int) -> dict:
        """Sample `index`: image, masks, conversation turns, description text and contrastive pairs."""
        r = self.records[index]
        draw = random.Random(f"{self.seed}/{self.epoch}/{index}")
        if r.turns:
            questions, answers = [q for q, _ in r.turns], [a for _, a in r.turns]
            categories = list(r.region_categories) + [None] * (len(r.turns) - len(r.region_categories))
            if r.region_descriptions:  # one draw per turn, as for a one-region record
                answers = [draw.choice(texts) for texts in r.region_descriptions]
                if r.drawn_regions:  # each region keeps its question; the record's intro opens the first
                    order = draw.sample(range(len(answers)), min(len(answers), r.drawn_regions))
                    questions = [questions[k].removeprefix(r.intro) for k in order]
                    questions[0] = r.intro + questions[0]
                    answers, categories = [answers[k] for k in order], [categories[k] for k in order]
                    r = dataclasses.replace(r, regions=tuple(r.regions[k] for k in order))  # decode the drawn only
        masks = stack_masks(record_masks(r, self._segment_ids))
        if r.turns:
            turns, text = [conv.Turn(q, a) for q, a in zip(questions, answers)], ""
            pairs = [(k, a, categories[k]) for k, a in enumerate(answers)] if r.turn_per_region else []
        else:
            text = draw.choice(r.descriptions) if r.descriptions else ""
            question = (r.question or conv.region_question()) if len(masks) else conv.IMAGE_PLACEHOLDER + "\n"
            turns = [conv.Turn(question, text)]
            pairs = [(0, text, r.category)] if text and len(masks) else []
        return {"image": self._image(r), "masks": masks, "turns": turns, "text": text, "pairs": pairs}


class Collator:
    """Pads conversations (right) and descriptions into a batch."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, image_tokens: int, max_length: int) -> None:
        """A collator for `tokenizer`, conversations cut at `max_length` tokens."""
        self.tokenizer, self.image_tokens, self.max_length = tokenizer, image_tokens, max_length
        self.mask_id = region_token_ids(tokenizer)[0]

    def _pad(self, seqs: list[torch.Tensor], value: int) -> torch.Tensor:
        """The sequences right-padded with `value` into one (N, L) tensor."""
        return torch.nn.utils.rnn.pad_sequence(seqs, batch_first=True, padding_value=value)

    def __call__(self, items: list[dict]) -> dict:
        """The batch of `items`: token ids, labels, attention mask, images, masks and contrastive pairs."""
        pad = self.tokenizer.pad_token_id
        ids, labels = zip(*(encode_conversation(self.tokenizer, it["turns"], self.image_tokens, self.max_length)
                            for it in items))
        # a conversation cut at max_length keeps the regions whose <mask> (and <pos>) survived
        masks = [it["masks"][:int((x == self.mask_id).sum())] for it, x in zip(items, ids)]
        # contrastive pairs (region, description) whose region survived the cut
        pairs = [(i, k, t, c) for i, (it, m) in enumerate(zip(items, masks))
                 for k, t, c in it.get("pairs", []) if k < len(m) and t]
        if not pairs:  # one invalid row keeps the text pass (and every process's graph) the same
            pairs_valid = [False]
            pairs = [(0, 0, "", None)]
        else:
            pairs_valid = [True] * len(pairs)
        offsets = [0, *itertools.accumulate(len(m) for m in masks)]
        texts = [encode_description(self.tokenizer, t, self.max_length) for _, _, t, _ in pairs]
        lengths = torch.tensor([len(x) for x in ids])
        text_lengths = torch.tensor([len(x) for x in texts])
        sample = [i for i, _, _, _ in pairs]
        return {
            "input_ids": self._pad(list(ids), pad),
            "labels": self._pad(list(labels), IGNORE_INDEX),
            "attention_mask": (torch.arange(int(lengths.max()))[None] < lengths[:, None]).long(),
            # contrastive rows, one per pair (samples in order, regions in order within a sample)
            "text_ids": self._pad(texts, pad),
            "text_attention_mask": (torch.arange(int(text_lengths.max()))[None] < text_lengths[:, None]).long(),
            "texts": [t for _, _, t, _ in pairs],
            "classes": [c for _, _, _, c in pairs],
            "pair_sample": torch.tensor(sample),
            "pair_region": torch.tensor([offsets[i] + k for i, k, _, _ in pairs]),  # row of the batch's mask tokens
            "pair_first": torch.tensor([v and (j == 0 or sample[j - 1] != sample[j]) for j, v in enumerate(pairs_valid)]),
            "pair_valid": torch.tensor(pairs_valid),
            "images": torch.stack([it["image"] for it in items]),
            "masks": masks,
        }
