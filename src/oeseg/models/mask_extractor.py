"""Osprey's mask-aware visual extractor: one mask token and one position token per region."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from oeseg.models.config import OpalConfig
from oeseg.models.vision import FEATURE_NAMES


def mask_support(masks: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Where the masks (Q,h,w), values >= 0 (or bool), resized bilinearly to `size` are positive, (Q,H,W) bool.

    Where `size` divides (h,w) by integers, bilinear sampling (align_corners=False) reads one
    pixel per axis for an odd factor f ((f-1)/2 into each cell) and two for an even one (f/2-1
    and f/2, weights 1/2): the positives are those taps' union, without the interpolation (the
    same result, a few times faster); other sizes go through F.interpolate."""
    (h, w), (big_h, big_w) = masks.shape[-2:], size
    if h % big_h or w % big_w:
        return F.interpolate(masks[None].float(), size=size, mode="bilinear", align_corners=False)[0] > 0
    fy, fx = h // big_h, w // big_w
    support = None
    for y in ([(fy - 1) // 2] if fy % 2 else [fy // 2 - 1, fy // 2]):
        for x in ([(fx - 1) // 2] if fx % 2 else [fx // 2 - 1, fx // 2]):
            tap = masks[..., y::fy, x::fx] > 0
            support = tap if support is None else support | tap
    return support


def mask_pool(features: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Average of a (C,H,W) map inside each of Q masks (Q,h,w) resized to (H,W): -> (Q,C)."""
    masks = mask_support(masks, tuple(features.shape[-2:])).to(features.dtype)
    weights = masks / (masks.sum(dim=(-1, -2), keepdim=True) + 1e-8)
    return torch.einsum("chw,qhw->qc", features, weights)


class PositionMLP(nn.Module):
    """A ReLU MLP whose layers are `layers.0..N-1` (Osprey's `mask_linear`)."""

    def __init__(self, width: int, hidden: int, out: int, depth: int = 3) -> None:
        """An MLP of `depth` linear layers width -> hidden ... -> out."""
        super().__init__()
        dims = [width] + [hidden] * (depth - 1) + [out]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The MLP's output of `x` (ReLU between the layers, none after the last)."""
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = F.relu(x)
        return x


class MaskExtractor(nn.Module):
    """Mask pooling at res2..res5, a linear per level to `mask_embed_dim`, summed, then to the LLM
    width (the mask token); the mask resized to `mask_shape`^2 through an MLP (the position token)."""

    def __init__(self, config: OpalConfig) -> None:
        """The extractor's layers of the config's vision dims, mask shape and LLM width."""
        super().__init__()
        self.mask_shape = config.mask_shape
        for name, dim in zip(FEATURE_NAMES, config.vision_dims):
            setattr(self, name, nn.Linear(dim, config.mask_embed_dim))
        self.feat_linear = nn.Linear(config.mask_embed_dim, config.hidden_size)
        self.mask_linear = PositionMLP(config.mask_shape ** 2, config.mask_embed_dim, config.hidden_size)

    def forward(self, feats: dict[str, torch.Tensor], masks: list[torch.Tensor]
                ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Per image b, masks[b] (Q_b,H,W) -> mask tokens (Q_b,D) and position tokens (Q_b,D)."""
        mask_tokens, pos_tokens = [], []
        dtype = self.feat_linear.weight.dtype
        for b, m in enumerate(masks):
            m = m.to(dtype)
            if len(m) == 0:  # an image-text pair: no region
                empty = m.new_zeros(0, self.feat_linear.out_features)
                mask_tokens.append(empty)
                pos_tokens.append(empty)
                continue
            summed = sum(getattr(self, name)(mask_pool(feats[name][b].to(dtype), m)) for name in FEATURE_NAMES)
            mask_tokens.append(self.feat_linear(summed))
            small = F.interpolate(m[None], size=(self.mask_shape, self.mask_shape), mode="bilinear",
                                  align_corners=False)[0]
            pos_tokens.append(self.mask_linear(small.flatten(1)))
        return mask_tokens, pos_tokens
