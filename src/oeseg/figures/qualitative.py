"""Figure 10: crops of ground-truth regions with two (or more) methods' descriptions of them."""

from __future__ import annotations

import collections

import matplotlib.pyplot as plt
import numpy as np

from oeseg.data.panoptic import PanopticImage, PanopticSplit
from oeseg.data.predictions import read_predictions
from oeseg.figures.style import add_note, save_figure, wrap
from oeseg.io import InputError
from oeseg.metrics.overlaps import image_overlaps


def segment_areas(split: PanopticSplit, image: PanopticImage) -> dict[int, int]:
    """Segment id -> pixels: the `area` of panoptic.json, or where that optional field is absent
    (0) the pixels counted in the image's panoptic PNG."""
    if all(s.area > 0 for s in image.segments):
        return {s.id: s.area for s in image.segments}
    ids = np.array([s.id for s in image.segments], dtype=np.int64)
    counted = image_overlaps(split.segment_ids(image), ids,
                             gt_where=str(split.panoptic_path(image))).gt_area
    return {s.id: s.area or int(n) for s, n in zip(image.segments, counted.tolist())}


def choose_regions(split: PanopticSplit, described: list[set[tuple[str, int]]], n_regions: int,
                   min_area: int) -> list[tuple[str, int]]:
    """Up to n regions described by every method, not crowd, of at least `min_area` pixels.

    Round-robin over images; from each, the region of the category shown least so far (the larger
    first among those), so that the examples span the categories, small things included, rather
    than each image's largest region (a road); deterministic."""
    per_image = []
    area: dict[tuple[str, int], int] = {}
    for im in split.images:
        segs = [s for s in im.segments if not s.iscrowd and all((im.id, s.id) in d for d in described)]
        if not segs:
            continue
        area.update(((im.id, sid), n) for sid, n in segment_areas(split, im).items())
        segs = [s for s in segs if area[(im.id, s.id)] >= min_area]
        if segs:
            per_image.append((im.id, segs))
    shown: collections.Counter[int] = collections.Counter()
    chosen: list[tuple[str, int]] = []
    while len(chosen) < n_regions and any(segs for _, segs in per_image):
        for image_id, segs in per_image:
            if len(chosen) == n_regions or not segs:
                continue
            best = min(segs, key=lambda s: (shown[s.category_id], -area[(image_id, s.id)], s.id))
            segs.remove(best)
            shown[best.category_id] += 1
            chosen.append((image_id, best.id))
    return chosen


def region_crop(image: np.ndarray, mask: np.ndarray, margin: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    """The region's bounding box (plus a margin) with everything outside the mask dimmed, and the
    mask over that box."""
    ys, xs = np.nonzero(mask)
    h, w = mask.shape
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    my, mx = int((y1 - y0) * margin) + 2, int((x1 - x0) * margin) + 2
    y0, y1, x0, x1 = max(0, y0 - my), min(h, y1 + my), max(0, x0 - mx), min(w, x1 + mx)
    out = image.astype(np.float32)
    out[~mask] = out[~mask] * 0.35
    return out[y0:y1, x0:x1].astype(np.uint8), mask[y0:y1, x0:x1]


def plot_fig10(split: PanopticSplit, descriptions: dict[str, dict[tuple[str, int], str]],
               regions: list[tuple[str, int]], ncols: int = 4, note: str | None = None) -> plt.Figure:
    """A grid of region crops, each titled with the ground truth and every method's description."""
    nrows = max(1, -(-len(regions) // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols, 3.9 * nrows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (image_id, segment_id) in zip(axes.flat, regions):
        im = split.image(image_id)
        ids = split.segment_ids(im)
        rgb, mask = split.rgb(im, ids), ids == segment_id
        crop, crop_mask = region_crop(rgb, mask)
        ax.imshow(crop)
        ax.contour(crop_mask.astype(float), levels=[0.5], colors="yellow", linewidths=1.0)  # the region's edge
        category = next(s.category_id for s in im.segments if s.id == segment_id)
        lines = [f"GT: {split.vocabulary.by_id(category).display_name}"]
        lines += [wrap(f"{label}: {d[(image_id, segment_id)]}", 42) for label, d in descriptions.items()]
        ax.set_title("\n".join(lines), fontsize=8, loc="left")
    fig.tight_layout()
    add_note(fig, note)
    return fig


def write_fig10(split_dir: str, predictions: dict[str, str], pdf: str, png: str, n_regions: int = 8,
                min_area: int = 64, ncols: int = 4, note: str | None = None) -> None:
    """Figure 10 (PDF, PNG) from the val split's images and panoptic PNGs and the methods' predictions.

    `predictions`: method label -> region predictions (JSONL) on the split."""
    split = PanopticSplit.load(split_dir)
    descriptions = {label: {(p.image_id, p.segment_id): p.description for p in read_predictions(path)}
                    for label, path in predictions.items()}
    regions = choose_regions(split, [set(d) for d in descriptions.values()], n_regions, min_area)
    if not regions:
        raise InputError(f"{split_dir}: no region of at least {min_area} pixels is described by every one of "
                         f"{list(predictions)}")
    save_figure(plot_fig10(split, descriptions, regions, ncols, note), pdf, png)
