"""What the real-dataset converters share: writing a split folder in the panoptic format."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from oeseg.data.panoptic import (UNREADABLE_IMAGE, PanopticImage, panoptic_json, segments_from_ids,
                                 write_segment_ids, write_semantic_ids)
from oeseg.data.vocabularies import Vocabulary
from oeseg.io import InputError, atomic_write_bytes, atomic_write_json


def check_pairs(first: tuple[str | Path, dict[str, str], str], second: tuple[str | Path, dict[str, str], str]) -> None:
    """Raise InputError naming the member where one of two (archive, {image id: member}, what)
    tables has an image id the other lacks: an image without its label file, or the reverse."""
    for (source, members, what), (other_source, others, other_what) in ((first, second), (second, first)):
        alone = sorted(set(members) - set(others))
        if alone:
            raise InputError(f"{source}:{members[alone[0]]}: no {other_what} {alone[0]} in {other_source} "
                             f"({len(alone)} {what}(s) without one; is a member missing?)")


class SplitWriter:
    """Collects converted images into `out_dir` (images/, panoptic/, semantic/ where the source has its
    own semantic annotation); `finish` writes panoptic.json."""

    def __init__(self, out_dir: str | Path, vocabulary: Vocabulary) -> None:
        """A writer into `out_dir` (its panoptic.json removed, its images/, panoptic/ and semantic/
        emptied) of categories of `vocabulary`."""
        self.out_dir = Path(out_dir)
        self.vocabulary = vocabulary
        self.images: list[PanopticImage] = []
        # first the mark of a finished split: a run stopped after this leaves none beside emptied folders
        (self.out_dir / "panoptic.json").unlink(missing_ok=True)
        for sub in ("images", "panoptic", "semantic"):  # the converter owns these folders: no stale files
            shutil.rmtree(self.out_dir / sub, ignore_errors=True)

    def add(self, image_id: str, image_name: str, image_bytes: bytes, ids: np.ndarray,
            categories: dict[int, int], crowd: set[int] = frozenset(), source: str | None = None,
            semantic: np.ndarray | None = None, annotation: str | None = None) -> None:
        """Copy the image, write its panoptic PNG (and its semantic PNG from `semantic`, category ids
        with SEMANTIC_VOID for void) and record its segments; errors name `source` (where the image
        bytes come from: archive and member) or else the image's name, and `annotation` (the label
        file `ids` comes from)."""
        try:
            with Image.open(io.BytesIO(image_bytes)) as im:
                width, height = im.size
        except UNREADABLE_IMAGE as e:
            raise InputError(f"{source or image_name}: not a readable image ({e})") from None
        if (height, width) != ids.shape:
            label = f"its annotation {annotation}" if annotation else "its annotation"
            raise InputError(f"{source or image_name}: the image is {width}x{height} but {label} is "
                             f"{ids.shape[1]}x{ids.shape[0]}: an image and its annotation have one size")
        atomic_write_bytes(self.out_dir / "images" / image_name, image_bytes)
        write_segment_ids(self.out_dir / "panoptic" / f"{image_id}.png", ids)
        if semantic is not None:
            write_semantic_ids(self.out_dir / "semantic" / f"{image_id}.png", semantic)
        segments = segments_from_ids(ids, categories, set(crowd))
        self.images.append(PanopticImage(image_id, image_name, f"{image_id}.png", width, height, segments))

    def finish(self, info: dict) -> None:
        """Write panoptic.json (last, so that its presence means the split is complete)."""
        atomic_write_json(self.out_dir / "panoptic.json", panoptic_json(self.vocabulary, self.images, info))
