"""The COCO panoptic dataset format every dataset is converted to (docs/formats.md, "Datasets").

A split folder holds `panoptic.json` and `panoptic/<name>.png` (segment id = R + 256 G + 256^2 B,
void = 0); instance ground truth is derived from it, and so is the semantic one unless the split has
its own `semantic/<name>.png` (category ids, void = 255).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from oeseg.data.vocabularies import Vocabulary, builtin_names
from oeseg.io import (InputError, atomic_write_bytes, atomic_write_json, integral, is_number,
                      nonnegative_integer, read_json_object)


def id2rgb(ids: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 array encoding segment ids."""
    ids = ids.astype(np.uint32)
    return np.stack([ids % 256, (ids // 256) % 256, (ids // 65536) % 256], axis=-1).astype(np.uint8)


#: What PIL raises for a file that is not a (complete, decodable) image.
UNREADABLE_IMAGE = (OSError, SyntaxError, ValueError, Image.DecompressionBombError)


@contextlib.contextmanager
def _open_image(path: str | Path, png: str | None = None) -> Iterator[Image.Image]:
    """Open an image file, or with `png` a PNG of that kind (panoptic, semantic); a missing or
    unreadable (empty, truncated) file, or with `png` a non-PNG one, raises InputError naming it."""
    try:
        with Image.open(path) as im:
            if png is not None:
                _check_png(path, im)
            yield im
    except FileNotFoundError:
        raise InputError(f"{path}: {'image' if png is None else f'{png} PNG'} not found") from None
    except InputError:  # the PNG check's, or the caller's own
        raise
    except UNREADABLE_IMAGE as e:
        raise InputError(f"{path}: not a readable {'image' if png is None else 'PNG image'} "
                         f"({_describe(path, e)})") from None


#: PNG modes that hold segment ids as colours (RGB, with alpha, or a palette of RGB colours).
SEGMENT_ID_MODES = ("RGB", "RGBA", "P")


def read_segment_ids(path: str | Path, kind: str = "panoptic") -> np.ndarray:
    """Read a panoptic PNG (of `kind`: the ground truth's, or a method's region masks) into an HxW
    uint32 array of segment ids; a missing, empty, truncated, non-PNG, one-channel (grey) or 16-bit
    file raises InputError naming it."""
    with _open_image(path, kind) as im:  # RGBA bytes read as little-endian R + 256 G + 256^2 B + 256^3 A
        if im.mode not in SEGMENT_ID_MODES:  # a grey value v would read as the id v * 65793
            raise InputError(f"{path}: a {im.mode!r} PNG (grey levels, not colours); a panoptic PNG holds segment "
                             "ids as RGB: id = R + 256·G + 256²·B")
        if any(";16" in str(tile[3]) for tile in im.tile):  # Pillow keeps each channel's high byte alone
            raise InputError(f"{path}: a PNG of 16 bits per channel; a panoptic PNG has 8 (id = R + 256·G + 256²·B, "
                             "each of R, G, B a byte)")
        rgba = np.ascontiguousarray(np.asarray(im.convert("RGBA")))
        return rgba.view("<u4")[..., 0] & np.uint32(0xFFFFFF)


#: the value of a void pixel in a semantic PNG
SEMANTIC_VOID = 255


def read_semantic_ids(path: str | Path) -> np.ndarray:
    """Read a semantic PNG (one 8-bit channel: a category id per pixel, SEMANTIC_VOID for void) into
    an HxW uint8 array; a missing, unreadable, colour or 16-bit file raises InputError naming it."""
    with _open_image(path, "semantic") as im:
        if im.mode not in ("L", "P"):
            raise InputError(f"{path}: a {im.mode!r} PNG; a semantic PNG has one 8-bit channel, a category id "
                             f"per pixel ({SEMANTIC_VOID} = void)")
        return np.asarray(im).astype(np.uint8)


def write_semantic_ids(path: str | Path, ids: np.ndarray) -> None:
    """Write an HxW array of category ids (SEMANTIC_VOID for void) as a semantic PNG, atomically."""
    atomic_write_bytes(path, png_bytes(np.asarray(ids, np.uint8)))


def read_rgb(path: str | Path) -> np.ndarray:
    """An image file as an HxWx3 uint8 RGB array (the file closed once read); a missing or
    unreadable file raises InputError naming it."""
    with _open_image(path) as im:
        return np.array(im.convert("RGB"))


def _check_size(size: tuple[int, ...], image_path: str | Path, panoptic_path: str | Path,
                shape: tuple[int, ...]) -> None:
    """Raise InputError naming both files where an image of `size` is not of `shape`, its panoptic
    PNG's (both height, width first): its regions would be cut elsewhere."""
    if tuple(size[:2]) != tuple(shape[:2]):
        raise InputError(f"{image_path}: the image is {size[1]}x{size[0]} pixels, its panoptic PNG {panoptic_path} "
                         f"{shape[1]}x{shape[0]}: an image and its panoptic PNG have one size")


def check_image_size(image_path: str | Path, panoptic_path: str | Path, shape: tuple[int, ...]) -> None:
    """Raise InputError naming both files where the image at `image_path` (its header read) is not
    of `shape` (height, width), the size of its panoptic PNG."""
    with _open_image(image_path) as im:
        size = (im.height, im.width)
    _check_size(size, image_path, panoptic_path, shape)


def read_rgb_of(image_path: str | Path, panoptic_path: str | Path, shape: tuple[int, ...]) -> np.ndarray:
    """`read_rgb` of an image whose panoptic PNG is of `shape`: another size is an InputError naming both."""
    rgb = read_rgb(image_path)
    _check_size(rgb.shape, image_path, panoptic_path, shape)
    return rgb


def png_shape(path: str | Path) -> tuple[int, int]:
    """(height, width) of a panoptic PNG, from its header alone; a bad file raises as read_segment_ids."""
    with _open_image(path, "panoptic") as im:
        return im.height, im.width


def _check_png(path: str | Path, im: Image.Image) -> None:
    """Raise InputError unless `im` (read from `path`) is a PNG image."""
    if im.format != "PNG":
        raise InputError(f"{path}: not a PNG image (a {im.format or 'unknown'} file)")


def _describe(path: str | Path, error: Exception) -> str:
    """Why the image at `path` could not be read: "the file is empty" or the error without the path."""
    if Path(path).is_file() and Path(path).stat().st_size == 0:
        return "the file is empty"
    return str(error).replace(str(path), "").strip(" '") or type(error).__name__


def png_bytes(array: np.ndarray) -> bytes:
    """The PNG encoding of an image array (HxW grey or HxWx3 RGB uint8)."""
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def write_segment_ids(path: str | Path, ids: np.ndarray) -> None:
    """Write an HxW segment-id array as a panoptic PNG, atomically."""
    atomic_write_bytes(path, png_bytes(id2rgb(ids)))


def bbox_of(mask: np.ndarray) -> list[int]:
    """COCO [x, y, width, height] of a boolean mask (zeros for an empty mask)."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return [0, 0, 0, 0]
    return [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)]


@dataclass
class Segment:
    """One ground-truth segment of an image."""

    id: int
    category_id: int
    iscrowd: int = 0
    area: int = 0
    bbox: list[int] = field(default_factory=lambda: [0, 0, 0, 0])

    def to_json(self) -> dict:
        """The segment as an entry of panoptic.json's `segments_info`."""
        return {"id": self.id, "category_id": self.category_id, "iscrowd": self.iscrowd,
                "area": self.area, "bbox": self.bbox}


@dataclass
class PanopticImage:
    """An image of a split: its record, its panoptic PNG name and its segments."""

    id: str
    file_name: str
    panoptic_file: str
    width: int
    height: int
    segments: list[Segment]


def _read_panoptic_json(path: Path) -> dict:
    """A split's panoptic.json, its top-level fields checked (images, annotations, categories)."""
    obj = read_json_object(path, ("images", "annotations", "categories"))
    for key in ("images", "annotations", "categories"):
        if not isinstance(obj[key], list):
            raise InputError(f"{path}: '{key}' must be a list")
    return obj


def _split_vocabulary(obj: dict, root: Path) -> Vocabulary:
    """The vocabulary of the split at `root` (its panoptic.json read as `obj`): its categories, named
    by `info.vocabulary`; unnamed, by the built-in vocabulary with the same categories, else (or
    where the dataset folder's name is one of those) by the dataset folder's name."""
    path = root / "panoptic.json"
    info = obj.get("info", {})
    if not isinstance(info, dict):
        raise InputError(f"{path}: 'info' must be an object, got {info!r}")
    if "vocabulary" in info and (not isinstance(info["vocabulary"], str) or not info["vocabulary"].strip()):
        raise InputError(f"{path}: info.vocabulary must be the vocabulary's name, got {info['vocabulary']!r}")
    folder = root.absolute().parent.name  # <data_root>/<dataset>/<split>: the dataset's
    vocab = Vocabulary.from_json(info.get("vocabulary", folder), obj["categories"], str(path))
    same = [] if "vocabulary" in info else builtin_names(vocab)
    if same and folder not in same:  # unnamed: a built-in vocabulary with the same categories
        vocab = Vocabulary(same[0], vocab.categories)
    return vocab


def read_split_vocabulary(root: str | Path, cache: str | Path | None = None) -> Vocabulary:
    """The vocabulary of the split at `root`, as PanopticSplit.load names it, without its images and
    segments; with `cache`, a JSON file that keeps the split's `info` and `categories` for as long as
    its panoptic.json keeps its size, mtime and ctime, and gives them instead of the whole file."""
    root = Path(root)
    path = root / "panoptic.json"
    if cache is None:
        return _split_vocabulary(_read_panoptic_json(path), root)
    now, stat = time.time_ns(), path.stat()
    key = {"file": str(path.absolute()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
           "ctime_ns": stat.st_ctime_ns}
    kept = _kept_vocabulary(Path(cache), key)
    if kept is None:
        obj = _read_panoptic_json(path)
        kept = {"info": obj.get("info"), "categories": obj["categories"]}
        # a file changed within its timestamps' tick (a few ms) can be changed again in the same tick,
        # keeping its mtime and ctime (a copy that keeps the mtime has a new ctime): only a file whose
        # last change is older than that is kept
        if max(stat.st_mtime_ns, stat.st_ctime_ns) < now - 1_000_000_000:
            with contextlib.suppress(OSError, InputError):  # a folder that cannot be written: nothing is kept
                atomic_write_json(cache, {"key": key, **kept})
    return _split_vocabulary(kept, root)


def _kept_vocabulary(cache: Path, key: dict) -> dict | None:
    """The `info` and `categories` that `cache` keeps for the panoptic.json of `key` (its path, size,
    mtime and ctime), or None when it keeps none for it (missing, unreadable, another key)."""
    try:
        kept = json.loads(cache.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(kept, dict) or kept.get("key") != key or not isinstance(kept.get("categories"), list):
        return None
    return kept


@dataclass
class PanopticSplit:
    """A split folder in the panoptic format: `panoptic.json`, `panoptic/`, `images/`."""

    root: Path
    vocabulary: Vocabulary
    images: list[PanopticImage]

    @property
    def panoptic_dir(self) -> Path:
        """The folder of the split's panoptic PNGs."""
        return self.root / "panoptic"

    @property
    def semantic_dir(self) -> Path | None:
        """The folder of the split's own semantic PNGs, None where it has none (the semantic ground
        truth is then the panoptic one with instances merged)."""
        folder = self.root / "semantic"
        return folder if folder.is_dir() else None

    @property
    def image_dir(self) -> Path:
        """The folder of the split's images."""
        return self.root / "images"

    def image_path(self, image: PanopticImage) -> Path:
        """The image's file: `images/<file_name>`, or `images/<id>.png` where its record has no
        `file_name` (docs/formats.md); a missing file raises InputError naming it and the image."""
        path = self.image_dir / (image.file_name or f"{image.id}.png")
        if not path.is_file():
            raise InputError(f"{path}: the file of image {image.id!r} of {self.root / 'panoptic.json'} not found")
        return path

    def panoptic_path(self, image: PanopticImage) -> Path:
        """The image's panoptic PNG: `panoptic/<panoptic_file>`."""
        return self.panoptic_dir / image.panoptic_file

    def rgb(self, image: PanopticImage, ids: np.ndarray | None = None) -> np.ndarray:
        """The image's HxWx3 RGB array; InputError naming both files where it is not the size of its
        panoptic PNG (`ids`, its segment-id map, when already read)."""
        png = self.panoptic_path(image)
        return read_rgb_of(self.image_path(image), png, ids.shape if ids is not None else png_shape(png))

    def image(self, image_id: str) -> PanopticImage:
        """The image record with this id."""
        return self._index()[image_id]

    def _index(self) -> dict[str, PanopticImage]:
        """The image records by id (built once, on first use)."""
        if not hasattr(self, "_by_id"):
            self._by_id = {im.id: im for im in self.images}
        return self._by_id

    def segment_ids(self, image: PanopticImage) -> np.ndarray:
        """The HxW segment-id map of an image."""
        return read_segment_ids(self.panoptic_path(image))

    @classmethod
    def load(cls, root: str | Path) -> "PanopticSplit":
        """Load `root/panoptic.json`, checking the fields every stage relies on."""
        root = Path(root)
        path = root / "panoptic.json"
        obj = _read_panoptic_json(path)
        vocab = _split_vocabulary(obj, root)
        cat_ids = {c.id for c in vocab}
        stuff_names = {c.id: c.name for c in vocab if not c.isthing}
        records = {}
        for i, im in enumerate(obj["images"]):
            try:
                image_id = str(im["id"])
            except (KeyError, TypeError):
                raise InputError(f"{path}: images[{i}] has no 'id'") from None
            if image_id in records:
                raise InputError(f"{path}: images[{i}]: image id {image_id!r} is listed twice")
            for key in ("width", "height"):
                nonnegative_integer(im.get(key, 0), f"{path}: images[{i}].{key}")
            records[image_id] = im
        images = []
        annotated: dict[str, int] = {}
        for i, ann in enumerate(obj["annotations"]):
            where = f"{path}: annotations[{i}]"
            try:
                image_id, panoptic_file = str(ann["image_id"]), str(ann["file_name"])
                segs = [_segment(s, f"{where}.segments_info[{j}]") for j, s in enumerate(ann["segments_info"])]
                rec = records.get(image_id)
                width, height = (rec.get("width", 0), rec.get("height", 0)) if rec else (0, 0)
            except KeyError as e:
                raise InputError(f"{where}: missing field {e}") from None
            except InputError:  # a field's own check, which names it
                raise
            except (TypeError, ValueError, AttributeError) as e:
                raise InputError(f"{where}: a malformed field ({e})") from None
            if rec is None:
                raise InputError(f"{where}: image_id {image_id!r} is not among the images")
            if image_id in annotated:
                raise InputError(f"{where}: image_id {image_id!r} is annotated twice "
                                 f"(also annotations[{annotated[image_id]}])")
            annotated[image_id] = i
            seen: set[int] = set()
            stuff: dict[int, int] = {}
            for s in segs:
                if s.category_id not in cat_ids:
                    raise InputError(f"{where}: segment {s.id} has unknown category_id {s.category_id}")
                if not 0 < s.id < 256**3:
                    raise InputError(f"{where}: segment id {s.id} is not a panoptic id (1 to 256^3 - 1)")
                if s.id in seen:
                    raise InputError(f"{where}: segment {s.id} is listed twice")
                if s.category_id in stuff_names and not s.iscrowd:
                    if s.category_id in stuff:  # predictions are merged per stuff category (oeseg.metrics)
                        raise InputError(f"{where}: segments {stuff[s.category_id]} and {s.id} are both of stuff "
                                         f"category {s.category_id} {stuff_names[s.category_id]!r}; a stuff "
                                         "category has one segment per image (merge them)")
                    stuff[s.category_id] = s.id
                seen.add(s.id)
            images.append(PanopticImage(image_id, str(rec.get("file_name") or ""), panoptic_file, width, height,
                                        sorted(segs, key=lambda s: s.id)))
        for i, image_id in enumerate(records):
            if image_id not in annotated:
                raise InputError(f"{path}: images[{i}]: image id {image_id!r} has no annotation (an image without "
                                 "segments has one with an empty segments_info)")
        return cls(root, vocab, images)


def _segment(entry: dict, where: str) -> Segment:
    """A `segments_info` entry of panoptic.json, each integer field checked (`where` names it)."""
    if not isinstance(entry, dict):
        raise InputError(f"{where}: a segment is a JSON object, not {entry!r}")
    iscrowd = entry.get("iscrowd", 0)
    if iscrowd not in (0, 1) or isinstance(iscrowd, float):  # True/False are 1/0
        raise InputError(f"{where}.iscrowd: must be 0, 1, true or false, got {iscrowd!r}")
    bbox = entry.get("bbox", [0, 0, 0, 0])
    if not isinstance(bbox, list) or len(bbox) != 4 or not all(is_number(v) and math.isfinite(v) for v in bbox):
        raise InputError(f"{where}.bbox: must be four numbers [x, y, width, height], got {bbox!r}")
    area = entry.get("area", 0)
    count = integral(area)  # a pixel count, which some writers give as 1234.0
    return Segment(nonnegative_integer(entry["id"], f"{where}.id"),
                   nonnegative_integer(entry["category_id"], f"{where}.category_id"), int(iscrowd),
                   nonnegative_integer(area if count is None else count, f"{where}.area"), bbox)


def panoptic_json(vocabulary: Vocabulary, images: list[PanopticImage], info: dict | None = None) -> dict:
    """The COCO panoptic JSON object of a split."""
    return {
        "info": {"vocabulary": vocabulary.name, **(info or {})},
        "images": [{"id": im.id, "file_name": im.file_name, "width": im.width, "height": im.height}
                   for im in images],
        "annotations": [{"image_id": im.id, "file_name": im.panoptic_file,
                         "segments_info": [s.to_json() for s in im.segments]} for im in images],
        "categories": vocabulary.to_json(),
    }


def segments_from_ids(ids: np.ndarray, categories: dict[int, int], crowd: set[int] = frozenset()) -> list[Segment]:
    """Segment records (area, bbox) for every non-void id of a segment-id map.

    `categories` maps segment id -> category id; ids present in the map but missing there raise.
    """
    segs = []
    for sid in np.unique(ids):
        sid = int(sid)
        if sid == 0:
            continue
        if sid not in categories:
            raise InputError(f"segment id {sid} has no category")
        mask = ids == sid
        segs.append(Segment(sid, categories[sid], int(sid in crowd), int(mask.sum()), bbox_of(mask)))
    return segs
