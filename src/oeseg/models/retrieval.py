"""Region-to-text retrieval: how well mask tokens align with the LLM's text embeddings."""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F

from oeseg.models.data import Collator, RegionDataset, demo_region_records
from oeseg.models.osprey import OpalForCausalLM
from oeseg.models.tokenization import encode_description


@torch.no_grad()
def region_text_retrieval(model: OpalForCausalLM, tokenizer, split_dir: str | os.PathLike,
                          batch_size: int = 32) -> float:
    """Top-1 accuracy of retrieving a region's first reference description among all the split's
    first descriptions, by cosine similarity of mask token and text embedding."""
    records = demo_region_records(split_dir)
    names = sorted({r.descriptions[0] for r in records})
    pad = tokenizer.pad_token_id
    ids = [encode_description(tokenizer, n, 10**9) for n in names]
    lengths = torch.tensor([len(x) for x in ids])
    text = model.text_embeddings(torch.nn.utils.rnn.pad_sequence(ids, batch_first=True, padding_value=pad),
                                 (torch.arange(int(lengths.max()))[None] < lengths[:, None]).long())
    dataset = RegionDataset(records, model.config.image_size)
    collate = Collator(tokenizer, model.config.image_tokens, 10**9, with_answers=False)
    hits = 0
    for start in range(0, len(dataset), batch_size):
        idx = range(start, min(start + batch_size, len(dataset)))
        batch = collate([dataset[i] for i in idx])
        _, feats = model.encode_images(batch["images"])
        regions = torch.cat(model.mask_extractor(feats, batch["masks"])[0])
        best = (F.normalize(regions, dim=-1) @ F.normalize(text, dim=-1).T).argmax(1)
        hits += sum(names[int(b)] == records[i].descriptions[0] for b, i in zip(best, idx))
    return hits / len(records)
