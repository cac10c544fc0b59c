"""A tiny synthetic panoptic split with regions.jsonl (the data stage's contract) for baseline tests:
sky and road bands, red cars, green trees and yellow people on a noisy background."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from oeseg.data.panoptic import PanopticImage, panoptic_json, segments_from_ids, write_segment_ids
from oeseg.data.vocabularies import DEMO_CITY
from oeseg.io import atomic_write_json

# noun -> (category id in demo-city, colour, reference descriptions)
KINDS = {
    "sky": (10, (70, 130, 220), ["the blue sky", "sky"]),
    "road": (0, (110, 110, 110), ["a grey road", "road"]),
    "car": (13, (220, 30, 30), ["a red car", "car parked on the road"]),
    "tree": (8, (30, 170, 40), ["a green tree", "tree"]),
    "person": (11, (230, 210, 40), ["a person walking", "a person"]),
}
NOUNS = ["sky", "road", "car", "tree", "person", "building", "dog", "bicycle"]


def make_split(root: Path, n_images: int, seed: int, size: tuple[int, int] = (64, 96)) -> Path:
    """Write images/, panoptic/, panoptic.json and regions.jsonl; return root."""
    rng = np.random.default_rng(seed)
    h, w = size
    images, regions = [], []
    for k in range(n_images):
        image_id = f"img{seed}_{k:03d}"
        ids = np.zeros((h, w), np.uint32)
        ids[: h // 2], ids[h // 2:] = 1, 2
        nouns = {1: "sky", 2: "road"}
        for sid, noun in enumerate(rng.choice(["car", "tree", "person"], size=3), start=3):
            ph, pw = {"car": (10, 22), "tree": (22, 14), "person": (20, 6)}[noun]
            y, x = int(rng.integers(4, h - ph - 2)), int(rng.integers(2, w - pw - 2))
            if noun == "tree":  # vegetation is stuff: one segment per image
                sid = next((s for s, n in nouns.items() if n == "tree"), sid)
            ids[y:y + ph, x:x + pw] = sid
            nouns[sid] = noun
        rgb = rng.normal(0, 12, (h, w, 3))
        present = {int(s) for s in np.unique(ids)}
        for sid, noun in nouns.items():
            if sid in present:
                rgb[ids == sid] += KINDS[noun][1]
        Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(_mk(root / "images" / f"{image_id}.png"))
        write_segment_ids(root / "panoptic" / f"{image_id}.png", ids)
        segs = segments_from_ids(ids, {s: KINDS[n][0] for s, n in nouns.items()})
        images.append(PanopticImage(image_id, f"{image_id}.png", f"{image_id}.png", w, h, segs))
        regions += [{"image_id": image_id, "segment_id": s.id, "category_id": s.category_id,
                     "descriptions": [{"text": t, "wording": "name"} for t in KINDS[nouns[s.id]][2]]}
                    for s in segs]
    atomic_write_json(root / "panoptic.json", panoptic_json(DEMO_CITY, images))
    (root / "regions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in regions))
    return root


def true_nouns(root: Path) -> dict[tuple[str, int], str]:
    """(image_id, segment_id) -> the noun the region was drawn as."""
    by_cat = {cat: noun for noun, (cat, _, _) in KINDS.items()}
    out = {}
    for line in (root / "regions.jsonl").read_text().splitlines():
        r = json.loads(line)
        out[(r["image_id"], r["segment_id"])] = by_cat[r["category_id"]]
    return out


def _mk(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
