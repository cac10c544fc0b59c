"""OPAL's losses: the generative next-token loss (computed by the model) and the region-text
contrastive loss of Figure 6, and how the two combine."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.distributed.nn.functional import all_gather as all_gather_with_grad

from oeseg.io import InputError

COMBINATIONS = ("sum", "alternate")


def text_ids(texts: list[str]) -> torch.Tensor:
    """A 63-bit id per text (equal texts, equal ids), to find positives across processes."""
    return torch.tensor([int.from_bytes(hashlib.sha1(t.encode()).digest()[:8], "big") >> 1 for t in texts])


def _gather(x: torch.Tensor) -> torch.Tensor:
    """Concatenate `x` over the processes; gradients reach every process's own rows."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x
    return torch.cat(all_gather_with_grad(x))


def _gather_plain(x: torch.Tensor) -> torch.Tensor:
    """Concatenate `x` (no gradient) over the processes."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x
    out = [torch.empty_like(x) for _ in range(dist.get_world_size())]
    dist.all_gather(out, x)
    return torch.cat(out)


def _multi_positive_ce(logits: torch.Tensor, positives: torch.Tensor) -> torch.Tensor:
    """Cross-entropy against a target spread uniformly over each row's positives (rows without a
    positive give 0)."""
    target = positives.float() / positives.sum(1, keepdim=True).clamp(min=1)
    return -(target * F.log_softmax(logits, dim=1)).sum(1)


def contrastive_loss(region: torch.Tensor, text: torch.Tensor, ids: torch.Tensor,
                     temperature: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
    """Symmetric multi-positive InfoNCE between region (mask) tokens and text embeddings.

    Both sides are L2-normalised; logits are cosine similarities over `temperature`; candidates are
    the whole batch gathered over processes; rows whose description texts are equal (`ids`) are
    positives. Rows with `valid` False (samples without a region description, e.g. Osprey's
    conversations) are neither scored nor candidates. The loss is the mean over the valid rows of
    all processes, scaled so that the mean over processes (what data-parallel gradient averaging
    optimises) equals the loss of one process holding the whole batch (equal local row counts
    required: one row per sample, padded with invalid rows).
    """
    if region.shape != text.shape or len(ids) != len(region):
        raise ValueError(f"contrastive_loss: shapes {tuple(region.shape)}, {tuple(text.shape)}, {len(ids)} ids")
    valid = torch.ones(len(region), dtype=torch.bool) if valid is None else valid.bool()
    valid = valid.to(region.device)
    region = F.normalize(region.float(), dim=-1)
    text = F.normalize(text.float(), dim=-1)
    all_region, all_text = _gather(region), _gather(text)
    all_ids, all_valid = _gather_plain(ids.to(region.device)), _gather_plain(valid)
    positives = (ids.to(region.device)[:, None] == all_ids[None, :]) & all_valid[None, :] & valid[:, None]
    scale = 1.0 / temperature.float()
    excluded = torch.finfo(torch.float32).min / 4  # invalid candidates: zero probability, finite logits

    def ce(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return _multi_positive_ce((a @ b.T * scale).masked_fill(~all_valid[None, :], excluded), positives)

    world = dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1
    n_valid = max(1, int(all_valid.sum()))
    return 0.5 * (ce(region, all_text).sum() + ce(text, all_region).sum()) * world / n_valid


@dataclass(frozen=True)
class LossWeights:
    """How the losses combine: `sum` (gen + w*con every step) or `alternate` (generative on even
    steps, w*contrastive on odd steps). w = 0 is the Osprey baseline (generative only)."""

    contrastive: float = 0.0
    combination: str = "sum"

    def __post_init__(self) -> None:
        if self.combination not in COMBINATIONS:
            raise InputError(f"opal: loss combination {self.combination!r} not in {COMBINATIONS}")
        if self.contrastive < 0:
            raise InputError("opal: contrastive weight must be >= 0")

    def terms(self, step: int) -> tuple[bool, bool]:
        """(use generative, use contrastive) at an optimizer step."""
        if self.contrastive == 0:
            return True, False
        if self.combination == "sum":
            return True, True
        return step % 2 == 0, step % 2 == 1
