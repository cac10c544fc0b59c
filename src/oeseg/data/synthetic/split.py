"""The split writer: one scene per image, written as a panoptic split with reference descriptions."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from oeseg.data.convert import SplitWriter
from oeseg.data.panoptic import png_bytes
from oeseg.data.synthetic.compositions import SCENES
from oeseg.data.synthetic.scene import Scene
from oeseg.data.vocabularies import Vocabulary, get_vocabulary
from oeseg.data.wordings import describe
from oeseg.io import InputError, atomic_write_jsonl


def split_seed(seed: int, split: str) -> np.random.SeedSequence:
    """The seed sequence of one split: derived from the dataset seed and the split name."""
    return np.random.SeedSequence([seed, zlib.crc32(split.encode("utf-8"))])


def render_image(vocabulary: Vocabulary, height: int, width: int, seed: np.random.SeedSequence
                 ) -> tuple[np.ndarray, np.ndarray, dict[int, int], set[int]]:
    """One scene: (RGB image, segment-id map, segment id -> category id, crowd segment ids)."""
    rng = np.random.default_rng(seed)
    scenes = SCENES[vocabulary.name]
    scene = Scene(vocabulary, height, width, rng)
    scenes[rng.integers(len(scenes))](scene, rng)
    scene.drop_small_segments()
    present = set(np.unique(scene.ids).tolist()) - {0}
    categories = {sid: c for sid, c in scene.categories.items() if sid in present}
    return scene.image(), scene.ids, categories, scene.crowd & present


def generate_split(split_dir: str | Path, vocabulary: Vocabulary | str, split: str, n_images: int,
                   image_size: Sequence[int], seed: int, n_descriptions: int = 4) -> None:
    """Draw `n_images` scenes of `vocabulary` (or its name) and write the split: images/, panoptic/,
    panoptic.json, regions.jsonl; `image_size` is (height, width)."""
    vocabulary = get_vocabulary(vocabulary) if isinstance(vocabulary, str) else vocabulary
    if vocabulary.name not in SCENES:
        raise InputError(f"vocabulary {vocabulary.name!r}: no synthetic scenes; choose one of {sorted(SCENES)}")
    height, width = image_size
    split_dir = Path(split_dir)
    writer = SplitWriter(split_dir, vocabulary)  # empties images/ and panoptic/: no stale files
    image_seeds = split_seed(seed, split).spawn(n_images)
    regions = []
    for index, image_seed in enumerate(image_seeds):
        image_id = f"{split}_{index:05d}"
        rgb, ids, categories, crowd = render_image(vocabulary, height, width, image_seed)
        writer.add(image_id, f"{image_id}.png", png_bytes(rgb), ids, categories, crowd)
        text_rng = np.random.default_rng(image_seed.spawn(1)[0])
        for s in writer.images[-1].segments:
            name = vocabulary.by_id(s.category_id).display_name
            regions.append({"image_id": image_id, "segment_id": s.id, "category_id": s.category_id,
                            "descriptions": describe(name, text_rng, n_descriptions)})
    atomic_write_jsonl(split_dir / "regions.jsonl", regions)
    writer.finish({"split": split, "generator": "oeseg.data.synthetic", "seed": seed})
