"""Reading the evaluate stage's RESULTS.json files (docs/formats.md, "Evaluation results")."""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from oeseg.io import InputError, is_integer, is_number, read_json_object
from oeseg.lexicon.lexicon import LEVELS
from oeseg.metrics.lac import LAC_METRICS


@dataclass(frozen=True)
class Evaluation:
    """One RESULTS.json: a method's run on a dataset under one mapping."""

    method: str
    dataset: str
    run: str
    mapping: str
    levels: tuple[str, ...]
    metrics: dict[str, dict[str, float]]
    lac: dict[str, float]
    images: tuple[int, int] | None = None   # (scored, total) images of the split; None where not recorded

    def curve(self, metric: str) -> list[float]:
        """The metric at each level, in level order."""
        return [self.metrics[metric][level] for level in self.levels]


def parse_evaluation_path(path: str | os.PathLike) -> tuple[str, str, str, str]:
    """(method, dataset, run, mapping) of `.../evaluations/{method}/{dataset}/{run}.{mapping}.json`."""
    p = Path(path)
    parts = p.name.split(".")
    if len(p.parts) < 3 or len(parts) < 3 or parts[-1] != "json":
        raise InputError(f"{path}: not named .../{{method}}/{{dataset}}/{{run}}.{{mapping}}.json")
    return p.parent.parent.name, p.parent.name, ".".join(parts[:-2]), parts[-2]


def load_evaluation(path: str | os.PathLike) -> Evaluation:
    """Read one RESULTS.json, checking that every LAC metric has a value at every level."""
    method, dataset, run, mapping = parse_evaluation_path(path)
    obj = read_json_object(path, ("levels", "metrics", "lac"))
    if obj["levels"] != list(LEVELS):
        raise InputError(f"{path}: field 'levels' is {obj['levels']!r}, expected {list(LEVELS)}")
    for key in ("metrics", "lac"):
        if not isinstance(obj[key], dict):
            raise InputError(f"{path}: field {key!r} must be an object, got {type(obj[key]).__name__}")
    metrics: dict[str, dict[str, float]] = {}
    lac: dict[str, float] = {}
    for m in LAC_METRICS:
        values = obj["metrics"].get(m)
        if not isinstance(values, dict) or any(lv not in values for lv in LEVELS):
            raise InputError(f"{path}: field 'metrics.{m}' needs a value for each of {list(LEVELS)}")
        if m not in obj["lac"]:
            raise InputError(f"{path}: missing field 'lac.{m}'")
        for field, value in [*((f"metrics.{m}.{lv}", values[lv]) for lv in LEVELS), (f"lac.{m}", obj["lac"][m])]:
            if value is None:  # as the evaluation writes a metric that nothing defines
                raise InputError(f"{path}: field {field!r} is null: the metric is undefined on this split (AP "
                                 "without thing segments, any metric without scored regions)")
            if not is_number(value):
                raise InputError(f"{path}: field {field!r} is not a number: {value!r}")
        metrics[m] = {lv: float(values[lv]) for lv in LEVELS}
        lac[m] = float(obj["lac"][m])
    return Evaluation(method, dataset, run, mapping, LEVELS, metrics, lac, _scored_images(path, obj.get("images")))


def _scored_images(path: str | os.PathLike, images: object) -> tuple[int, int] | None:
    """(scored, total) from a RESULTS.json's optional `images` field, checked."""
    if images is None:
        return None
    counts = [images.get(key) if isinstance(images, dict) else None for key in ("scored", "total")]
    if not all(is_integer(c) and c >= 0 for c in counts) or counts[0] > counts[1]:
        raise InputError(f"{path}: field 'images' needs counts 0 <= scored <= total, got {images!r}")
    return counts[0], counts[1]


def group_runs(evaluations: list[Evaluation], mapping: str = "lexical") -> dict[tuple[str, str], list[Evaluation]]:
    """(method, dataset) -> the runs evaluated with `mapping`, ordered by run name."""
    groups: dict[tuple[str, str], list[Evaluation]] = defaultdict(list)
    for e in evaluations:
        if e.mapping == mapping:
            groups[(e.method, e.dataset)].append(e)
    return {k: sorted(v, key=lambda e: e.run) for k, v in groups.items()}
