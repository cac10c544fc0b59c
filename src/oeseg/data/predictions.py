"""Region predictions: what a model hands the evaluation (docs/formats.md, "Region predictions")."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass

from oeseg.data.panoptic import PanopticSplit
from oeseg.io import (
    InputError,
    atomic_write_jsonl,
    check_known_fields,
    check_required_fields,
    check_unicode,
    is_integer,
    is_number,
    iter_jsonl,
)

#: The longest description accepted, in characters: longer ones are an input error. (The mapping
#: parses every description; spaCy refuses texts over 1,000,000 characters and a 200,000-character
#: one already takes seconds and ~1 GB.)
MAX_DESCRIPTION_CHARS = 10_000

#: The fields of a prediction line; any other is an error (a misspelt "Score" would be ignored).
FIELDS = ("image_id", "segment_id", "description", "score")


@dataclass(frozen=True)
class RegionPrediction:
    """One region: image id, segment id of the mask source, free-form description, score."""

    image_id: str
    segment_id: int
    description: str
    score: float = 1.0

    def to_json(self) -> dict:
        """The prediction as one line of a predictions file."""
        return {"image_id": self.image_id, "segment_id": self.segment_id,
                "description": self.description, "score": self.score}


def read_predictions(path: str | os.PathLike) -> list[RegionPrediction]:
    """Read a JSON Lines file of region predictions; any bad field names the file and line."""
    return [p for _, p in iter_predictions(path)]


def iter_predictions(path: str | os.PathLike) -> Iterator[tuple[int, RegionPrediction]]:
    """Yield (line number, prediction) for each line, validating as `read_predictions` does."""
    for lineno, obj in iter_jsonl(path):
        where = f"{path}:{lineno}"
        check_required_fields(obj, FIELDS[:3], where)
        check_known_fields(obj, FIELDS, where)
        desc = obj["description"]
        if not isinstance(desc, str):
            raise InputError(f"{where}: 'description' must be a string, got {type(desc).__name__}")
        check_description(desc, where)
        sid = obj["segment_id"]
        if not is_integer(sid):
            raise InputError(f"{where}: 'segment_id' must be an integer, got {sid!r}")
        yield lineno, RegionPrediction(check_image_id(obj["image_id"], where), sid, desc,
                                       check_score(obj.get("score", 1.0), where))


def check_image_id(value: object, where: str) -> str:
    """An image id, a string or an integer (as COCO's), as a string; another value raises InputError."""
    if not isinstance(value, str) and not is_integer(value):
        raise InputError(f"{where}: 'image_id' must be a string or an integer, got {value!r}")
    return str(value)


def check_description(text: str, where: str) -> None:
    """Raise InputError (naming `where`) for an empty description, one over MAX_DESCRIPTION_CHARS
    characters, or one that is not Unicode text (a lone surrogate such as JSON's "\\ud800")."""
    if not text.strip():
        raise InputError(f"{where}: 'description' is empty")
    check_unicode(text, where, "'description'")
    if len(text) > MAX_DESCRIPTION_CHARS:
        raise InputError(f"{where}: description of {len(text):,} characters, over the limit of "
                         f"{MAX_DESCRIPTION_CHARS:,}")


def check_score(value: object, where: str) -> float:
    """A prediction's score as a float; anything but a finite number (NaN, infinity, an overflowing
    1e400, a string) raises InputError naming `where`. Negative scores are legal (log-probabilities)."""
    if not is_number(value):
        raise InputError(f"{where}: 'score' must be a number, got {value!r}")
    try:
        score = float(value)
    except OverflowError:
        score = math.inf
    if not math.isfinite(score):
        raise InputError(f"{where}: 'score' must be a finite number, got {value!r}")
    return score


def read_split_predictions(path: str | os.PathLike, split: PanopticSplit, gt_segments: bool = False
                           ) -> list[tuple[int, RegionPrediction]]:
    """Read predictions with their line numbers, checked against a split: an unknown image, a repeated
    region and, with `gt_segments`, a segment id that is not one of the image's ground-truth segments
    (in panoptic.json) raise InputError naming the line; so does a file without a prediction."""
    segments = {im.id: {s.id for s in im.segments} for im in split.images}
    seen: dict[tuple[str, int], int] = {}
    lines = []
    for lineno, pred in iter_predictions(path):
        if pred.image_id not in segments:
            raise InputError(f"{path}:{lineno}: image_id {pred.image_id!r} is not an image of {split.root}")
        key = (pred.image_id, pred.segment_id)
        if key in seen:
            raise InputError(f"{path}:{lineno}: duplicate region (image {pred.image_id!r}, segment "
                             f"{pred.segment_id}), first given on line {seen[key]}")
        if gt_segments and pred.segment_id not in segments[pred.image_id]:
            raise InputError(f"{path}:{lineno}: segment_id {pred.segment_id} is not among the ground-truth "
                             f"segments of image {pred.image_id!r}")
        seen[key] = lineno
        lines.append((lineno, pred))
    if not lines:  # scored, an empty file would read as a model that described nothing
        raise InputError(f"{path}: no predictions: the file holds no prediction line")
    return lines


def write_predictions(path: str | os.PathLike, predictions: list[RegionPrediction]) -> None:
    """Write region predictions as JSON Lines, atomically."""
    atomic_write_jsonl(path, (p.to_json() for p in predictions))
