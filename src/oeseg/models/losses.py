"""OPAL's losses: the generative next-token loss (computed by the model) and the region-text
contrastive loss of Figure 6, and how the two combine.

The contrastive loss has the options of the paper's released code (`LossWeights`): which
region-text pairs a sample gives (`pairs`), which rows count as positives (`positives`), one or
both directions (`symmetric`), whether the token embeddings of the text pass get gradient
(`detach_text_embeddings`) and whether the text embeddings get any (`text_gradient`); the
schedule (`combination`) sums the losses every step or alternates them step by step.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.distributed.nn.functional import all_gather as all_gather_with_grad

from oeseg.io import InputError

COMBINATIONS = ("sum", "alternate")
PAIRS = ("first", "all")
POSITIVES = ("text", "class")


def text_ids(texts: list[str]) -> torch.Tensor:
    """A 63-bit id per text (equal texts, equal ids), to find positives across processes."""
    return torch.tensor([int.from_bytes(hashlib.sha1(t.encode()).digest()[:8], "big") >> 1 for t in texts],
                        dtype=torch.long)


def positive_keys(texts: list[str], classes: list[str | None], positives: str) -> torch.Tensor:
    """The id of each contrastive row: equal ids are positives. `text`: the description text;
    `class`: the region's class, or its text where the source gives no class (then only identical
    descriptions are positives, as with `text`)."""
    if positives not in POSITIVES:
        raise InputError(f"opal: loss positives {positives!r} not in {POSITIVES}")
    if positives == "text":
        return text_ids(texts)
    return text_ids([f"class\0{c}" if c is not None else f"text\0{t}" for t, c in zip(texts, classes)])


def _distributed() -> bool:
    """Whether a process group of more than one process is running."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def _gather(x: torch.Tensor, counts: list[int]) -> torch.Tensor:
    """Concatenate `x` (this process's counts[rank] rows) over the processes; gradients reach
    every process's own rows. Processes may hold different row counts."""
    if not _distributed():
        return x
    most = max(counts)
    padded = F.pad(x, (0, 0) * (x.dim() - 1) + (0, most - len(x)))
    parts = all_gather_with_grad(padded)
    return torch.cat([p[:n] for p, n in zip(parts, counts)])


def _gather_plain(x: torch.Tensor, counts: list[int]) -> torch.Tensor:
    """Concatenate `x` (no gradient) over the processes (row counts as in `_gather`)."""
    if not _distributed():
        return x
    most = max(counts)
    padded = torch.cat([x, x.new_zeros((most - len(x), *x.shape[1:]))])
    out = [torch.empty_like(padded) for _ in range(dist.get_world_size())]
    dist.all_gather(out, padded)
    return torch.cat([p[:n] for p, n in zip(out, counts)])


def _row_counts(n: int, device: torch.device) -> list[int]:
    """The row counts of every process (this one's is n), by rank."""
    if not _distributed():
        return [n]
    counts = [torch.zeros(1, dtype=torch.long, device=device) for _ in range(dist.get_world_size())]
    dist.all_gather(counts, torch.tensor([n], dtype=torch.long, device=device))
    return [int(c) for c in counts]


def _multi_positive_ce(logits: torch.Tensor, positives: torch.Tensor) -> torch.Tensor:
    """Cross-entropy against a target spread uniformly over each row's positives (rows without a
    positive give 0)."""
    target = positives.float() / positives.sum(1, keepdim=True).clamp(min=1)
    return -(target * F.log_softmax(logits, dim=1)).sum(1)


def contrastive_loss(region: torch.Tensor, text: torch.Tensor, ids: torch.Tensor,
                     temperature: torch.Tensor, valid: torch.Tensor | None = None,
                     symmetric: bool = True) -> torch.Tensor:
    """Multi-positive InfoNCE between region (mask) tokens and text embeddings.

    Both sides are L2-normalised; logits are cosine similarities over `temperature`; candidates are
    the rows of all processes; rows with equal `ids` are positives. `symmetric`: the mean of the
    region-to-text and text-to-region losses; otherwise region-to-text only (each region scores
    every text). Rows with `valid` False (samples without a region description) are neither
    scored nor candidates. The loss is the mean over the valid rows of all processes, scaled so
    that the mean over processes (what data-parallel gradient averaging optimises) equals the
    loss of one process holding all rows; processes may hold different row counts.
    """
    if region.shape != text.shape or len(ids) != len(region):
        raise ValueError(f"contrastive_loss: shapes {tuple(region.shape)}, {tuple(text.shape)}, {len(ids)} ids")
    valid = torch.ones(len(region), dtype=torch.bool) if valid is None else valid.bool()
    valid, ids = valid.to(region.device), ids.to(region.device)
    region = F.normalize(region.float(), dim=-1)
    text = F.normalize(text.float(), dim=-1)
    counts = _row_counts(len(region), region.device)
    all_region, all_text = _gather(region, counts), _gather(text, counts)
    all_ids, all_valid = _gather_plain(ids, counts), _gather_plain(valid, counts)
    positives = (ids[:, None] == all_ids[None, :]) & all_valid[None, :] & valid[:, None]
    scale = 1.0 / temperature.float()
    excluded = torch.finfo(torch.float32).min / 4  # invalid candidates: zero probability, finite logits

    def ce(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Per-row multi-positive cross-entropy of `a` against the candidates `b`."""
        return _multi_positive_ce((a @ b.T * scale).masked_fill(~all_valid[None, :], excluded), positives)

    world = len(counts)
    n_valid = max(1, int(all_valid.sum()))
    total = ce(region, all_text).sum()
    if symmetric:
        total = 0.5 * (total + ce(text, all_region).sum())
    return total * world / n_valid


@dataclass(frozen=True)
class LossWeights:
    """How the losses are computed and combined.

    `combination`: `sum` (gen + w*con every step) or `alternate` (generative on even steps,
    w*contrastive on odd steps, as the released OPAL code). w = 0 is the Osprey baseline
    (generative only). `pairs`: `first` (each sample's first region and its description) or
    `all` (every answer of the sample's conversation with its own region). `positives`: `text`
    (identical description texts) or `class` (the same ground-truth class; the text where the
    class is unknown). `symmetric`: both directions, or region-to-text only.
    `detach_text_embeddings`: the text pass's input embeddings carry no gradient (the token
    embedding table learns from the generative loss only). `text_gradient`: the contrastive loss
    reaches the LLM through the text embeddings; without it they are fixed targets and the loss
    trains the mask extractor and the temperature alone (the released code on several GPUs: its
    gather of the text embeddings is not differentiable, the local ones included)."""

    contrastive: float = 0.0
    combination: str = "sum"
    pairs: str = "first"
    positives: str = "text"
    symmetric: bool = True
    detach_text_embeddings: bool = False
    text_gradient: bool = True

    def __post_init__(self) -> None:
        """Raise InputError for an unknown combination, pairs or positives, or a negative weight."""
        if self.combination not in COMBINATIONS:
            raise InputError(f"opal: loss combination {self.combination!r} not in {COMBINATIONS}")
        if self.pairs not in PAIRS:
            raise InputError(f"opal: loss pairs {self.pairs!r} not in {PAIRS}")
        if self.positives not in POSITIVES:
            raise InputError(f"opal: loss positives {self.positives!r} not in {POSITIVES}")
        if self.contrastive < 0:
            raise InputError("opal: contrastive weight must be >= 0")

    @classmethod
    def from_section(cls, loss: dict, contrastive: float) -> LossWeights:
        """The options of an `opal.loss` config section with the given contrastive weight."""
        keys = ("combination", "pairs", "positives", "symmetric", "detach_text_embeddings", "text_gradient")
        return cls(contrastive, **{k: loss[k] for k in keys if k in loss})

    def terms(self, step: int) -> tuple[bool, bool]:
        """(use generative, use contrastive) at an optimizer step."""
        if self.contrastive == 0:
            return True, False
        if self.combination == "sum":
            return True, True
        return step % 2 == 0, step % 2 == 1
