"""The synthetic dataset generator: determinism, format validity, regions.jsonl, looks, wordings."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from oeseg.data.panoptic import PanopticSplit, bbox_of
from oeseg.data.regions import read_regions
from oeseg.data.synthetic import STYLES, generate_split
from oeseg.data.vocabularies import CITYSCAPES, DEMO_ADE, DEMO_CITY
from oeseg.data.wordings import BANK, WORDINGS, describe, plural
from oeseg.io import InputError, iter_jsonl

WORDNET_INDEX = Path("/usr/share/wordnet/index.noun")


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def city_split(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("city") / "train"
    generate_split(root, DEMO_CITY, "train", 24, (96, 192), seed=1)
    return root


@pytest.fixture(scope="module")
def ade_split(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ade") / "val"
    generate_split(root, DEMO_ADE, "val", 24, (112, 144), seed=2)
    return root


def test_same_seed_gives_byte_identical_output(tmp_path):
    generate_split(tmp_path / "a", DEMO_ADE, "train", 5, (64, 96), seed=7)
    generate_split(tmp_path / "b", DEMO_ADE, "train", 5, (64, 96), seed=7)
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert len(a) == 2 * 5 + 2 and a == b


def test_a_vocabulary_named_draws_what_the_vocabulary_does(tmp_path):
    """Rule generate_synthetic names the vocabulary (its image size a list, as the config gives it)."""
    generate_split(tmp_path / "a", DEMO_ADE, "train", 3, (64, 96), seed=7)
    generate_split(tmp_path / "b", "demo-ade", "train", 3, [64, 96], seed=7)
    assert (tmp_path / "a/panoptic.json").read_bytes() == (tmp_path / "b/panoptic.json").read_bytes()
    assert (tmp_path / "a/regions.jsonl").read_bytes() == (tmp_path / "b/regions.jsonl").read_bytes()


def test_splits_and_seeds_draw_different_scenes(tmp_path):
    generate_split(tmp_path / "train", DEMO_CITY, "train", 2, (64, 96), seed=1)
    generate_split(tmp_path / "val", DEMO_CITY, "val", 2, (64, 96), seed=1)
    generate_split(tmp_path / "other", DEMO_CITY, "train", 2, (64, 96), seed=2)
    img = lambda d, i: (tmp_path / d / "images" / i).read_bytes()  # noqa: E731
    assert img("train", "train_00000.png") != img("val", "val_00000.png")
    assert img("train", "train_00000.png") != img("other", "train_00000.png")
    assert img("train", "train_00000.png") != img("train", "train_00001.png")


def test_regenerating_removes_stale_files(tmp_path):
    generate_split(tmp_path, DEMO_CITY, "val", 3, (64, 96), seed=1)
    generate_split(tmp_path, DEMO_CITY, "val", 2, (64, 96), seed=1)
    assert sorted(p.name for p in (tmp_path / "panoptic").iterdir()) == ["val_00000.png", "val_00001.png"]


@pytest.mark.parametrize("fixture, vocabulary", [("city_split", DEMO_CITY), ("ade_split", DEMO_ADE)])
def test_panoptic_format_is_valid(request, fixture, vocabulary):
    root = request.getfixturevalue(fixture)
    split = PanopticSplit.load(root)
    assert split.vocabulary.to_json() == vocabulary.to_json()
    assert len(split.images) == 24
    vocabulary_ids = {c.id for c in vocabulary}
    for im in split.images:
        ids = split.segment_ids(im)
        assert ids.shape == (im.height, im.width)
        with Image.open(split.image_dir / im.file_name) as rgb:
            assert rgb.size == (im.width, im.height) and rgb.mode == "RGB"
        in_png = set(np.unique(ids).tolist()) - {0}
        in_json = {s.id for s in im.segments}
        assert in_png == in_json, im.id  # every PNG id is in the JSON and vice versa
        for s in im.segments:
            mask = ids == s.id
            assert s.area == int(mask.sum()) > 0
            assert s.bbox == bbox_of(mask)
            assert s.category_id in vocabulary_ids and s.iscrowd in (0, 1)
            if s.iscrowd:
                assert vocabulary.by_id(s.category_id).isthing
        stuff = [s.category_id for s in im.segments if not vocabulary.by_id(s.category_id).isthing]
        assert len(stuff) == len(set(stuff))  # one segment per stuff category and image
    assert {p.name for p in split.panoptic_dir.iterdir()} == {im.panoptic_file for im in split.images}


@pytest.mark.parametrize("fixture, vocabulary", [("city_split", DEMO_CITY), ("ade_split", DEMO_ADE)])
def test_scenes_have_instances_crowds_void_and_many_categories(request, fixture, vocabulary):
    split = PanopticSplit.load(request.getfixturevalue(fixture))
    segments = [(im.id, s) for im in split.images for s in im.segments]
    categories = {s.category_id for _, s in segments}
    assert {vocabulary.by_id(c).isthing for c in categories} == {True, False}
    assert len(categories) >= 0.6 * len(vocabulary)
    per_image_things = Counter((i, s.category_id) for i, s in segments if vocabulary.by_id(s.category_id).isthing)
    assert max(per_image_things.values()) >= 2  # several instances of a thing in one image
    assert sum(s.iscrowd for _, s in segments) >= 1
    void = sum(int((split.segment_ids(im) == 0).sum()) for im in split.images)
    total = sum(im.width * im.height for im in split.images)
    assert 0 < void < 0.1 * total


@pytest.mark.parametrize("fixture", ["city_split", "ade_split"])
def test_regions_jsonl_has_one_line_per_segment(request, fixture):
    root = request.getfixturevalue(fixture)
    split = PanopticSplit.load(root)
    expected = {(im.id, s.id): s.category_id for im in split.images for s in im.segments}
    rows = [obj for _, obj in iter_jsonl(root / "regions.jsonl")]
    assert len(rows) == len(expected)
    assert {(r["image_id"], r["segment_id"]): r["category_id"] for r in rows} == expected
    assert [(r.image_id, r.segment_id, r.category_id, r.descriptions) for r in read_regions(split)] == [
        (r["image_id"], r["segment_id"], r["category_id"], tuple(d["text"] for d in r["descriptions"])) for r in rows]
    kinds = Counter()
    for r in rows:
        texts = [d["text"] for d in r["descriptions"]]
        assert len(texts) == 4 and len({t.lower() for t in texts}) == 4 and all(t.strip() for t in texts)
        assert r["descriptions"][0]["wording"] == "name"
        kinds.update(d["wording"] for d in r["descriptions"])
    assert set(kinds) == set(WORDINGS)


def test_categories_look_different(city_split):
    """A nearest-centroid classifier on colour statistics beats the majority class by far."""
    split = PanopticSplit.load(city_split)
    features, labels = [], []
    for im in split.images:
        ids = split.segment_ids(im)
        rgb = np.asarray(Image.open(split.image_dir / im.file_name), np.float64)
        for s in im.segments:
            pixels = rgb[ids == s.id]
            features.append(np.r_[pixels.mean(0), pixels.std(0)])
            labels.append(s.category_id)
    x, y = np.array(features), np.array(labels)
    half = len(y) // 2
    centroids = {c: x[:half][y[:half] == c].mean(0) for c in set(y[:half].tolist())}
    cats = sorted(centroids)
    dist = np.stack([np.linalg.norm(x[half:] - centroids[c], axis=1) for c in cats], axis=1)
    accuracy = np.mean(np.array(cats)[dist.argmin(1)] == y[half:])
    majority = np.bincount(y).max() / len(y)
    assert accuracy > 2.5 * majority


def test_every_demo_category_has_a_style_and_wordings():
    for vocabulary in (DEMO_CITY, DEMO_ADE):
        for c in vocabulary:
            assert c.display_name in STYLES and c.display_name in BANK
    assert DEMO_CITY.categories == CITYSCAPES.categories


def test_wording_heads_are_wordnet_nouns():
    lemmas = {line.split(" ", 1)[0] for line in WORDNET_INDEX.read_text().splitlines() if not line.startswith(" ")}
    missing = [(cat, kind, head) for cat, entry in BANK.items() for kind in WORDINGS[1:]
               for head in entry.heads(kind) if head.replace(" ", "_").lower() not in lemmas]
    assert missing == []


def test_describe_varies_wordings_and_surface_forms():
    rng = np.random.default_rng(0)
    texts = [d for _ in range(200) for d in describe("car", rng, 4)]
    assert {d["wording"] for d in texts} == set(WORDINGS)
    joined = [d["text"] for d in texts]
    assert any(t.isupper() for t in joined) and any(t[0].isupper() and not t.isupper() for t in joined)
    assert any(t.startswith("the wheel of a car") or "of a car" in t for t in joined)
    assert any(" that " in t or " in the " in t or " on the " in t for t in joined)  # relative clauses
    assert any(t.lower().split()[-1].endswith("s") for t in joined)  # plurals
    assert plural("person") == "people" and plural("bus") == "buses" and plural("police car") == "police cars"
    assert plural("body") == "bodies" and plural("day") == "days"


def test_unknown_vocabulary_is_refused(tmp_path):
    with pytest.raises(InputError, match="vocabulary 'cityscapes': no synthetic scenes"):
        generate_split(tmp_path, CITYSCAPES, "val", 1, (64, 64), seed=0)
