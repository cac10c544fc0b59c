"""The methods this repo implements: the open-vocabulary region classifier and the tags baseline,
trained on a tiny synthetic train split and run on its val split."""

from __future__ import annotations

import dataclasses
import json
import os

import pytest
import torch
from baselines_demo_split import NOUNS, make_split, true_nouns

from oeseg.baselines.ovclassifier import (TEXT_DIM, RegionEncoderConfig, embed_nouns, embed_texts, predict_regions,
                                          train_region_encoder)
from oeseg.baselines.tags import ImageTagger, TagSettings, TaggerConfig, nouns_in, predict_with_tags, train_tagger
from oeseg.data.panoptic import PanopticSplit
from oeseg.data.predictions import read_predictions
from oeseg.io import InputError


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("ov")
    train, val = make_split(root / "train", 16, seed=1), make_split(root / "val", 4, seed=2)
    nouns = root / "nouns.txt"
    nouns.write_text("\n".join(NOUNS) + "\n")
    train_region_encoder([train], root / "encoder.pt", RegionEncoderConfig(epochs=40))
    train_tagger([train], nouns, root / "tagger.pt", TaggerConfig())
    return root, val, nouns


def assert_valid_for_split(predictions, split_dir):
    split = PanopticSplit.load(split_dir)
    expected = {(im.id, s.id) for im in split.images for s in im.segments}
    assert {(p.image_id, p.segment_id) for p in predictions} == expected and len(predictions) == len(expected)
    assert all(p.description in NOUNS and 0.0 < p.score <= 1.0 for p in predictions)


def accuracy(predictions, split_dir):
    truth = true_nouns(split_dir)
    return sum(p.description == truth[(p.image_id, p.segment_id)] for p in predictions) / len(predictions)


def test_ovclassifier_describes_every_region_with_its_noun(trained):
    root, val, nouns = trained
    embed_nouns(nouns, root / "nouns.pt")
    predict_regions(root / "encoder.pt", root / "nouns.pt", val, root / "ov.jsonl")
    predictions = read_predictions(root / "ov.jsonl")
    assert_valid_for_split(predictions, val)
    assert accuracy(predictions, val) >= 0.8  # chance over 8 nouns is 0.125


def test_tags_baseline_chooses_among_the_image_tags_only(trained):
    root, val, nouns = trained
    predict_with_tags(root / "encoder.pt", root / "tagger.pt", nouns, val, root / "tags.jsonl",
                      TagSettings(top_k=3, threshold=0.3), tags_output=root / "tags.json")
    predictions = read_predictions(root / "tags.jsonl")
    assert_valid_for_split(predictions, val)
    tags = json.loads((root / "tags.json").read_text())
    assert all(1 <= len(t) <= 3 for t in tags.values())
    assert all(p.description in tags[p.image_id] for p in predictions)
    # the tagger never saw "dog": only nouns of training descriptions can be tags
    assert not any("dog" in t for t in tags.values())
    assert {"sky", "road"} <= set(tags[next(iter(tags))])
    assert accuracy(predictions, val) >= 0.6


def test_tags_baseline_takes_a_methods_options_and_runs_on_one_thread(trained, monkeypatch):
    """What rule predict_tags passes (`method_options` of the entry, keys of other steps among them)
    sets the tag picking; the prediction runs on one torch thread, as the trainings do."""
    root, val, nouns = trained
    threads, tag = [], ImageTagger.tag

    def tag_spy(self, *args, **kwargs):
        threads.append(torch.get_num_threads())
        return tag(self, *args, **kwargs)

    monkeypatch.setattr(ImageTagger, "tag", tag_spy)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        predict_with_tags(root / "encoder.pt", root / "tagger.pt", nouns, val, root / "tags1.jsonl",
                          {"classifier": "ov", "top_k": 1, "threshold": 0.0, "epochs": 3},
                          tags_output=root / "tags1.json")
    finally:
        torch.set_num_threads(before)
    tags = json.loads((root / "tags1.json").read_text())
    assert tags and all(len(t) == 1 for t in tags.values())
    assert all(p.description in tags[p.image_id] for p in read_predictions(root / "tags1.jsonl"))
    assert threads and set(threads) == {1}
    assert dataclasses.is_dataclass(TagSettings) and isinstance(TagSettings, type)


def test_the_text_side_is_the_sbert_mapping_model_loaded_offline(monkeypatch):
    from oeseg.mapping import sbert

    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    sbert.load_model.cache_clear()
    emb = embed_texts(["a car", "the sky", "a car"])
    assert os.environ["HF_HUB_OFFLINE"] == os.environ["TRANSFORMERS_OFFLINE"] == "1"
    assert sbert.load_model.cache_info().misses == 1
    assert emb.shape == (3, TEXT_DIM) and torch.equal(emb[0], emb[2])
    assert torch.allclose(emb.norm(dim=1), torch.ones(3))
    assert embed_texts([]).shape == (0, TEXT_DIM) and sbert.load_model.cache_info().misses == 1


def test_nouns_in_descriptions():
    nouns = {"car", "traffic light", "light", "road", "bus"}
    assert nouns_in("Two cars under a traffic light on the road", nouns) == ["traffic light", "car", "road"]
    assert nouns_in("buses", nouns) == ["bus"]
    assert nouns_in("nothing here", nouns) == []
    assert nouns_in("a car in front of one bus", nouns | {"a", "one", "front"}) == ["car", "bus"]


def test_missing_regions_file_is_a_clear_error(tmp_path):
    split = make_split(tmp_path / "s", 1, seed=3)
    (split / "regions.jsonl").write_text('{"image_id": "x"}\n')
    with pytest.raises(InputError, match=r"regions.jsonl:1: missing field 'segment_id'"):
        train_region_encoder([split], tmp_path / "m.pt", RegionEncoderConfig(epochs=1))
