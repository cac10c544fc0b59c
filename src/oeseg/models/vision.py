"""The frozen CLIP ConvNeXt vision tower of Osprey (open_clip convnext_large_d_320).

The modules mirror open_clip's `TimmModel` around timm's ConvNeXt so that parameter names match
open_clip checkpoints (`visual.trunk.stages.2.blocks.0.conv_dw.weight`, ...) and Osprey's nesting
(`model.vision_tower.vision_tower.visual...`). Written here, rather than imported from timm, so the
model builds on any torch install (timm needs a matching torchvision) and on the meta device.
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import nn

from oeseg.io import InputError, load_checkpoint
from oeseg.models.config import OpalConfig

FEATURE_NAMES = ("res2", "res3", "res4", "res5")
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an NCHW map."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The NCHW map `x` normalised over its channels."""
        return F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias,
                            self.eps).permute(0, 3, 1, 2)


class Mlp(nn.Module):
    """fc1 -> GELU -> fc2 (timm's naming)."""

    def __init__(self, width: int, hidden: int, out: int, out_bias: bool = True) -> None:
        """An MLP width -> hidden -> out (the output bias only with `out_bias`)."""
        super().__init__()
        self.fc1 = nn.Linear(width, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, out, bias=out_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """fc2(GELU(fc1(x))) over the last dimension."""
        return self.fc2(self.act(self.fc1(x)))


class ConvNeXtBlock(nn.Module):
    """Depthwise 7x7 conv, LayerNorm, MLP (4x), layer scale, residual."""

    def __init__(self, dim: int) -> None:
        """A block of `dim` channels, its layer scale starting at 1e-6."""
        super().__init__()
        self.conv_dw = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, 4 * dim, dim)
        self.gamma = nn.Parameter(torch.full((dim,), 1e-6))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The NCHW map `x` plus the block's residual."""
        y = self.conv_dw(x).permute(0, 2, 3, 1)
        y = self.mlp(self.norm(y)) * self.gamma
        return x + y.permute(0, 3, 1, 2)


class ConvNeXtStage(nn.Module):
    """Optional 2x downsampling (LayerNorm + 2x2 conv) followed by `depth` blocks."""

    def __init__(self, in_dim: int, dim: int, depth: int) -> None:
        """A stage from `in_dim` to `dim` channels (downsampling where they differ) of `depth` blocks."""
        super().__init__()
        self.downsample = (nn.Sequential(LayerNorm2d(in_dim, eps=1e-6), nn.Conv2d(in_dim, dim, 2, 2))
                           if in_dim != dim else nn.Identity())
        self.blocks = nn.Sequential(*(ConvNeXtBlock(dim) for _ in range(depth)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The stage's output map of the NCHW map `x`."""
        return self.blocks(self.downsample(x))


class HeadNorm(nn.Module):
    """The trunk's head after open_clip removes the classifier: only its LayerNorm remains."""

    def __init__(self, dim: int) -> None:
        """The head's channel LayerNorm over `dim` channels."""
        super().__init__()
        self.norm = LayerNorm2d(dim, eps=1e-6)


class ConvNeXtTrunk(nn.Module):
    """timm ConvNeXt: 4x4 patch stem then four stages at strides 4, 8, 16, 32 (res2..res5)."""

    def __init__(self, depths: list[int], dims: list[int]) -> None:
        """A trunk whose four stages have `depths` blocks of `dims` channels."""
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, dims[0], 4, 4), LayerNorm2d(dims[0], eps=1e-6))
        in_dims = [dims[0]] + list(dims[:-1])
        self.stages = nn.Sequential(*(ConvNeXtStage(i, d, n) for i, d, n in zip(in_dims, dims, depths)))
        self.head = HeadNorm(dims[-1])

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The feature maps of images `x` (B,3,S,S) at res2..res5, by name."""
        x = self.stem(x)
        out = {}
        for name, stage in zip(FEATURE_NAMES, self.stages):
            x = stage(x)
            out[name] = x
        return out


class ClipVisual(nn.Module):
    """open_clip's `visual` module for a timm trunk with an MLP projection head."""

    def __init__(self, depths: list[int], dims: list[int], embed_dim: int) -> None:
        """The trunk of `depths` and `dims` and an MLP head to `embed_dim`."""
        super().__init__()
        self.trunk = ConvNeXtTrunk(depths, dims)
        self.head = nn.Module()
        self.head.mlp = Mlp(dims[-1], 2 * embed_dim, embed_dim, out_bias=False)


class ClipConvNeXt(nn.Module):
    """The CLIP image tower holder; its state dict matches open_clip's `visual.*` keys."""

    def __init__(self, depths: list[int], dims: list[int], embed_dim: int) -> None:
        """The holder of a `visual` module of `depths`, `dims` and `embed_dim`."""
        super().__init__()
        self.visual = ClipVisual(depths, dims, embed_dim)


class CLIPVisionTower(nn.Module):
    """Frozen tower: images (B,3,S,S) -> res4 tokens (B, (S/16)^2, C4) and the res2..res5 maps."""

    def __init__(self, config: OpalConfig) -> None:
        """The frozen tower of the config's vision depths, dims and embed dim."""
        super().__init__()
        self.image_size = config.image_size
        self.vision_tower = ClipConvNeXt(config.vision_depths, config.vision_dims, config.vision_embed_dim)
        self.requires_grad_(False)

    def load_open_clip_weights(self, path: str | os.PathLike) -> None:
        """Load the `visual.*` tensors of an open_clip checkpoint (e.g. convnext_large_d_320)."""
        state = load_checkpoint(path, "CLIP checkpoint")
        visual = {k: v for k, v in state.items() if k.startswith("visual.")}
        if not visual:
            raise InputError(f"{path}: no 'visual.*' tensors: not an open_clip image tower checkpoint")
        missing, _ = self.vision_tower.load_state_dict(visual, strict=False)
        if missing:
            raise InputError(f"{path}: missing tower tensors, e.g. {missing[:3]}")

    def train(self, mode: bool = True) -> "CLIPVisionTower":
        """The tower always stays in eval mode (frozen)."""
        return super().train(False)

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The res4 tokens (B, (S/16)^2, C4) of `images` and the res2..res5 maps by name."""
        feats = self.vision_tower.visual.trunk(images.to(self.vision_tower.visual.trunk.stem[0].weight.dtype))
        res4 = feats["res4"]
        return res4.flatten(2).transpose(1, 2), feats


def build_projector(config: OpalConfig) -> nn.Module:
    """Osprey's vision-language projector (`mlpNx_gelu` or `linear`) from res4 width to LLM width."""
    kind = config.mm_projector_type
    if kind == "linear":
        return nn.Linear(config.mm_hidden_size, config.hidden_size)
    if kind.startswith("mlp") and kind.endswith("x_gelu") and kind[3:-6].isdigit():
        layers: list[nn.Module] = [nn.Linear(config.mm_hidden_size, config.hidden_size)]
        for _ in range(int(kind[3:-6]) - 1):
            layers += [nn.GELU(), nn.Linear(config.hidden_size, config.hidden_size)]
        return nn.Sequential(*layers)
    raise InputError(f"opal model: unknown mm_projector_type {kind!r} (linear | mlpNx_gelu)")
