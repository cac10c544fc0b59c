"""A small synthetic split in the data stage's contract format (regions.jsonl, images/,
panoptic/, panoptic.json) for the OPAL tests: coloured shapes, colour determined by category."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from oeseg.data.panoptic import PanopticImage, panoptic_json, segments_from_ids, write_segment_ids
from oeseg.data.vocabularies import DEMO_CITY

#: the tiny random-initialised model of the OPAL tests (opal.model keys)
TINY_MODEL = {"size": "custom", "vision_depths": [1, 1, 1, 1], "vision_dims": [8, 16, 32, 64], "vision_embed_dim": 32,
              "image_size": 64, "hidden_size": 48, "intermediate_size": 96, "num_hidden_layers": 2,
              "num_attention_heads": 4, "num_key_value_heads": 4, "mask_shape": 16, "mask_embed_dim": 32,
              "max_position_embeddings": 512}

# (cityscapes train id, colour, descriptions)
CATEGORIES = [
    (0, (128, 64, 128), ["road", "street"]),
    (10, (70, 130, 180), ["sky", "blue sky"]),
    (13, (200, 20, 20), ["car", "red sedan"]),
    (8, (30, 160, 40), ["tree", "vegetation"]),
]


def make_split(root: Path, n_images: int, seed: int, size: int = 48) -> Path:
    """Write `n_images` images of 3 coloured rectangles over a background; returns the split dir."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "panoptic").mkdir(parents=True, exist_ok=True)
    images, rows = [], []
    for n in range(n_images):
        image_id = f"img{n:03d}"
        rgb = np.zeros((size, size, 3), np.uint8) + 90
        ids = np.zeros((size, size), np.uint32)
        cats = {}
        picks = rng.choice(len(CATEGORIES), size=3, replace=False)
        for k, c in enumerate(picks):
            y0, x0 = rng.integers(0, size // 2, size=2)
            h, w = rng.integers(size // 4, size // 2, size=2)
            sid = k + 1
            ids[y0:y0 + h, x0:x0 + w] = sid
            noise = rng.integers(-15, 15, size=(h, w, 3))
            rgb[y0:y0 + h, x0:x0 + w] = np.clip(np.array(CATEGORIES[c][1]) + noise, 0, 255)
            cats[sid] = CATEGORIES[c][0]
        present = {int(s) for s in np.unique(ids)} - {0}
        Image.fromarray(rgb).save(root / "images" / f"{image_id}.png")
        write_segment_ids(root / "panoptic" / f"{image_id}.png", ids)
        segs = segments_from_ids(ids, {s: cats[s] for s in present})
        images.append(PanopticImage(image_id, f"{image_id}.png", f"{image_id}.png", size, size, segs))
        by_cat = {c[0]: c[2] for c in CATEGORIES}
        for s in segs:
            rows.append({"image_id": image_id, "segment_id": s.id, "category_id": s.category_id,
                         "descriptions": [{"text": t, "wording": "name" if i == 0 else "synonym"}
                                          for i, t in enumerate(by_cat[s.category_id])]})
    (root / "panoptic.json").write_text(json.dumps(panoptic_json(DEMO_CITY, images)))
    (root / "regions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root
