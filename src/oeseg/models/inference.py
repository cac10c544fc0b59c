"""Describe every region of a split with a trained Osprey/OPAL model (the protocol of the paper:
ground-truth masks, ascending segment id), writing region predictions (docs/formats.md).

Every region of an image gets the same prompt up to its `<mask><pos>`: the system prompt, the
image tokens and the question's first words. `describe_images` therefore encodes each image once
(tower, projector, mask extractor for all its regions), runs that shared prefix through the LLM
once per image and keeps its key/value cache; each region then prefills only its suffix
(`<mask><pos>` onwards) and decodes, all regions of a batch of images together. A 4-D attention
mask lets a region's tokens see its image's prefix and its own tokens only, at the positions the
full prompt would give them, so the answers are those of describing each region alone
(`sample_descriptions`, the plain path, kept as the reference).

A split's batches are saved as they are described, with the generator's state after each
(`<predictions>.progress/<fingerprint>/`): a job stopped part way (SIGTERM, a time limit, a
crash) resumes after its last saved batch, and writes what a run straight through would.
"""

from __future__ import annotations

import base64
import hashlib
import inspect
import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import torch
from transformers import LlamaModel

from oeseg.data.panoptic import PanopticSplit, read_rgb_of, read_segment_ids
from oeseg.data.predictions import RegionPrediction, write_predictions
from oeseg.io import InputError, atomic_write_json, sha256_file
from oeseg.models import conversation as conv
from oeseg.models.data import prepare_image, stack_masks
from oeseg.models.osprey import OpalForCausalLM
from oeseg.models.tokenization import (
    IMAGE_TOKEN_INDEX,
    encode_conversation,
    region_token_ids,
)
from oeseg.models.train import fingerprinted_config, hash_weights, job_checkpoint_dir, remove_checkpoints
from oeseg.models.weights import load_model
from oeseg.workflow import JobStopped, sigterm_handler

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

log = logging.getLogger("oeseg.opal")
# the key/value cache's name: `cache` in recent transformers, `past_key_values` before
CACHE_ARGUMENT = "cache" if "cache" in inspect.signature(LlamaModel.forward).parameters else "past_key_values"
T = TypeVar("T")


def _cache_of(output: object) -> object:
    """The key/value cache of a decoder output (either name)."""
    return getattr(output, CACHE_ARGUMENT)


# --- sampling ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sampling:
    """How answers are drawn: `temperature` (0: greedy), nucleus `top_p`, at most `max_new_tokens`,
    draws from `generator` on its own device (where the logits go); `stops` (`</s>` and every
    token holding a newline) end an answer and are never its first token; `banned` (the other
    special tokens) are never drawn."""

    temperature: float
    top_p: float
    max_new_tokens: int
    generator: torch.Generator
    stops: torch.Tensor
    banned: torch.Tensor


def make_sampling(tokenizer: PreTrainedTokenizerBase, vocab_size: int, temperature: float, top_p: float,
                  max_new_tokens: int, generator: torch.Generator) -> Sampling:
    """The stop and banned tokens of `tokenizer` (ids below `vocab_size`) with the draw settings."""
    stops = torch.zeros(vocab_size, dtype=torch.bool)
    stops[tokenizer.eos_token_id] = True
    banned = torch.zeros(vocab_size, dtype=torch.bool)
    for i in tokenizer.all_special_ids:
        if i < vocab_size and i != tokenizer.eos_token_id:
            banned[i] = True
    for tok, i in tokenizer.get_vocab().items():
        if i < vocab_size and "\n" in tokenizer.convert_tokens_to_string([tok]):
            stops[i] = True
    dev = generator.device
    return Sampling(temperature, top_p, max_new_tokens, generator, stops.to(dev), banned.to(dev))


def choose_tokens(logits: torch.Tensor, first: bool, s: Sampling) -> tuple[torch.Tensor, torch.Tensor]:
    """Next token of each row of `logits` (R,V) and its log-probability under the model (before
    temperature and top-p), computed on the generator's device."""
    logits = logits.float().to(s.generator.device)
    logits = logits.masked_fill(s.banned | s.stops if first else s.banned, -float("inf"))
    logprobs = torch.log_softmax(logits, -1)
    if s.temperature > 0:
        probs = torch.softmax(logits / s.temperature, -1)
        if s.top_p < 1.0:
            sorted_p, order = probs.sort(-1, descending=True)
            drop = sorted_p.cumsum(-1) - sorted_p > s.top_p
            probs = probs.scatter(-1, order, sorted_p.masked_fill(drop, 0.0))
        nxt = torch.multinomial(probs, 1, generator=s.generator)[:, 0]
    else:
        nxt = logits.argmax(-1)
    return nxt, logprobs.gather(1, nxt[:, None])[:, 0]


def _generate(model: OpalForCausalLM, hidden: torch.Tensor, step: Callable[[torch.Tensor], torch.Tensor],
              s: Sampling) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Draw up to `max_new_tokens` per row from the final hidden states (R,D), `step` giving the
    next ones for the drawn tokens; returns tokens (R,T), their log-probabilities (R,T) and the
    number kept per row (those before its first stop token), on the generator's device."""
    rows, steps, dev = len(hidden), s.max_new_tokens, s.generator.device
    tokens = torch.zeros(rows, steps, dtype=torch.long, device=dev)
    logps = torch.zeros(rows, steps, dtype=torch.float32, device=dev)
    kept = torch.zeros(rows, dtype=torch.long, device=dev)
    done = torch.zeros(rows, dtype=torch.bool, device=dev)
    for t in range(steps):
        nxt, lp = choose_tokens(model.lm_head(hidden), t == 0, s)
        done |= s.stops[nxt]
        tokens[:, t], logps[:, t] = nxt, lp
        kept += (~done).long()
        if t + 1 == steps or bool(done.all()):
            break
        hidden = step(nxt.to(hidden.device))
    return tokens, logps, kept


def _answers(tokenizer: PreTrainedTokenizerBase, tokens: torch.Tensor, logps: torch.Tensor, kept: torch.Tensor,
             rows: Iterable[int]) -> list[tuple[str, float]]:
    """(text, mean token log-probability) of the given rows."""
    tokens, logps, kept = tokens.cpu(), logps.cpu().double(), kept.cpu()
    out = []
    for r in rows:
        n = int(kept[r])
        out.append((tokenizer.decode(tokens[r, :n].tolist(), skip_special_tokens=True).strip(),
                    float(logps[r, :n].mean()) if n else float("nan")))
    return out


@torch.no_grad()
def sample_descriptions(model: OpalForCausalLM, tokenizer: PreTrainedTokenizerBase, batch: dict, temperature: float,
                        top_p: float, max_new_tokens: int, generator: torch.Generator) -> list[tuple[str, float]]:
    """The plain path: one full prompt per row (prompts of equal length), each run through the
    model whole. Returns (text, mean log-probability of its tokens) per row, stopping at `</s>`
    or a newline; draws on `generator`'s device. The reference of `describe_images`."""
    ids, attn = batch["input_ids"], batch["attention_mask"]
    if not bool(attn.all()):
        raise ValueError("sample_descriptions: prompts must have equal lengths")
    dev = next(model.parameters()).device
    s = make_sampling(tokenizer, model.config.vocab_size, temperature, top_p, max_new_tokens, generator)
    embeds, _ = model.embed_multimodal(ids.to(dev), batch["images"].to(dev), [m.to(dev) for m in batch["masks"]])
    out = model.model(inputs_embeds=embeds, use_cache=True)
    cache = _cache_of(out)

    def step(nxt: torch.Tensor) -> torch.Tensor:
        """The last hidden state after feeding the next tokens `nxt` (one per row) through the cache."""
        nonlocal cache
        o = model.model(inputs_embeds=model.model.embed_tokens(nxt[:, None]), use_cache=True, **{CACHE_ARGUMENT: cache})
        cache = _cache_of(o)
        return o.last_hidden_state[:, -1]

    tokens, logps, kept = _generate(model, out.last_hidden_state[:, -1], step, s)
    return _answers(tokenizer, tokens, logps, kept, range(len(ids)))


# --- shared-prefix path -----------------------------------------------------------------------
def prompt_parts(tokenizer: PreTrainedTokenizerBase, image_tokens: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The evaluation prompt's token ids (osprey_v1's system text) split before its `<mask>`: the
    prefix shared by all regions of an image (system prompt, image placeholders, the question's
    first words) and the region's suffix (`<mask><pos>` to `ASSISTANT:`)."""
    ids, _ = encode_conversation(tokenizer, [conv.Turn(conv.region_question())], image_tokens, 10**9,
                                 system=conv.EVAL_SYSTEM)
    mask_id, pos_id = region_token_ids(tokenizer)
    at = (ids == mask_id).nonzero()
    if len(at) != 1 or int((ids == pos_id).sum()) != 1:
        raise ValueError("the evaluation prompt needs exactly one <mask><pos>")
    cut = int(at[0, 0])
    if bool((ids[cut:] == IMAGE_TOKEN_INDEX).any()):
        raise ValueError("the evaluation prompt must show the image before <mask><pos>")
    return ids[:cut], ids[cut:]


def _embed_text(model: OpalForCausalLM, ids: torch.Tensor) -> torch.Tensor:
    """Token embeddings of a 1-d id sequence; placeholders (image, `<mask>`, `<pos>`, ids beyond
    the table) get token 0's, to be replaced."""
    embed = model.model.embed_tokens
    special = ((ids == IMAGE_TOKEN_INDEX) | (ids == model.config.mask_token_id) | (ids == model.config.pos_token_id)
               | (ids >= embed.num_embeddings))
    return embed(torch.where(special, 0, ids))


@torch.no_grad()
def describe_images(model: OpalForCausalLM, tokenizer: PreTrainedTokenizerBase, images: torch.Tensor,
                    masks: list[torch.Tensor], sampling: Sampling,
                    prompt: tuple[torch.Tensor, torch.Tensor] | None = None
                    ) -> list[list[tuple[str, float]]]:
    """Describe every region of a batch of images: images (I,3,S,S), masks[i] (Q_i,H_i,W_i) with
    Q_i >= 1; returns per image, per region, (text, mean token log-probability).

    Each image is encoded once and its prompt prefix (`prompt_parts`, or `prompt` given as such)
    runs through the LLM once; its cache serves all its regions, whose suffixes are prefilled and
    decoded together, padded to the most regions of an image of the batch."""
    counts = [len(m) for m in masks]
    if not counts or min(counts) < 1 or len(images) != len(counts):
        raise ValueError(f"describe_images: one image per mask stack, each with >= 1 region (got {counts})")
    dev = next(model.parameters()).device
    prefix, suffix = (p.to(dev) for p in (prompt or prompt_parts(tokenizer, model.config.image_tokens)))
    n_img, slots, n_pre, n_suf = len(counts), max(counts), len(prefix), len(suffix)
    image_tokens, feats = model.encode_images(images.to(dev))
    mask_tokens, pos_tokens = model.mask_extractor(feats, [m.to(dev) for m in masks])
    dtype = model.model.embed_tokens.weight.dtype

    pre = _embed_text(model, prefix).expand(n_img, -1, -1).clone()
    pre[:, prefix == IMAGE_TOKEN_INDEX] = image_tokens.to(dtype)
    out = model.model(inputs_embeds=pre, use_cache=True)
    cache = _cache_of(out)

    suf = _embed_text(model, suffix).expand(n_img, slots, -1, -1).clone()  # (I, slots, S, D)
    pad = torch.nn.utils.rnn.pad_sequence
    suf[:, :, suffix == model.config.mask_token_id] = pad(mask_tokens, batch_first=True).to(dtype)[:, :, None]
    suf[:, :, suffix == model.config.pos_token_id] = pad(pos_tokens, batch_first=True).to(dtype)[:, :, None]

    # every cached key's owner (-1: the image's prefix, else the region slot) and position; a query
    # of slot r at position p sees the prefix and slot r's own keys up to p
    key_slot = torch.full((n_pre,), -1, device=dev)
    key_pos = torch.arange(n_pre, device=dev)
    lowest = torch.finfo(dtype).min

    def run(embeds: torch.Tensor, q_slot: torch.Tensor, q_pos: torch.Tensor) -> torch.Tensor:
        """The hidden states of `embeds` (queries of slots q_slot at positions q_pos); each slot sees the
        prefix and its own keys."""
        nonlocal cache, key_slot, key_pos
        key_slot, key_pos = torch.cat([key_slot, q_slot]), torch.cat([key_pos, q_pos])
        seen = (((key_slot[None] == -1) | (key_slot[None] == q_slot[:, None])) & (key_pos[None] <= q_pos[:, None]))
        mask = torch.zeros(seen.shape, dtype=dtype, device=dev).masked_fill_(~seen, lowest)
        o = model.model(inputs_embeds=embeds, attention_mask=mask[None, None],
                        position_ids=q_pos[None].expand(n_img, -1), use_cache=True, **{CACHE_ARGUMENT: cache})
        cache = _cache_of(o)
        return o.last_hidden_state

    slot_ids = torch.arange(slots, device=dev)
    hidden = run(suf.reshape(n_img, slots * n_suf, -1), slot_ids.repeat_interleave(n_suf),
                 (n_pre + torch.arange(n_suf, device=dev)).repeat(slots))
    hidden = hidden.view(n_img, slots, n_suf, -1)[:, :, -1].reshape(n_img * slots, -1)
    position = n_pre + n_suf

    def step(nxt: torch.Tensor) -> torch.Tensor:
        """The last hidden state of every (image, slot) row after feeding the next tokens `nxt`."""
        nonlocal position
        h = run(model.model.embed_tokens(nxt).view(n_img, slots, -1), slot_ids,
                torch.full((slots,), position, device=dev))
        position += 1
        return h.reshape(n_img * slots, -1)

    tokens, logps, kept = _generate(model, hidden, step, sampling)
    answers = _answers(tokenizer, tokens, logps, kept, [i * slots + r for i, n in enumerate(counts) for r in range(n)])
    it = iter(answers)
    return [[next(it) for _ in range(n)] for n in counts]


# --- a split ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ImageRegions:
    """An image of a split and its segments to describe, in ascending id."""

    image_id: str
    image_path: str
    panoptic_path: str
    segment_ids: tuple[int, ...]


def split_images(split_dir: str | os.PathLike) -> list[ImageRegions]:
    """The images of a panoptic split with at least one segment, in split order."""
    split = PanopticSplit.load(split_dir)
    return [ImageRegions(im.id, str(split.image_path(im)), str(split.panoptic_path(im)),
                         tuple(sorted(s.id for s in im.segments)))
            for im in split.images if im.segments]


def load_regions(image: ImageRegions, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The image (3,S,S) and its segments' masks (Q,H,W) at the image's resolution, as training prepares them."""
    ids = read_segment_ids(image.panoptic_path)
    rgb = read_rgb_of(image.image_path, image.panoptic_path, ids.shape)
    return prepare_image(rgb, size), stack_masks([ids == s for s in image.segment_ids])


def image_batches(counts: list[int], batch_size: int, images_per_batch: int) -> list[list[int]]:
    """Group images (by index) into batches of at most `images_per_batch` images whose region slots
    (images x most regions of one of them) stay within `batch_size`, an image with more regions
    alone; images go by region count, most first, so that little padding is decoded."""
    batches: list[list[int]] = []
    for i in sorted(range(len(counts)), key=lambda i: -counts[i]):
        if batches and len(batches[-1]) < images_per_batch and (len(batches[-1]) + 1) * counts[batches[-1][0]] <= batch_size:
            batches[-1].append(i)
        else:
            batches.append([i])
    return batches


def _ahead(batches: Iterable[list[Callable[[], T]]], workers: int) -> Iterator[list[T]]:
    """Results of each batch of jobs in order, the next batch's jobs run by `workers` threads
    while the current batch's results are used."""
    with ThreadPoolExecutor(max(1, workers)) as pool:
        pending = None
        for jobs in batches:
            submitted = [pool.submit(job) for job in jobs]
            if pending is not None:
                yield [f.result() for f in pending]
            pending = submitted
        if pending is not None:
            yield [f.result() for f in pending]


# --- progress ---------------------------------------------------------------------------------
class DescribeStopped(JobStopped):
    """A describe job stopped by SIGTERM once the batch in progress was saved: a rerun resumes there."""


def progress_dir(out_path: str | os.PathLike) -> Path:
    """The progress folder of a predictions file, `<out_path>.progress`: its split's batches
    described so far, in a folder per job fingerprint (`job_checkpoint_dir`)."""
    return Path(f"{out_path}.progress")


def model_fingerprint(model: torch.nn.Module) -> str:
    """sha256 of a model's tensors and config (as a training stage's fingerprint covers them)."""
    h = hashlib.sha256()
    hash_weights(h, model)
    h.update(json.dumps(fingerprinted_config(model), sort_keys=True, default=str).encode())
    return h.hexdigest()


def describe_fingerprint(model_hash: str, tokenizer: PreTrainedTokenizerBase, prompt: tuple[torch.Tensor, torch.Tensor],
                         images: list[ImageRegions], settings: dict, device: torch.device, dtype: torch.dtype) -> str:
    """sha256 naming a split's describe job: the model (`model_fingerprint`), the tokenizer's
    vocabulary, the prompt, the split (each image's id, segments and the bytes of its image and
    panoptic PNG), the settings that change what is drawn (`settings`) and the device kind and
    dtype the model runs in. Only the same job resumes another's progress."""
    h = hashlib.sha256()
    h.update(json.dumps({"model": model_hash, "vocabulary": sorted(tokenizer.get_vocab().items()),
                         "prompt": [p.tolist() for p in prompt], "settings": settings, "device": device.type,
                         "dtype": str(dtype), "images": [[im.image_id, list(im.segment_ids)] for im in images]},
                        sort_keys=True).encode())
    for im in images:
        for path in (im.image_path, im.panoptic_path):
            h.update(bytes.fromhex(sha256_file(path)))  # each file's raw digest
    return h.hexdigest()


def _batch_file(folder: Path, k: int) -> Path:
    """The progress file of a split's batch `k` (in the order described)."""
    return folder / f"batch{k:06d}.json"


def save_batch(folder: Path, k: int, image_ids: list[str], answers: list[list[tuple[str, float]]],
               generator: torch.Generator) -> None:
    """Save batch `k`'s answers per image and the generator's state after it, atomically."""
    atomic_write_json(_batch_file(folder, k), {
        "images": image_ids, "answers": answers,
        "generator": base64.b64encode(generator.get_state().numpy().tobytes()).decode()}, indent=None)


def read_progress(folder: Path, batches: list[list[int]], images: list[ImageRegions], generator: torch.Generator
                  ) -> dict[int, list[tuple[str, float]]]:
    """The answers per image of the batches saved in `folder` (from the first, up to one not
    there), the generator set to its state after the last of them; a file that does not load
    (or holds other images or regions than its batch) is an InputError naming it."""
    answers: dict[int, list[tuple[str, float]]] = {}
    state = None
    for k, batch in enumerate(batches):
        path = _batch_file(folder, k)
        if not path.exists():
            break
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
            if saved["images"] != [images[i].image_id for i in batch]:
                raise ValueError("other images than its batch's")
            per_image = [[(str(text), float(score)) for text, score in regions] for regions in saved["answers"]]
            if [len(a) for a in per_image] != [len(images[i].segment_ids) for i in batch]:
                raise ValueError("another number of regions than its batch's images have")
            state = torch.frombuffer(bytearray(base64.b64decode(saved["generator"], validate=True)), dtype=torch.uint8)
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise InputError(f"{path}: a describe job's saved batch does not load ({e}); remove {folder} "
                             "to describe the split anew") from None
        answers.update(zip(batch, per_image))
    if state is not None:
        generator.set_state(state)
    return answers


def describe_split(model_dir: str | os.PathLike, split_dir: str | os.PathLike, out_path: str | os.PathLike,
                   **settings: Any) -> list[RegionPrediction]:
    """Describe every ground-truth region of a split; write and return the predictions (`settings`:
    `_describe`'s seed, temperature, top_p, batch_size, max_new_tokens, images_per_batch, workers).

    Batches hold up to `images_per_batch` images and `batch_size` region slots (`image_batches`);
    `workers` threads load the next batch's images and masks while the model describes one.
    Sampling draws on the model's device from a generator seeded with `seed`: a run repeats
    exactly on the same device kind and batch settings. A region for which the model generates
    no text gets no prediction line: the evaluation counts it among the regions without a
    prediction (`regions.missing`, background by default). The model runs on the GPU in bf16
    when there is one."""
    return describe_splits(model_dir, {split_dir: out_path}, **settings)[0]


def describe_splits(model_dir: str | os.PathLike, outputs: Mapping[str | os.PathLike, str | os.PathLike],
                    **settings: Any) -> list[list[RegionPrediction]]:
    """`describe_split` of each split folder into its predictions file (`outputs`), the model
    loaded once; each split's draws start from the seed, as if described alone.

    Each batch is saved once described (`progress_dir`, `save_batch`), and a rerun of the same
    job (`describe_fingerprint`) resumes after the last saved batch, with the same draws; the
    progress goes once every split's predictions are written (the scheduler removes all outputs
    of a job that failed, so a split written before its job stopped is read back, not described
    anew). A SIGTERM while the splits are described lets the batch in progress finish and be
    saved, then raises DescribeStopped (the previous SIGTERM handler is back after)."""
    model, tokenizer = load_model(model_dir)
    model_hash = model_fingerprint(model)
    if torch.cuda.is_available():
        model.to(f"cuda:{torch.cuda.current_device()}", torch.bfloat16)
    sigterm: list[int] = []  # the SIGTERMs received while describing: the handler only notes them
    with sigterm_handler(lambda signum, frame: sigterm.append(signum)):
        results = [_describe(model, tokenizer, split_dir, out_path, model_hash, sigterm, **settings)
                   for split_dir, out_path in outputs.items()]
    for out_path in outputs.values():  # the job's predictions are written: a rerun describes anew
        remove_checkpoints(progress_dir(out_path))
    return results


def _describe(model: OpalForCausalLM, tokenizer: PreTrainedTokenizerBase, split_dir: str | os.PathLike,
              out_path: str | os.PathLike, model_hash: str, sigterm: Sequence[int], seed: int = 0,
              temperature: float = 0.2, top_p: float = 1.0, batch_size: int = 512, max_new_tokens: int = 32,
              images_per_batch: int = 32, workers: int = 1) -> list[RegionPrediction]:
    """`describe_split` with the model and tokenizer loaded (`model_hash` its `model_fingerprint`),
    stopping after a batch once `sigterm` holds a signal."""
    images = split_images(split_dir)
    if not images:
        raise InputError(f"{split_dir}: split has no segments to describe")
    dev = next(model.parameters()).device
    generator = torch.Generator(device=dev).manual_seed(seed)
    sampling = make_sampling(tokenizer, model.config.vocab_size, temperature, top_p, max_new_tokens, generator)
    prompt = prompt_parts(tokenizer, model.config.image_tokens)
    size = model.config.image_size
    batches = image_batches([len(im.segment_ids) for im in images], batch_size, images_per_batch)
    drawn = {"seed": seed, "temperature": temperature, "top_p": top_p, "max_new_tokens": max_new_tokens,
             "batch_size": batch_size, "images_per_batch": images_per_batch}
    folder = job_checkpoint_dir(progress_dir(out_path), describe_fingerprint(
        model_hash, tokenizer, prompt, images, drawn, dev, model.model.embed_tokens.weight.dtype))
    answers = read_progress(folder, batches, images, generator)
    first = next((k for k, b in enumerate(batches) if b[0] not in answers), len(batches))
    total = sum(len(im.segment_ids) for im in images)
    done = sum(len(images[i].segment_ids) for b in batches[:first] for i in b)
    if first:
        log.info("%s: resumed after %d / %d batches (%d / %d regions) from %s", split_dir, first, len(batches), done,
                 total, folder)
    start, resumed = time.perf_counter(), done
    loads = ([lambda i=i: load_regions(images[i], size) for i in b] for b in batches[first:])
    for k, (batch, loaded) in enumerate(zip(batches[first:], _ahead(loads, workers)), first):
        result = describe_images(model, tokenizer, torch.stack([x for x, _ in loaded]), [m for _, m in loaded],
                                 sampling, prompt)
        save_batch(folder, k, [images[i].image_id for i in batch], result, generator)
        answers.update(zip(batch, result))
        done += sum(len(images[i].segment_ids) for i in batch)
        if (k + 1) % 20 == 0 or k + 1 == len(batches):
            log.info("described %d / %d regions (%.1f regions/s)", done, total,
                     (done - resumed) / (time.perf_counter() - start))
        if sigterm:
            log.warning("%s: stopped by SIGTERM after batch %d / %d (%d / %d regions), saved in %s; a rerun "
                        "resumes from here", split_dir, k + 1, len(batches), done, total, folder)
            raise DescribeStopped(f"describing {split_dir}: stopped by SIGTERM after batch {k + 1} / {len(batches)} "
                                  f"(progress in {folder})")
    predictions = []
    silent = 0
    for i, im in enumerate(images):
        for segment_id, (text, score) in zip(im.segment_ids, answers[i]):
            if text:
                predictions.append(RegionPrediction(im.image_id, segment_id, text, score))
            else:
                silent += 1
    write_predictions(out_path, predictions)
    log.info("described %d regions of %s; %d got no text (no prediction line)", len(predictions), split_dir, silent)
    return predictions
