"""Osprey's training files beyond the basic three: Visual Genome and RefCOCO regions, the
Osprey-724K conversations (regions listed or inline), truncation, and a training step on a mixture
of described regions and conversations (conversations take no part in the contrastive loss)."""

from __future__ import annotations

import json
import logging
import math
import re

import numpy as np
import pytest
import torch
from PIL import Image

from oeseg.io import InputError
from oeseg.models import conversation as conv
from oeseg.models.data import Collator, RegionDataset, demo_region_records, record_masks, records_from_source
from oeseg.models.losses import LossWeights
from oeseg.models.tokenization import IMAGE_TOKEN_INDEX, encode_conversation, region_token_ids
from oeseg.models.train import StageSettings, train_stage
from oeseg.models.weights import initial_model
from opal_synthetic import TINY_MODEL, make_split

SQUARE = [[2, 2, 8, 2, 8, 6, 2, 6]]          # 6 x 4 px
STRIP = [[0, 8, 20, 8, 20, 10, 0, 10]]       # 20 x 2 px


def _write(root, name, obj):
    (root / name).write_text(json.dumps(obj))
    return {"ann_file": str(root / name), "image_root": str(root)}


@pytest.fixture()
def root(tmp_path):
    Image.new("RGB", (20, 10), (200, 30, 30)).save(tmp_path / "000000000009.jpg")
    return tmp_path


def _conversations(n_regions=2):
    return [{"id": 7, "file_name": "COCO_train2014_000000000009.jpg", "height": 10, "width": 20,
             "annotation": [{"segmentation": SQUARE}, {"segmentation": STRIP}][:n_regions],
             "conversations": [{"from": "human", "value": "What is <region1> next to?"},
                               {"from": "gpt", "value": "It is above <region2>, a curb."},
                               {"from": "human", "value": "Colour of region1?"},
                               {"from": "gpt", "value": "Red."}]}]


def test_vg_and_refcoco_regions(root):
    coco = {"images": [{"id": 9, "file_name": "000000000009.jpg", "height": 10, "width": 20}],
            "annotations": [{"id": 1, "image_id": 9, "segmentation": SQUARE, "caption": "a red box"},
                            {"id": 2, "image_id": 9, "segmentation": STRIP, "caption": "ignored", "ignore": True}]}
    (vg,) = records_from_source({"format": "vg_regions", **_write(root, "vg.json", coco)})
    assert vg.descriptions == ("a red box",) and vg.question == "" and int(record_masks(vg)[0].sum()) == 24
    ref = {"images": [{"id": 9, "file_name": "COCO_train2014_000000000009.jpg", "height": 10, "width": 20,
                       "caption": "the box on the left"}],
           "annotations": [{"id": 1, "image_id": 9, "segmentation": STRIP, "category_id": 1}]}
    (rc,) = records_from_source({"format": "refcoco", **_write(root, "ref.json", ref)})
    assert rc.descriptions == ("the box on the left",) and rc.image_path == str(root / "000000000009.jpg")
    assert rc.question.startswith(conv.IMAGE_INTRO) and rc.question.count(conv.REGION_PLACEHOLDER) == 1
    with pytest.raises(InputError, match=r"list.json: not a COCO-format file"):
        records_from_source({"format": "refcoco", **_write(root, "list.json", [ref])})
    del coco["annotations"][0]["caption"]
    with pytest.raises(InputError, match=r"vg.json: annotation 0: .*caption"):
        records_from_source({"format": "vg_regions", **_write(root, "vg.json", coco)})


def test_coco_ids_given_twice_and_annotations_that_are_no_objects_are_named(root):
    """An image or category id given twice (which would the annotations mean?) and an annotation
    that is no object: errors naming the file and the places."""
    image = {"id": 9, "file_name": "000000000009.jpg", "height": 10, "width": 20}
    coco = {"images": [image, {**image, "file_name": "other.jpg"}],
            "categories": [{"id": 1, "name": "box"}],
            "annotations": [{"id": 1, "image_id": 9, "category_id": 1, "segmentation": SQUARE}]}
    with pytest.raises(InputError, match=r"coco.json: images\[1\]: id 9 is given twice \(also images\[0\]\)"):
        records_from_source({"format": "coco_instances", **_write(root, "coco.json", coco)})
    coco["images"] = [image]
    coco["categories"].append({"id": 1, "name": "crate"})
    with pytest.raises(InputError, match=r"coco.json: categories\[1\]: id 1 is given twice"):
        records_from_source({"format": "coco_instances", **_write(root, "coco.json", coco)})
    coco["categories"] = coco["categories"][:1]
    coco["annotations"].append([9, 1])
    with pytest.raises(InputError, match=r"coco.json: annotation 1: not an object \(a JSON list\)"):
        records_from_source({"format": "coco_instances", **_write(root, "coco.json", coco)})
    coco["annotations"].pop()
    (record,) = records_from_source({"format": "coco_instances", **_write(root, "coco.json", coco)})
    assert record.descriptions == ("box",)


def test_listed_region_conversations(root):
    src = _write(root, "conv.json", _conversations() + [{**_conversations()[0], "conversations": []}])
    (plain,) = records_from_source({"format": "osprey_conversation", **src})  # the empty entry is skipped
    (short,) = records_from_source({"format": "osprey_short_form", **src})
    assert plain.descriptions == () and len(plain.regions) == 2 and len(plain.turns) == 2
    first_q, first_a = plain.turns[0]
    assert first_q.startswith(conv.IMAGE_INTRO + "There are 2 regions in the picture: region1<mask><pos>, "
                              "region2<mask><pos>. ")
    assert first_q.endswith("What is region1 next to?") and first_a == "It is above region2, a curb."
    assert sum(q.count("<mask>") for q, _ in plain.turns) == len(plain.regions)
    assert all(q.endswith("Answer the question using a single word or phrase.") for q, _ in short.turns)
    masks = record_masks(plain)
    assert [int(m.sum()) for m in masks] == [24, 40]


def test_inline_region_conversations_follow_the_order_of_mention(root):
    ann = _conversations()
    ann[0]["file_name"] = "000000000009.jpg"
    ann[0]["conversations"][0]["value"] = "Is <region2> the same object as <region1>?"
    (rec,) = records_from_source({"format": "osprey_lvis_posneg", **_write(root, "lvis.json", ann)})
    assert rec.turns[0][0] == conv.IMAGE_INTRO + "Is <mask><pos> the same object as <mask><pos>?"
    assert rec.regions == (STRIP, SQUARE)
    ann[0]["conversations"][0]["value"] = "And <region3>?"
    with pytest.raises(InputError, match=r"lvis.json: entry 0: .*region beyond its 2"):
        records_from_source({"format": "osprey_lvis_posneg", **_write(root, "lvis.json", ann)})
    ann[0]["conversations"][1]["from"] = "human"
    with pytest.raises(InputError, match=r"lvis.json: entry 0: conversations\[0:2\]"):
        records_from_source({"format": "osprey_lvis_posneg", **_write(root, "lvis.json", ann)})


def _mixture(root):
    conversations = records_from_source({"format": "osprey_conversation", **_write(root, "c.json", _conversations())})
    described = records_from_source({"format": "osprey_description", **_write(root, "d.json", [
        {"id": 8, "file_name": "COCO_train2014_000000000009.jpg", "height": 10, "width": 20,
         "annotation": [{"segmentation": SQUARE}, {"segmentation": STRIP}],
         "description": ["<region1>: A red box.", "<region2>: A long red strip."]}])})
    return conversations * 2 + described


def test_collator_pairs_only_described_regions(root):
    records = _mixture(root)
    sec = {"model": TINY_MODEL, "seed": 0}
    _, tok = initial_model(sec, [t for r in records for t in r.descriptions])
    data = RegionDataset(records, TINY_MODEL["image_size"])
    batch = Collator(tok, 16, 2048)([data[i] for i in range(len(data))])
    assert batch["pair_sample"][batch["pair_valid"]].tolist() == [2, 3]  # the described regions, not conversations
    assert [len(m) for m in batch["masks"]] == [2, 2, 1, 1]
    assert ((batch["input_ids"] == tok.convert_tokens_to_ids("<mask>")).sum(1) == torch.tensor([2, 2, 1, 1])).all()


def test_truncation_keeps_whole_region_turns_and_rejects_a_cut_image_block(root):
    """Cut at every length: a region turn cut before its answer (between its <mask> and <pos>, say)
    goes whole, with its region and contrastive pair; the model's losses stay finite, 0 where no
    answer token is left; a cut through the image tokens is an InputError naming opal.max_length."""
    coco = {"images": [{"id": 9, "file_name": "000000000009.jpg", "height": 10, "width": 20}],
            "categories": [{"id": 1, "name": "box"}, {"id": 2, "name": "curb"}],
            "annotations": [{"id": 1, "image_id": 9, "segmentation": SQUARE, "category_id": 1},
                            {"id": 2, "image_id": 9, "segmentation": STRIP, "category_id": 2}]}
    (grouped,) = records_from_source({"format": "coco_instances", "regions_per_sample": 2,
                                      **_write(root, "coco.json", coco)})
    model, tok = initial_model({"model": TINY_MODEL, "seed": 0}, ["box", "curb"])
    image_tokens = model.config.image_tokens
    item = RegionDataset([grouped], TINY_MODEL["image_size"])[0]
    mask_id, pos_id = region_token_ids(tok)
    ids = Collator(tok, image_tokens, 2048)([item])["input_ids"][0].tolist()
    turn1, turn2 = item["turns"]
    system = encode_conversation(tok, [], image_tokens, 2048)[0].tolist()
    first_turn = encode_conversation(tok, [turn1], image_tokens, 2048)[0].tolist()
    answer1 = len(encode_conversation(tok, [conv.Turn(turn1.question)], image_tokens, 2048)[0])  # where it starts
    answer2 = len(encode_conversation(tok, [turn1, conv.Turn(turn2.question)], image_tokens, 2048)[0])
    image_end = len(ids) - ids[::-1].index(IMAGE_TOKEN_INDEX)
    masks_at = [i for i, x in enumerate(ids) if x == mask_id]
    assert image_end < masks_at[0] < answer1 < len(first_turn) < masks_at[1] < answer2 < len(ids)
    with pytest.raises(InputError, match="opal.max_length"):
        Collator(tok, image_tokens, image_end - 1)([item])
    for cut in range(image_end, len(ids) + 1):
        batch = Collator(tok, image_tokens, cut)([item])
        x = batch["input_ids"][0]
        want = system if cut <= answer1 else first_turn if len(first_turn) <= cut <= answer2 else ids[:cut]
        assert x.tolist() == want, cut
        regions = int((x == mask_id).sum())
        assert regions == int((x == pos_id).sum()) == len(batch["masks"][0]), cut
        assert int(batch["pair_valid"].sum()) == regions and batch["texts"][:regions] == ["box", "curb"][:regions]
        with torch.no_grad():
            loss = model.forward_multimodal(batch["input_ids"], batch["attention_mask"], batch["images"],
                                            batch["masks"], batch["labels"]).loss
        assert math.isfinite(float(loss)), cut
        assert (float(loss) == 0.0) == (cut <= answer1), cut  # no answer token left: no generative loss
    batch = Collator(tok, image_tokens, answer1)([item])  # no answer token: a zero loss that backpropagates
    model.forward_multimodal(batch["input_ids"], batch["attention_mask"], batch["images"], batch["masks"],
                             batch["labels"]).loss.backward()
    assert all(p.grad is None or not p.grad.any() for p in model.parameters())


def test_region_dataset_keeps_a_bounded_number_of_decoded_files(tmp_path):
    records = demo_region_records(make_split(tmp_path, 2, seed=0))  # regions of 2 images: 4 files
    full = RegionDataset(records, TINY_MODEL["image_size"])
    bounded = RegionDataset(records, TINY_MODEL["image_size"], cached_files=1)
    first_of_second = next(i for i, r in enumerate(records) if r.image_path != records[0].image_path)
    for i in [0, first_of_second, 1, 0, len(records) - 1]:  # back and forth between the two images
        a, b = bounded[i], full[i]
        assert torch.equal(a["image"], b["image"]) and torch.equal(a["masks"], b["masks"])
        assert list(bounded._decoded) == [("image", records[i].image_path)]  # the last file read
    assert len(full._decoded) == 4


def test_training_on_a_mixture_of_conversations_and_descriptions(root, tmp_path):
    records = _mixture(root) * 2
    sec = {"model": TINY_MODEL, "seed": 0, "llm_tuning": "full",
           "stages": {"stage3": {"lr": 3e-3, "global_batch": 4, "micro_batch": 4, "epochs": 1, "max_steps": 3}}}
    model, tok = initial_model(sec, [t for r in records for t in r.descriptions])
    extractor = [p.detach().clone() for p in model.mask_extractor.parameters()]
    _, history = train_stage(model, records, tok, StageSettings.from_section(sec, 3), LossWeights(1.0, "sum"),
                             tmp_path / "ckpt")
    assert len(history) == 3
    assert all(math.isfinite(h["generative"]) and math.isfinite(h["contrastive"]) for h in history), history
    assert any(h["contrastive"] > 0 for h in history), history
    assert any(not torch.equal(a, b) for a, b in zip(extractor, model.mask_extractor.parameters()))


def test_coco_regions_carry_their_class_and_group_per_image_into_one_pair_per_turn(root):
    coco = {"images": [{"id": 9, "file_name": "000000000009.jpg", "height": 10, "width": 20}],
            "categories": [{"id": 1, "name": "box"}, {"id": 2, "name": "curb"}],
            "annotations": [{"id": 1, "image_id": 9, "segmentation": SQUARE, "category_id": 1},
                            {"id": 2, "image_id": 9, "segmentation": STRIP, "category_id": 2},
                            {"id": 3, "image_id": 9, "segmentation": SQUARE, "category_id": 1}]}
    files = _write(root, "coco.json", coco)
    single = records_from_source({"format": "coco_instances", **files})
    assert [(r.descriptions, r.category) for r in single] == [(("box",), "box"), (("curb",), "curb"), (("box",), "box")]
    (grouped,) = records_from_source({"format": "coco_instances", "regions_per_sample": 2, **files})
    assert grouped.turn_per_region and grouped.region_categories == ("box", "curb")
    assert [a for _, a in grouped.turns] == ["box", "curb"] and len(record_masks(grouped)) == 2
    assert grouped.turns[0][0].startswith(conv.IMAGE_INTRO) and not grouped.turns[1][0].startswith(conv.IMAGE_INTRO)
    assert all(q.count(conv.REGION_PLACEHOLDER) == 1 for q, _ in grouped.turns)
    item = RegionDataset([grouped], TINY_MODEL["image_size"])[0]
    assert item["pairs"] == [(0, "box", "box"), (1, "curb", "curb")]
    _, tok = initial_model({"model": TINY_MODEL, "seed": 0}, ["box", "curb"])
    batch = Collator(tok, 16, 2048)([item, item])
    assert batch["pair_sample"].tolist() == [0, 0, 1, 1] and batch["pair_region"].tolist() == [0, 1, 2, 3]
    assert batch["pair_first"].tolist() == [True, False, True, False] and batch["classes"] == ["box", "curb"] * 2
    with pytest.raises(InputError, match="regions_per_sample"):
        records_from_source({"format": "osprey_description", "regions_per_sample": 2, **files})


def test_an_instruction_opens_the_first_turn_and_each_turn_is_the_region_alone(root):
    """The released OPAL code's stage-2 layout: `<image>` and the source's instruction open the
    first turn, every turn asks `<mask><pos>` alone; a shuffled draw keeps that opening first."""
    coco = {"images": [{"id": 9, "file_name": "000000000009.jpg", "height": 10, "width": 20}],
            "categories": [{"id": 1, "name": "box"}, {"id": 2, "name": "curb"}],
            "annotations": [{"id": 1, "image_id": 9, "segmentation": SQUARE, "category_id": 1},
                            {"id": 2, "image_id": 9, "segmentation": STRIP, "category_id": 2}]}
    files = _write(root, "coco.json", coco)
    told = "Answer the category name of one region at a time.\n"
    (grouped,) = records_from_source({"format": "coco_instances", "regions_per_sample": 2, "instruction": told,
                                      **files})
    assert grouped.turns == ((f"<image>\n{told}<mask><pos>", "box"), ("<mask><pos>", "curb"))
    (drawn,) = records_from_source({"format": "coco_instances", "regions_per_sample": 2, "shuffle_regions": True,
                                    "instruction": told, **files})
    data = RegionDataset([drawn], TINY_MODEL["image_size"])
    openings = set()
    for epoch in range(6):
        data.epoch = epoch
        turns = data[0]["turns"]
        assert [t.question for t in turns] == [f"<image>\n{told}<mask><pos>", "<mask><pos>"]
        openings.add(turns[0].answer)
    assert openings == {"box", "curb"}
    assert conv.prompt_text(list(turns)).startswith(f"{conv.TRAINING_SYSTEM} USER: <image>\n{told}<mask><pos> ASSISTANT:")
    with pytest.raises(InputError, match="instruction needs regions_per_sample"):
        records_from_source({"format": "coco_instances", "instruction": told, **files})


def test_demo_regions_carry_their_panoptic_category(tmp_path):
    from opal_synthetic import make_split

    from oeseg.models.data import demo_region_records

    split = make_split(tmp_path / "s", 2, seed=0)
    records = demo_region_records(split)
    # each record's category is that of its own segment in panoptic.json (3 segments per image)
    panoptic = json.loads((split / "panoptic.json").read_text())
    want = {(a["image_id"], s["id"]): str(s["category_id"]) for a in panoptic["annotations"]
            for s in a["segments_info"]}
    assert len(want) == 6 and len(set(want.values())) > 1
    assert {(r.image_id, r.segment_id): r.category for r in records} == want
    assert all(r.segments_path == str(split / "panoptic" / f"{r.image_id}.png") for r in records)


def test_demo_regions_grouped_per_image_draw_answers_and_shuffle_their_order(tmp_path):
    split = make_split(tmp_path / "s", 2, seed=0)
    single = demo_region_records(split)
    grouped = records_from_source({"format": "demo_regions", "split_dir": split, "regions_per_sample": 64})
    assert len(grouped) == 2 and sum(len(r.regions) for r in grouped) == len(single)
    first = [r for r in single if r.image_id == grouped[0].image_id]
    assert grouped[0].regions == tuple(r.segment_id for r in first)
    assert grouped[0].region_descriptions == tuple(r.descriptions for r in first)
    assert grouped[0].region_categories == tuple(r.category for r in first)
    # each region's mask is its own segment's, in turn order
    for k, r in enumerate(first):
        assert (record_masks(grouped[0])[k] == record_masks(r)[0]).all()
    size = TINY_MODEL["image_size"]
    fixed = RegionDataset(grouped, size)
    one_region = RegionDataset(first, size)
    item = fixed[0]
    assert torch.equal(item["masks"], torch.stack([one_region[k]["masks"][0] for k in range(len(first))]))
    assert [a for _, a, _ in item["pairs"]] == [t.answer for t in item["turns"]]
    assert all(t.answer in r.descriptions for t, r in zip(item["turns"], first))
    answers = {e: None for e in range(6)}
    for e in answers:
        fixed.epoch = e
        answers[e] = tuple(t.answer for t in fixed[0]["turns"])
    assert len(set(answers.values())) > 1  # a new draw of each region's description per epoch
    # shuffled: the first turn (the evaluation prompt's shape) asks about different regions across epochs,
    # and each region keeps its own mask, answer and class
    shuffled = RegionDataset(records_from_source({"format": "demo_regions", "split_dir": split,
                                                  "regions_per_sample": 64, "shuffle_regions": True}), size)
    by_mask = {one_region[k]["masks"][0].numpy().tobytes(): r for k, r in enumerate(first)}
    firsts = set()
    for e in range(6):
        shuffled.epoch = e
        it = shuffled[0]
        assert it["turns"][0].question.startswith(conv.IMAGE_INTRO)
        for m, (k, text, category) in zip(it["masks"], it["pairs"]):
            region = by_mask[m.numpy().tobytes()]
            assert text in region.descriptions and category == region.category and it["turns"][k].answer == text
        firsts.add(by_mask[it["masks"][0].numpy().tobytes()].segment_id)
    assert len(firsts) > 1
    # fewer per sample than the image has: a new draw of that many each epoch (the released code's)
    three = RegionDataset(records_from_source({"format": "demo_regions", "split_dir": split,
                                               "regions_per_sample": 2, "shuffle_regions": True}), size)
    drawn = set()
    for e in range(6):
        three.epoch = e
        it = three[0]
        assert len(it["turns"]) == len(it["pairs"]) == len(it["masks"]) == 2
        assert it["turns"][0].question.startswith(conv.IMAGE_INTRO)
        drawn |= {by_mask[m.numpy().tobytes()].segment_id for m in it["masks"]}
    assert len(first) == 3 and drawn == {r.segment_id for r in first}
    first_two = records_from_source({"format": "demo_regions", "split_dir": split, "regions_per_sample": 2})
    assert first_two[0].regions == grouped[0].regions[:2] and not first_two[0].drawn_regions
    # the demo's default sources (opal.data unset): the train splits, grouped as opal.demo_samples says
    from oeseg.models.train import stage_records

    section = {"demo_samples": {"regions_per_sample": 64, "shuffle_regions": True}}
    assert stage_records(section, 3, [str(split)]) == records_from_source(
        {"format": "demo_regions", "split_dir": split, "regions_per_sample": 64, "shuffle_regions": True})
    assert stage_records({}, 2, [str(split)]) == single and len(stage_records(section, 1, [str(split)])) == 2
    with pytest.raises(InputError, match="shuffle_regions needs regions_per_sample"):
        records_from_source({"format": "demo_regions", "split_dir": split, "shuffle_regions": True})
    with pytest.raises(InputError, match="applies to demo_regions"):
        records_from_source({"format": "demo_captions", "split_dir": split, "regions_per_sample": 2})
    # a configured source without a field its format reads: an error naming it, not a KeyError
    for source, key in [({"format": "demo_regions"}, "split_dir"),
                        ({"format": "coco_instances", "ann_file": "a.json"}, "image_root")]:
        with pytest.raises(InputError, match=rf"opal\.data\.stage2\[1\]\.{key}: missing"):
            stage_records({"data": {"stage2": [{"format": "demo_regions", "split_dir": split}, source]}}, 2, [])
    with pytest.raises(InputError, match=r"opal\.data\.stage2\[0\]\.format: unknown format 'coco'"):
        stage_records({"data": {"stage2": [{"format": "coco"}]}}, 2, [])


@pytest.mark.parametrize("width, height", [(384, 192), (288, 224), (300, 500), (1024, 512)])
def test_images_are_prepared_as_osprey_prepares_them(tmp_path, width, height):
    """CLIP's image processor (shorter side to S, bicubic, no centre crop; rescale, normalise), then
    bilinear to S x S, as Osprey's training and evaluation code does: the same tensor to rounding."""
    import warnings

    import numpy as np
    import torch.nn.functional as F
    from PIL import Image
    from transformers import CLIPImageProcessor

    from oeseg.data.panoptic import read_rgb
    from oeseg.models.data import CLIP_MEAN, CLIP_STD, prepare_image

    path = tmp_path / "x.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)).save(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # without torchvision, transformers names its PIL backend
        processor = CLIPImageProcessor(size={"shortest_edge": 96}, resample=3, do_center_crop=False,
                                       image_mean=list(CLIP_MEAN), image_std=list(CLIP_STD))
    reference = processor.preprocess(Image.open(path).convert("RGB"), return_tensors="pt")["pixel_values"]
    reference = F.interpolate(reference, size=(96, 96), mode="bilinear", align_corners=False)[0]
    assert torch.allclose(prepare_image(read_rgb(path), 96), reference, atol=1e-5)


def test_region_masks_reach_the_extractor_at_the_image_resolution(tmp_path):
    """As Osprey passes them: masks at the image's own resolution, which the mask extractor resizes
    to each feature map and to the position token's grid, in training and in inference alike."""
    from oeseg.data.panoptic import read_segment_ids
    from oeseg.models.inference import load_regions, split_images
    from oeseg.models.config import OpalConfig
    from oeseg.models.mask_extractor import MaskExtractor

    split = make_split(tmp_path / "s", 1, seed=0)
    records = demo_region_records(split)
    h, w = read_segment_ids(records[0].segments_path).shape
    assert (h, w) != (TINY_MODEL["image_size"],) * 2
    item = RegionDataset(records[:1], TINY_MODEL["image_size"])[0]
    assert item["masks"].dtype == torch.bool and item["masks"].shape == (1, h, w)
    assert torch.equal(item["masks"][0], torch.from_numpy(record_masks(records[0])[0]))
    _, masks = load_regions(split_images(split)[0], TINY_MODEL["image_size"])
    assert masks.dtype == torch.bool and masks.shape == (len(records), h, w)
    assert torch.equal(masks[0], item["masks"][0])
    # the position token reads the full-resolution mask resized to mask_shape^2 (bilinear)
    config = OpalConfig(**{k: v for k, v in TINY_MODEL.items() if k != "size"}, vocab_size=100)
    extractor = MaskExtractor(config)
    feats = {name: torch.randn(1, dim, 4, 4) for name, dim in zip(("res2", "res3", "res4", "res5"), config.vision_dims)}
    _, pos = extractor(feats, [masks[:1]])
    grid = torch.nn.functional.interpolate(masks[:1].float()[None], size=(config.mask_shape,) * 2, mode="bilinear",
                                           align_corners=False)[0]
    assert torch.allclose(pos[0], extractor.mask_linear(grid.flatten(1)))


def test_boolean_masks_pool_at_any_size():
    """Masks as the data loaders give them (bool, the image's resolution) pool like their float
    copies, whether the feature map divides them (the fast path) or not (the tower probe passes
    them as loaded: Demo-ADE's 224 x 288 images into a 12 x 12 map)."""
    from oeseg.models.mask_extractor import mask_pool

    masks = torch.rand(3, 224, 288, generator=torch.Generator().manual_seed(0)) > 0.7
    for grid, side in ((masks, 12), (masks[:, :192, :192], 12)):
        features = torch.randn(5, side, side)
        pooled = mask_pool(features, grid)
        assert pooled.shape == (3, 5) and torch.allclose(pooled, mask_pool(features, grid.float()))


def _described(**fields):
    return {"id": 8, "file_name": "COCO_train2014_000000000009.jpg", "height": 10, "width": 20,
            "annotation": [{"segmentation": SQUARE}], "description": ["<region1>: A red box."], **fields}


def _coco(**annotation):
    return {"images": [{"id": 9, "file_name": "000000000009.jpg", "height": 10, "width": 20}],
            "categories": [{"id": 1, "name": "box"}],
            "annotations": [{"id": 1, "image_id": 9, "category_id": 1, "segmentation": SQUARE, **annotation}]}


@pytest.mark.parametrize("fmt,obj,match", [
    ("coco_instances", {**_coco(), "images": [{"id": 9, "file_name": "a.jpg", "height": "ten", "width": 20}]},
     r"annotation 0: height 'ten'"),
    ("coco_instances", {**_coco(), "images": [{"id": 9, "file_name": "a.jpg", "height": float("inf"), "width": 20}]},
     r"annotation 0: height inf is not a positive integer"),  # int() raised an OverflowError naming nothing
    ("coco_instances", {**_coco(), "annotations": [[1, 9, 1]]}, r"annotation 0: "),
    ("coco_instances", _coco(segmentation=[[0, 0, 5]]), r"annotation 0: segmentation: polygons"),
    ("coco_instances", _coco(segmentation=[[0, 0, 5, 0, 5, "x"]]), r"annotation 0: segmentation: polygons"),
    ("coco_instances", _coco(segmentation="oops"), r"annotation 0: segmentation: str, neither"),
    ("coco_instances", _coco(segmentation=[]), r"annotation 0: segmentation: polygons"),
    ("coco_instances", _coco(segmentation={"counts": "abc"}), r"annotation 0: segmentation: an RLE"),
    ("coco_instances", _coco(segmentation={"size": [20, 10], "counts": "abc"}), r"annotation 0: .*size \[10, 20\]"),
    ("osprey_description", [{"file_name": "a.jpg", "height": 10, "width": 20, "annotation": [{"segmentation": "oops"}],
                             "description": ["<region1>: a box"]}], r"entry 0: segmentation"),
    ("osprey_description", [{"file_name": "a.jpg", "height": 10, "width": 20, "annotation": ["oops"],
                             "description": ["<region1>: a box"]}], r"entry 0: "),
    ("osprey_conversation", [{**_conversations()[0], "width": "20"}], r"entry 0: width '20'"),
    ("osprey_conversation", [{**_conversations()[0], "annotation": [{"segmentation": [[0, 0, 5]]}]}],
     r"entry 0: segmentation: polygons"),
    ("osprey_conversation", [{**_conversations()[0], "conversations": ["What?", "A box."]}], r"entry 0: "),
    ("llava_captions", [["000000000009.jpg"]], r"entry 0: needs 'image'"),
    ("llava_captions", [{"image": "a.jpg", "conversations": ["a street"]}], r"entry 0: needs 'image'"),
    # a text that is not a string would crash the tokenizer in training; a string where a list is
    # expected would be read one character at a time
    ("coco_instances", {**_coco(), "categories": [{"id": 1, "name": 3}]}, r"annotation 0: category name: 3 is not a text"),
    ("coco_instances", {**_coco(), "images": [{"id": 9, "file_name": 9, "height": 10, "width": 20}]},
     r"annotation 0: file_name: 9 is not a text"),
    ("vg_regions", _coco(caption=None), r"annotation 0: caption: None is not a text"),
    ("osprey_description", [{**_described(), "description": "<region1>: a box"}],
     r"entry 0: description: a list expected, not a JSON str"),
    ("osprey_description", [{**_described(), "description": [None]}], r"entry 0: description\[0\]: None is not a text"),
    ("osprey_conversation", [{**_conversations()[0], "conversations": {"from": "human"}}],
     r"entry 0: conversations: a list expected, not a JSON dict"),
    ("osprey_conversation", [{**_conversations()[0], "conversations": ["What?", "A box."]}],
     r"entry 0: conversations\[0:2\] is not a human/gpt pair"),
    ("osprey_lvis_posneg", [{**_conversations()[0], "conversations": [{"from": "human", "value": "<region1>?"},
                                                                     {"from": "gpt", "value": 5}]}],
     r"entry 0: conversations\[1\].value: 5 is not a text"),
    ("llava_captions", [{"image": "000000000009.jpg", "conversations": [{"from": "gpt", "value": None}]}],
     r"entry 0: the 'gpt' turn's value: None is not a text"),
    # a conversation about a region the entry does not have: in a question or an answer, listed or inline
    ("osprey_conversation", _conversations(1), r"entry 0: conversations name <region2>, a region beyond its 1"),
    ("osprey_short_form", [{**_conversations()[0], "conversations": [{"from": "human", "value": "<region5>?"},
                                                                    {"from": "gpt", "value": "A box."}]}],
     r"entry 0: conversations name <region5>, a region beyond its 2"),
    # uncompressed RLE counts that do not cover the image: pycocotools would decode past the mask or refuse
    ("coco_instances", _coco(segmentation={"size": [10, 20], "counts": [22, 4, 6]}), r"annotation 0: .*adding up to "
     r"the image's 10 x 20 = 200 pixels"),
    ("coco_instances", _coco(segmentation={"size": [10, 20], "counts": [100, "a", 100]}), r"annotation 0: .*run lengths"),
    # compressed RLE strings that pycocotools would decode to memory beyond their runs: runs that do
    # not cover the image, a string cut inside a run, a character outside the alphabet
    ("coco_instances", _coco(segmentation={"size": [10, 20], "counts": "zzzz"}), r"annotation 0: .*10 x 20 = 200 pixels"),
    ("coco_instances", _coco(segmentation={"size": [10, 20], "counts": ""}), r"annotation 0: .*run lengths"),
    ("coco_instances", _coco(segmentation={"size": [10, 20], "counts": "Vl"}), r"annotation 0: .*run lengths"),
    ("coco_instances", _coco(segmentation={"size": [10, 20], "counts": "6 4"}), r"annotation 0: .*run lengths"),
    # a polygon point far out, NaN or infinite, which pycocotools would rasterise until memory runs out
    ("coco_instances", _coco(segmentation=[[2, 2, 8, 2, 1e9, 6]]), r"annotation 0: .*point \(1000000000.0, 6\) lies more "
     r"than 10 image sizes outside the 20x10 image"),
    ("osprey_description", [_described(annotation=[{"segmentation": [[float("nan"), 2, 8, 2, 8, 6]]}])],
     r"entry 0: .*point \(nan, 2\)"),
    ("osprey_conversation", [{**_conversations()[0], "annotation": [{"segmentation": SQUARE},
                                                                    {"segmentation": [[2, 2, 8, -1e400, 8, 6]]}]}],
     r"entry 0: .*point \(8, -inf\)"),
])
def test_malformed_annotations_are_input_errors_naming_file_and_entry(root, fmt, obj, match):
    """A malformed field (wrong type, bad number, a segmentation neither polygons of 3 points or
    more nor an RLE of the image's size, a conversation naming a region the entry lacks) is
    refused at loading, naming the file and the entry, not a crash (or a silently wrong sample)
    when the sample is drawn in training."""
    with pytest.raises(InputError, match=r"bad.json: " + match):
        records_from_source({"format": fmt, **_write(root, "bad.json", obj)})


def test_coco_rle_segmentations_load(root):
    """RLE segmentations (compressed or not) of the image's size load and decode."""
    from pycocotools import mask as mask_utils

    square = np.zeros((10, 20), dtype=np.uint8, order="F")
    square[2:6, 2:8] = 1
    compressed = mask_utils.encode(square)
    compressed["counts"] = compressed["counts"].decode()
    uncompressed = {"size": [10, 20], "counts": [22, 4, 6, 4, 6, 4, 6, 4, 6, 4, 6, 4, 124]}
    for seg in (compressed, uncompressed):
        (rec,) = records_from_source({"format": "coco_instances", **_write(root, "rle.json", _coco(segmentation=seg))})
        assert int(record_masks(rec)[0].sum()) == 24 and record_masks(rec)[0][2:6, 2:8].all()
    # the reader's check of a compressed string's run lengths accepts what pycocotools encodes
    # (long runs take several characters, runs after the third are relative)
    rng = np.random.default_rng(0)
    for density in (0.0, 0.02, 0.5, 0.98, 1.0):
        mask = np.asfortranarray(rng.random((10, 20)) < density, dtype=np.uint8)
        seg = mask_utils.encode(mask)
        seg["counts"] = seg["counts"].decode()
        coco = _coco(segmentation=seg)
        (rec,) = records_from_source({"format": "coco_instances", **_write(root, "rle.json", coco)})
        assert (record_masks(rec)[0] == mask.astype(bool)).all(), density


def test_osprey_entries_are_read_as_osprey_reads_them_and_misaligned_ones_refused(root, caplog):
    """A description entry with fewer texts than regions is an error naming the file, the entry
    and the counts; texts after the last region are unused, in a warning (Osprey's reader ignores
    them). A last human question without its answer is left out (Osprey's reader too), one whose
    turns do not pair human with gpt is an error."""
    entry = {"id": 8, "file_name": "COCO_train2014_000000000009.jpg", "height": 10, "width": 20,
             "annotation": [{"segmentation": SQUARE}, {"segmentation": STRIP}],
             "description": ["<region1>: A red box.", "<region2>: A long red strip.", "<region3>: A third."]}
    with caplog.at_level(logging.WARNING, logger="oeseg.models.data"):
        records = records_from_source({"format": "osprey_description", **_write(root, "d.json", [entry])})
    assert [r.descriptions for r in records] == [("A red box.",), ("A long red strip.",)]
    assert "d.json: 1 entries have more texts in 'description' than regions" in caplog.text
    entry["description"] = entry["description"][:1]
    with pytest.raises(InputError, match=r"d.json: entry 0: 2 regions in 'annotation' but 1 texts"):
        records_from_source({"format": "osprey_description", **_write(root, "d.json", [entry])})
    ann = _conversations()
    (whole,) = records_from_source({"format": "osprey_conversation", **_write(root, "c.json", ann)})
    ann[0]["conversations"].append({"from": "human", "value": "And region2?"})
    for fmt in ("osprey_conversation", "osprey_lvis_posneg"):  # the LVIS file names its images without prefix
        lvis = [{**ann[0], "file_name": "000000000009.jpg"}]
        (record,) = records_from_source({"format": fmt, **_write(root, "c.json", ann if fmt == "osprey_conversation"
                                                                 else lvis)})
        assert len(record.turns) == 2
        if fmt == "osprey_conversation":
            assert record.turns == whole.turns
    ann[0]["conversations"][-1] = {"from": "gpt", "value": "Red again."}
    with pytest.raises(InputError, match=r"c.json: entry 0: conversations has 5 turns, an odd count: its last "
                                         r"\('gpt'\)"):
        records_from_source({"format": "osprey_conversation", **_write(root, "c.json", ann)})
    ann[0]["conversations"] = ann[0]["conversations"][:1]  # a question alone: nothing to train on
    (record,) = records_from_source({"format": "osprey_conversation", **_write(root, "c.json", [*ann, *_conversations()])})
    assert record.turns == whole.turns
    with pytest.raises(InputError, match=r"c.json gives no training sample \(osprey_conversation\)"):
        records_from_source({"format": "osprey_conversation", **_write(root, "c.json", ann)})


def test_polygon_parts_without_area_are_dropped_as_detectron2_drops_them(root, caplog):
    """A polygon part of fewer than 3 points has no area (pycocotools would read a lone 4-number
    part as a box): it is dropped; a region left without a part is left out with a warning in
    COCO-format files, and is an error in a conversation, whose turns name regions by place."""
    coco = _coco(segmentation=[*SQUARE, [0, 0, 4, 4]])
    coco["annotations"].append({**coco["annotations"][0], "id": 2, "segmentation": [[0, 0, 4, 4]]})
    with caplog.at_level(logging.WARNING, logger="oeseg.models.data"):
        (rec,) = records_from_source({"format": "coco_instances", **_write(root, "p.json", coco)})
    assert rec.polygons == SQUARE and int(record_masks(rec)[0].sum()) == 24
    assert "p.json: 1 region(s) without a polygon of at least 3 points (no area) left out" in caplog.text
    ann = _conversations()
    ann[0]["annotation"][1] = {"segmentation": [[0, 0, 4, 4]]}
    with pytest.raises(InputError, match=r"c.json: entry 0: annotation 1 has no polygon of at least 3 points"):
        records_from_source({"format": "osprey_conversation", **_write(root, "c.json", ann)})


@pytest.mark.parametrize("fmt,obj,entry", [
    ("coco_instances", {**_coco(), "images": [{"id": 9, "file_name": "gone.jpg", "height": 10, "width": 20}]},
     r"annotation 0 \(image id 9\)"),
    ("refcoco", {**_coco(), "images": [{"id": 9, "file_name": "COCO_train2014_gone.jpg", "height": 10, "width": 20,
                                        "caption": "the box"}]}, r"annotation 0 \(image id 9\)"),
    ("osprey_description", [_described(), _described(file_name="COCO_train2014_gone.jpg")], "entry 1"),
    ("osprey_conversation", [*_conversations(), {**_conversations()[0], "file_name": "COCO_train2014_gone.jpg"}],
     "entry 1"),
    ("osprey_lvis_posneg", [{**_conversations()[0], "file_name": "gone.jpg"}], "entry 0"),
    ("llava_captions", [{"image": "000000000009.jpg", "conversations": [{"from": "gpt", "value": "a street"}]},
                        {"image": "gone.jpg", "conversations": [{"from": "gpt", "value": "a street"}]}], "entry 1"),
])
def test_a_missing_image_is_an_error_when_its_annotation_file_is_read(root, fmt, obj, entry):
    """Before any training: the error names the annotation file, the entry and the missing path (a
    folder of the name, or a symbolic link to no file or to a folder, as well, though its folder
    lists them; a link to a file is read)."""
    files = _write(root, "ann.json", obj)
    with pytest.raises(InputError, match=rf"ann.json: {entry}: image {re.escape(str(root / 'gone.jpg'))} not found$"):
        records_from_source({"format": fmt, **files})
    nowhere = re.escape(str(root / "nowhere"))  # a wrong image_root: its first entry, and the folder named
    with pytest.raises(InputError, match=rf"ann.json: (annotation|entry) 0\b.*: image {nowhere}/\S+ not found "
                                         rf"\(no folder {nowhere}\)"):
        records_from_source({"format": fmt, **files, "image_root": str(root / "nowhere")})
    gone = re.escape(str(root / "gone.jpg"))
    (root / "gone.jpg").mkdir()  # listed in its folder, but a folder
    with pytest.raises(InputError, match=rf"ann.json: {entry}: image {gone} is a folder, not an image file$"):
        records_from_source({"format": fmt, **files})
    (root / "gone.jpg").rmdir()
    for target in ("deleted.jpg", "a_folder"):  # listed in its folder, but a link to no file, or to a folder
        (root / "a_folder").mkdir(exist_ok=True)
        (root / "gone.jpg").unlink(missing_ok=True)
        (root / "gone.jpg").symlink_to(root / target)
        with pytest.raises(InputError, match=rf"ann.json: {entry}: image {gone} not found \(a symbolic link to "
                                             rf"{re.escape(str(root / target))}, which is no file\)$"):
            records_from_source({"format": fmt, **files})
    (root / "gone.jpg").unlink()
    (root / "gone.jpg").symlink_to(root / "deleted.jpg")
    (root / "deleted.jpg").write_bytes((root / "000000000009.jpg").read_bytes())  # the link's file is back
    assert records_from_source({"format": fmt, **files})


def test_an_image_of_another_size_than_its_entry_is_an_error_naming_the_entry(root):
    """An entry's height and width size its masks: an image of another size is refused when its
    sample is loaded (the image is decoded then anyway), naming the annotation file, the entry
    and both sizes; a second entry of the same (cached) image is checked as well."""
    Image.new("RGB", (20, 12)).save(root / "000000000010.jpg")  # 12 rows, not 10
    sources = {
        "coco_instances": ({**_coco(), "images": [{"id": 10, "file_name": "000000000010.jpg", "height": 10,
                                                   "width": 20}], "annotations": [{**_coco()["annotations"][0],
                                                                                   "image_id": 10}]},
                           "image id 10"),
        "osprey_description": ([_described(), _described(file_name="COCO_train2014_000000000010.jpg")], "entry 1"),
        "osprey_conversation": ([*_conversations(), {**_conversations()[0], "file_name": "COCO_x_000000000010.jpg"}],
                                "entry 1"),
    }
    for fmt, (obj, entry) in sources.items():
        for grouping in ({}, {"regions_per_sample": 2}) if fmt == "coco_instances" else ({},):
            data = RegionDataset(records_from_source({"format": fmt, **grouping, **_write(root, "ann.json", obj)}),
                                 TINY_MODEL["image_size"])
            if len(data) > 1:
                assert data[0]["masks"].shape[1:] == (10, 20)  # the image of its size loads
            with pytest.raises(InputError, match=rf"ann.json: {entry}: the image {re.escape(str(root))}/000000000010.jpg is "
                                                 r"20x12 pixels but the entry says 20x10"):
                data[len(data) - 1]
    # two entries of one image: the second, of another size, is refused though the image is cached
    same = [_described(), _described(height=12)]
    data = RegionDataset(records_from_source({"format": "osprey_description", **_write(root, "ann.json", same)}),
                         TINY_MODEL["image_size"])
    data[0]
    with pytest.raises(InputError, match=r"ann.json: entry 1: .* is 20x10 pixels but the entry says 20x12"):
        data[1]
