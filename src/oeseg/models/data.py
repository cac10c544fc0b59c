"""Training and inference data: region samples (image + one region mask + a description).

Sources: the demo's synthetic splits (regions.jsonl + images/ + panoptic/, DESIGN.md), and
Osprey's annotation formats: COCO instance JSON (the category name describes each region),
Osprey-724K detailed-description JSON (`annotation[i].segmentation` with `description[i]` =
"<region{i+1}>: text") and LLaVA image-text JSON (`image`, `conversations`) for stage 1.
"""

from __future__ import annotations

import os
import random
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from transformers import PreTrainedTokenizerBase

from oeseg.data.panoptic import PanopticSplit, read_segment_ids
from oeseg.io import InputError, iter_jsonl, read_json
from oeseg.models import conversation as conv
from oeseg.models.tokenization import IGNORE_INDEX, encode_conversation, encode_description
from oeseg.models.vision import CLIP_MEAN, CLIP_STD


@dataclass(frozen=True)
class RegionRecord:
    """One training/inference item: an image, a region (None for image-text pairs) and its texts."""

    image_path: str
    descriptions: tuple[str, ...]
    segments_path: str | None = None    # panoptic PNG holding the region
    segment_id: int = 0
    polygons: object = None             # COCO segmentation (polygons or RLE) of the region
    height: int = 0
    width: int = 0
    image_id: str = ""


def load_image(path: str, size: int) -> torch.Tensor:
    """An RGB image resized to size x size and normalised with CLIP's mean and std: (3,S,S)."""
    try:
        with Image.open(path) as im:
            arr = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
    except FileNotFoundError:
        raise InputError(f"{path}: image not found") from None
    x = torch.from_numpy(arr).permute(2, 0, 1)[None]
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)[0]
    return (x - torch.tensor(CLIP_MEAN)[:, None, None]) / torch.tensor(CLIP_STD)[:, None, None]


def resize_mask(mask: np.ndarray, size: int) -> torch.Tensor:
    """A boolean HxW mask resized (nearest) to size x size, as float (S,S)."""
    m = torch.from_numpy(mask.astype(np.float32))[None, None]
    return F.interpolate(m, size=(size, size), mode="nearest")[0, 0]


def _coco_mask(segmentation: object, height: int, width: int) -> np.ndarray:
    from pycocotools import mask as mask_utils

    if isinstance(segmentation, list):
        rle = mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
    elif isinstance(segmentation, dict) and isinstance(segmentation.get("counts"), list):
        rle = mask_utils.frPyObjects(segmentation, height, width)
    else:
        rle = segmentation
    return mask_utils.decode(rle).astype(bool)


def region_mask(record: RegionRecord) -> np.ndarray:
    """The record's region as a boolean HxW mask."""
    if record.segments_path is not None:
        return read_segment_ids(record.segments_path) == record.segment_id
    return _coco_mask(record.polygons, record.height, record.width)


# --- record readers -------------------------------------------------------------------------
def demo_region_records(split_dir: str | os.PathLike) -> list[RegionRecord]:
    """One record per ground-truth segment of a synthetic split (regions.jsonl)."""
    split = PanopticSplit.load(split_dir)
    path = Path(split_dir) / "regions.jsonl"
    records = []
    for lineno, row in iter_jsonl(path):
        try:
            image = split.image(str(row["image_id"]))
            texts = tuple(d["text"] for d in row["descriptions"])
            segment_id = int(row["segment_id"])
        except KeyError as e:
            raise InputError(f"{path}:{lineno}: missing field or unknown image {e}") from None
        if not texts:
            raise InputError(f"{path}:{lineno}: region has no descriptions")
        records.append(RegionRecord(str(split.image_dir / image.file_name), texts,
                                    str(split.panoptic_dir / image.panoptic_file), segment_id,
                                    image_id=image.id))
    return records


def split_region_records(split_dir: str | os.PathLike) -> list[RegionRecord]:
    """Every segment of a panoptic split (no descriptions): what inference describes, in image
    order and ascending segment id."""
    split = PanopticSplit.load(split_dir)
    return [RegionRecord(str(split.image_dir / im.file_name), (), str(split.panoptic_dir / im.panoptic_file),
                         s.id, image_id=im.id)
            for im in split.images for s in sorted(im.segments, key=lambda s: s.id)]


def demo_caption_records(split_dir: str | os.PathLike) -> list[RegionRecord]:
    """Stage-1 image-text pairs of a synthetic split: the names of its regions, comma-joined."""
    by_image: dict[str, list[str]] = {}
    paths: dict[str, str] = {}
    for r in demo_region_records(split_dir):
        by_image.setdefault(r.image_id, []).append(r.descriptions[0])
        paths[r.image_id] = r.image_path
    return [RegionRecord(paths[i], (", ".join(texts),), image_id=i) for i, texts in by_image.items()]


def coco_instance_records(ann_file: str, image_root: str) -> list[RegionRecord]:
    """COCO instance annotations: each instance a region described by its category name."""
    obj = read_json(ann_file)
    try:
        cats = {c["id"]: c["name"] for c in obj["categories"]}
        images = {im["id"]: im for im in obj["images"]}
        return [RegionRecord(os.path.join(image_root, images[a["image_id"]]["file_name"]),
                             (cats[a["category_id"]],), polygons=a["segmentation"],
                             height=int(images[a["image_id"]]["height"]), width=int(images[a["image_id"]]["width"]),
                             image_id=str(a["image_id"]))
                for a in obj["annotations"]]
    except KeyError as e:
        raise InputError(f"{ann_file}: missing field {e}") from None


_REGION_PREFIX = re.compile(r"^<[^>]*>:\s*(.*)$", re.S)


def osprey_description_records(ann_file: str, image_root: str) -> list[RegionRecord]:
    """Osprey-724K detailed descriptions: `annotation[i].segmentation` with `description[i]`."""
    records = []
    for n, ann in enumerate(read_json(ann_file)):
        try:
            path = os.path.join(image_root, ann["file_name"].split("_")[-1])
            for region, text in zip(ann["annotation"], ann["description"]):
                m = _REGION_PREFIX.match(text)
                records.append(RegionRecord(path, ((m.group(1) if m else text).strip(),),
                                            polygons=region["segmentation"], height=int(ann["height"]),
                                            width=int(ann["width"]), image_id=str(ann.get("id", n))))
        except KeyError as e:
            raise InputError(f"{ann_file}: entry {n}: missing field {e}") from None
    return records


def llava_caption_records(ann_file: str, image_root: str) -> list[RegionRecord]:
    """LLaVA pretraining pairs: the image and its first assistant answer."""
    records = []
    for n, ann in enumerate(read_json(ann_file)):
        try:
            answer = next(t["value"] for t in ann["conversations"] if t["from"] == "gpt")
            records.append(RegionRecord(os.path.join(image_root, ann["image"]), (answer,), image_id=str(ann.get("id", n))))
        except (KeyError, StopIteration):
            raise InputError(f"{ann_file}: entry {n}: needs 'image' and a 'gpt' turn in 'conversations'") from None
    return records


READERS = {"coco_instances": coco_instance_records, "osprey_description": osprey_description_records,
           "llava_captions": llava_caption_records}


def records_from_source(source: dict) -> list[RegionRecord]:
    """Records of one configured source: {format: demo_regions|demo_captions|coco_instances|
    osprey_description|llava_captions, split_dir | ann_file + image_root}."""
    kind = source.get("format")
    if kind == "demo_regions":
        return demo_region_records(source["split_dir"])
    if kind == "demo_captions":
        return demo_caption_records(source["split_dir"])
    if kind in READERS:
        return READERS[kind](source["ann_file"], source["image_root"])
    raise InputError(f"opal data source: unknown format {kind!r}")


# --- samples and batches --------------------------------------------------------------------
class RegionDataset(torch.utils.data.Dataset):
    """Items: image tensor, region mask (or none), question and one of the reference texts (drawn
    with a seeded generator per epoch and index, so a resumed run sees the same texts)."""

    def __init__(self, records: list[RegionRecord], image_size: int, seed: int = 0) -> None:
        self.records, self.image_size, self.seed, self.epoch = records, image_size, seed, 0
        self._images: dict[str, torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self.records)

    def _image(self, path: str) -> torch.Tensor:
        if path not in self._images:
            self._images[path] = load_image(path, self.image_size)
        return self._images[path]

    def __getitem__(self, index: int) -> dict:
        r = self.records[index]
        text = random.Random(f"{self.seed}/{self.epoch}/{index}").choice(r.descriptions) if r.descriptions else ""
        has_region = r.segments_path is not None or r.polygons is not None
        masks = resize_mask(region_mask(r), self.image_size)[None] if has_region else torch.zeros(0, self.image_size, self.image_size)
        question = conv.region_question() if has_region else conv.IMAGE_PLACEHOLDER + "\n"
        return {"image": self._image(r.image_path), "masks": masks, "question": question, "text": text,
                "image_id": r.image_id, "segment_id": r.segment_id}


class Collator:
    """Pads conversations (right) and descriptions into a batch."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, image_tokens: int, max_length: int,
                 with_answers: bool = True) -> None:
        self.tokenizer, self.image_tokens, self.max_length = tokenizer, image_tokens, max_length
        self.with_answers = with_answers

    def _pad(self, seqs: list[torch.Tensor], value: int) -> torch.Tensor:
        return torch.nn.utils.rnn.pad_sequence(seqs, batch_first=True, padding_value=value)

    def __call__(self, items: list[dict]) -> dict:
        pad = self.tokenizer.pad_token_id
        ids, labels = zip(*(encode_conversation(self.tokenizer, [conv.Turn(it["question"], it["text"] if self.with_answers else None)],
                                                self.image_tokens, self.max_length) for it in items))
        texts = [encode_description(self.tokenizer, it["text"], self.max_length) for it in items]
        lengths = torch.tensor([len(x) for x in ids])
        text_lengths = torch.tensor([len(x) for x in texts])
        return {
            "input_ids": self._pad(list(ids), pad),
            "labels": self._pad(list(labels), IGNORE_INDEX),
            "attention_mask": (torch.arange(int(lengths.max()))[None] < lengths[:, None]).long(),
            "text_ids": self._pad(texts, pad),
            "text_attention_mask": (torch.arange(int(text_lengths.max()))[None] < text_lengths[:, None]).long(),
            "texts": [it["text"] for it in items],
            "images": torch.stack([it["image"] for it in items]),
            "masks": [it["masks"] for it in items],
            "image_ids": [it["image_id"] for it in items],
            "segment_ids": [it["segment_id"] for it in items],
        }
