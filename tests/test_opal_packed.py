"""One LLM call for both losses: the packed step (each sample's descriptions as documents of their
own after its multimodal sequence) gives the generative loss, the contrastive loss and the
gradients of the two-pass step, with one or several description rows per sample; the text pass
can leave the token embeddings, or the whole text side, without gradient."""

from __future__ import annotations

import pytest
import torch

from oeseg.models import conversation as conv
from oeseg.models.config import OpalConfig
from oeseg.models.data import Collator
from oeseg.models.losses import LossWeights
from oeseg.models.osprey import build_model
from oeseg.models.tokenization import build_demo_tokenizer, region_token_ids
from oeseg.models.train import contrastive_rows, step_losses

TINY = {"vision_depths": [1, 1, 1, 1], "vision_dims": [8, 16, 32, 64], "vision_embed_dim": 32, "image_size": 64,
            "hidden_size": 48, "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 4,
            "mask_shape": 16, "mask_embed_dim": 32, "max_position_embeddings": 512}
ANSWERS = [["a red car", "the sky"], ["a taxi"], [], ["green tree", "wet road", "a red car"]]
CLASSES = {"a red car": "car", "a taxi": "car", "the sky": "sky", "green tree": "tree", "wet road": None}


def _setup():
    torch.manual_seed(0)
    tok = build_demo_tokenizer([a for s in ANSWERS for a in s] + ["a street scene"])
    mask_id, pos_id = region_token_ids(tok)
    model = build_model(OpalConfig(vocab_size=len(tok), **TINY), mask_id, pos_id).float()
    g = torch.Generator().manual_seed(1)
    items = []
    for n, answers in enumerate(ANSWERS):
        if answers:  # an image's regions asked one by one, each answer a contrastive pair
            turns = [conv.Turn((conv.IMAGE_INTRO if k == 0 else "") + conv.EVAL_QUESTION, a) for k, a in enumerate(answers)]
            pairs = [(k, a, CLASSES[a]) for k, a in enumerate(answers)]
        else:  # an image-text pair: no region, no contrastive row
            turns, pairs = [conv.Turn(conv.IMAGE_PLACEHOLDER + "\n", "a street scene")], []
        masks = (torch.rand(len(answers), 64, 64, generator=g) > 0.6).float()
        items.append({"image": torch.randn(3, 64, 64, generator=g), "masks": masks, "turns": turns, "text": "",
                      "pairs": pairs, "image_id": str(n), "segment_id": 0})
    batch = Collator(tok, model.config.image_tokens, 2048)(items)
    return model, batch


def _losses_and_grads(model, batch, weights, packed):
    model.zero_grad(set_to_none=True)
    out = step_losses(model, batch, weights, step=0, packed=packed)
    out["loss"].backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return {k: v.detach() for k, v in out.items()}, grads


@pytest.mark.parametrize("options", [{"pairs": "all", "positives": "class", "symmetric": False, "detach_text_embeddings": True},
                                     {"pairs": "first", "positives": "text", "symmetric": True}], ids=["released", "first"])
@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_packed_step_equals_two_passes(options, attention):
    """sdpa: the slot layout without a mask (`packed_attention`); eager: documents packed end to
    end, the block-causal mask built from where the positions restart."""
    model, batch = _setup()
    model.config._attn_implementation = attention
    weights = LossWeights(1.0, "sum", **options)
    assert len(contrastive_rows(batch, weights.pairs)) == (6 if options["pairs"] == "all" else 3)
    two, g_two = _losses_and_grads(model, batch, weights, packed=False)
    one, g_one = _losses_and_grads(model, batch, weights, packed=True)
    for key in ("generative", "contrastive", "loss"):
        assert torch.allclose(one[key], two[key], atol=1e-5, rtol=1e-5), (key, one[key], two[key])
    assert one["contrastive"] > 0 and g_one.keys() == g_two.keys()
    for name, grad in g_two.items():
        assert torch.allclose(g_one[name], grad, atol=1e-5, rtol=1e-4), name
    # the text pass reaches the LLM's layers in both
    assert g_one["model.layers.0.self_attn.q_proj.weight"].abs().max() > 0


def test_detached_text_embeddings_leave_the_token_table_to_the_generative_loss():
    model, batch = _setup()
    rows = contrastive_rows(batch, "all")
    ids, attn = batch["text_ids"][rows], batch["text_attention_mask"][rows]
    table = model.model.embed_tokens.weight
    for detach, reached in ((False, True), (True, False)):
        model.zero_grad(set_to_none=True)
        model.text_embeddings(ids, attn, detach_embeddings=detach).sum().backward()
        assert (table.grad is not None and table.grad.abs().max() > 0) == reached


@pytest.mark.parametrize("combination, step", [("alternate", 1), ("sum", 0)])
def test_without_text_gradient_the_contrastive_loss_leaves_the_llm_alone(combination, step):
    """`text_gradient: false` (the released code's non-differentiable gather): the same loss, the
    text embeddings fixed targets, so the contrastive term reaches the mask extractor and the
    temperature but not the LLM."""
    model, batch = _setup()
    layer, extractor = "model.layers.0.self_attn.q_proj.weight", "mask_extractor.feat_linear.weight"
    grads, losses = {}, {}
    for text_gradient in (True, False):
        weights = LossWeights(1.0, combination, pairs="all", positives="class", symmetric=False,
                              detach_text_embeddings=True, text_gradient=text_gradient)
        model.zero_grad(set_to_none=True)
        out = step_losses(model, batch, weights, step=step)
        (out["contrastive"] if combination == "sum" else out["loss"]).backward()
        grads[text_gradient] = {n: p.grad for n, p in model.named_parameters()}
        losses[text_gradient] = out["contrastive"].detach()
    assert torch.allclose(losses[True], losses[False])
    assert grads[True][layer].abs().max() > 0
    assert grads[False][layer] is None or grads[False][layer].abs().max() == 0
    for name in (extractor, "contrastive_temperature"):
        assert grads[False][name].abs().max() > 0
        assert torch.allclose(grads[False][name], grads[True][name], atol=1e-6, rtol=1e-5), name
