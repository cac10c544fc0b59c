"""The configuration of an Osprey/OPAL model (HF transformers style: config separate from model).

`OpalConfig` is a `LlamaConfig` (the language model's shape) extended with the vision tower, the
projector and the mask extractor, with Osprey's field names (`mm_vision_tower`, `mm_hidden_size`,
`mm_projector_type`) so that an Osprey `config.json` reads into it.
"""

from __future__ import annotations

from typing import Any

from transformers import LlamaConfig

from oeseg.io import InputError

# open_clip's convnext_large_d_320 (the tower of Osprey): timm convnext_large, an MLP head to 768
CONVNEXT_LARGE = {"vision_depths": [3, 3, 27, 3], "vision_dims": [192, 384, 768, 1536],
                  "vision_embed_dim": 768}
# Vicuna-7B v1.5 (LLaMA-2 7B shape); Osprey keeps Vicuna's 32,000-token vocabulary
VICUNA_7B = {"vocab_size": 32000, "hidden_size": 4096, "intermediate_size": 11008,
             "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 32,
             "max_position_embeddings": 4096, "rms_norm_eps": 1e-5}


class OpalConfig(LlamaConfig):
    """LLaMA shape + CLIP ConvNeXt tower + mlp2x_gelu projector + mask extractor sizes."""

    model_type = "osprey"

    def __init__(
        self,
        mm_vision_tower: str | None = None,
        vision_depths: list[int] | None = None,
        vision_dims: list[int] | None = None,
        vision_embed_dim: int = 768,
        image_size: int = 512,
        mm_hidden_size: int | None = None,
        mm_projector_type: str = "mlp2x_gelu",
        mask_shape: int = 112,
        mask_embed_dim: int = 1024,
        tokenizer_path: str | None = None,
        **kwargs: Any,
    ) -> None:
        """The config of these vision, projector and mask sizes (a ConvNeXt-Large tower by default);
        `kwargs` go to LlamaConfig."""
        self.mm_vision_tower = mm_vision_tower
        self.vision_depths = list(vision_depths or CONVNEXT_LARGE["vision_depths"])
        self.vision_dims = list(vision_dims or CONVNEXT_LARGE["vision_dims"])
        if len(self.vision_depths) != 4 or len(self.vision_dims) != 4:
            raise InputError("opal model: vision_depths and vision_dims need 4 entries (res2..res5)")
        self.vision_embed_dim = vision_embed_dim
        self.image_size = image_size
        # the res4 map becomes the image tokens: its channel count is the projector's input width
        self.mm_hidden_size = mm_hidden_size or self.vision_dims[2]
        self.mm_projector_type = mm_projector_type
        self.mask_shape = mask_shape
        self.mask_embed_dim = mask_embed_dim
        self.tokenizer_path = tokenizer_path
        super().__init__(**kwargs)

    @property
    def image_tokens(self) -> int:
        """Number of image tokens: the res4 map is 1/16 of the input side."""
        return (self.image_size // 16) ** 2


def paper_config(**overrides: Any) -> OpalConfig:
    """The paper's model: ConvNeXt-L CLIP tower at 512 px and Vicuna-7B v1.5."""
    return OpalConfig(**{**CONVNEXT_LARGE, **VICUNA_7B, **overrides})


def config_from_section(model: dict, vocab_size: int | None = None) -> OpalConfig:
    """An OpalConfig from the config.yaml `opal.model` section (size `paper` or explicit sizes)."""
    model = dict(model)
    size = model.pop("size", "custom")
    unknown = sorted(set(model) - set(OpalConfig().to_dict()))
    if unknown:  # a PretrainedConfig would keep a misspelt key as an attribute that nothing reads
        raise InputError(f"opal.model: unknown key(s) {', '.join(map(repr, unknown))} (not a field of "
                         "OpalConfig: LlamaConfig's sizes, vision_depths/dims, image_size, mask_shape, ...)")
    if size == "paper":
        return paper_config(**model)
    if vocab_size is not None:
        model["vocab_size"] = vocab_size
    return OpalConfig(**model)
