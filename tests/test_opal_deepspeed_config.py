"""The repo's DeepSpeed ZeRO-2 configuration keeps every trainable parameter on a 16-byte boundary.

ZeRO-1/2 turn the parameters into views of one flat buffer; packed end to end after OPAL's
one-element temperature, every weight matrix starts at an odd element and the GPU's matrix
multiplications fall back to their slowest (1-element aligned) kernels: a two-GPU full
fine-tuning step took 1.9 s instead of 0.7 s (benchmarks/README.md)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import torch
from opal_synthetic import TINY_MODEL

REPO = Path(__file__).resolve().parents[1]


def _misaligned_after_zero(config: dict) -> tuple[int, int]:
    """(trainable parameters off 16-byte boundaries, trainable parameters) of the tiny OPAL
    model, fully fine-tuned, once a DeepSpeed engine with `config` holds it."""
    import deepspeed

    from oeseg.models.config import config_from_section
    from oeseg.models.osprey import build_model
    from oeseg.models.train import _set_trainable

    cfg = config_from_section(TINY_MODEL, vocab_size=300)
    model = build_model(cfg, cfg.vocab_size, cfg.vocab_size + 1)
    _set_trainable(model, 3, "full")
    params = [p for p in model.parameters() if p.requires_grad]
    deepspeed.initialize(model=model, model_parameters=params, config=config,
                         optimizer=torch.optim.AdamW(params, lr=1e-3))
    return sum(p.data_ptr() % 16 != 0 for p in params), len(params)


def _worker(rank: int, port: int, out_file: str) -> None:
    """In a process of its own (DeepSpeed keeps its process groups globally): the misaligned
    counts with the repo's configuration and with its padding turned off."""
    import os

    import torch.distributed as dist

    from oeseg.models.train import skip_cpu_shm_collectives

    skip_cpu_shm_collectives()
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK="0", WORLD_SIZE="1", LOCAL_RANK="0")
    ds = json.loads((REPO / "configs/deepspeed/zero2.json").read_text())
    ds["bf16"]["enabled"] = False  # the CPU has no fast bf16 path; the rest is the repo's config
    ds.update(train_micro_batch_size_per_gpu=1, gradient_accumulation_steps=1)
    unaligned = json.loads(json.dumps(ds))
    unaligned["zero_optimization"]["parameter_alignment"] = False
    dist.init_process_group("gloo")
    try:
        result = {"stage": ds["zero_optimization"]["stage"], "repo": _misaligned_after_zero(ds),
                  "unpadded": _misaligned_after_zero(unaligned)}
    finally:
        dist.destroy_process_group()
    Path(out_file).write_text(json.dumps(result))


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.is_available(), reason="the CPU (gloo, fp32) form of the GPU path")
def test_zero2_config_keeps_trainable_parameters_aligned(tmp_path):
    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "counts.json"
    mp.spawn(_worker, args=(port, str(out)), nprocs=1, join=True)
    result = json.loads(out.read_text())
    (off, total), (off_without, _) = result["repo"], result["unpadded"]
    assert result["stage"] == 2 and total > 10
    assert off == 0
    assert off_without > total // 2  # without the padding: everything after the temperature
