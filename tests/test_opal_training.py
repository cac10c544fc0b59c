"""OPAL training and inference on tiny models and a small synthetic split: both losses fall,
resumption equals an uninterrupted run, predictions are valid, the contrastive loss improves
region-to-text retrieval over the weight-0 (Osprey) baseline, and Osprey's data formats load."""

from __future__ import annotations

import dataclasses
import json
import math
import signal
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from oeseg.data.panoptic import PanopticSplit
from oeseg.data.predictions import read_predictions
from oeseg.io import InputError
from oeseg.models.data import Collator, RegionDataset, demo_region_records, records_from_source, region_mask
from oeseg.models.inference import describe_split, describe_splits
from oeseg.models.losses import LossWeights
from oeseg.models.job import OpalJob
from oeseg.models.osprey import OpalForCausalLM
from oeseg.models.tokenization import encode_description
from oeseg.models import train as train_module
from oeseg.models.train import (StageSettings, end_process_group, hash_weights, lr_factor, run_stage,
                               stage_fingerprint, stage_records, train_stage)
from oeseg.models.weights import initial_model
from opal_sigterm import child
from opal_synthetic import TINY_MODEL, make_split


def section(**stages):
    base = {"lr": 3e-3, "global_batch": 16, "micro_batch": 8, "epochs": 1}
    return {"model": TINY_MODEL, "llm_tuning": "full", "lora": {"r": 4, "alpha": 8, "dropout": 0.0}, "seed": 0,
            "save_every": 3, "stages": {f"stage{s}": {**base, **stages.get(f"stage{s}", {})} for s in (1, 2, 3)}}


@pytest.fixture(scope="module")
def splits(tmp_path_factory):
    root = tmp_path_factory.mktemp("opal-data")
    return make_split(root / "train", 16, seed=0), make_split(root / "val", 6, seed=1)


def _first_last(history, key, k=3):
    vals = [h[key] for h in history if key in h]
    return sum(vals[:k]) / k, sum(vals[-k:]) / k


def test_lr_schedule_warms_up_then_decays_to_zero():
    f = [lr_factor(s, 100, 0.1) for s in range(100)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(f[9:], f[10:])) and f[-1] < 0.01
    assert lr_factor(55, 100, 0.1) == pytest.approx(0.5 * (1 + math.cos(math.pi * 45 / 90)))


def test_the_weights_hash_runs_on_the_jobs_torch_threads_alike_on_any_count(monkeypatch):
    """hash_weights hashes in as many threads as torch computes on (a rule's `threads`, which
    rule_step sets; at most 8), not in every CPU the process may run on (a local run's whole host),
    and needs no Linux-only call (os.sched_getaffinity); the digest is the same on 1 and on 4."""
    import hashlib

    pools = []

    class Recorded(train_module.ThreadPoolExecutor):
        def __init__(self, max_workers: int) -> None:
            pools.append(max_workers)
            super().__init__(max_workers)

    model = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.LayerNorm(7), torch.nn.Linear(7, 3))
    monkeypatch.setattr(train_module, "ThreadPoolExecutor", Recorded)
    monkeypatch.delattr(train_module.os, "sched_getaffinity", raising=False)
    threads = torch.get_num_threads()
    digests = []
    try:
        for n in (1, 4, 32):
            torch.set_num_threads(n)
            h = hashlib.sha256()
            hash_weights(h, model)
            digests.append(h.hexdigest())
    finally:
        torch.set_num_threads(threads)
    assert pools == [1, 4, 8] and len(set(digests)) == 1


def test_the_weights_hash_covers_a_0_dim_tensor():
    """A 0-dim tensor (BatchNorm's `num_batches_tracked`) is hashed as one element: its value
    changes the digest (torch's view as bytes refuses a 0-dim tensor)."""
    import hashlib

    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 1), torch.nn.BatchNorm2d(2))

    def digest() -> str:
        h = hashlib.sha256()
        hash_weights(h, model)
        return h.hexdigest()

    before = digest()
    model[1].num_batches_tracked += 1
    assert model[1].num_batches_tracked.dim() == 0 and digest() != before


def test_both_losses_fall_in_stage3(splits, tmp_path):
    train, _ = splits
    sec = section(stage3={"max_steps": 12})
    model, tok = initial_model(sec, [t for r in stage_records(sec, 2, [str(train)]) for t in r.descriptions])
    _, history = train_stage(model, stage_records(sec, 3, [str(train)]), tok, StageSettings.from_section(sec, 3),
                             LossWeights(1.0, "sum"), tmp_path / "ckpt")
    gen0, gen1 = _first_last(history, "generative")
    con0, con1 = _first_last(history, "contrastive")
    assert gen1 < 0.8 * gen0, history
    assert con1 < con0, history
    # each step logs the learning rate it trained with
    assert [h["lr"] for h in history] == pytest.approx([3e-3 * lr_factor(s, 12, 0.1) for s in range(12)])


def test_resumed_training_equals_uninterrupted(splits, tmp_path):
    train, _ = splits
    sec = section(stage3={"max_steps": 6})
    sec["llm_tuning"] = "lora"
    texts = [t for r in stage_records(sec, 2, [str(train)]) for t in r.descriptions]
    records = stage_records(sec, 3, [str(train)])
    settings = StageSettings.from_section(sec, 3)

    def fresh():
        return initial_model(sec, texts)

    model, tok = fresh()
    whole, hist_whole = train_stage(model, records, tok, settings, LossWeights(1.0, "alternate"), tmp_path / "a")
    model, tok = fresh()
    _, partial = train_stage(model, records, tok, settings, LossWeights(1.0, "alternate"), tmp_path / "b", stop_after=3)
    assert len(partial) == 3
    model, tok = fresh()  # a new process: same initial model, resumes from tmp_path/b/last.pt
    resumed, hist_resumed = train_stage(model, records, tok, settings, LossWeights(1.0, "alternate"), tmp_path / "b")
    assert [h["step"] for h in hist_resumed] == list(range(6))
    for a, b in zip(hist_whole, hist_resumed):
        assert a.keys() == b.keys() and all(a[k] == pytest.approx(b[k], rel=1e-5) for k in a)
    sw, sr = whole.state_dict(), resumed.state_dict()
    assert sw.keys() == sr.keys() and not any("lora_" in k for k in sw)  # LoRA merged at the end
    for k in sw:
        assert torch.allclose(sw[k], sr[k], atol=1e-6), k


@pytest.mark.slow
def test_compiled_decoder_layers_train_like_eager_ones(splits, tmp_path):
    """`compile: true` (each LLM decoder layer through torch.compile, shapes changing from batch
    to batch) gives the eager run's losses, fp32, in LoRA stage 3 with the released alternation."""
    train, _ = splits
    sec = section(stage3={"max_steps": 4, "micro_batch": 4})
    sec["llm_tuning"] = "lora"
    texts = [t for r in stage_records(sec, 2, [str(train)]) for t in r.descriptions]
    records = stage_records(sec, 3, [str(train)])
    histories = {}
    torch._dynamo.reset()
    for compiled in (False, True):
        settings = StageSettings.from_section({**sec, "compile": compiled}, 3)
        assert settings.compile is compiled
        model, tok = initial_model(sec, texts)
        _, histories[compiled] = train_stage(model, records, tok, settings, LossWeights(1.0, "alternate"),
                                             tmp_path / str(compiled))
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] > 0  # the compiled run did compile
    eager, compiled = histories[False], histories[True]
    assert len(eager) == len(compiled) == 4 and {"generative", "contrastive"} <= {k for h in eager for k in h}
    for a, b in zip(eager, compiled):
        assert a.keys() == b.keys() and all(a[k] == pytest.approx(b[k], rel=1e-4) for k in a), (a, b)
    torch._dynamo.reset()


def test_checkpoints_of_another_job_are_not_resumed(splits, tmp_path):
    """A checkpoint folder left by a run with other initial weights (e.g. another vision tower)
    or other settings is not resumed: the stage trains from step 0, as in an empty folder."""
    train, _ = splits
    sec = section(stage2={"max_steps": 4})
    texts = [t for r in stage_records(sec, 2, [str(train)]) for t in r.descriptions]
    records, settings = stage_records(sec, 2, [str(train)]), StageSettings.from_section(sec, 2)

    def other_tower():
        model, tok = initial_model(sec, texts)
        with torch.no_grad():
            for p in model.model.vision_tower.parameters():
                p.mul_(0.5)
        return model, tok

    model, tok = other_tower()
    _, earlier = train_stage(model, records, tok, settings, LossWeights(1.0), tmp_path / "ckpt")
    stale = [d for d in (tmp_path / "ckpt").iterdir() if d.is_dir()]
    assert len(earlier) == 4 and len(stale) == 1 and (stale[0] / "last.pt").exists()
    model, tok = initial_model(sec, texts)
    _, again = train_stage(model, records, tok, settings, LossWeights(1.0), tmp_path / "ckpt")
    model, tok = initial_model(sec, texts)
    _, fresh = train_stage(model, records, tok, settings, LossWeights(1.0), tmp_path / "empty")
    assert [h["step"] for h in again] == [0, 1, 2, 3] and again == fresh
    assert again[0]["loss"] != pytest.approx(earlier[0]["loss"], rel=1e-6)
    assert not stale[0].exists()  # the other job's checkpoints are removed
    model, tok = initial_model(sec, texts)
    _, lr_changed = train_stage(model, records, tok, StageSettings.from_section(section(stage2={"max_steps": 4, "lr": 1e-3}), 2),
                                LossWeights(1.0), tmp_path / "ckpt")
    assert [h["step"] for h in lr_changed] == [0, 1, 2, 3]


def test_a_model_config_that_the_weights_do_not_show_is_another_job(splits):
    """The model's config is part of the fingerprint: another image size, norm epsilon or activation
    leaves the weights' shapes and values as they were but is another job, not resumed."""
    train, _ = splits
    texts = [t for r in stage_records(section(), 2, [str(train)]) for t in r.descriptions]

    def fingerprint(**model_keys):
        sec = section()
        sec["model"] = {**TINY_MODEL, **model_keys}
        model, tok = initial_model(sec, texts)
        return stage_fingerprint(model, stage_records(sec, 1, [str(train)]), tok, StageSettings.from_section(sec, 1),
                                 LossWeights(1.0))

    base = fingerprint()
    assert base == fingerprint()
    assert len({base, fingerprint(image_size=32), fingerprint(rms_norm_eps=1e-3), fingerprint(hidden_act="gelu")}) == 4


@pytest.mark.parametrize("damage", ["truncated", "empty", "no scheduler"])
def test_a_checkpoint_that_does_not_load_is_an_input_error_naming_it(splits, tmp_path, damage):
    """A `last.pt` cut short, empty or missing a part is an InputError naming it and the folder to
    remove, neither a bare unpickling error nor a resumption with part of the state."""
    train, _ = splits
    sec = section(stage2={"max_steps": 2})
    texts = [t for r in stage_records(sec, 2, [str(train)]) for t in r.descriptions]
    records, settings = stage_records(sec, 2, [str(train)]), StageSettings.from_section(sec, 2)
    model, tok = initial_model(sec, texts)
    train_stage(model, records, tok, settings, LossWeights(1.0), tmp_path / "ckpt", stop_after=1)
    (job,) = (tmp_path / "ckpt").iterdir()
    data = (job / "last.pt").read_bytes()
    if damage == "no scheduler":
        state = torch.load(job / "last.pt", weights_only=False)
        del state["scheduler"]
        torch.save(state, job / "last.pt")
    else:
        (job / "last.pt").write_bytes(data[:len(data) // 2] if damage == "truncated" else b"")
    model, tok = initial_model(sec, texts)
    with pytest.raises(InputError, match=rf"^{job}/last\.pt: the stage's checkpoint does not load .*; remove {job} "):
        train_stage(model, records, tok, settings, LossWeights(1.0), tmp_path / "ckpt")


def test_a_finished_stage_removes_its_checkpoints_so_a_rerun_trains_anew(splits, tmp_path, caplog):
    """The checkpoints' fingerprint does not cover the code: once the model is saved the stage's
    checkpoint folder goes, and a rerun (say after a code fix) trains every step again."""
    train, _ = splits
    job = OpalJob(section(stage1={"max_steps": 2}), 1, [str(train)], None, str(tmp_path / "s1"),
                  str(tmp_path / "ckpt"), 0.0)
    first = run_stage(job)
    assert [h["step"] for h in first] == [0, 1] and (tmp_path / "s1" / "model.safetensors").exists()
    assert not (tmp_path / "ckpt").exists()
    (tmp_path / "ckpt.removing" / "x").mkdir(parents=True)  # left by a removal cut short
    with caplog.at_level("INFO", logger="oeseg.opal"):
        again = run_stage(job)
    assert again == first and "resumed" not in caplog.text and "step 2/2" in caplog.text
    assert not (tmp_path / "ckpt").exists() and not (tmp_path / "ckpt.removing").exists()


def test_the_fallback_tokenizer_knows_the_words_of_grouped_records(splits, tmp_path):
    """Without opal.model.tokenizer_path the demo tokenizer is built from the stage-2 samples'
    descriptions; grouped samples (opal.demo_samples) keep theirs per region."""
    from oeseg.models.data import demo_region_records
    from oeseg.models.pretrain import description_texts
    from oeseg.models.tokenization import build_demo_tokenizer
    from oeseg.models.weights import load_model

    train, _ = splits
    sec = {**section(stage1={"max_steps": 1}), "demo_samples": {"regions_per_sample": 64, "shuffle_regions": True}}
    assert all(r.turn_per_region and not r.descriptions for r in stage_records(sec, 2, [str(train)]))
    run_stage(OpalJob(sec, 1, [str(train)], None, str(tmp_path / "s1"), str(tmp_path / "c1"), 0.0))
    _, tok = load_model(tmp_path / "s1")
    texts = [t for r in demo_region_records(train) for t in r.descriptions]
    assert all(tok.unk_token_id not in tok(t, add_special_tokens=False)["input_ids"] for t in texts)
    assert tok.get_vocab() == build_demo_tokenizer(description_texts([str(train)])).get_vocab()


def test_a_global_batch_beyond_the_samples_is_an_input_error(splits, tmp_path):
    train, _ = splits
    sec = {**section(stage2={"global_batch": 32}), "demo_samples": {"regions_per_sample": 64}}
    records = stage_records(sec, 2, [str(train)])  # one sample per image: 16
    model, tok = initial_model(sec, [t for r in stage_records(section(), 2, [str(train)]) for t in r.descriptions])
    with pytest.raises(InputError, match=r"opal\.stages\.stage2\.global_batch: 32 is more than the stage's 16 "):
        train_stage(model, records, tok, StageSettings.from_section(sec, 2), LossWeights(1.0), tmp_path / "ckpt")


def test_three_stages_then_inference_writes_valid_predictions(splits, tmp_path):
    train, val = splits
    sec = section(stage1={"max_steps": 2}, stage2={"max_steps": 2}, stage3={"max_steps": 2})
    prev = None
    for stage in (1, 2, 3):
        out = tmp_path / f"stage{stage}"
        history = run_stage(OpalJob(sec, stage, [str(train)], prev, str(out), str(tmp_path / f"ckpt{stage}"),
                                     1.0 if stage > 1 else 0.0))
        assert len(history) == 2 and (out / "config.json").exists() and (out / "train_log.jsonl").exists()
        assert ("contrastive" in history[0]) == (stage > 1)
        prev = str(out)
    # each stage starts from the one before: stage 2 leaves the projector frozen, so it keeps stage 1's
    # trained projector, not a fresh model's
    from safetensors.torch import load_file

    projector = [{k: v for k, v in load_file(tmp_path / f"stage{n}" / "model.safetensors").items()
                  if k.startswith("model.mm_projector.")} for n in (1, 2)]
    fresh, _ = initial_model(sec, [t for r in stage_records(sec, 2, [str(train)]) for t in r.descriptions])
    assert projector[0] and all(torch.equal(projector[0][k], projector[1][k]) for k in projector[0])
    assert not all(torch.equal(v, fresh.state_dict()[k]) for k, v in projector[0].items())
    path = tmp_path / "pred.jsonl"
    describe_split(prev, val, path, seed=0, temperature=0.2, batch_size=5, max_new_tokens=4)
    preds = read_predictions(path)
    split = PanopticSplit.load(val)
    want = [(im.id, s.id) for im in split.images for s in im.segments]
    assert [(p.image_id, p.segment_id) for p in preds] == want
    assert all(p.description and p.score <= 0 for p in preds)
    again = tmp_path / "again.jsonl"
    describe_split(prev, val, again, seed=0, temperature=0.2, batch_size=5, max_new_tokens=4)
    assert again.read_text() == path.read_text()  # seeded sampling is reproducible
    # several splits with the model loaded once: each as if described alone (the draws restart)
    both = describe_splits(prev, {val: tmp_path / "a.jsonl", train: tmp_path / "b.jsonl"}, seed=0, temperature=0.2,
                           batch_size=5, max_new_tokens=4)
    assert (tmp_path / "a.jsonl").read_text() == path.read_text() and both[0] == preds
    describe_split(prev, train, tmp_path / "b-alone.jsonl", seed=0, temperature=0.2, batch_size=5, max_new_tokens=4)
    assert (tmp_path / "b.jsonl").read_text() == (tmp_path / "b-alone.jsonl").read_text()


@torch.no_grad()
def region_text_retrieval(model: OpalForCausalLM, tokenizer, split_dir: Path, batch_size: int = 32) -> float:
    """Top-1 accuracy of retrieving a region's first reference description among all the split's
    first descriptions, by cosine similarity of mask token and text embedding."""
    records = demo_region_records(split_dir)
    names = sorted({r.descriptions[0] for r in records})
    pad = tokenizer.pad_token_id
    ids = [encode_description(tokenizer, n, 10**9) for n in names]
    lengths = torch.tensor([len(x) for x in ids])
    text = model.text_embeddings(torch.nn.utils.rnn.pad_sequence(ids, batch_first=True, padding_value=pad),
                                 (torch.arange(int(lengths.max()))[None] < lengths[:, None]).long())
    dataset = RegionDataset(records, model.config.image_size)
    collate = Collator(tokenizer, model.config.image_tokens, 10**9)  # only its images and masks are read
    hits = 0
    for start in range(0, len(dataset), batch_size):
        idx = range(start, min(start + batch_size, len(dataset)))
        batch = collate([dataset[i] for i in idx])
        _, feats = model.encode_images(batch["images"])
        regions = torch.cat(model.mask_extractor(feats, batch["masks"])[0])
        best = (F.normalize(regions, dim=-1) @ F.normalize(text, dim=-1).T).argmax(1)
        hits += sum(names[int(b)] == records[i].descriptions[0] for b, i in zip(best, idx))
    return hits / len(records)


@pytest.mark.slow
def test_contrastive_loss_raises_region_text_retrieval(splits, tmp_path):
    train, val = splits
    sec = section(stage2={"max_steps": 30, "lr": 5e-3, "micro_batch": 16})
    texts = [t for r in stage_records(sec, 2, [str(train)]) for t in r.descriptions]
    scores = {}
    for weight in (0.0, 1.0):
        model, tok = initial_model(sec, texts)
        model, _ = train_stage(model, stage_records(sec, 2, [str(train)]), tok, StageSettings.from_section(sec, 2),
                               LossWeights(weight, "sum"), tmp_path / f"w{weight}")
        scores[weight] = region_text_retrieval(model, tok, val)
    assert scores[1.0] >= 0.7 and scores[1.0] > scores[0.0] + 0.3, scores


@pytest.mark.slow
def test_contrastive_loss_raises_retrieval_on_the_demo_generators_val_split(tmp_path):
    """On the demo's own data (demo-city from the synthetic generator): each val region retrieves its
    first reference description among all distinct val descriptions, by mask token vs text embedding."""
    from oeseg.data.synthetic import generate_split
    from oeseg.data.vocabularies import DEMO_CITY

    train, val = tmp_path / "train", tmp_path / "val"
    generate_split(train, DEMO_CITY, "train", 16, (96, 192), seed=1)
    generate_split(val, DEMO_CITY, "val", 4, (96, 192), seed=1)
    chance = 1 / len({r.descriptions[0] for r in demo_region_records(val)})
    sec = section(stage2={"max_steps": 300, "lr": 5e-3, "micro_batch": 16})
    records = stage_records(sec, 2, [str(train)])
    scores = {}
    for weight in (0.0, 1.0):
        model, tok = initial_model(sec, [t for r in records for t in r.descriptions])
        model, _ = train_stage(model, records, tok, StageSettings.from_section(sec, 2), LossWeights(weight, "sum"),
                               tmp_path / f"w{weight}")
        scores[weight] = region_text_retrieval(model, tok, val)
    assert scores[1.0] >= 4 * chance and scores[1.0] > scores[0.0] + 0.07, (scores, chance)


def test_osprey_annotation_formats(tmp_path):
    from PIL import Image

    Image.new("RGB", (20, 10)).save(tmp_path / "000000000009.jpg")
    coco = {"images": [{"id": 9, "file_name": "000000000009.jpg", "height": 10, "width": 20}],
            "categories": [{"id": 3, "name": "car"}],
            "annotations": [{"id": 1, "image_id": 9, "category_id": 3, "segmentation": [[2, 2, 8, 2, 8, 6, 2, 6]]}]}
    (tmp_path / "coco.json").write_text(json.dumps(coco))
    osprey = [{"id": 5, "file_name": "COCO_train2014_000000000009.jpg", "height": 10, "width": 20,
               "annotation": [{"segmentation": [[2, 2, 8, 2, 8, 6, 2, 6]]}],
               "description": ["<region1>: A small red car parked."]}]
    (tmp_path / "osprey.json").write_text(json.dumps(osprey))
    llava = [{"id": "x", "image": "000000000009.jpg", "conversations": [{"from": "human", "value": "<image>\n"},
                                                                      {"from": "gpt", "value": "a street"}]}]
    (tmp_path / "llava.json").write_text(json.dumps(llava))
    root = str(tmp_path)
    (c,) = records_from_source({"format": "coco_instances", "ann_file": root + "/coco.json", "image_root": root})
    (o,) = records_from_source({"format": "osprey_description", "ann_file": root + "/osprey.json", "image_root": root})
    (llava,) = records_from_source({"format": "llava_captions", "ann_file": root + "/llava.json", "image_root": root})
    assert c.descriptions == ("car",) and o.descriptions == ("A small red car parked.",) and llava.descriptions == ("a street",)
    assert o.image_path == c.image_path
    m = region_mask(o)
    assert m.shape == (10, 20) and m[3:6, 3:8].all() and not m[8:].any() and int(m.sum()) == int(region_mask(c).sum())
    (tmp_path / "bad.json").write_text(json.dumps([{"file_name": "a.jpg"}]))
    with pytest.raises(InputError, match="bad.json"):
        records_from_source({"format": "osprey_description", "ann_file": root + "/bad.json", "image_root": root})


def test_bad_osprey_annotations_are_input_errors_naming_file_and_entry(tmp_path):
    """Polygons that all lie outside their image (no pixel to describe), a file that is not a list of
    entries, and a source that gives no sample are errors naming the file (and the entry); a
    polygon partly outside is clipped, as pycocotools clips it."""
    from PIL import Image

    Image.new("RGB", (20, 10)).save(tmp_path / "000000000009.jpg")
    root = str(tmp_path)
    entry = {"id": 5, "file_name": "COCO_train2014_000000000009.jpg", "height": 10, "width": 20,
             "annotation": [{"segmentation": [[2, 2, 8, 2, 8, 6, 2, 6]]}], "description": ["<region1>: A car."]}
    conversation = {**{k: v for k, v in entry.items() if k != "description"},
                    "conversations": [{"from": "human", "value": "<image>\nWhat is <region1>?"},
                                      {"from": "gpt", "value": "a car"}]}

    def source(name, value, kind="osprey_description"):
        (tmp_path / name).write_text(json.dumps(value))
        return records_from_source({"format": kind, "ann_file": f"{root}/{name}", "image_root": root},
                                   "opal.data.stage3[1]")

    outside = [{"segmentation": [[30, 30, 40, 30, 40, 40, 30, 40]]}]
    for kind, good in (("osprey_description", entry), ("osprey_conversation", conversation)):
        with pytest.raises(InputError, match=r"out\.json: entry 1: segmentation: its polygons lie outside the 20x10 "):
            source("out.json", [good, {**good, "annotation": outside}], kind)
    (partly,) = source("partly.json", [{**entry, "annotation": [{"segmentation": [[15, 5, 40, 5, 40, 40, 15, 40]]}]}])
    assert int(region_mask(partly).sum()) == 25
    with pytest.raises(InputError, match=r"dict\.json: a list of entries expected, not a JSON dict"):
        source("dict.json", {"annotations": [entry]})
    with pytest.raises(InputError, match=rf"^opal\.data\.stage3\[1\]: {root}/empty\.json gives no training sample"):
        source("empty.json", [])


LAUNCHER_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


def cpu_deepspeed_config(tmp_path: Path, **edits: dict) -> Path:
    """The repository's ZeRO-2 config for the CPU (bf16 off: the CPU has no fast bf16 path), each
    section of `edits` updated, written under `tmp_path`."""
    zero2 = json.loads((Path(__file__).resolve().parents[1] / "configs/deepspeed/zero2.json").read_text())
    zero2["bf16"]["enabled"] = False
    for key, value in edits.items():
        zero2[key].update(value)
    cfg = tmp_path / "zero2-cpu.json"
    cfg.write_text(json.dumps(zero2))
    return cfg


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.is_available(), reason="on a GPU, tests/test_opal_gpu.py runs this path in bf16")
def test_deepspeed_zero2_path_matches_plain_loop_and_resumes(splits, tmp_path, monkeypatch):
    """The GPU code path (DeepSpeed ZeRO-2 engine, its checkpoints) run on the CPU in fp32."""
    import torch.distributed as dist

    train, _ = splits
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        monkeypatch.setenv("MASTER_PORT", str(s.getsockname()[1]))
    for k, v in {"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0"}.items():
        monkeypatch.setenv(k, v)
    dist.init_process_group("gloo")
    try:
        cfg = cpu_deepspeed_config(tmp_path)
        sec = section(stage2={"max_steps": 4, "micro_batch": 8})
        texts = [t for r in stage_records(sec, 2, [str(train)]) for t in r.descriptions]
        records, settings = stage_records(sec, 2, [str(train)]), StageSettings.from_section(sec, 2)
        model, tok = initial_model(sec, texts)
        _, plain = train_stage(model, records, tok, settings, LossWeights(1.0), tmp_path / "plain")
        model, tok = initial_model(sec, texts)
        _, part = train_stage(model, records, tok, settings, LossWeights(1.0), tmp_path / "ds", str(cfg),
                              stop_after=2, use_deepspeed=True)
        model, tok = initial_model(sec, texts)
        _, ds = train_stage(model, records, tok, settings, LossWeights(1.0), tmp_path / "ds", str(cfg),
                            use_deepspeed=True)
    finally:
        end_process_group()  # with DeepSpeed's references: the next test's engine starts clean
    assert len(part) == 2 and [h["step"] for h in ds] == [0, 1, 2, 3]
    for a, b in zip(plain, ds):
        assert a["lr"] == pytest.approx(b["lr"])
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-4), (plain, ds)


def _deepspeed_stage2(splits, tmp_path: Path, monkeypatch, max_steps: int) -> tuple[Path, dict, list, list, StageSettings]:
    """(DeepSpeed config, section, texts, records, settings) of a stage 2 of `max_steps` steps on the
    train split, run as a workflow job runs it (no launcher's variables)."""
    for key in LAUNCHER_ENV:
        monkeypatch.delenv(key, raising=False)
    sec = section(stage2={"max_steps": max_steps})
    records = stage_records(sec, 2, [str(splits[0])])
    texts = [t for r in records for t in r.descriptions]
    return cpu_deepspeed_config(tmp_path), sec, texts, records, StageSettings.from_section(sec, 2)


@pytest.mark.skipif(torch.cuda.is_available(), reason="on a GPU, tests/test_opal_gpu.py runs this path")
def test_deepspeed_in_this_process_needs_no_launcher_and_keeps_only_its_newest_checkpoint(splits, tmp_path,
                                                                                          monkeypatch):
    """DeepSpeed in a stage run in this process (no launcher's RANK, MASTER_ADDR, ...): a process
    group of its own for the run, gone after; each checkpoint under a new tag, which `latest` names
    once written, the older tags removed; a new start resumes from the newest."""
    import os

    import torch.distributed as dist

    # checkpoints at steps 3 and 4 (save_every 3), and where stopped
    cfg, sec, texts, records, settings = _deepspeed_stage2(splits, tmp_path, monkeypatch, max_steps=4)

    def tags() -> tuple[str, list[str]]:
        (job,) = (tmp_path / "ds").iterdir()
        return (job / "latest").read_text(), sorted(d.name for d in job.iterdir() if d.is_dir())

    model, tok = initial_model(sec, texts)
    _, part = train_stage(model, records, tok, settings, LossWeights(1.0), tmp_path / "ds", str(cfg), stop_after=2,
                          use_deepspeed=True)
    assert not dist.is_initialized() and not any(key in os.environ for key in LAUNCHER_ENV)
    assert len(part) == 2 and tags() == ("step2", ["step2"])
    model, tok = initial_model(sec, texts)
    _, whole = train_stage(model, records, tok, settings, LossWeights(1.0), tmp_path / "ds", str(cfg),
                           use_deepspeed=True)
    assert [h["step"] for h in whole] == [0, 1, 2, 3] and whole[:2] == part and tags() == ("step4", ["step4"])
    assert not dist.is_initialized()


@pytest.mark.skipif(torch.cuda.is_available(), reason="on a GPU, tests/test_opal_gpu.py runs this path")
def test_a_deepspeed_checkpoint_that_does_not_load_is_an_input_error_naming_it(splits, tmp_path, monkeypatch):
    """DeepSpeed's `latest` naming no tag folder, or a tag's file cut short: an InputError naming it
    and the folder to remove (DeepSpeed itself raises a bare AssertionError or an unpickling error)."""
    cfg, sec, texts, records, settings = _deepspeed_stage2(splits, tmp_path, monkeypatch, max_steps=2)
    run = {"deepspeed_config": str(cfg), "use_deepspeed": True}
    model, tok = initial_model(sec, texts)
    train_stage(model, records, tok, settings, LossWeights(1.0), tmp_path / "ds", stop_after=1, **run)
    (job,) = (tmp_path / "ds").iterdir()
    (job / "latest").write_text("")
    model, tok = initial_model(sec, texts)
    with pytest.raises(InputError, match=rf"^{job}/latest: .*it names '', .*; remove {job} to train the stage anew"):
        train_stage(model, records, tok, settings, LossWeights(1.0), tmp_path / "ds", **run)
    (job / "latest").write_text("step1")
    (states,) = (job / "step1").glob("*optim_states.pt")
    states.write_bytes(states.read_bytes()[:100])
    model, tok = initial_model(sec, texts)
    with pytest.raises(InputError, match=rf"^{job}/step1: the stage's checkpoint does not load "):
        train_stage(model, records, tok, settings, LossWeights(1.0), tmp_path / "ds", **run)


#: one of two DeepSpeed processes (gloo) of a stage 2 saving every step; rank 1 dies while it writes
#: its optimizer shard of step 2, after rank 0 has written all of its own files
DEEPSPEED_PROCESS_DYING_IN_SAVE = """
import json, os, sys
import torch.distributed as dist
from deepspeed.runtime.engine import DeepSpeedEngine
from oeseg.models.losses import LossWeights
from oeseg.models.train import StageSettings, stage_records, train_stage
from oeseg.models.weights import initial_model
sec, split, cfg, out = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
if os.environ["RANK"] == "1":
    save = DeepSpeedEngine._save_zero_checkpoint
    def dying(self, save_dir, tag):
        if tag == "step2":
            os._exit(9)
        return save(self, save_dir, tag)
    DeepSpeedEngine._save_zero_checkpoint = dying
dist.init_process_group("gloo")
records = stage_records(sec, 2, [split])
model, tok = initial_model(sec, [t for r in records for t in r.descriptions])
train_stage(model, records, tok, StageSettings.from_section(sec, 2), LossWeights(1.0), out, cfg, use_deepspeed=True)
"""


@pytest.mark.skipif(torch.cuda.is_available(), reason="the CPU (gloo) form of a two-GPU run")
def test_a_deepspeed_process_dying_in_a_save_leaves_latest_naming_the_last_whole_checkpoint(splits, tmp_path):
    """Two DeepSpeed processes, rank 1 killed while it writes step 2's optimizer shard: `latest`
    still names step 1, whose files are all there (DeepSpeed's own `latest`, written by rank 0
    before the other ranks' files, would name step 2, which does not load). A rerun in one process
    is told that two wrote the checkpoint."""
    import os
    import socket

    sec = section(stage2={"max_steps": 3})
    sec["save_every"] = 1
    cfg = cpu_deepspeed_config(tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ranks = [child(DEEPSPEED_PROCESS_DYING_IN_SAVE, json.dumps(sec), str(splits[0]), str(cfg), str(tmp_path / "ds"),
                   env={**os.environ, "RANK": str(rank), "WORLD_SIZE": "2", "LOCAL_RANK": str(rank),
                        "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}) for rank in (0, 1)]
    try:
        stderr = [process.communicate(timeout=180)[1] for process in ranks]
    finally:
        for process in ranks:
            process.kill()  # rank 0 left waiting for rank 1 in the save's barrier
    assert ranks[1].returncode == 9 and ranks[0].returncode != 0, [e[-2000:] for e in stderr]
    (job,) = (tmp_path / "ds").iterdir()
    assert (job / "latest").read_text() == "step1"
    assert len(list((job / "step1").glob("*optim_states.pt"))) == 2  # both ranks' shards
    # one process cannot resume ZeRO's two optimizer shards: said so, not DeepSpeed's exception
    records = stage_records(sec, 2, [str(splits[0])])
    model, tok = initial_model(sec, [t for r in records for t in r.descriptions])
    with pytest.raises(InputError, match=rf"^{job}/step1: the stage's checkpoint was written by 2 processes "
                                         r"\(GPUs\) and this run has 1: rerun with 2 .*"
                                         rf"or remove {job} to train the stage anew$"):
        train_stage(model, records, tok, StageSettings.from_section(sec, 2), LossWeights(1.0), tmp_path / "ds",
                    str(cfg), use_deepspeed=True)


def _lora_dropout_stage(splits, tmp_path: Path, monkeypatch, use_deepspeed: bool) -> tuple[Path, str | None, dict]:
    """(train split, DeepSpeed config or None, section) of a 4-step stage 3 with LoRA dropout, run
    as a workflow job runs it (no launcher's variables); on a GPU tests/test_opal_gpu.py runs the
    DeepSpeed path."""
    if use_deepspeed and torch.cuda.is_available():
        pytest.skip("on a GPU, tests/test_opal_gpu.py runs this path")
    for key in LAUNCHER_ENV:
        monkeypatch.delenv(key, raising=False)
    sec = section(stage3={"max_steps": 4})
    sec["llm_tuning"], sec["lora"] = "lora", {"r": 4, "alpha": 8, "dropout": 0.3}
    return splits[0], str(cpu_deepspeed_config(tmp_path)) if use_deepspeed else None, sec


@pytest.mark.parametrize("use_deepspeed", [False, True], ids=["plain", "deepspeed"])
def test_resumed_training_with_lora_dropout_equals_uninterrupted(splits, tmp_path, monkeypatch, use_deepspeed):
    """With LoRA dropout the random state is part of a checkpoint: a stage stopped after 2 steps
    and resumed in a new start (its initial model drawn anew) trains as one run straight through."""
    train, cfg, sec = _lora_dropout_stage(splits, tmp_path, monkeypatch, use_deepspeed)
    texts = [t for r in stage_records(sec, 2, [str(train)]) for t in r.descriptions]
    records, settings = stage_records(sec, 3, [str(train)]), StageSettings.from_section(sec, 3)
    run = {"deepspeed_config": cfg, "use_deepspeed": use_deepspeed}
    model, tok = initial_model(sec, texts)
    _, whole = train_stage(model, records, tok, settings, LossWeights(1.0), tmp_path / "a", **run)
    model, tok = initial_model(sec, texts)
    _, part = train_stage(model, records, tok, settings, LossWeights(1.0), tmp_path / "b", stop_after=2, **run)
    torch.manual_seed(1234)  # a new process draws other random numbers before it resumes
    model, tok = initial_model(sec, texts)
    torch.rand(100)
    _, resumed = train_stage(model, records, tok, settings, LossWeights(1.0), tmp_path / "b", **run)
    assert len(part) == 2 and [h["step"] for h in resumed] == [0, 1, 2, 3]
    for a, b in zip(whole, resumed):
        assert a.keys() == b.keys() and all(a[k] == pytest.approx(b[k], rel=1e-5) for k in a), (whole, resumed)


#: a child process training stage 3 of a section, SIGTERM arriving during a given step
STAGE3_UNTIL_SIGTERM = """
import json, sys
from oeseg.models.losses import LossWeights
from oeseg.models.train import StageSettings, stage_records, train_stage
from oeseg.models.weights import initial_model
from opal_sigterm import sigterm_during_step
sec, train, checkpoints, cfg, signalled = json.loads(sys.argv[1])
sigterm_during_step(signalled)
model, tok = initial_model(sec, [t for r in stage_records(sec, 2, [train]) for t in r.descriptions])
train_stage(model, stage_records(sec, 3, [train]), tok, StageSettings.from_section(sec, 3), LossWeights(1.0),
            checkpoints, cfg, use_deepspeed=cfg is not None)
"""


@pytest.mark.parametrize("use_deepspeed", [False, True], ids=["plain", "deepspeed"])
def test_sigterm_checkpoints_the_step_reached_and_the_rerun_trains_as_one_run(splits, tmp_path, monkeypatch,
                                                                              caplog, use_deepspeed):
    """SIGTERM (a SLURM time limit, preemption, scancel) during step 1 of 4: the step ends, the stage
    checkpoints step 2 (save_every is 3), says so and fails; a rerun resumes there and trains as one
    run straight through (losses and weights; LoRA dropout: the random states are saved too)."""
    train, cfg, sec = _lora_dropout_stage(splits, tmp_path, monkeypatch, use_deepspeed)
    process = child(STAGE3_UNTIL_SIGTERM, json.dumps([sec, str(train), str(tmp_path / "b"), cfg, 1]))
    try:
        _, stderr = process.communicate(timeout=120)
    finally:
        process.kill()  # where the test fails by its running on
    assert process.returncode == 1, stderr[-3000:]
    assert "stage 3: stopped by SIGTERM at step 2/4, its checkpoint saved in " in stderr
    assert "a rerun resumes from here" in stderr and "TrainingStopped" in stderr
    (job,) = (tmp_path / "b").iterdir()
    if use_deepspeed:
        assert (job / "latest").read_text() == "step2"
        assert sorted(d.name for d in job.iterdir() if d.is_dir()) == ["step2"]
    else:
        assert torch.load(job / "last.pt", weights_only=False)["step"] == 2
    texts = [t for r in stage_records(sec, 2, [str(train)]) for t in r.descriptions]
    records, settings = stage_records(sec, 3, [str(train)]), StageSettings.from_section(sec, 3)
    run = {"deepspeed_config": cfg, "use_deepspeed": use_deepspeed}
    handler = signal.getsignal(signal.SIGTERM)
    model, tok = initial_model(sec, texts)
    with caplog.at_level("INFO", logger="oeseg.opal"):
        resumed_model, resumed = train_stage(model, records, tok, settings, LossWeights(1.0), tmp_path / "b", **run)
    assert f"stage 3: resumed at step 2 from {job}" in caplog.text
    assert signal.getsignal(signal.SIGTERM) == handler  # the stage put back the handler it found
    model, tok = initial_model(sec, texts)
    whole_model, whole = train_stage(model, records, tok, settings, LossWeights(1.0), tmp_path / "a", **run)
    assert [h["step"] for h in resumed] == [0, 1, 2, 3]
    for a, b in zip(whole, resumed):
        assert a.keys() == b.keys() and all(a[k] == pytest.approx(b[k], rel=1e-5) for k in a), (whole, resumed)
    sw, sr = whole_model.state_dict(), resumed_model.state_dict()
    assert sw.keys() == sr.keys()
    for k in sw:
        assert torch.allclose(sw[k], sr[k], atol=1e-6), k


def test_the_sigterm_handler_is_set_in_the_main_thread_and_put_back_after():
    """`sigterm_handler` replaces SIGTERM's handler within the context, even one left by an error,
    and changes nothing in another thread (where Python cannot set one)."""
    import threading

    from oeseg.workflow import sigterm_handler

    def noted(signum, frame):
        return None

    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(ZeroDivisionError), sigterm_handler(noted):
        assert signal.getsignal(signal.SIGTERM) is noted
        1 / 0
    assert signal.getsignal(signal.SIGTERM) == before
    seen = []

    def in_a_thread():
        with sigterm_handler(noted):
            seen.append(signal.getsignal(signal.SIGTERM))

    thread = threading.Thread(target=in_a_thread)
    thread.start()
    thread.join()
    assert seen == [before]


@pytest.mark.skipif(torch.cuda.is_available(), reason="on a GPU the plain loop is not the default")
def test_an_edited_deepspeed_config_is_another_job_but_not_for_the_plain_loop(splits, tmp_path, monkeypatch):
    """DeepSpeed's config is part of a DeepSpeed job's fingerprint: once edited, the checkpoints of
    the old config are not resumed. A job without DeepSpeed (the CPU demo) keeps its fingerprint,
    whatever the file says."""
    cfg, sec, texts, records, settings = _deepspeed_stage2(splits, tmp_path, monkeypatch, max_steps=4)
    model, tok = initial_model(sec, texts)
    plain = stage_fingerprint(model, records, tok, settings, LossWeights(1.0))
    _, part = train_stage(model, records, tok, settings, LossWeights(1.0), tmp_path / "plain", str(cfg),
                          stop_after=1, use_deepspeed=False)
    assert [d.name for d in (tmp_path / "plain").iterdir()] == [plain[:16]]
    model, tok = initial_model(sec, texts)
    _, part = train_stage(model, records, tok, settings, LossWeights(1.0), tmp_path / "ds", str(cfg), stop_after=2,
                          use_deepspeed=True)
    (first,) = (tmp_path / "ds").iterdir()
    assert len(part) == 2 and first.name != plain[:16]
    cpu_deepspeed_config(tmp_path, zero_optimization={"reduce_bucket_size": 1000})
    model, tok = initial_model(sec, texts)
    _, again = train_stage(model, records, tok, settings, LossWeights(1.0), tmp_path / "ds", str(cfg), stop_after=1,
                           use_deepspeed=True)
    (second,) = (tmp_path / "ds").iterdir()
    assert [h["step"] for h in again] == [0] and second.name != first.name  # trained anew, the old job's gone


def test_fixed_text_targets_are_another_job(splits):
    """`text_gradient: false` trains otherwise, so its checkpoints are another job's (the default,
    true, is left out of the hash so that configs which do not name it keep their checkpoints)."""
    train, _ = splits
    sec = section(stage2={"max_steps": 4})
    records, settings = stage_records(sec, 2, [str(train)]), StageSettings.from_section(sec, 2)
    model, tok = initial_model(sec, [t for r in records for t in r.descriptions])
    default = stage_fingerprint(model, records, tok, settings, LossWeights(1.0))
    assert stage_fingerprint(model, records, tok, settings, LossWeights(1.0, text_gradient=False)) != default
    # where a record's annotation is (named in errors) is not what it trains: the same job
    moved = [dataclasses.replace(r, origin=f"elsewhere.json: entry {k}") for k, r in enumerate(records)]
    assert stage_fingerprint(model, moved, tok, settings, LossWeights(1.0)) == default


@pytest.mark.parametrize("stage,global_batch,micro", [(2, 128, 32), (3, 64, 16)])
def test_paper_global_batches_on_any_gpu_count(stage, global_batch, micro):
    from oeseg.models.train import accumulation

    for gpus in (1, 2, 4, 8, 16):
        m, accum = accumulation(global_batch, micro, gpus)
        assert m * accum * gpus == global_batch and m <= micro
    assert accumulation(global_batch, micro, 2) == (micro, global_batch // micro // 2)
    assert accumulation(64, 16, 8) == (8, 1)  # the micro-batch lowered to each GPU's share
    assert accumulation(48, 16, 2) == (12, 2)  # the largest micro-batch dividing the share of 24
    with pytest.raises(InputError, match="multiple of the 3 processes"):
        accumulation(64, 16, 3)


def test_each_process_takes_its_share_of_the_global_batch(monkeypatch):
    from oeseg.models import train

    class Items(list):
        epoch = 0

    settings = StageSettings(stage=3, lr=1e-3, global_batch=12, epochs=1, micro_batch=4)
    for gpus in (1, 2, 3):
        micro, accum = train.accumulation(12, 4, gpus)
        step_settings = StageSettings(stage=3, lr=1e-3, global_batch=12, epochs=1, micro_batch=micro)
        taken = []
        for rank in range(gpus):
            monkeypatch.setattr(train, "world", lambda r=rank, n=gpus: (r, n))
            batches = list(train._batches(Items(range(40)), step_settings, 1, accum, lambda items: items))
            assert len(batches) == accum and all(len(b) == micro for b in batches)
            taken += [i for b in batches for i in b]
        assert len(taken) == len(set(taken)) == settings.global_batch  # one step: the global batch, no repeats


def test_alternate_epochs_pass_over_all_samples_and_the_described_ones(monkeypatch):
    """`alternate`, as the released task-grouped sampler: an epoch is two interleaved passes, the
    even (generative) steps a permutation of every sample, the odd (contrastive) steps one of the
    samples with a region description, cycled to as many steps; twice the steps of one pass."""
    from oeseg.models import train

    class Items(list):
        epoch = 0

    monkeypatch.setattr(train, "world", lambda: (0, 1))
    settings = StageSettings(stage=2, lr=1e-3, global_batch=4, epochs=2, micro_batch=4)
    pool = list(range(0, 40, 4))  # 10 of the 40 samples have a description
    assert train.total_steps(40, settings, 1, passes=2) == 2 * train.total_steps(40, settings, 1) == 40
    for epoch in range(2):
        steps = [list(train._batches(Items(range(40)), settings, epoch * 20 + k, 1, lambda items: items, pool))[0]
                 for k in range(20)]
        generative, contrastive = steps[0::2], steps[1::2]
        assert sorted(i for b in generative for i in b) == list(range(40))
        taken = [i for b in contrastive for i in b]
        assert set(taken) == set(pool) and all(taken.count(i) == 4 for i in pool)  # 40 draws cycle the 10
    assert steps != [list(train._batches(Items(range(40)), settings, k, 1, lambda items: items, pool))[0]
                     for k in range(20)]  # another epoch, other orders
    one_pass = [list(train._batches(Items(range(40)), settings, k, 1, lambda items: items))[0] for k in range(10)]
    assert sorted(i for b in one_pass for i in b) == list(range(40))


def test_demo_trains_with_the_released_objective(splits, tmp_path):
    """The paper config's loss options (alternate, all pairs, text positives, region-to-text,
    detached text embeddings, no gradient to the text side) end to end on the demo data."""
    import yaml

    paper_loss = yaml.safe_load((Path(__file__).resolve().parents[1] / "configs/paper.yaml").read_text())["opal"]["loss"]
    weights = LossWeights.from_section(paper_loss, 1.0)
    assert (weights.combination, weights.pairs, weights.positives, weights.symmetric,
            weights.detach_text_embeddings, weights.text_gradient) == ("alternate", "all", "text", False, True, False)
    train, _ = splits
    sec = section(stage3={"max_steps": 16})
    model, tok = initial_model(sec, [t for r in stage_records(sec, 2, [str(train)]) for t in r.descriptions])
    _, history = train_stage(model, stage_records(sec, 3, [str(train)]), tok, StageSettings.from_section(sec, 3),
                             weights, tmp_path / "ckpt")
    assert [("generative" in h, "contrastive" in h) for h in history] == [(True, False), (False, True)] * 8
    gen0, gen1 = _first_last(history, "generative")
    con0, con1 = _first_last(history, "contrastive")
    assert gen1 < 0.9 * gen0 and con1 < con0, history


def test_stage1_from_a_released_projector_file_untrained_or_trained(splits, tmp_path):
    from oeseg.models.weights import load_model

    train, _ = splits
    torch.manual_seed(5)
    sec = section(stage1={"max_steps": 2})
    donor, _ = initial_model(sec, ["x"])
    released = {f"model.mm_projector.{k}": torch.randn_like(v) for k, v in donor.model.mm_projector.state_dict().items()}
    torch.save(released, tmp_path / "mm_projector.bin")
    sec.update(projector_weights=str(tmp_path / "mm_projector.bin"), train_stage1=False)
    history = run_stage(OpalJob(sec, 1, [str(train)], None, str(tmp_path / "s1"), str(tmp_path / "c1"), 0.0))
    model, _ = load_model(tmp_path / "s1")
    assert history == []
    for k, v in model.model.mm_projector.state_dict().items():
        assert torch.equal(v, released[f"model.mm_projector.{k}"]), k
    sec["train_stage1"] = True  # trained from the released projector
    history = run_stage(OpalJob(sec, 1, [str(train)], None, str(tmp_path / "t1"), str(tmp_path / "ct1"), 0.0))
    trained, _ = load_model(tmp_path / "t1")
    assert len(history) == 2 and not torch.equal(trained.model.mm_projector[0].weight, model.model.mm_projector[0].weight)
    sec.update(projector_weights=str(tmp_path / "missing.bin"), train_stage1=False)
    with pytest.raises(InputError, match="missing.bin: projector weights not found"):
        run_stage(OpalJob(sec, 1, [str(train)], None, str(tmp_path / "m1"), str(tmp_path / "cm1"), 0.0))
