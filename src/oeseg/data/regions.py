"""The reference descriptions of a synthetic split's regions: `regions.jsonl` (docs/formats.md),
one line per segment, `{"image_id", "segment_id", "category_id", "descriptions": [{"text",
"wording"}, ...]}`, the training text of the demo's models and baselines."""

from __future__ import annotations

from dataclasses import dataclass

from oeseg.data.panoptic import PanopticSplit
from oeseg.data.predictions import check_image_id
from oeseg.io import InputError, check_required_fields, is_integer, iter_jsonl


@dataclass(frozen=True)
class DescribedRegion:
    """One line of regions.jsonl: a segment of an image of the split and its reference descriptions."""

    image_id: str
    segment_id: int
    category_id: int | None
    descriptions: tuple[str, ...]


def read_regions(split: PanopticSplit) -> list[DescribedRegion]:
    """The described regions of a split (`<split>/regions.jsonl`), in file order. Each line names
    an image of the split and one of its segments (each segment once), may give the segment's
    `category_id`, and gives a non-empty list of descriptions, objects with a non-empty `text`;
    a line that does not raises InputError naming the file, line and field."""
    path = split.root / "regions.jsonl"
    seen: dict[tuple[str, int], int] = {}
    out = []
    for lineno, row in iter_jsonl(path):
        where = f"{path}:{lineno}"
        check_required_fields(row, ("image_id", "segment_id", "descriptions"), where)
        image_id, segment_id, category_id = row["image_id"], row["segment_id"], row.get("category_id")
        image_id = check_image_id(image_id, where)
        try:
            image = split.image(image_id)
        except KeyError:
            raise InputError(f"{where}: image_id {image_id!r} is not an image of {split.root / 'panoptic.json'}"
                             ) from None
        if not is_integer(segment_id):
            raise InputError(f"{where}: segment_id must be an integer, got {segment_id!r}")
        segment = next((s for s in image.segments if s.id == segment_id), None)
        if segment is None:
            raise InputError(f"{where}: segment_id {segment_id} is not a segment of image {image_id!r}")
        if (image_id, segment_id) in seen:
            raise InputError(f"{where}: segment {segment_id} of image {image_id!r} is listed twice (also line "
                             f"{seen[image_id, segment_id]})")
        seen[image_id, segment_id] = lineno
        if category_id is not None and not is_integer(category_id):
            raise InputError(f"{where}: category_id must be an integer, got {category_id!r}")
        if category_id is not None and category_id != segment.category_id:
            raise InputError(f"{where}: category_id {category_id!r} is not the category of segment {segment_id} "
                             f"({segment.category_id})")
        descriptions = row["descriptions"]
        if not isinstance(descriptions, list) or not descriptions:
            raise InputError(f"{where}: descriptions must be a non-empty list of {{\"text\": ...}} objects, "
                             f"got {descriptions!r}")
        texts = []
        for i, d in enumerate(descriptions):
            text = d.get("text") if isinstance(d, dict) else None
            if not isinstance(text, str) or not text.strip():
                raise InputError(f"{where}: descriptions[{i}] must be an object with a non-empty string 'text', "
                                 f"got {d!r}")
            texts.append(text)
        out.append(DescribedRegion(image_id, segment_id, category_id, tuple(texts)))
    return out
