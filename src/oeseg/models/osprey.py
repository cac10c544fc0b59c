"""The Osprey architecture (and OPAL, which trains it with an added contrastive loss).

Parameter names follow Osprey's checkpoints: `model.embed_tokens`, `model.layers.*`,
`model.vision_tower.vision_tower.visual.*`, `model.mm_projector.{0,2}`, `lm_head`,
`mask_extractor.{res2..res5,feat_linear,mask_linear.layers.*}`. OPAL adds one parameter,
`contrastive_temperature` (initialised to 0.1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AttentionInterface, LlamaForCausalLM, LlamaModel
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask
from transformers.models.llama.modeling_llama import LlamaPreTrainedModel

from oeseg.models.config import OpalConfig
from oeseg.models.mask_extractor import MaskExtractor
from oeseg.models.tokenization import IGNORE_INDEX, IMAGE_TOKEN_INDEX
from oeseg.models.vision import CLIPVisionTower, build_projector


class OpalLlamaModel(LlamaModel):
    """LLaMA decoder plus the vision tower and projector (Osprey keeps both under `model.`)."""

    config_class = OpalConfig

    def __init__(self, config: OpalConfig) -> None:
        """The LLaMA decoder of `config` with its vision tower and projector."""
        super().__init__(config)
        self.vision_tower = CLIPVisionTower(config)
        self.mm_projector = build_projector(config)


@dataclass
class MultimodalOutput:
    """Generative loss (None without labels), logits and the region (mask) tokens of the batch."""

    loss: torch.Tensor | None
    logits: torch.Tensor | None
    mask_tokens: torch.Tensor


PACKED_ATTENTION = "opal_packed"


def packed_attention(module: nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                     attention_mask: torch.Tensor | None, dropout: float = 0.0, scaling: float | None = None,
                     opal_layout: tuple[int, int, int] | None = None, **kwargs: Any) -> tuple[torch.Tensor, None]:
    """Attention of the packed layout without a mask: with `opal_layout` (L, K, T) each row is a
    multimodal document of L tokens, then K description slots of T tokens, each slot its own
    document; both parts take causal SDPA (flash / memory-efficient kernels) on their own. Every
    document is right-padded, so causal attention never lets a real token see padding. Without
    `opal_layout`: transformers' SDPA attention."""
    if opal_layout is None:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      **kwargs)
    length, slots, width = opal_layout
    b, h, _, d = query.shape
    gqa = key.shape[1] != h

    def causal(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Causal SDPA of q, k, v (dropout only in training)."""
        return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout if module.training else 0.0, is_causal=True,
                                              scale=scaling, enable_gqa=gqa)

    def as_slots(x: torch.Tensor) -> torch.Tensor:  # (B,H,K*T,D) -> (B*K,H,T,D)
        """The description slots of `x` as documents of their own."""
        return x[:, :, length:].reshape(b, x.shape[1], slots, width, d).transpose(1, 2).flatten(0, 1)

    mm = causal(query[:, :, :length], key[:, :, :length], value[:, :, :length])
    text = causal(as_slots(query), as_slots(key), as_slots(value))
    text = text.reshape(b, slots, h, width, d).transpose(1, 2).flatten(2, 3)
    return torch.cat([mm, text], dim=2).transpose(1, 2).contiguous(), None


AttentionInterface.register(PACKED_ATTENTION, packed_attention)
AttentionMaskInterface.register(PACKED_ATTENTION, sdpa_mask)


@dataclass
class PackedOutput:
    """The packed step's generative loss, region (mask) tokens and text embeddings."""

    loss: torch.Tensor
    mask_tokens: torch.Tensor
    text_embeddings: torch.Tensor


class OpalForCausalLM(LlamaForCausalLM):
    """Osprey/OPAL: `<mask><pos>` placeholders take the region's mask and position tokens, the
    image placeholders take the projected res4 tokens, and LLaMA predicts the description."""

    config_class = OpalConfig

    def __init__(self, config: OpalConfig) -> None:
        """The model of `config`, its weights initialised (the contrastive temperature at 0.1)."""
        LlamaPreTrainedModel.__init__(self, config)
        self.model = OpalLlamaModel(config)
        self.vocab_size = config.vocab_size
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.mask_extractor = MaskExtractor(config)
        self.contrastive_temperature = nn.Parameter(torch.full((1,), 0.1))  # 1-d: DeepSpeed broadcasts no 0-d
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        """LLaMA's initialisation of `module`; on the model itself, the contrastive temperature to 0.1."""
        super()._init_weights(module)
        if module is self:
            with torch.no_grad():
                self.contrastive_temperature.fill_(0.1)

    # --- multimodal embedding -------------------------------------------------------------
    def encode_images(self, images: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Images (B,3,S,S) -> projected image tokens (B,N,D) and the tower's res2..res5 maps."""
        tokens, feats = self.model.vision_tower(images)
        projector = self.model.mm_projector
        return projector(tokens.to(next(projector.parameters()).dtype)), feats

    def embed_multimodal(self, input_ids: torch.Tensor, images: torch.Tensor, masks: list[torch.Tensor]
                         ) -> tuple[torch.Tensor, torch.Tensor]:
        """Input embeddings with image and region placeholders filled; also the mask tokens
        (one row per `<mask>` in reading order, i.e. per region of the batch)."""
        mask_id, pos_id = self.config.mask_token_id, self.config.pos_token_id
        image_tokens, feats = self.encode_images(images)
        mask_tokens, pos_tokens = self.mask_extractor(feats, masks)
        embed = self.model.embed_tokens
        special = (input_ids == IMAGE_TOKEN_INDEX) | (input_ids == mask_id) | (input_ids == pos_id)
        embeds = embed(torch.where(special | (input_ids >= embed.num_embeddings), 0, input_ids))
        embeds = embeds.clone()
        is_image = input_ids == IMAGE_TOKEN_INDEX
        if is_image.any():
            embeds[is_image] = image_tokens[is_image.any(1)].reshape(-1, embeds.shape[-1]).to(embeds.dtype)
        all_masks = torch.cat(mask_tokens)
        counts = (input_ids == mask_id).sum(1).tolist()
        if counts != [len(m) for m in masks]:
            raise ValueError(f"<mask> placeholders per sample {counts} != masks given {[len(m) for m in masks]}")
        embeds[input_ids == mask_id] = all_masks.to(embeds.dtype)
        embeds[input_ids == pos_id] = torch.cat(pos_tokens).to(embeds.dtype)
        return embeds, all_masks

    def forward_multimodal(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, images: torch.Tensor,
                           masks: list[torch.Tensor], labels: torch.Tensor | None = None,
                           return_logits: bool = True) -> MultimodalOutput:
        """Generative pass: next-token loss over the labelled (answer) tokens; without
        `return_logits` only the labelled positions go through the vocabulary projection."""
        embeds, mask_tokens = self.embed_multimodal(input_ids, images, masks)
        hidden = self.model(inputs_embeds=embeds, attention_mask=attention_mask, use_cache=False).last_hidden_state
        logits = self.lm_head(hidden) if return_logits or labels is None else None
        loss = None
        if labels is not None:
            loss = self.generative_loss(hidden, labels)
        return MultimodalOutput(loss, logits, mask_tokens)

    def text_embeddings(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                        detach_embeddings: bool = False) -> torch.Tensor:
        """Text-only pass: the last valid token's final hidden state of each row (B,D). With
        `detach_embeddings` the token embeddings get no gradient from it."""
        embeds = self.model.embed_tokens(input_ids)
        if detach_embeddings:
            embeds = embeds.detach()
        hidden = self.model(inputs_embeds=embeds, attention_mask=attention_mask, use_cache=False).last_hidden_state
        last = attention_mask.long().sum(1) - 1
        return hidden[torch.arange(len(hidden), device=hidden.device), last]

    def generative_loss(self, hidden: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Next-token cross-entropy (mean over the labelled tokens) from final hidden states; only
        the labelled positions go through the vocabulary projection. Without a labelled token
        (every answer cut by max_length) 0, with zero gradients, not the NaN of an empty mean."""
        target = labels[:, 1:]
        keep = target != IGNORE_INDEX
        logits = self.lm_head(hidden[:, :-1][keep])
        if not len(logits):
            return logits.float().sum()
        return F.cross_entropy(logits.float(), target[keep])

    def forward_packed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, images: torch.Tensor,
                       masks: list[torch.Tensor], labels: torch.Tensor, text_ids: torch.Tensor,
                       text_attention_mask: torch.Tensor, text_sample: torch.Tensor,
                       detach_text_embeddings: bool = False) -> PackedOutput:
        """Both losses' LLM work in one call: row i holds sample i's multimodal sequence, then
        the descriptions whose `text_sample` is i, each a document of its own (positions restart
        at 0, attention stays inside the document), so each text embedding (its last token's
        final hidden state) sees only its description, as in `text_embeddings`. Returns the
        generative loss, the mask tokens and the text embeddings (in `text_ids` order)."""
        embeds, mask_tokens = self.embed_multimodal(input_ids, images, masks)
        text_embeds = self.model.embed_tokens(text_ids).to(embeds.dtype)
        if detach_text_embeddings:
            text_embeds = text_embeds.detach()
        if self.config._attn_implementation in ("sdpa", PACKED_ATTENTION):
            return self._forward_slots(embeds, mask_tokens, labels, text_embeds, text_attention_mask, text_sample)
        mm_len = attention_mask.long().sum(1).tolist()
        text_len = text_attention_mask.long().sum(1).tolist()
        docs: list[list[int]] = [[] for _ in mm_len]
        for j, i in enumerate(text_sample.tolist()):
            docs[i].append(j)
        rows, positions, row_labels, ends = [], [], [], [0] * len(text_len)
        dev = embeds.device
        for i, n in enumerate(mm_len):
            parts, pos = [embeds[i, :n]], [torch.arange(n, device=dev)]
            at = n
            for j in docs[i]:
                parts.append(text_embeds[j, :text_len[j]])
                pos.append(torch.arange(text_len[j], device=dev))
                at += text_len[j]
                ends[j] = at - 1
            rows.append(torch.cat(parts))
            positions.append(torch.cat(pos))
            row_labels.append(F.pad(labels[i, :n], (0, at - n), value=IGNORE_INDEX))
        width = max(len(r) for r in rows)
        packed = torch.stack([F.pad(r, (0, 0, 0, width - len(r))) for r in rows])
        # padding: a document of its own after the row's last one (positions from 0)
        position_ids = torch.stack([torch.cat([p, torch.arange(width - len(p), device=dev)]) for p in positions])
        packed_labels = torch.stack([F.pad(x, (0, width - len(x)), value=IGNORE_INDEX) for x in row_labels])
        # no attention mask: the documents follow from where position_ids restart (transformers builds
        # the block-causal mask, or passes the document bounds to a varlen / flex attention kernel)
        hidden = self.model(inputs_embeds=packed, position_ids=position_ids, use_cache=False).last_hidden_state
        sample_of_text = text_sample.to(dev)
        text = hidden[sample_of_text, torch.tensor(ends, device=dev)]
        return PackedOutput(self.generative_loss(hidden, packed_labels), mask_tokens, text)

    def _forward_slots(self, embeds: torch.Tensor, mask_tokens: torch.Tensor, labels: torch.Tensor,
                       text_embeds: torch.Tensor, text_attention_mask: torch.Tensor,
                       text_sample: torch.Tensor) -> PackedOutput:
        """`forward_packed` in a fixed layout that needs no attention mask (`packed_attention`):
        row i is sample i's padded multimodal sequence (L tokens), then K slots of T tokens, slot k
        holding the k-th description of sample i (right-padded; empty slots are padding)."""
        b, length, width = len(embeds), embeds.shape[1], text_embeds.shape[1]
        dev = embeds.device
        sample = text_sample.to(dev)
        # k: each description's slot within its sample (descriptions of a sample are consecutive)
        first = torch.searchsorted(sample, sample, right=False) if len(sample) else sample
        slot = torch.arange(len(sample), device=dev) - first
        slots = int(slot.max()) + 1 if len(sample) else 0
        text = text_embeds.new_zeros(b, slots, width, text_embeds.shape[-1])
        text[sample, slot] = text_embeds
        packed = torch.cat([embeds, text.flatten(1, 2)], dim=1)
        positions = torch.cat([torch.arange(length, device=dev), torch.arange(width, device=dev).repeat(slots)])
        packed_labels = F.pad(labels, (0, slots * width), value=IGNORE_INDEX)
        if self.config._attn_implementation != PACKED_ATTENTION:
            self.config._attn_implementation = PACKED_ATTENTION  # plain SDPA for calls without a layout
        hidden = self.model(inputs_embeds=packed, position_ids=positions[None].expand(b, -1), use_cache=False,
                            opal_layout=(length, slots, width)).last_hidden_state
        ends = length + slot * width + text_attention_mask.long().sum(1).to(dev) - 1
        return PackedOutput(self.generative_loss(hidden, packed_labels), mask_tokens, hidden[sample, ends])


def build_model(config: OpalConfig, mask_token_id: int, pos_token_id: int) -> OpalForCausalLM:
    """A randomly initialised model whose config records the `<mask>`/`<pos>` token ids."""
    config.mask_token_id = mask_token_id
    config.pos_token_id = pos_token_id
    return OpalForCausalLM(config)
