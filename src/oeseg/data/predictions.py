"""Region predictions: what a model hands the evaluation (docs/formats.md, "Region predictions")."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

from oeseg.io import InputError, atomic_write_jsonl, iter_jsonl


@dataclass(frozen=True)
class RegionPrediction:
    """One region: image id, segment id of the mask source, free-form description, score."""

    image_id: str
    segment_id: int
    description: str
    score: float = 1.0

    def to_json(self) -> dict:
        return {"image_id": self.image_id, "segment_id": self.segment_id,
                "description": self.description, "score": self.score}


def read_predictions(path: str | os.PathLike) -> list[RegionPrediction]:
    """Read a JSON Lines file of region predictions; any bad field names the file and line."""
    return [p for _, p in iter_predictions(path)]


def iter_predictions(path: str | os.PathLike) -> Iterator[tuple[int, RegionPrediction]]:
    """Yield (line number, prediction) for each line, validating as `read_predictions` does."""
    for lineno, obj in iter_jsonl(path):
        where = f"{path}:{lineno}"
        for key in ("image_id", "segment_id", "description"):
            if key not in obj:
                raise InputError(f"{where}: missing field '{key}'")
        desc = obj["description"]
        if not isinstance(desc, str):
            raise InputError(f"{where}: 'description' must be a string, got {type(desc).__name__}")
        if not desc.strip():
            raise InputError(f"{where}: 'description' is empty")
        sid = obj["segment_id"]
        if isinstance(sid, bool) or not isinstance(sid, int):
            raise InputError(f"{where}: 'segment_id' must be an integer, got {sid!r}")
        score = obj.get("score", 1.0)
        if isinstance(score, bool) or not isinstance(score, (int, float)):
            raise InputError(f"{where}: 'score' must be a number, got {score!r}")
        yield lineno, RegionPrediction(str(obj["image_id"]), sid, desc, float(score))


def write_predictions(path: str | os.PathLike, predictions: list[RegionPrediction]) -> None:
    """Write region predictions as JSON Lines, atomically."""
    atomic_write_jsonl(path, (p.to_json() for p in predictions))
