"""Bandwidth of the collectives that ZeRO-2 runs every step (reduce-scatter of the bf16 gradients,
all-gather of the updated bf16 weights), at the 7B model's size, between the GPUs of this machine:

    torchrun --nproc_per_node 2 benchmarks/nccl_bandwidth.py

Prints each collective's time for the 6.78 B-element bf16 tensor and its bus bandwidth (GB/s);
ZeRO-2's per-step communication floor is the sum of the two times."""

from __future__ import annotations

import os
import time

import torch
import torch.distributed as dist


def timed(fn, repeat: int = 3) -> float:
    """Seconds per call of `fn`, after one warm-up call, CUDA-synchronised."""
    fn()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - start) / repeat


def main() -> None:
    """Time both collectives on every GPU of the process group; rank 0 prints them."""
    dist.init_process_group("nccl")
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    n = 6_780_000_000 // world * world
    full = torch.empty(n, dtype=torch.bfloat16, device="cuda")
    part = torch.empty(n // world, dtype=torch.bfloat16, device="cuda")
    rs = timed(lambda: dist.reduce_scatter_tensor(part, full))
    ag = timed(lambda: dist.all_gather_into_tensor(full, part))
    if rank == 0:
        gb = full.numel() * 2 / 1e9
        for name, t in (("reduce-scatter", rs), ("all-gather", ag)):
            print(f"{name:14s} {gb:.1f} GB bf16 on {world} GPUs: {t * 1e3:8.1f} ms, bus bandwidth "
                  f"{gb * (world - 1) / world / t:6.1f} GB/s", flush=True)
        print(f"ZeRO-2 communication floor per step: {(rs + ag) * 1e3:.1f} ms")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
