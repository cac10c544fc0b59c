"""An open-vocabulary region classifier in the style of MaskCLIP/MasQCLIP, small enough for a CPU.

Text side: all-MiniLM-L6-v2 sentence embeddings (offline, frozen) of the noun vocabulary.
Image side: a small CNN over the masked crop of each region (RGB + mask channel), trained
contrastively on a train split's regions and their reference descriptions (regions.jsonl) to
land next to the embeddings of those descriptions. A region is described by the noun whose
embedding scores highest; its score is that noun's softmax probability over the vocabulary
(or over an allowed subset, which is how the tags baseline uses it).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from oeseg.lexicon.nouns import read_nouns
from oeseg.data.panoptic import PanopticImage, PanopticSplit, bbox_of
from oeseg.data.predictions import RegionPrediction, write_predictions
from oeseg.data.regions import read_regions
from oeseg.io import InputError, load_checkpoint, save_checkpoint
from oeseg.mapping.sbert import load_model
from oeseg.registry import entry_settings

log = logging.getLogger("oeseg.baselines")

TEXT_DIM = 384  # all-MiniLM-L6-v2


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Run torch on one thread (these models are tiny: more threads only wait on each other)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def embed_texts(texts: Sequence[str], batch_size: int = 256) -> torch.Tensor:
    """L2-normalised all-MiniLM-L6-v2 embeddings (len(texts) x 384) of the texts."""
    if not texts:
        return torch.zeros((0, TEXT_DIM))
    emb = load_model().encode(list(texts), batch_size=batch_size, convert_to_tensor=True,
                              normalize_embeddings=True, show_progress_bar=False)
    return emb.float().cpu().clone()  # a normal tensor, usable with autograd


def region_crops(rgb: np.ndarray, ids: np.ndarray, segment_ids: Sequence[int], size: int) -> torch.Tensor:
    """Masked square crops (N x 4 x size x size: RGB in [0, 1] outside-mask greyed, then the mask)."""
    if rgb.shape[:2] != ids.shape:
        raise InputError(f"image is {rgb.shape[:2]} but its panoptic PNG is {ids.shape}")
    img = torch.from_numpy(rgb).permute(2, 0, 1).float() / 255.0
    crops = []
    for sid in segment_ids:
        mask = ids == sid
        x, y, w, h = bbox_of(mask)
        side = max(w, h, 1) * 1.2
        cx, cy = x + w / 2, y + h / 2
        x0, y0 = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
        x1, y1 = int(min(ids.shape[1], cx + side / 2 + 1)), int(min(ids.shape[0], cy + side / 2 + 1))
        m = torch.from_numpy(mask[y0:y1, x0:x1]).float()[None]
        patch = img[:, y0:y1, x0:x1] * m + 0.5 * (1 - m)
        crops.append(F.interpolate(torch.cat([patch, m])[None], size=(size, size), mode="bilinear",
                                   align_corners=False)[0])
    return torch.stack(crops) if crops else torch.zeros((0, 4, size, size))


def conv_encoder(in_channels: int, width: int, out_dim: int, pool: str = "avg") -> nn.Sequential:
    """Four stride-2 conv blocks, global pooling ("avg" | "max") and a linear projection."""
    layers: list[nn.Module] = []
    channels = [in_channels, width, 2 * width, 4 * width, 4 * width]
    for a, b in zip(channels, channels[1:]):
        layers += [nn.Conv2d(a, b, 3, stride=2, padding=1), nn.BatchNorm2d(b), nn.ReLU(inplace=True)]
    pooling = nn.AdaptiveMaxPool2d(1) if pool == "max" else nn.AdaptiveAvgPool2d(1)
    return nn.Sequential(*layers, pooling, nn.Flatten(), nn.Linear(channels[-1], out_dim))


@dataclass
class RegionEncoderConfig:
    """Hyper-parameters of the region image encoder and its contrastive training."""

    crop_size: int = 48
    width: int = 32
    epochs: int = 30
    batch_size: int = 64
    lr: float = 3e-3
    temperature: float = 0.05
    seed: int = 0


class RegionEncoder(nn.Module):
    """Masked region crop -> unit vector in the text embedding space."""

    def __init__(self, config: RegionEncoderConfig) -> None:
        """An encoder of `config`'s width over 4-channel (RGB + mask) crops."""
        super().__init__()
        self.config = config
        self.net = conv_encoder(4, config.width, TEXT_DIM)

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        """The unit-norm text-space embeddings of masked crops (N,4,S,S)."""
        return F.normalize(self.net(crops), dim=-1)

    def save(self, path: str | os.PathLike) -> None:
        """Write config and weights atomically."""
        save_checkpoint(path, {"config": asdict(self.config), "state_dict": self.state_dict()})

    @classmethod
    def load(cls, path: str | os.PathLike) -> "RegionEncoder":
        """Read a saved encoder (eval mode)."""
        obj = load_checkpoint(path, "model")
        model = cls(RegionEncoderConfig(**obj["config"]))
        model.load_state_dict(obj["state_dict"])
        return model.eval()


def region_descriptions(split: PanopticSplit) -> dict[tuple[str, int], tuple[str, ...]]:
    """(image_id, segment_id) -> reference descriptions of the split's described regions (regions.jsonl)."""
    return {(r.image_id, r.segment_id): r.descriptions for r in read_regions(split)}


def training_regions(split_dirs: Sequence[str | os.PathLike], crop_size: int
                     ) -> tuple[torch.Tensor, list[tuple[str, ...]]]:
    """Crops of every described region of the splits and their descriptions."""
    crops, texts = [], []
    for split_dir in split_dirs:
        split = PanopticSplit.load(split_dir)
        described = region_descriptions(split)
        for image in split.images:
            sids = [s.id for s in image.segments if (image.id, s.id) in described]
            if not sids:
                continue
            ids = split.segment_ids(image)
            crops.append(region_crops(split.rgb(image, ids), ids, sids, crop_size))
            texts += [described[(image.id, s)] for s in sids]
    if not texts:
        raise InputError(f"no described regions in {', '.join(map(str, split_dirs))} (regions.jsonl)")
    return torch.cat(crops), texts


def fit_flip_augmented(model: nn.Module, inputs: torch.Tensor,
                       loss_of: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], *, epochs: int,
                       batch_size: int, lr: float, seed: int, one_cycle: bool, what: str) -> None:
    """Train `model` on images (N,C,H,W) with AdamW (and a one-cycle schedule), seeded shuffled
    batches and random horizontal flips; `loss_of(outputs, batch_indices)` is the batch loss."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    steps = epochs * max(1, -(-len(inputs) // batch_size))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps) if one_cycle else None
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for epoch in range(epochs):
        order = torch.randperm(len(inputs), generator=gen)
        total = 0.0
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            flip = torch.rand(len(idx), generator=gen) < 0.5
            batch = torch.where(flip[:, None, None, None], inputs[idx].flip(-1), inputs[idx])
            loss = loss_of(model(batch), idx)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            total += loss.item() * len(idx)
        log.info("epoch %d: %s %.4f", epoch + 1, what, total / len(inputs))


@single_thread()
def train_region_encoder(train_split_dirs: Sequence[str | os.PathLike], output: str | os.PathLike,
                         config: RegionEncoderConfig | Mapping[str, Any] | None = None) -> RegionEncoder:
    """Train the region encoder contrastively against the frozen text embeddings and save it (its
    settings a RegionEncoderConfig or the fields of one: a method's `method_options`)."""
    config = entry_settings(RegionEncoderConfig, config)
    torch.manual_seed(config.seed)
    crops, texts = training_regions(train_split_dirs, config.crop_size)
    vocab = sorted({t for ts in texts for t in ts})
    index = {t: i for i, t in enumerate(vocab)}
    text_emb = embed_texts(vocab)
    positives = torch.zeros((len(texts), len(vocab)))
    for i, ts in enumerate(texts):
        positives[i, [index[t] for t in ts]] = 1.0
    log.info("training the region encoder on %d regions, %d distinct descriptions", len(texts), len(vocab))
    model = RegionEncoder(config)

    def loss_of(out: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """The contrastive loss of embeddings `out` of regions `idx` against all distinct descriptions."""
        target = positives[idx] / positives[idx].sum(1, keepdim=True)
        return -(target * F.log_softmax(out @ text_emb.T / config.temperature, dim=-1)).sum(1).mean()

    fit_flip_augmented(model, crops, loss_of, epochs=config.epochs, batch_size=config.batch_size, lr=config.lr,
                       seed=config.seed, one_cycle=True, what="contrastive loss")
    model.eval()
    model.save(output)
    return model


@single_thread()
def embed_nouns(nouns: str | os.PathLike, output: str | os.PathLike) -> None:
    """Embed a noun list once (the classifier's vocabulary) and save nouns + float16 embeddings."""
    vocabulary = read_nouns(nouns)
    log.info("embedding %d nouns with all-MiniLM-L6-v2", len(vocabulary))
    save_checkpoint(output, {"nouns": vocabulary, "embeddings": embed_texts(vocabulary).half()})


def load_noun_embeddings(path: str | os.PathLike) -> tuple[list[str], torch.Tensor]:
    """The nouns and their (float32) embeddings saved by embed_nouns."""
    obj = load_checkpoint(path, "noun embeddings")
    return list(obj["nouns"]), obj["embeddings"].float()


class OpenVocabularyClassifier:
    """A trained region encoder and the embedded noun vocabulary."""

    def __init__(self, encoder: RegionEncoder, nouns: Sequence[str], noun_embeddings: torch.Tensor | None = None) -> None:
        """A classifier of `encoder` over `nouns` (embedded here unless their embeddings are given)."""
        self.encoder = encoder
        self.nouns = list(nouns)
        self.noun_embeddings = embed_texts(self.nouns) if noun_embeddings is None else noun_embeddings
        if len(self.noun_embeddings) != len(self.nouns):
            raise InputError(f"{len(self.nouns)} nouns but {len(self.noun_embeddings)} noun embeddings")

    @torch.no_grad()
    def region_embeddings(self, split: PanopticSplit, image: PanopticImage) -> torch.Tensor:
        """Embeddings of every ground-truth segment of an image (segment order)."""
        ids = split.segment_ids(image)
        crops = region_crops(split.rgb(image, ids), ids, [s.id for s in image.segments], self.encoder.config.crop_size)
        return self.encoder(crops) if len(crops) else torch.zeros((0, TEXT_DIM))

    @torch.no_grad()
    def classify(self, embeddings: torch.Tensor, allowed: Sequence[int] | None = None) -> list[tuple[str, float]]:
        """(best noun, its probability) per region, over all nouns or only the `allowed` indices."""
        vocab = self.noun_embeddings if allowed is None else self.noun_embeddings[list(allowed)]
        names = self.nouns if allowed is None else [self.nouns[i] for i in allowed]
        if len(names) == 0:
            raise InputError("the classifier was given an empty vocabulary")
        probs = F.softmax(embeddings @ vocab.T / self.encoder.config.temperature, dim=-1)
        best = probs.argmax(dim=-1)
        return [(names[int(b)], float(probs[i, b])) for i, b in enumerate(best)]

    def describe_split(self, split: PanopticSplit, allowed: dict[str, list[int]] | None = None
                       ) -> list[RegionPrediction]:
        """One prediction per ground-truth segment of every image of the split."""
        out = []
        for image in split.images:
            labels = self.classify(self.region_embeddings(split, image),
                                   None if allowed is None else allowed[image.id])
            out += [RegionPrediction(image.id, s.id, noun, score) for s, (noun, score) in zip(image.segments, labels)]
        return out


@single_thread()
def predict_regions(model: str | os.PathLike, noun_embeddings: str | os.PathLike, split_dir: str | os.PathLike,
                    output: str | os.PathLike) -> None:
    """Describe every ground-truth region of a split with its best noun; write the predictions."""
    classifier = OpenVocabularyClassifier(RegionEncoder.load(model), *load_noun_embeddings(noun_embeddings))
    write_predictions(output, classifier.describe_split(PanopticSplit.load(split_dir)))
