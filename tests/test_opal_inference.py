"""Describing regions with one image encoding and one shared prompt prefix per image: the same
answers and scores as describing each region alone (greedy, fp32), seeded sampling repeats,
batching of images, and a split described end to end in ascending segment id."""

from __future__ import annotations

import json

import pytest
import torch
from opal_synthetic import make_split

from oeseg.data.panoptic import PanopticSplit
from oeseg.data.predictions import read_predictions
from oeseg.models import conversation as conv
from oeseg.models.config import OpalConfig
from oeseg.models.inference import (
    describe_images,
    describe_split,
    image_batches,
    make_sampling,
    prompt_parts,
    sample_descriptions,
    split_images,
)
from oeseg.models.osprey import build_model
from oeseg.models.tokenization import (
    build_demo_tokenizer,
    encode_conversation,
    region_token_ids,
)
from oeseg.models.weights import save_model

# larger initial weights than training's 0.02, so that a random model's answers depend on the region
TINY = {"vision_depths": [1, 1, 1, 1], "vision_dims": [8, 16, 32, 64], "vision_embed_dim": 32, "image_size": 64,
        "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
        "num_key_value_heads": 4, "mask_shape": 16, "mask_embed_dim": 24, "max_position_embeddings": 256,
        "initializer_range": 0.3}
COUNTS = (2, 5, 1)


@pytest.fixture(scope="module")
def tiny():
    tok = build_demo_tokenizer(["a red car", "blue sky", "green tree on the road", "person walking a dog"])
    torch.manual_seed(0)
    model = build_model(OpalConfig(vocab_size=len(tok), **TINY), *region_token_ids(tok)).eval()
    g = torch.Generator().manual_seed(1)
    images = torch.randn(len(COUNTS), 3, 64, 64, generator=g)
    masks = [(torch.rand(n, 64, 64, generator=g) > 0.7).float() for n in COUNTS]
    return model, tok, images, masks


def _sampling(model, tok, temperature: float, seed: int, top_p: float = 1.0):
    return make_sampling(tok, model.config.vocab_size, temperature, top_p, 8, torch.Generator().manual_seed(seed))


def test_shared_prefix_answers_equal_each_region_described_alone(tiny):
    model, tok, images, masks = tiny
    new = describe_images(model, tok, images, masks, _sampling(model, tok, 0.0, 0))
    assert [len(a) for a in new] == list(COUNTS)
    ids, _ = encode_conversation(tok, [conv.Turn(conv.region_question())], model.config.image_tokens, 10**9,
                                 system=conv.EVAL_SYSTEM)
    for i, n in enumerate(COUNTS):
        for r in range(n):
            batch = {"input_ids": ids[None], "attention_mask": torch.ones(1, len(ids)), "images": images[i:i + 1],
                     "masks": [masks[i][r:r + 1]]}
            (text, score), = sample_descriptions(model, tok, batch, 0.0, 1.0, 8, torch.Generator().manual_seed(0))
            assert new[i][r][0] == text and text
            assert new[i][r][1] == pytest.approx(score, abs=1e-5) and score < 0
    answers = [a for per_image in new for a in per_image]
    assert len({round(s, 4) for _, s in answers}) == len(answers)  # each region its own answer


def test_prompt_splits_before_the_region():
    tok = build_demo_tokenizer(["a red car"])
    prefix, suffix = prompt_parts(tok, 16)
    ids, _ = encode_conversation(tok, [conv.Turn(conv.region_question())], 16, 10**9, system=conv.EVAL_SYSTEM)
    assert torch.equal(torch.cat([prefix, suffix]), ids)
    training, _ = encode_conversation(tok, [conv.Turn(conv.region_question())], 16, 10**9)
    assert tok.decode(training[:12].tolist()).startswith("<s> a chat between a curious user")
    assert suffix[:2].tolist() == list(region_token_ids(tok))
    assert tok.decode(suffix[2:].tolist()) == "? using a short phrase. assistant :"


def test_seeded_sampling_repeats_and_the_seed_matters(tiny):
    model, tok, images, masks = tiny
    runs = [describe_images(model, tok, images, masks, _sampling(model, tok, 1.0, seed, 0.9)) for seed in (3, 3, 4)]
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_images_are_batched_by_region_count_within_the_slots():
    counts = [3, 10, 1, 4, 4, 30]
    batches = image_batches(counts, batch_size=12, images_per_batch=2)
    assert batches == [[5], [1], [3, 4], [0, 2]]  # most regions first; 30 > 12 goes alone
    assert sorted(i for b in batches for i in b) == list(range(len(counts)))
    assert all(len(b) * max(counts[i] for i in b) <= 12 or len(b) == 1 for b in batches)


def test_split_described_in_segment_order_and_repeatable(tiny, tmp_path):
    model, tok, _, _ = tiny
    val = make_split(tmp_path / "val", 3, 1, size=48)
    obj = json.loads((val / "panoptic.json").read_text())  # segments listed in descending id order
    for ann in obj["annotations"]:
        ann["segments_info"].reverse()
    (val / "panoptic.json").write_text(json.dumps(obj))
    save_model(model, tok, tmp_path / "model", [])
    assert [len(im.segment_ids) for im in split_images(val)] == [3, 3, 3]
    out = [tmp_path / f"pred{k}.jsonl" for k in range(3)]
    for path, batch_size in zip(out, (2, 2, 9)):
        describe_split(tmp_path / "model", val, path, seed=5, temperature=0.7, batch_size=batch_size,
                       max_new_tokens=5)
    split = PanopticSplit.load(val)
    preds = read_predictions(out[0])
    assert [(p.image_id, p.segment_id) for p in preds] == [(im.id, s.id) for im in split.images
                                                            for s in sorted(im.segments, key=lambda s: s.id)]
    assert all(p.description and p.score < 0 for p in preds)
    assert out[0].read_text() == out[1].read_text()  # the same seed and batching: the same draws
    assert [(p.image_id, p.segment_id) for p in read_predictions(out[2])] == [(p.image_id, p.segment_id) for p in preds]
