"""Describe every region of a split with a trained Osprey/OPAL model (the protocol of the paper:
ground-truth masks, ascending segment id), writing region predictions (docs/formats.md)."""

from __future__ import annotations

import inspect
import logging
import os

import torch
from transformers import LlamaModel

from oeseg.data.predictions import RegionPrediction, write_predictions
from oeseg.io import InputError
from oeseg.models.data import Collator, RegionDataset, split_region_records
from oeseg.models.osprey import OpalForCausalLM
from oeseg.models.train import load_model

log = logging.getLogger("oeseg.opal")
# the key/value cache's name: `cache` in recent transformers, `past_key_values` before
CACHE_ARGUMENT = "cache" if "cache" in inspect.signature(LlamaModel.forward).parameters else "past_key_values"


def _cache_of(output: object) -> object:
    """The key/value cache of a decoder output (either name)."""
    return getattr(output, CACHE_ARGUMENT)


@torch.no_grad()
def sample_descriptions(model: OpalForCausalLM, tokenizer, batch: dict, temperature: float, top_p: float,
                        max_new_tokens: int, generator: torch.Generator) -> list[tuple[str, float]]:
    """Sample one answer per row (prompts of equal length), stopping at `</s>` or a newline;
    returns (text, mean log-probability of its tokens under the model). The model runs where its
    weights are; sampling runs on the CPU with `generator`, so a seed gives the same draws anywhere."""
    ids, attn = batch["input_ids"], batch["attention_mask"]
    if not bool(attn.all()):
        raise ValueError("sample_descriptions: prompts must have equal lengths")
    dev = next(model.parameters()).device
    embeds, _ = model.embed_multimodal(ids.to(dev), batch["images"].to(dev), [m.to(dev) for m in batch["masks"]])
    vocab = model.config.vocab_size
    stops = torch.zeros(vocab, dtype=torch.bool)
    stops[tokenizer.eos_token_id] = True
    banned = torch.zeros(vocab, dtype=torch.bool)
    for i in tokenizer.all_special_ids:
        if i < vocab and i != tokenizer.eos_token_id:
            banned[i] = True
    for tok, i in tokenizer.get_vocab().items():
        if i < vocab and "\n" in tokenizer.convert_tokens_to_string([tok]):
            stops[i] = True
    rows = len(ids)
    out = model.model(inputs_embeds=embeds, use_cache=True)
    cache, hidden = _cache_of(out), out.last_hidden_state[:, -1]
    tokens: list[list[int]] = [[] for _ in range(rows)]
    logps: list[list[float]] = [[] for _ in range(rows)]
    done = torch.zeros(rows, dtype=torch.bool)
    for t in range(max_new_tokens):
        logits = model.lm_head(hidden).float().cpu()
        logits[:, banned] = -float("inf")
        if t == 0:
            logits[:, stops] = -float("inf")
        logprobs = torch.log_softmax(logits, -1)
        probs = torch.softmax(logits / max(temperature, 1e-5), -1)
        if top_p < 1.0:
            sorted_p, order = probs.sort(-1, descending=True)
            drop = sorted_p.cumsum(-1) - sorted_p > top_p
            probs = probs.scatter(-1, order, sorted_p.masked_fill(drop, 0.0))
        nxt = torch.multinomial(probs, 1, generator=generator)[:, 0] if temperature > 0 else logits.argmax(-1)
        for r in range(rows):
            if not done[r]:
                if stops[nxt[r]]:
                    done[r] = True
                else:
                    tokens[r].append(int(nxt[r]))
                    logps[r].append(float(logprobs[r, nxt[r]]))
        if bool(done.all()):
            break
        step = model.model(inputs_embeds=model.model.embed_tokens(nxt[:, None].to(dev)), use_cache=True,
                           **{CACHE_ARGUMENT: cache})
        cache, hidden = _cache_of(step), step.last_hidden_state[:, -1]
    return [(tokenizer.decode(tk, skip_special_tokens=True).strip(), sum(lp) / len(lp))
            for tk, lp in zip(tokens, logps)]


def describe_split(model_dir: str | os.PathLike, split_dir: str | os.PathLike, out_path: str | os.PathLike,
                   seed: int = 0, temperature: float = 0.2, top_p: float = 1.0, batch_size: int = 8,
                   max_new_tokens: int = 32) -> list[RegionPrediction]:
    """Describe every ground-truth region of a split; write and return the predictions.

    A region for which the model generates no text gets no prediction line: the evaluation counts
    it among the regions without a prediction (`regions.missing`, background by default). The
    model runs on the GPU in bf16 when there is one."""
    model, tokenizer = load_model(model_dir)
    if torch.cuda.is_available():
        model.to(f"cuda:{torch.cuda.current_device()}", torch.bfloat16)
    records = split_region_records(split_dir)
    if not records:
        raise InputError(f"{split_dir}: split has no segments to describe")
    dataset = RegionDataset(records, model.config.image_size)
    collate = Collator(tokenizer, model.config.image_tokens, max_length=10**9, with_answers=False)
    generator = torch.Generator().manual_seed(seed)
    predictions = []
    silent = 0
    for start in range(0, len(dataset), batch_size):
        batch = collate([dataset[i] for i in range(start, min(start + batch_size, len(dataset)))])
        answers = sample_descriptions(model, tokenizer, batch, temperature, top_p, max_new_tokens, generator)
        for image_id, segment_id, (text, score) in zip(batch["image_ids"], batch["segment_ids"], answers):
            if text:
                predictions.append(RegionPrediction(image_id, segment_id, text, score))
            else:
                silent += 1
    write_predictions(out_path, predictions)
    log.info("described %d regions of %s; %d got no text (no prediction line)", len(predictions), split_dir, silent)
    return predictions
