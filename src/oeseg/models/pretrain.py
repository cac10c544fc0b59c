"""CLIP-style pretraining of a small ConvNeXt vision tower, for the offline demo.

The paper's OPAL and Osprey start from a pretrained CLIP ConvNeXt tower that stays frozen. The
demo has no such checkpoint for its tiny tower, so this stage makes one: the tower and a small
text encoder are trained contrastively on the synthetic train splits, each region of an image
paired with one of its reference descriptions. A region's image embedding is the tower's last
feature map (after the trunk's head norm) averaged inside the region (area weights, so that thin
regions keep their cells) and projected by the tower's MLP head, as CLIP embeds an image; with
`levels` the finer maps (res3, res4) are averaged inside the region too, each mapped by a linear
head to the last map's width and added, so that those maps learn what thin regions are (the mask
extractor of OPAL and Osprey pools every level); `flip` mirrors each image and its masks at random
(the train splits are small). The result is written as an open_clip-format state dict (`visual.trunk.*`, `visual.head.mlp.*`, the
text tower's `token_embedding.*`, `positional_embedding`, `transformer.*`, `ln_final.*`,
`text_projection`, `logit_scale`), which OPAL and Osprey load through `opal.vision_weights`.

Likewise the paper's LLM is Vicuna, a pretrained language model; the demo's tiny LLM is pretrained
here as a causal language model on the train splits' reference descriptions, with the demo's
word-level tokenizer built from them, and written as a Hugging Face folder (LLaMA weights and the
tokenizer) that OPAL and Osprey load through `opal.llm_weights` and `opal.model.tokenizer_path`.
"""

from __future__ import annotations

import logging
import math
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Self

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from oeseg.data.panoptic import PanopticSplit, read_rgb_of, read_segment_ids
from oeseg.data.regions import read_regions
from oeseg.io import InputError, atomic_write_jsonl, save_checkpoint
from oeseg.models.config import config_from_section
from oeseg.models.data import demo_region_records, prepare_image, record_texts, resize_mask
from oeseg.models.losses import contrastive_loss, text_ids
from oeseg.models.tokenization import IGNORE_INDEX, build_demo_tokenizer, encode_text
from oeseg.models.train import lr_factor
from oeseg.models.vision import FEATURE_NAMES, ClipVisual
from oeseg.models.weights import atomic_folder

if TYPE_CHECKING:
    from transformers import LlamaForCausalLM, PreTrainedTokenizerFast

log = logging.getLogger("oeseg.pretrain")


class SectionSettings:
    """Settings of one `opal.<SECTION>` config section (unknown keys are an InputError naming them)."""

    SECTION: ClassVar[str]

    @classmethod
    def from_section(cls, section: dict) -> Self:
        """Settings from the config section."""
        try:
            return cls(**section)
        except TypeError as e:
            raise InputError(f"opal.{cls.SECTION}: {e}") from None


@dataclass
class PretrainSettings(SectionSettings):
    """The `opal.tower_pretraining` config section (the tower's sizes come from `opal.model`)."""

    SECTION: ClassVar[str] = "tower_pretraining"
    steps: int = 300
    images_per_step: int = 8
    lr: float = 3.0e-3
    weight_decay: float = 0.05
    warmup_ratio: float = 0.1
    seed: int = 0
    text_width: int = 64
    text_layers: int = 1
    text_heads: int = 4
    context_length: int = 16
    levels: tuple[str, ...] = ("res5",)
    flip: bool = False

    def __post_init__(self) -> None:
        """`levels` as a tuple; InputError unless it is a non-empty subset of FEATURE_NAMES."""
        self.levels = tuple(self.levels)
        unknown = [level for level in self.levels if level not in FEATURE_NAMES]
        if unknown or not self.levels:
            raise InputError(f"opal.{self.SECTION}.levels: {list(self.levels)} must be a non-empty subset of "
                             f"{list(FEATURE_NAMES)}")


@dataclass(frozen=True)
class TrainingImage:
    """One training image: its path, its panoptic PNG, and (segment id, descriptions) per region."""

    image_path: str
    segments_path: str
    regions: tuple[tuple[int, tuple[str, ...]], ...]


def training_images(split_dir: str | os.PathLike) -> list[TrainingImage]:
    """The images of a synthetic split with their described regions (regions.jsonl), in the
    order of their first region there."""
    split = PanopticSplit.load(split_dir)
    by_image: dict[str, list[tuple[int, tuple[str, ...]]]] = {}
    for region in read_regions(split):
        by_image.setdefault(region.image_id, []).append((region.segment_id, region.descriptions))
    images = [split.image(image_id) for image_id in by_image]
    return [TrainingImage(str(split.image_path(image)), str(split.panoptic_path(image)),
                          tuple(by_image[image.id])) for image in images]


class TextTower(nn.Module):
    """A small CLIP text encoder: token + position embeddings, a transformer, the final LayerNorm,
    the mean over the text's tokens, a linear projection (open_clip's top-level names)."""

    def __init__(self, vocab_size: int, width: int, layers: int, heads: int, context_length: int,
                 embed_dim: int) -> None:
        """A text tower of `width`, `layers` and `heads` over `context_length` tokens, projected to `embed_dim`."""
        super().__init__()
        self.token_embedding = nn.Embedding(vocab_size, width)
        self.positional_embedding = nn.Parameter(torch.randn(context_length, width) * 0.01)
        layer = nn.TransformerEncoderLayer(width, heads, 4 * width, dropout=0.0, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.transformer = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.ln_final = nn.LayerNorm(width)
        self.text_projection = nn.Parameter(torch.randn(width, embed_dim) * width ** -0.5)

    def forward(self, ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Token ids (N,L) and their mask -> text embeddings (N,E)."""
        x = self.token_embedding(ids) + self.positional_embedding[: ids.shape[1]]
        x = self.ln_final(self.transformer(x, src_key_padding_mask=~attention_mask.bool()))
        keep = attention_mask[..., None].to(x.dtype)
        return (x * keep).sum(1) / keep.sum(1).clamp(min=1) @ self.text_projection


class RegionClip(nn.Module):
    """The tower (open_clip's `visual`) and the text tower, embedding regions and descriptions; the
    heads of the finer levels (`level_heads`) serve the pretraining only and are not exported."""

    def __init__(self, depths: list[int], dims: list[int], embed_dim: int, vocab_size: int,
                 settings: PretrainSettings) -> None:
        """The tower, the text tower and the finer levels' heads of `settings`."""
        super().__init__()
        self.visual = ClipVisual(depths, dims, embed_dim)
        self.text = TextTower(vocab_size, settings.text_width, settings.text_layers, settings.text_heads,
                              settings.context_length, embed_dim)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
        width = dict(zip(FEATURE_NAMES, dims))
        self.levels = settings.levels
        self.level_heads = nn.ModuleDict({level: nn.Linear(width[level], dims[-1])
                                          for level in self.levels if level != FEATURE_NAMES[-1]})

    def region_embeddings(self, images: torch.Tensor, masks: list[torch.Tensor]) -> torch.Tensor:
        """Images (B,3,S,S) and per image its region masks (Q_b,S,S) -> (sum Q_b, E)."""
        trunk = self.visual.trunk
        feats = trunk(images)
        feats[FEATURE_NAMES[-1]] = trunk.head.norm(feats[FEATURE_NAMES[-1]])
        pooled = []
        for b, m in enumerate(masks):
            total = 0
            for level in self.levels:
                x = feats[level][b]
                weights = F.interpolate(m[None], size=x.shape[-2:], mode="area")[0]
                weights = weights / weights.sum(dim=(-1, -2), keepdim=True).clamp(min=1e-8)
                region = torch.einsum("chw,qhw->qc", x, weights)
                total = total + (self.level_heads[level](region) if level in self.level_heads else region)
            pooled.append(total)
        return self.visual.head.mlp(torch.cat(pooled))

    def open_clip_state_dict(self) -> dict[str, torch.Tensor]:
        """The weights under open_clip's key names (`visual.*` and the text tower's top-level keys)."""
        state = {f"visual.{k}": v for k, v in self.visual.state_dict().items()}
        state.update(self.text.state_dict())
        state["logit_scale"] = self.logit_scale.detach()
        return {k: v.detach().clone().contiguous() for k, v in state.items()}


def _optimizer(params: list[torch.nn.Parameter], lr: float, weight_decay: float, steps: int, warmup_ratio: float
               ) -> tuple[torch.optim.AdamW, torch.optim.lr_scheduler.LambdaLR]:
    """AdamW and the training stages' schedule (linear warm-up, cosine decay over `steps`)."""
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, steps, warmup_ratio))


def _epoch_batches(n: int, size: int, rng: random.Random) -> Iterator[list[int]]:
    """Endless batches of min(size, n) indices of 0..n-1, drawn without replacement from a
    permutation by `rng` that is redrawn when used up."""
    order: list[int] = []
    while True:
        batch = []
        while len(batch) < min(size, n):
            if not order:
                order = list(range(n))
                rng.shuffle(order)
            batch.append(order.pop())
        yield batch


def _step(loss: torch.Tensor, params: list[torch.nn.Parameter], optimizer: torch.optim.Optimizer,
          scheduler: torch.optim.lr_scheduler.LRScheduler) -> None:
    """One optimizer step on `loss` (gradients clipped to norm 1)."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    optimizer.step()
    scheduler.step()


def load_training_image(item: TrainingImage, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The image (3,S,S), CLIP-normalised, and its regions' masks (Q,S,S), resized to S = `size`."""
    ids = read_segment_ids(item.segments_path)
    rgb = read_rgb_of(item.image_path, item.segments_path, ids.shape)
    masks = [resize_mask(np.asarray(ids == seg), size) for seg, _ in item.regions]
    return prepare_image(rgb, size), torch.stack(masks)


def pretrain_tower(split_dirs: list[str], model_section: dict, settings: PretrainSettings
                   ) -> tuple[RegionClip, list[dict]]:
    """Train the tower of the `opal.model` section (its vision depths, dims, embed dim and image
    size) and a text tower on the regions of `split_dirs`; returns the model and the per-step loss log."""
    items = [it for d in split_dirs for it in training_images(d)]
    if not items:
        raise InputError(f"tower pretraining: no described regions in {', '.join(split_dirs)}")
    texts = sorted({t for it in items for _, ts in it.regions for t in ts})
    tokenizer = build_demo_tokenizer(texts)
    tower = config_from_section(model_section)
    size = tower.image_size
    torch.manual_seed(settings.seed)
    rng = random.Random(settings.seed)
    model = RegionClip(tower.vision_depths, tower.vision_dims, tower.vision_embed_dim, len(tokenizer), settings)
    data = [load_training_image(it, size) for it in items]
    params = list(model.parameters())
    optimizer, scheduler = _optimizer(params, settings.lr, settings.weight_decay, settings.steps, settings.warmup_ratio)
    batches = _epoch_batches(len(items), settings.images_per_step, rng)
    history = []
    model.train()
    for step in range(settings.steps):
        batch = next(batches)
        chosen = [rng.choice(ts) for i in batch for _, ts in items[i].regions]
        enc = tokenizer(chosen, padding=True, truncation=True, max_length=settings.context_length,
                        return_tensors="pt", add_special_tokens=False)
        flips = [settings.flip and rng.random() < 0.5 for _ in batch]
        images = torch.stack([data[i][0].flip(-1) if f else data[i][0] for i, f in zip(batch, flips)])
        region = model.region_embeddings(images, [data[i][1].flip(-1) if f else data[i][1]
                                                  for i, f in zip(batch, flips)])
        text = model.text(enc["input_ids"], enc["attention_mask"])
        temperature = (1 / model.logit_scale.exp()).clamp(min=0.01)
        loss = contrastive_loss(region, text, text_ids(chosen), temperature)
        lr = scheduler.get_last_lr()[0]  # this step's (`_step` steps the scheduler)
        _step(loss, params, optimizer, scheduler)
        history.append({"step": step, "lr": lr, "loss": float(loss.detach()), "regions": len(chosen)})
        if (step + 1) % 25 == 0 or step + 1 == settings.steps:
            log.info("tower pretraining step %d/%d loss %.4f", step + 1, settings.steps, float(loss.detach()))
    model.eval()
    return model, history


def save_open_clip(model: RegionClip, path: str | os.PathLike) -> None:
    """Write the model's open_clip-format state dict to `path` (atomically; same weights, same bytes)."""
    save_checkpoint(path, model.open_clip_state_dict())


def run_tower_pretraining(split_dirs: list[str], model_section: dict, section: dict, out_path: str | os.PathLike,
                          log_path: str | os.PathLike | None = None) -> list[dict]:
    """Pretrain the tower on `split_dirs` and write its open_clip checkpoint to `out_path` (and the
    loss log, one JSON line per step, to `log_path`)."""
    model, history = pretrain_tower(split_dirs, model_section, PretrainSettings.from_section(section))
    save_open_clip(model, out_path)
    if log_path:
        atomic_write_jsonl(log_path, history)
    return history


# --- the demo's language model ---------------------------------------------------------------
@dataclass
class LlmPretrainSettings(SectionSettings):
    """The `opal.llm_pretraining` config section (the LLM's sizes come from `opal.model`)."""

    SECTION: ClassVar[str] = "llm_pretraining"
    steps: int = 300
    batch_size: int = 64
    lr: float = 3.0e-3
    weight_decay: float = 0.0
    warmup_ratio: float = 0.1
    seed: int = 0


def description_texts(split_dirs: list[str]) -> list[str]:
    """The reference descriptions of the splits' regions, in file order (what the demo's
    tokenizer is built from)."""
    return record_texts([r for d in split_dirs for r in demo_region_records(d)])


def pretrain_llm(split_dirs: list[str], model_section: dict, settings: LlmPretrainSettings
                 ) -> tuple[LlamaForCausalLM, PreTrainedTokenizerFast, list[dict]]:
    """Train a LLaMA of the `opal.model` section's LLM shape as a causal language model on the
    descriptions of `split_dirs` (each `<s> text </s>`); returns (model, tokenizer, loss log)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    texts = description_texts(split_dirs)
    if not texts:
        raise InputError(f"LLM pretraining: no descriptions in {', '.join(split_dirs)}")
    tokenizer = build_demo_tokenizer(texts)
    shape = config_from_section(model_section, vocab_size=len(tokenizer))
    config = LlamaConfig(**{k: getattr(shape, k) for k in (
        "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
        "num_key_value_heads", "max_position_embeddings", "rms_norm_eps")},
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(settings.seed)
    rng = random.Random(settings.seed)
    model = LlamaForCausalLM(config)
    sequences = [encode_text(tokenizer, " " + t, 0) + [tokenizer.eos_token_id] for t in sorted(set(texts))]
    params = list(model.parameters())
    optimizer, scheduler = _optimizer(params, settings.lr, settings.weight_decay, settings.steps, settings.warmup_ratio)
    batches = _epoch_batches(len(sequences), settings.batch_size, rng)
    history = []
    model.train()
    for step in range(settings.steps):
        batch = [sequences[i] for i in next(batches)]
        width = max(map(len, batch))
        ids = torch.full((len(batch), width), tokenizer.pad_token_id)
        labels = torch.full((len(batch), width), IGNORE_INDEX)
        for i, seq in enumerate(batch):
            ids[i, :len(seq)] = labels[i, :len(seq)] = torch.tensor(seq)
        loss = model(input_ids=ids, attention_mask=(labels != IGNORE_INDEX).long(), labels=labels).loss
        lr = scheduler.get_last_lr()[0]  # this step's (`_step` steps the scheduler)
        _step(loss, params, optimizer, scheduler)
        history.append({"step": step, "lr": lr, "loss": float(loss.detach())})
        if (step + 1) % 50 == 0 or step + 1 == settings.steps:
            log.info("LLM pretraining step %d/%d loss %.4f", step + 1, settings.steps, float(loss.detach()))
    model.eval()
    return model, tokenizer, history


def run_llm_pretraining(split_dirs: list[str], model_section: dict, section: dict, out_dir: str | os.PathLike,
                        log_path: str | os.PathLike | None = None) -> list[dict]:
    """Pretrain the demo's LLM on `split_dirs` and write it (safetensors, config) with its tokenizer
    to the folder `out_dir`, atomically (and the loss log to `log_path`)."""
    model, tokenizer, history = pretrain_llm(split_dirs, model_section, LlmPretrainSettings.from_section(section))
    with atomic_folder(out_dir) as folder:
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
    if log_path:
        atomic_write_jsonl(log_path, history)
    return history
