"""The Osprey/OPAL model: Osprey's parameter names and shapes at paper size (meta device), the
tiny demo model's shapes, placeholder replacement, template and evaluation prompt."""

from __future__ import annotations

import torch

from oeseg.models import conversation as conv
from oeseg.models.config import OpalConfig, paper_config
from oeseg.models.osprey import build_model
from oeseg.models.tokenization import IMAGE_TOKEN_INDEX, build_demo_tokenizer, encode_conversation, region_token_ids


def osprey_7b_keys() -> dict[str, tuple[int, ...]]:
    """Osprey-7B's modules (OspreyLlamaForCausalLM, CLIP convnext_large_d_320, mlp2x_gelu,
    MaskExtractor(mask_shape=112, embed_dim=1024, out_dim=4096)) with their tensor shapes."""
    h, inter, vocab = 4096, 11008, 32000
    keys = {"model.embed_tokens.weight": (vocab, h), "model.norm.weight": (h,), "lm_head.weight": (vocab, h)}
    for i in range(32):
        p = f"model.layers.{i}."
        for n in ("q_proj", "k_proj", "v_proj", "o_proj"):
            keys[p + f"self_attn.{n}.weight"] = (h, h)
        keys[p + "mlp.gate_proj.weight"] = (inter, h)
        keys[p + "mlp.up_proj.weight"] = (inter, h)
        keys[p + "mlp.down_proj.weight"] = (h, inter)
        keys[p + "input_layernorm.weight"] = (h,)
        keys[p + "post_attention_layernorm.weight"] = (h,)
    v = "model.vision_tower.vision_tower.visual."
    dims, depths = (192, 384, 768, 1536), (3, 3, 27, 3)
    keys.update({v + "trunk.stem.0.weight": (192, 3, 4, 4), v + "trunk.stem.0.bias": (192,),
                 v + "trunk.stem.1.weight": (192,), v + "trunk.stem.1.bias": (192,),
                 v + "trunk.head.norm.weight": (1536,), v + "trunk.head.norm.bias": (1536,),
                 v + "head.mlp.fc1.weight": (1536, 1536), v + "head.mlp.fc1.bias": (1536,),
                 v + "head.mlp.fc2.weight": (768, 1536)})
    for s, (d, n) in enumerate(zip(dims, depths)):
        st = v + f"trunk.stages.{s}."
        if s:
            keys.update({st + "downsample.0.weight": (dims[s - 1],), st + "downsample.0.bias": (dims[s - 1],),
                         st + "downsample.1.weight": (d, dims[s - 1], 2, 2), st + "downsample.1.bias": (d,)})
        for b in range(n):
            bl = st + f"blocks.{b}."
            keys.update({bl + "gamma": (d,), bl + "conv_dw.weight": (d, 1, 7, 7), bl + "conv_dw.bias": (d,),
                         bl + "norm.weight": (d,), bl + "norm.bias": (d,),
                         bl + "mlp.fc1.weight": (4 * d, d), bl + "mlp.fc1.bias": (4 * d,),
                         bl + "mlp.fc2.weight": (d, 4 * d), bl + "mlp.fc2.bias": (d,)})
    keys.update({"model.mm_projector.0.weight": (h, 768), "model.mm_projector.0.bias": (h,),
                 "model.mm_projector.2.weight": (h, h), "model.mm_projector.2.bias": (h,)})
    for name, d in zip(("res2", "res3", "res4", "res5"), dims):
        keys[f"mask_extractor.{name}.weight"] = (1024, d)
        keys[f"mask_extractor.{name}.bias"] = (1024,)
    keys.update({"mask_extractor.feat_linear.weight": (h, 1024), "mask_extractor.feat_linear.bias": (h,),
                 "mask_extractor.mask_linear.layers.0.weight": (1024, 112 * 112),
                 "mask_extractor.mask_linear.layers.0.bias": (1024,),
                 "mask_extractor.mask_linear.layers.1.weight": (1024, 1024),
                 "mask_extractor.mask_linear.layers.1.bias": (1024,),
                 "mask_extractor.mask_linear.layers.2.weight": (h, 1024),
                 "mask_extractor.mask_linear.layers.2.bias": (h,)})
    return keys


def test_paper_model_matches_osprey_checkpoint_keys_and_shapes():
    with torch.device("meta"):
        model = build_model(paper_config(), 32000, 32001)
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    want = osprey_7b_keys()
    assert set(ours) - set(want) == {"contrastive_temperature"}
    assert set(want) - set(ours) == set()
    assert {k: ours[k] for k in want} == want
    assert model.config.image_tokens == 1024 and model.config.mm_hidden_size == 768
    assert 6.9e9 < sum(v.numel() for v in model.state_dict().values()) < 7.1e9


def test_osprey_config_json_reads_into_opal_config():
    cfg = OpalConfig.from_dict({"model_type": "osprey", "mm_projector_type": "mlp2x_gelu", "hidden_size": 4096,
                                "mm_hidden_size": 768, "mm_vision_tower": "laion2b_s29b_b131k_ft_soup.bin"})
    assert (cfg.mm_projector_type, cfg.mm_hidden_size, cfg.image_size, cfg.mask_shape) == ("mlp2x_gelu", 768, 512, 112)


TINY = dict(vision_depths=[1, 1, 1, 1], vision_dims=[8, 16, 32, 64], vision_embed_dim=32, image_size=64,
            hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=4, mask_shape=16, mask_embed_dim=24, max_position_embeddings=256)


def _tiny():
    tok = build_demo_tokenizer(["a red car", "blue sky"])
    torch.manual_seed(0)
    return build_model(OpalConfig(vocab_size=len(tok), **TINY), *region_token_ids(tok)), tok


def test_tower_levels_image_tokens_and_extractor_shapes():
    model, _ = _tiny()
    images = torch.randn(2, 3, 64, 64)
    tokens, feats = model.encode_images(images)
    assert tokens.shape == (2, 16, 32)  # res4 of 64 px: 4x4 tokens at the LLM width
    assert [tuple(feats[k].shape[1:]) for k in ("res2", "res3", "res4", "res5")] == \
        [(8, 16, 16), (16, 8, 8), (32, 4, 4), (64, 2, 2)]
    assert not any(p.requires_grad for p in model.model.vision_tower.parameters())
    masks = [torch.zeros(3, 64, 64), torch.zeros(1, 64, 64)]
    masks[0][0, :10], masks[0][1, 20:], masks[0][2, :, :5], masks[1][0, 5:9] = 1, 1, 1, 1
    mask_tokens, pos_tokens = model.mask_extractor(feats, masks)
    assert [tuple(m.shape) for m in mask_tokens] == [(3, 32), (1, 32)]
    assert [tuple(p.shape) for p in pos_tokens] == [(3, 32), (1, 32)]
    assert not torch.allclose(mask_tokens[0][0], mask_tokens[0][1])  # different regions, different tokens


def test_placeholders_take_image_mask_and_position_tokens():
    model, tok = _tiny()
    ids, _ = encode_conversation(tok, [conv.Turn(conv.region_question(), "a red car")], 16, 2048)
    ids = torch.stack([ids, ids])
    assert int((ids == IMAGE_TOKEN_INDEX).sum()) == 32
    images = torch.randn(2, 3, 64, 64)
    masks = [torch.zeros(1, 64, 64), torch.zeros(1, 64, 64)]
    masks[0][0, :20], masks[1][0, 30:] = 1, 1
    embeds, mask_tokens = model.embed_multimodal(ids, images, masks)
    image_tokens, feats = model.encode_images(images)
    m, p = model.mask_extractor(feats, masks)
    mask_id, pos_id = region_token_ids(tok)
    for b in range(2):
        assert torch.allclose(embeds[b][ids[b] == IMAGE_TOKEN_INDEX], image_tokens[b])
        assert torch.allclose(embeds[b][ids[b] == mask_id], m[b])
        assert torch.allclose(embeds[b][ids[b] == pos_id], p[b])
        text = ids[b] >= 0
        text &= (ids[b] != mask_id) & (ids[b] != pos_id)
        assert torch.allclose(embeds[b][text], model.model.embed_tokens(ids[b][text]))
    assert torch.allclose(mask_tokens, torch.cat(m))
    out = model.forward_multimodal(ids, torch.ones_like(ids), images, masks, labels=ids.clamp(min=0))
    assert out.logits.shape == (2, ids.shape[1], len(tok)) and out.loss > 0


def test_osprey_v1_template_and_eval_prompt():
    # training asks with Vicuna v1's system text (the released scripts' `--version v1`), the
    # evaluation with osprey_v1's
    assert conv.prompt_text([conv.Turn("q", "a")]).startswith(
        "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, "
        "detailed, and polite answers to the user's questions. USER: q")
    prompt = conv.prompt_text([conv.Turn(conv.region_question())], conv.EVAL_SYSTEM)
    assert prompt == (
        "A chat between a curious human and an artificial intelligence assistant. The assistant gives helpful, "
        "detailed, and polite answers to the human's questions. USER: <image>\n.\nThis provides an overview of "
        "the picture.\nWhat is in <mask><pos>? Using a short phrase. ASSISTANT:")  # Osprey's eval "<image>.\n"
    assert conv.prompt_text([conv.Turn("q", "a")]).endswith("USER: q ASSISTANT: a</s>")


def test_only_answers_are_labelled():
    tok = build_demo_tokenizer(["a red car"])
    ids, labels = encode_conversation(tok, [conv.Turn(conv.region_question(), "a red car")], 4, 2048)
    answer = labels[labels != -100]
    assert tok.decode(answer.tolist()) == "a red car </s>"
    assert answer.tolist() == ids[-len(answer):].tolist()


def test_a_description_alone_is_its_answer_tokens_with_the_end_of_sequence():
    """The contrastive text pass reads a description as the answer's labels hold it: no BOS, then
    `</s>`, whose final hidden state is the text embedding; a cut keeps the `</s>`."""
    from oeseg.models.tokenization import encode_description

    tok = build_demo_tokenizer(["a red car"])
    _, labels = encode_conversation(tok, [conv.Turn(conv.region_question(), "a red car")], 4, 2048)
    alone = encode_description(tok, "a red car", 2048)
    assert alone.tolist() == labels[labels != -100].tolist() and alone[-1] == tok.eos_token_id
    assert tok.bos_token_id not in alone.tolist()
    assert encode_description(tok, "a red car", 2).tolist() == [alone[0], tok.eos_token_id]


def test_a_checkpoint_missing_a_tensor_is_an_error_naming_it(tmp_path):
    """A tensor the checkpoint lacks would stay random: an error naming it; the contrastive
    temperature alone may be missing (a released Osprey checkpoint has none)."""
    import pytest
    from safetensors.torch import load_file, save_file

    from oeseg.io import InputError
    from oeseg.models.weights import load_model, save_model

    model, tok = _tiny()
    save_model(model, tok, tmp_path / "m", [])
    (weights,) = (tmp_path / "m").glob("*.safetensors")
    tensors = load_file(weights)
    without_temperature = {k: v for k, v in tensors.items() if k != "contrastive_temperature"}
    save_file(without_temperature, weights, metadata={"format": "pt"})
    loaded, _ = load_model(tmp_path / "m")
    assert torch.equal(loaded.model.mm_projector[0].weight, model.model.mm_projector[0].weight)
    save_file({k: v for k, v in without_temperature.items() if "feat_linear" not in k}, weights,
              metadata={"format": "pt"})
    with pytest.raises(InputError, match=r"m: 2 tensor\(s\) of the model missing from the checkpoint, e.g. "
                                         r"mask_extractor.feat_linear.bias, mask_extractor.feat_linear.weight"):
        load_model(tmp_path / "m")


def test_a_save_cut_short_leaves_no_model_folder_or_the_previous_one(tmp_path, monkeypatch):
    """The model's config.json is written first; a save cut short after it (the tokenizer's write
    fails) leaves no folder that looks finished: none, or the previous complete one. An empty
    folder made for the job (Snakemake's directory output) is replaced by a finished save."""
    import json

    import pytest

    from oeseg.io import InputError
    from oeseg.models.weights import load_model, save_model

    model, tok = _tiny()
    out = tmp_path / "models" / "stage1"

    def cut_short(*args, **kwargs):
        assert any(tmp_path.glob("models/.stage1.*.tmp/config.json"))  # the model is already written
        raise KeyboardInterrupt

    def log_steps(folder):
        return [json.loads(line)["step"] for line in (folder / "train_log.jsonl").read_text().splitlines()]

    with monkeypatch.context() as m:
        m.setattr(type(tok), "save_pretrained", cut_short)
        with pytest.raises(KeyboardInterrupt):
            save_model(model, tok, out, [{"step": 0}])
    assert list((tmp_path / "models").iterdir()) == []  # nothing at the target, no temporary folder left
    out.mkdir()  # an empty folder, as made for the job
    save_model(model, tok, out, [{"step": 1}])
    assert log_steps(out) == [1] and load_model(out)[0] is not None
    with monkeypatch.context() as m:
        m.setattr(type(tok), "save_pretrained", cut_short)
        with pytest.raises(KeyboardInterrupt):
            save_model(model, tok, out, [{"step": 2}])
    assert [p.name for p in (tmp_path / "models").iterdir()] == ["stage1"] and log_steps(out) == [1]
    (tmp_path / "models" / ".stage1.0badf00d.tmp").mkdir()  # what a killed writer leaves (its job timed out)
    (tmp_path / "models" / ".stage10.0badf00d.tmp").mkdir()  # another folder's: kept
    save_model(model, tok, out, [{"step": 3}])  # a finished save replaces the previous folder
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == [".stage10.0badf00d.tmp", "stage1"]
    assert log_steps(out) == [3]
    loaded, _ = load_model(out)
    assert torch.equal(loaded.model.mm_projector[0].weight, model.model.mm_projector[0].weight)
    (tmp_path / "file").write_text("")
    with pytest.raises(InputError, match="file: output is a file, not a folder"):
        save_model(model, tok, tmp_path / "file", [])


def test_mask_support_equals_bilinear_resizing_then_positive():
    from oeseg.models.mask_extractor import mask_support

    g = torch.Generator().manual_seed(0)
    for h, w in [(192, 192), (224, 288), (112, 112), (45, 60), (16, 16)]:
        for masks in [(torch.rand(7, h, w, generator=g) > 0.97).float(), torch.rand(3, h, w, generator=g) * 0.1]:
            for size in [(h, w), (h // 2, w // 2), (h // 3, w // 3), (h // 4, w // 4), (h // 5, w // 4),
                         (h // 16, w // 16), (7, 11), (h + 1, w)]:
                if min(size) == 0:
                    continue
                want = torch.nn.functional.interpolate(masks[None], size=size, mode="bilinear",
                                                       align_corners=False)[0] > 0
                assert torch.equal(mask_support(masks, size), want), (h, w, size)
