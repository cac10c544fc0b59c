"""The demo's CLIP-style tower pretraining: it learns (region-to-name retrieval rises), writes an
open_clip checkpoint that OPAL loads through opal.vision_weights, the same bytes on a rerun, and
the workflow makes that checkpoint an input of stage 1 (the paper's is user-provided). The same for
the demo's LLM pretraining (a language model of the descriptions, loaded through opal.llm_weights)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from opal_synthetic import CATEGORIES, TINY_MODEL, make_split

from oeseg.io import InputError
from oeseg.models.pretrain import (
    LlmPretrainSettings,
    PretrainSettings,
    RegionClip,
    load_training_image,
    pretrain_llm,
    pretrain_tower,
    run_llm_pretraining,
    run_tower_pretraining,
    training_images,
)
from oeseg.models.tokenization import build_demo_tokenizer
from oeseg.models.weights import initial_model
from oeseg.models.workflow import pretrains_llm, pretrains_tower, train_inputs, user_provided_files

SETTINGS = {"steps": 60, "images_per_step": 4, "lr": 3e-3, "seed": 0, "text_width": 32}
#: the test tower at 128 px: its last map (res5, 1/32) has 4x4 cells for the shapes of 48 px images
TOWER = {**TINY_MODEL, "image_size": 128}


@pytest.fixture(scope="module")
def splits(tmp_path_factory):
    root = tmp_path_factory.mktemp("pretrain-data")
    return str(make_split(root / "train", 12, seed=0)), str(make_split(root / "val", 6, seed=1))


def name_retrieval(model: RegionClip, split_dir: str, texts: list[str]) -> float:
    """Share of the split's regions whose nearest category name (text tower) is their own."""
    tokenizer = build_demo_tokenizer(texts)
    names = [c[2][0] for c in CATEGORIES]
    enc = tokenizer(names, padding=True, return_tensors="pt", add_special_tokens=False)
    hits = total = 0
    with torch.no_grad():
        text = F.normalize(model.text(enc["input_ids"], enc["attention_mask"]), dim=-1)
        for item in training_images(split_dir):
            image, masks = load_training_image(item, TOWER["image_size"])
            region = F.normalize(model.region_embeddings(image[None], [masks]), dim=-1)
            for (_, descriptions), best in zip(item.regions, (region @ text.T).argmax(1)):
                hits += int(descriptions[0] == names[best])
                total += 1
    return hits / total


@pytest.mark.parametrize("options", [{}, {"levels": ["res3", "res4", "res5"], "flip": True}],
                         ids=["res5", "res3-res5-flip"])
def test_pretraining_learns_region_to_name_retrieval(splits, options):
    train, val = splits
    texts = sorted({t for it in training_images(train) for _, ts in it.regions for t in ts})
    settings = {**SETTINGS, **options}
    untrained, _ = pretrain_tower([train], TOWER, PretrainSettings(**{**settings, "steps": 1, "lr": 1e-9}))
    model, history = pretrain_tower([train], TOWER, PretrainSettings(**settings))
    assert set(model.level_heads) == set(options.get("levels", ["res5"])) - {"res5"}
    assert len(history) == 60
    assert sum(h["loss"] for h in history[-5:]) < 0.7 * sum(h["loss"] for h in history[:5])
    before, after = name_retrieval(untrained, val, texts), name_retrieval(model, val, texts)
    assert after >= 0.75 and after > before + 0.25, (before, after)


def test_checkpoint_is_open_clip_format_loaded_by_opal_and_deterministic(splits, tmp_path):
    train, _ = splits
    settings = {**SETTINGS, "steps": 3, "levels": ["res4", "res5"], "flip": True}  # the level heads stay behind
    run_tower_pretraining([train], TINY_MODEL, settings, tmp_path / "a.bin", tmp_path / "a.jsonl")
    run_tower_pretraining([train], TINY_MODEL, settings, tmp_path / "b.bin")
    assert (tmp_path / "a.bin").read_bytes() == (tmp_path / "b.bin").read_bytes()
    assert len((tmp_path / "a.jsonl").read_text().splitlines()) == 3
    state = torch.load(tmp_path / "a.bin", weights_only=True)
    assert {"visual.trunk.stem.0.weight", "visual.head.mlp.fc1.weight", "token_embedding.weight",
            "positional_embedding", "text_projection", "ln_final.weight", "logit_scale"} <= set(state)
    section = {"model": TINY_MODEL, "seed": 0, "vision_weights": str(tmp_path / "a.bin")}
    model, _ = initial_model(section, ["a road", "the sky"])
    tower = model.model.vision_tower.vision_tower.state_dict()
    assert set(tower) == {k for k in state if k.startswith("visual.")}
    for key, value in tower.items():
        assert torch.equal(value, state[key]), key
    assert not any(p.requires_grad for p in model.model.vision_tower.parameters())  # stays frozen


def test_bad_settings_and_regions_are_input_errors(splits, tmp_path):
    with pytest.raises(InputError, match="opal.tower_pretraining: .*'step'"):
        PretrainSettings.from_section({"step": 3})
    with pytest.raises(InputError, match=r"opal.tower_pretraining.levels: \['res4', 'res6'\] must be"):
        PretrainSettings.from_section({"levels": ["res4", "res6"]})
    train, _ = splits
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in ("panoptic.json", "images", "panoptic"):
        (bad / name).symlink_to(f"{train}/{name}")
    rows = (Path(train) / "regions.jsonl").read_text().splitlines()
    row = json.loads(rows[1])
    del row["descriptions"]
    (bad / "regions.jsonl").write_text("\n".join([rows[0], json.dumps(row)]) + "\n")
    with pytest.raises(InputError, match=r"regions.jsonl:2: missing field 'descriptions'"):
        training_images(bad)


def test_the_pretrained_tower_is_an_input_of_stage_1():
    demo = {"methods": {"opal": {"kind": "opal"}},
            "opal": {"vision_weights": "out/clip.bin", "tower_pretraining": {"steps": 5}}}
    paper = {"methods": {"opal": {"kind": "opal"}}, "opal": {"vision_weights": "models/clip.bin"}}
    assert pretrains_tower(demo) and not pretrains_tower(paper)
    assert train_inputs(demo, "out", "opal", 1, ["d"]) == ["d/panoptic.json", "out/clip.bin"]
    assert train_inputs(demo, "out", "opal", 2, ["d"]) == ["d/panoptic.json", "out/models/opal/stage1"]
    assert user_provided_files(demo) == [] and user_provided_files(paper) == ["models/clip.bin"]
    with pytest.raises(InputError, match="opal.vision_weights must name"):
        pretrains_tower({"opal": {"vision_weights": None, "tower_pretraining": {}}})


def test_llm_pretraining_learns_the_descriptions_and_opal_loads_it(splits, tmp_path):
    train, _ = splits
    settings = {"steps": 40, "batch_size": 16, "lr": 3e-3, "seed": 0}
    model, tokenizer, history = pretrain_llm([train], TINY_MODEL, LlmPretrainSettings(**settings))
    assert sum(h["loss"] for h in history[-5:]) < 0.6 * sum(h["loss"] for h in history[:5]), history
    run_llm_pretraining([train], TINY_MODEL, {**settings, "steps": 3}, tmp_path / "a", tmp_path / "a.jsonl")
    run_llm_pretraining([train], TINY_MODEL, {**settings, "steps": 3}, tmp_path / "b")
    assert (tmp_path / "a/model.safetensors").read_bytes() == (tmp_path / "b/model.safetensors").read_bytes()
    assert len((tmp_path / "a.jsonl").read_text().splitlines()) == 3
    section = {"model": {**TINY_MODEL, "tokenizer_path": str(tmp_path / "a")}, "seed": 0, "llm_weights": str(tmp_path / "a")}
    opal, opal_tokenizer = initial_model(section, [])
    assert opal_tokenizer.get_vocab() == tokenizer.get_vocab()
    from transformers import LlamaForCausalLM

    llm = LlamaForCausalLM.from_pretrained(tmp_path / "a").state_dict()
    own = opal.state_dict()
    assert llm.keys() <= own.keys()
    for key, value in llm.items():
        assert torch.equal(own[key], value), key


def test_the_pretrained_llm_is_an_input_of_stage_1():
    demo = {"methods": {"opal": {"kind": "opal"}},
            "opal": {"llm_weights": "out/llm", "model": {"tokenizer_path": "out/llm"}, "llm_pretraining": {}}}
    paper = {"methods": {"opal": {"kind": "opal"}},
             "opal": {"llm_weights": "models/vicuna", "model": {"tokenizer_path": "models/vicuna"}}}
    assert pretrains_llm(demo) and not pretrains_llm(paper)
    assert train_inputs(demo, "out", "opal", 1, ["d"]) == ["d/panoptic.json", "out/llm"]
    assert user_provided_files(demo) == [] and user_provided_files(paper) == ["models/vicuna"]
    with pytest.raises(InputError, match="opal.model.tokenizer_path the same folder"):
        pretrains_llm({"opal": {"llm_weights": "out/llm", "model": {}, "llm_pretraining": {}}})
    with pytest.raises(InputError, match="opal.llm_pretraining: .*'step'"):
        LlmPretrainSettings.from_section({"step": 3})


def test_an_llm_folder_of_another_shape_is_an_input_error_naming_it(tmp_path):
    """An LLM folder (`opal.llm_weights`) whose tensors differ in shape from `opal.model`'s, or that
    lacks some of the model's LLM tensors (fewer layers), is refused naming the folder and a tensor;
    one of the same shape loads whole (the vision tower, projector and extractor are not in it)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    texts = ["a road", "the sky"]
    vocab = len(build_demo_tokenizer(texts))
    sizes = {k: TINY_MODEL[k] for k in ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                                        "num_key_value_heads", "max_position_embeddings")}

    def folder(name, **changes):
        torch.manual_seed(1)
        LlamaForCausalLM(LlamaConfig(vocab_size=vocab, **{**sizes, **changes})).save_pretrained(tmp_path / name)
        return str(tmp_path / name)

    section = {"model": TINY_MODEL, "seed": 0}
    model, _ = initial_model({**section, "llm_weights": folder("same")}, texts)
    llm = LlamaForCausalLM.from_pretrained(tmp_path / "same").state_dict()
    assert all(torch.equal(model.state_dict()[k], v) for k, v in llm.items())
    with pytest.raises(InputError, match=r"wide: tensor model.embed_tokens.weight is \(\d+, 64\), the model's "
                                         r"\(\d+, 48\) \(opal.model"):
        initial_model({**section, "llm_weights": folder("wide", hidden_size=64, intermediate_size=128)}, texts)
    with pytest.raises(InputError, match=r"shallow: \d+ LLM tensors of the model are not there, .*model.layers.1."):
        initial_model({**section, "llm_weights": folder("shallow", num_hidden_layers=1)}, texts)
