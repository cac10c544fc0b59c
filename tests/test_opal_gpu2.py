"""OPAL on two GPUs (one process each, NCCL, DeepSpeed ZeRO-2 bf16 as configs/deepspeed/zero2.json)
equals one GPU holding the whole batch: the gathered contrastive loss, the generative loss and one
training step (the losses on the whole batch after it, and the parameters). bf16 tolerance:
2 % relative on losses; the parameters of the two runs differ by at most 10 % of the step's
update (summed absolute values; Adam's first step is about +-lr for any gradient, so bf16 noise
flips a few small ones). Skipped without two
CUDA GPUs; run with `pytest -m gpu tests/test_opal_gpu2.py`."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two CUDA GPUs")]
REPO = Path(__file__).resolve().parents[1]
TINY = {"vision_depths": [1, 1, 1, 1], "vision_dims": [8, 16, 32, 64], "vision_embed_dim": 32, "image_size": 64,
            "vocab_size": 300, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
            "num_key_value_heads": 4, "mask_shape": 16, "mask_embed_dim": 32, "max_position_embeddings": 2048}
BATCH = 8


def _benchmark():
    spec = importlib.util.spec_from_file_location("opal_throughput", REPO / "benchmarks/opal_throughput.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rows(batch: dict, keep: slice) -> dict:
    """The samples `keep` of a synthetic batch (two description rows a sample)."""
    pairs = len(batch["texts"]) // len(batch["input_ids"])
    rows = slice(keep.start * pairs, keep.stop * pairs)
    out = {k: (v[keep] if k in ("input_ids", "labels", "attention_mask", "images", "masks", "has_text") else v[rows])
           for k, v in batch.items()}
    out["pair_sample"] = out["pair_sample"] - keep.start
    out["pair_region"] = out["pair_region"] - rows.start
    return out


def _worker(rank: int, world: int, port: int, out_file: str) -> None:
    import deepspeed

    from oeseg.models.config import OpalConfig
    from oeseg.models.losses import LossWeights
    from oeseg.models.osprey import build_model
    from oeseg.models.train import _set_trainable, step_losses

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank), NCCL_NVLS_ENABLE="0")
    torch.cuda.set_device(rank)
    deepspeed.init_distributed()
    torch.manual_seed(0)
    config = OpalConfig(**TINY)
    with torch.device("cuda", rank):
        model = build_model(config, config.vocab_size, config.vocab_size + 1).to(torch.bfloat16)
    _set_trainable(model, 3, "full")
    params = [p for p in model.parameters() if p.requires_grad]
    ds = json.loads((REPO / "configs/deepspeed/zero2.json").read_text())
    ds.update(train_micro_batch_size_per_gpu=BATCH // world, gradient_accumulation_steps=1)
    engine, *_ = deepspeed.initialize(model=model, model_parameters=params, config=ds,
                                      optimizer=torch.optim.AdamW(params, lr=1e-3, fused=True))
    batch = _benchmark().synthetic_batch(config, BATCH, 20, 8, 6, torch.Generator().manual_seed(0), pairs=2)
    mine = _rows(batch, slice(rank * BATCH // world, (rank + 1) * BATCH // world))
    weights = LossWeights(1.0, "sum", pairs="all", positives="class", symmetric=False, detach_text_embeddings=True)
    before = step_losses(model, mine, weights, 0)
    engine.backward(before["loss"])
    engine.step()
    with torch.no_grad():
        after = step_losses(model, mine, weights, 0)
    logged = torch.stack([before["generative"], before["contrastive"], after["generative"],
                          after["contrastive"]]).float().detach()
    torch.distributed.all_reduce(logged)
    logged /= world  # the mean over processes: what data-parallel averaging optimises
    if rank == 0:
        torch.save({"before": logged[:2].cpu(), "after": logged[2:].cpu(),
                    "params": {n: p.detach().float().cpu() for n, p in model.named_parameters()}}, out_file)
    torch.distributed.barrier()
    torch.distributed.destroy_process_group()


def _run(world: int, out_file: Path) -> dict:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_worker, args=(world, port, str(out_file)), nprocs=world, join=True)
    return torch.load(out_file)


def test_two_gpus_equal_one_gpu_holding_the_whole_batch(tmp_path):
    one, two = _run(1, tmp_path / "one.pt"), _run(2, tmp_path / "two.pt")
    assert torch.allclose(two["before"], one["before"], rtol=2e-2), (two["before"], one["before"])
    assert torch.allclose(two["after"], one["after"], rtol=2e-2), (two["after"], one["after"])
    init = _initial_parameters()
    update = sum((p - init[n]).abs().sum() for n, p in one["params"].items())
    apart = sum((two["params"][n] - p).abs().sum() for n, p in one["params"].items())
    assert update > 0 and apart <= 0.1 * update, (apart, update)


def _initial_parameters() -> dict:
    """The parameters before the step (the same seeded initialisation)."""
    from oeseg.models.config import OpalConfig
    from oeseg.models.osprey import build_model

    torch.manual_seed(0)
    with torch.device("cuda", 0):
        model = build_model(OpalConfig(**TINY), TINY["vocab_size"], TINY["vocab_size"] + 1).to(torch.bfloat16)
    return {n: p.detach().float().cpu() for n, p in model.named_parameters()}
