"""The paper's "Baseline": image tags first, then the open-vocabulary classifier among them.

The paper prompts an MLLM for a list of the nouns in each image and gives that list to
MasQCLIP as its vocabulary. Offline, an image-level tagger (a small CNN, multi-label over the
nouns seen as tags in training) plays the MLLM: a training image's tags are the nouns (of the
NOUNS list) found in its regions' reference descriptions. At inference each image keeps its
`top_k` tags with probability >= `threshold` (at least one), and every region of the image is
described by the classifier's best noun among those tags only.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from oeseg.lexicon.nouns import read_nouns
from oeseg.baselines.ovclassifier import (OpenVocabularyClassifier, RegionEncoder, conv_encoder, fit_flip_augmented,
                                          region_descriptions, single_thread)
from oeseg.data.panoptic import PanopticImage, PanopticSplit, read_rgb
from oeseg.data.predictions import write_predictions
from oeseg.io import InputError, atomic_write_json, load_checkpoint, save_checkpoint
from oeseg.registry import entry_settings

log = logging.getLogger("oeseg.baselines")

_WORD = re.compile(r"[a-z]+(?:-[a-z]+)*")


def nouns_in(text: str, nouns: set[str], max_words: int = 3) -> list[str]:
    """Nouns of the set found in a text as word n-grams (longest first; plural -s/-es folded;
    single stop words such as "a" or "one", which WordNet also lists as nouns, skipped)."""
    from spacy.lang.en.stop_words import STOP_WORDS

    words = _WORD.findall(text.lower())
    found, used = [], set()
    for n in range(max_words, 0, -1):
        for i in range(len(words) - n + 1):
            if any(j in used for j in range(i, i + n)):
                continue
            gram = " ".join(words[i:i + n])
            for form in (gram, gram[:-1] if gram.endswith("s") else None, gram[:-2] if gram.endswith("es") else None):
                if form and form in nouns and not (n == 1 and form in STOP_WORDS):
                    found.append(form)
                    used.update(range(i, i + n))
                    break
    return found


@dataclass
class TaggerConfig:
    """Hyper-parameters of the image tagger and its training."""

    image_size: int = 96
    width: int = 24
    epochs: int = 40
    batch_size: int = 16
    lr: float = 3e-3
    seed: int = 0


class ImageTagger(nn.Module):
    """Image -> independent probabilities of each tag of its vocabulary."""

    def __init__(self, tags: Sequence[str], config: TaggerConfig) -> None:
        """A tagger of `config`'s width with one output per tag."""
        super().__init__()
        self.tags = list(tags)
        self.config = config
        self.net = conv_encoder(3, config.width, len(self.tags), pool="max")  # presence anywhere

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """The tag logits (N,T) of images (N,3,S,S)."""
        return self.net(images)

    def save(self, path: str | os.PathLike) -> None:
        """Write tags, config and weights atomically."""
        save_checkpoint(path, {"tags": self.tags, "config": asdict(self.config), "state_dict": self.state_dict()})

    @classmethod
    def load(cls, path: str | os.PathLike) -> "ImageTagger":
        """Read a saved tagger (eval mode)."""
        obj = load_checkpoint(path, "model")
        model = cls(obj["tags"], TaggerConfig(**obj["config"]))
        model.load_state_dict(obj["state_dict"])
        return model.eval()

    @torch.no_grad()
    def tag(self, image: torch.Tensor, top_k: int, threshold: float) -> list[str]:
        """The image's tags: the top_k most probable with probability >= threshold, at least one."""
        probs = torch.sigmoid(self(image[None]))[0]
        order = probs.argsort(descending=True)[:top_k]
        keep = [self.tags[int(i)] for i in order if probs[i] >= threshold]
        return keep or [self.tags[int(order[0])]]


def image_tensor(split: PanopticSplit, image: PanopticImage, size: int) -> torch.Tensor:
    """The image as a 3 x size x size float tensor in [0, 1]."""
    rgb = torch.from_numpy(read_rgb(split.image_path(image))).permute(2, 0, 1).float() / 255.0
    return F.interpolate(rgb[None], size=(size, size), mode="bilinear", align_corners=False)[0]


@single_thread()
def train_tagger(train_split_dirs: Sequence[str | os.PathLike], nouns: str | os.PathLike,
                 output: str | os.PathLike, config: TaggerConfig | Mapping[str, Any] | None = None) -> ImageTagger:
    """Train the multi-label tagger on the train images' description nouns and save it (its settings
    a TaggerConfig or the fields of one: a method's `method_options`)."""
    config = entry_settings(TaggerConfig, config)
    torch.manual_seed(config.seed)
    noun_set = set(read_nouns(nouns))
    images, tag_sets = [], []
    for split_dir in train_split_dirs:
        split = PanopticSplit.load(split_dir)
        described = region_descriptions(split)
        for image in split.images:
            tags = {n for s in image.segments for t in described.get((image.id, s.id), ()) for n in nouns_in(t, noun_set)}
            if tags:
                images.append(image_tensor(split, image, config.image_size))
                tag_sets.append(tags)
    if not images:
        raise InputError(f"no training image has a description containing a noun of {nouns}")
    vocab = sorted(set().union(*tag_sets))
    index = {t: i for i, t in enumerate(vocab)}
    x = torch.stack(images)
    y = torch.zeros((len(images), len(vocab)))
    for i, tags in enumerate(tag_sets):
        y[i, [index[t] for t in tags]] = 1.0
    log.info("training the tagger on %d images, %d tags", len(images), len(vocab))
    model = ImageTagger(vocab, config)
    fit_flip_augmented(model, x, lambda out, idx: F.binary_cross_entropy_with_logits(out, y[idx]),
                       epochs=config.epochs, batch_size=config.batch_size, lr=config.lr, seed=config.seed,
                       one_cycle=False, what="tag loss")
    model.eval()
    model.save(output)
    return model


@dataclass(frozen=True)
class TagSettings:
    """How the tags baseline picks an image's tags: the `top_k` most probable, of probability ≥ `threshold`."""

    top_k: int = 8
    threshold: float = 0.3


@single_thread()
def predict_with_tags(classifier: str | os.PathLike, tagger: str | os.PathLike, nouns: str | os.PathLike,
                      split_dir: str | os.PathLike, output: str | os.PathLike,
                      settings: TagSettings | Mapping[str, Any] | None = None,
                      tags_output: str | os.PathLike | None = None) -> None:
    """Tag each image, then describe its regions with the classifier's best noun among its tags (the
    settings a TagSettings or the fields of one: a method's `method_options`)."""
    settings = entry_settings(TagSettings, settings)
    vocabulary = read_nouns(nouns)
    model = ImageTagger.load(tagger)
    unknown = [t for t in model.tags if t not in set(vocabulary)]
    if unknown:
        raise InputError(f"{tagger}: tags not in {nouns}: {', '.join(unknown[:5])}")
    split = PanopticSplit.load(split_dir)
    tags = {im.id: model.tag(image_tensor(split, im, model.config.image_size), settings.top_k,
                              settings.threshold) for im in split.images}
    used = sorted(set().union(*tags.values())) if tags else []
    index = {n: i for i, n in enumerate(used)}
    ov = OpenVocabularyClassifier(RegionEncoder.load(classifier), used)
    write_predictions(output, ov.describe_split(split, {k: [index[t] for t in v] for k, v in tags.items()}))
    if tags_output:
        atomic_write_json(tags_output, tags)
