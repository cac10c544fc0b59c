"""Describing regions with one image encoding and one shared prompt prefix per image: the same
answers and scores as describing each region alone (greedy, fp32), seeded sampling repeats,
batching of images, a split described end to end in ascending segment id, and a job stopped part
way (SIGTERM, a crash) resuming to the file a run straight through writes."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal

import pytest
import torch
from opal_synthetic import make_split

from oeseg.data.panoptic import PanopticSplit, read_segment_ids, write_segment_ids
from oeseg.data.predictions import read_predictions, read_split_predictions
from oeseg.io import InputError
from oeseg.models import conversation as conv
from oeseg.models import inference
from oeseg.models.config import OpalConfig
from oeseg.models.inference import (
    DescribeStopped,
    describe_fingerprint,
    describe_images,
    describe_split,
    describe_splits,
    image_batches,
    choose_tokens,
    make_sampling,
    model_fingerprint,
    progress_dir,
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


# one batch per image: the splits' 4 and 3 images are 7 batches
RESUMED = {"seed": 5, "temperature": 0.7, "batch_size": 3, "images_per_batch": 1, "max_new_tokens": 5}


@pytest.fixture(scope="module")
def described(tiny, tmp_path_factory):
    """A saved model, two val splits and their predictions described straight through (RESUMED)."""
    model, tok, _, _ = tiny
    root = tmp_path_factory.mktemp("described")
    save_model(model, tok, root / "model", [])
    splits = [make_split(root / "val_a", 4, 2), make_split(root / "val_b", 3, 3)]
    reference = {s: root / f"{s.name}.jsonl" for s in splits}
    describe_splits(root / "model", reference, **RESUMED)
    assert not any(progress_dir(p).exists() for p in reference.values())  # removed once the job is done
    return root, splits, {s: p.read_text() for s, p in reference.items()}


def _counting(monkeypatch, on_call=None):
    """Count the calls of the real describe_images (one per batch), `on_call(n)` before the n-th."""
    calls, real = [], inference.describe_images

    def counted(*args, **kwargs):
        calls.append(1)
        if on_call:
            on_call(len(calls))
        return real(*args, **kwargs)

    monkeypatch.setattr(inference, "describe_images", counted)
    return calls


def _crash_at(n: int):
    def crash(call: int) -> None:
        if call == n:
            raise RuntimeError("killed")
    return crash


def test_a_crashed_job_resumes_after_its_saved_batches(described, tmp_path, monkeypatch):
    root, splits, reference = described
    out = {s: tmp_path / f"{s.name}.jsonl" for s in splits}
    _counting(monkeypatch, _crash_at(6))  # val_b's second batch: val_a is written, val_b has one batch
    with pytest.raises(RuntimeError, match="killed"):
        describe_splits(root / "model", out, **RESUMED)
    assert out[splits[0]].read_text() == reference[splits[0]]
    for path in out.values():  # the scheduler removes the outputs of a failed job
        path.unlink(missing_ok=True)
    calls = _counting(monkeypatch)
    describe_splits(root / "model", out, **RESUMED)
    assert len(calls) == 2  # val_b's last two batches; val_a read back
    assert {s: p.read_text() for s, p in out.items()} == reference
    assert not any(progress_dir(p).exists() for p in out.values())


def test_sigterm_stops_after_the_batch_and_a_rerun_resumes(described, tmp_path, monkeypatch):
    root, splits, reference = described
    out = {s: tmp_path / f"{s.name}.jsonl" for s in splits}
    previous = signal.getsignal(signal.SIGTERM)
    _counting(monkeypatch, lambda n: n == 2 and os.kill(os.getpid(), signal.SIGTERM))
    with pytest.raises(DescribeStopped, match="stopped by SIGTERM after batch 2 / 4"):
        describe_splits(root / "model", out, **RESUMED)
    assert signal.getsignal(signal.SIGTERM) == previous
    assert not out[splits[0]].exists()
    assert len(list(progress_dir(out[splits[0]]).glob("*/batch*.json"))) == 2
    calls = _counting(monkeypatch)
    describe_splits(root / "model", out, **RESUMED)
    assert len(calls) == 5
    assert {s: p.read_text() for s, p in out.items()} == reference


def _crashed_at_batch_3(root, split, tmp_path, monkeypatch):
    """The predictions file of `split` whose describe job crashed in its third batch (two saved)."""
    out = tmp_path / "pred.jsonl"
    _counting(monkeypatch, _crash_at(3))
    with pytest.raises(RuntimeError, match="killed"):
        describe_split(root / "model", split, out, **RESUMED)
    return out


def test_progress_of_another_job_is_not_resumed(described, tmp_path, monkeypatch):
    root, splits, _ = described
    out = _crashed_at_batch_3(root, splits[0], tmp_path, monkeypatch)
    (old,) = progress_dir(out).iterdir()
    calls = _counting(monkeypatch)
    describe_split(root / "model", splits[0], out, **{**RESUMED, "temperature": 0.5})
    assert len(calls) == 4 and not old.exists()


def test_the_fingerprint_covers_model_prompt_split_settings_and_device(tiny, tmp_path):
    model, tok, _, _ = tiny
    split = make_split(tmp_path / "val", 2, 1)
    images, prompt = split_images(split), prompt_parts(tok, model.config.image_tokens)
    weights, cpu, f32 = model_fingerprint(model), torch.device("cpu"), torch.float32
    base = describe_fingerprint(weights, tok, prompt, images, RESUMED, cpu, f32)
    assert base == describe_fingerprint(weights, tok, prompt, images, dict(RESUMED), cpu, f32)
    other_model = build_model(OpalConfig(vocab_size=len(tok), **{**TINY, "initializer_range": 0.2}),
                              *region_token_ids(tok))
    variants = [
        describe_fingerprint(model_fingerprint(other_model), tok, prompt, images, RESUMED, cpu, f32),
        describe_fingerprint(weights, tok, (prompt[0][:-1], prompt[1]), images, RESUMED, cpu, f32),
        describe_fingerprint(weights, tok, prompt, images[:1], RESUMED, cpu, f32),
        describe_fingerprint(weights, tok, prompt, images, {**RESUMED, "top_p": 0.9}, cpu, f32),
        describe_fingerprint(weights, tok, prompt, images, RESUMED, torch.device("cuda"), torch.bfloat16),
    ]
    ids = read_segment_ids(images[0].panoptic_path)  # the same ids file, one pixel moved to another segment
    ids[ids == images[0].segment_ids[0]] = images[0].segment_ids[1]
    ids[0, 0] = images[0].segment_ids[0]
    write_segment_ids(images[0].panoptic_path, ids)
    variants.append(describe_fingerprint(weights, tok, prompt, images, RESUMED, cpu, f32))
    assert len({base, *variants}) == len(variants) + 1


def test_a_saved_batch_that_does_not_load_is_an_input_error(described, tmp_path, monkeypatch):
    root, splits, _ = described
    out = _crashed_at_batch_3(root, splits[0], tmp_path, monkeypatch)
    bad = next(progress_dir(out).glob("*/batch000001.json"))
    bad.write_text(bad.read_text()[:40])
    with pytest.raises(InputError, match=f"{bad}: a describe job's saved batch does not load"):
        describe_split(root / "model", splits[0], out, **RESUMED)


def test_greedy_descriptions_do_not_depend_on_the_batching(tiny, tmp_path):
    model, tok, _, _ = tiny
    save_model(model, tok, tmp_path / "model", [])
    val = make_split(tmp_path / "val", 6, 4)
    ids = read_segment_ids(val / "panoptic" / "img000.png")  # an image with one region fewer: padded slots
    gone = int(ids.max())
    ids[ids == gone] = 0
    write_segment_ids(val / "panoptic" / "img000.png", ids)
    obj = json.loads((val / "panoptic.json").read_text())
    obj["annotations"][0]["segments_info"] = [s for s in obj["annotations"][0]["segments_info"] if s["id"] != gone]
    (val / "panoptic.json").write_text(json.dumps(obj))
    counts = [len(im.segment_ids) for im in split_images(val)]
    assert len(set(counts)) > 1
    runs = []
    for batch_size, per_batch in ((1, 1), (9, 3), (20, 6)):
        path = tmp_path / f"{batch_size}.jsonl"
        describe_split(tmp_path / "model", val, path, temperature=0.0, batch_size=batch_size,
                       images_per_batch=per_batch, max_new_tokens=6)
        runs.append(read_predictions(path))
    for run in runs[1:]:
        assert [(p.image_id, p.segment_id, p.description) for p in run] == \
            [(p.image_id, p.segment_id, p.description) for p in runs[0]]
        assert [p.score for p in run] == pytest.approx([p.score for p in runs[0]], abs=1e-5)


def test_a_region_too_small_for_every_feature_map_is_described(tiny, tmp_path):
    model, tok, _, _ = tiny
    save_model(model, tok, tmp_path / "model", [])
    val = make_split(tmp_path / "val", 1, 1)
    ids = read_segment_ids(val / "panoptic" / "img000.png")
    ids[0, 0] = 9  # one pixel: no bilinear tap of a 48 px mask on the tower's 16 px (and coarser) grids reads it
    write_segment_ids(val / "panoptic" / "img000.png", ids)
    obj = json.loads((val / "panoptic.json").read_text())
    pole = {"id": 9, "category_id": 13, "iscrowd": 0, "area": 1, "bbox": [0, 0, 1, 1]}  # a car (a thing)
    obj["annotations"][0]["segments_info"].append(pole)
    (val / "panoptic.json").write_text(json.dumps(obj))
    preds = describe_split(tmp_path / "model", val, tmp_path / "pred.jsonl", temperature=0.0, max_new_tokens=4)
    (pole_pred,) = [p for p in preds if p.segment_id == 9]
    assert pole_pred.description and math.isfinite(pole_pred.score) and pole_pred.score < 0


def _truncate(folder):
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])


def _other_architecture(folder):
    from transformers import LlamaConfig, LlamaForCausalLM

    for f in folder.glob("*.json"):
        f.unlink()
    LlamaForCausalLM(LlamaConfig(vocab_size=40, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                 num_attention_heads=2)).save_pretrained(folder)


def _edit_config(**keys):
    def edit(folder):
        config = json.loads((folder / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps({**config, **keys}))
    return edit


def _other_tokenizer(folder):
    shutil.rmtree(folder / "tokenizer")
    build_demo_tokenizer(["a red car", "blue sky", "zebra giraffe elephant walrus"]).save_pretrained(folder / "tokenizer")


@pytest.mark.parametrize(("damage", "message"), [
    (_truncate, r"model: the model's weights or config do not load \(Error while deserializing header"),
    (lambda f: (f / "model.safetensors").unlink(), r"model: the model's weights or config do not load \(.*no file named"),
    (lambda f: (f / "config.json").write_text("{oops"), r"model/config.json:1:2: invalid JSON"),
    (_other_architecture, r"model/config.json: model_type 'llama', not an OPAL/Osprey model"),
    (_edit_config(hidden_size=64, intermediate_size=128), r"model: \d+ tensor\(s\) of the checkpoint have another shape "
                                                          r"than .*model/config.json gives the model, e.g. lm_head.weight"),
    (lambda f: shutil.rmtree(f / "tokenizer"), r"model: no tokenizer in this folder"),
    (lambda f: (f / "tokenizer" / "tokenizer.json").write_text("{oops"), r"model/tokenizer: no tokenizer loads"),
    (_other_tokenizer, r"model/tokenizer: the tokenizer's <mask> and <pos> are ids .*not the tokenizer the model"),
], ids=["truncated weights", "no weights", "config not JSON", "another architecture", "other sizes", "no tokenizer",
        "tokenizer not JSON", "another tokenizer"])
def test_a_folder_that_is_not_a_saved_model_is_an_input_error_naming_it(tiny, tmp_path, damage, message):
    model, tok, _, _ = tiny
    save_model(model, tok, tmp_path / "model", [])
    val = make_split(tmp_path / "val", 1, 1)
    damage(tmp_path / "model")
    with pytest.raises(InputError, match=message):
        describe_split(tmp_path / "model", val, tmp_path / "pred.jsonl")
    assert not (tmp_path / "pred.jsonl").exists()


def test_a_split_without_regions_is_an_input_error_naming_it(tiny, tmp_path):
    model, tok, _, _ = tiny
    save_model(model, tok, tmp_path / "model", [])
    val = make_split(tmp_path / "val", 2, 1)
    obj = json.loads((val / "panoptic.json").read_text())
    for ann in obj["annotations"]:
        ann["segments_info"] = []
    (val / "panoptic.json").write_text(json.dumps(obj))
    with pytest.raises(InputError, match=f"{val}: split has no segments to describe"):
        describe_split(tmp_path / "model", val, tmp_path / "pred.jsonl")
    assert not (tmp_path / "pred.jsonl").exists()


def test_a_region_given_no_text_gets_no_line_and_the_file_reads_as_the_evaluation_reads_it(described, tmp_path,
                                                                                          monkeypatch):
    root, splits, _ = described
    real = inference.describe_images

    def first_region_silent(*args, **kwargs):  # the model's answer to each batch's first region: no text
        answers = real(*args, **kwargs)
        answers[0][0] = ("", float("nan"))
        return answers

    monkeypatch.setattr(inference, "describe_images", first_region_silent)
    out = tmp_path / "pred.jsonl"
    preds = describe_split(root / "model", splits[0], out, **RESUMED)
    images = split_images(splits[0])
    assert len(preds) == sum(len(im.segment_ids) for im in images) - len(images)  # one batch per image
    assert {(im.image_id, im.segment_ids[0]) for im in images}.isdisjoint((p.image_id, p.segment_id) for p in preds)
    lines = read_split_predictions(out, PanopticSplit.load(splits[0]), gt_segments=True)
    assert [p for _, p in lines] == preds


def test_a_stop_token_is_never_the_first_and_ends_an_answer_after(tiny):
    model, tok, _, _ = tiny
    s = _sampling(model, tok, 0.0, 0)
    logits = torch.zeros(2, model.config.vocab_size)
    logits[:, tok.eos_token_id] = 10.0
    logits[:, 7] = 5.0
    logits[:, tok.bos_token_id] = 20.0  # banned: never drawn
    assert choose_tokens(logits, True, s)[0].tolist() == [7, 7]
    assert choose_tokens(logits, False, s)[0].tolist() == [tok.eos_token_id] * 2
