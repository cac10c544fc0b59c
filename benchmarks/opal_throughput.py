"""OPAL training throughput: generative-only (the Osprey baseline) against OPAL (generative +
contrastive), at the paper's size (ConvNeXt-L CLIP tower at 512 px + a LLaMA-7B-shaped LLM, random
weights, bf16, DeepSpeed), with LoRA and with full fine-tuning of the LLM (stage 3).

Modes: `generative` (contrastive weight 0); `opal` (both losses every step, one packed LLM call);
`opal-two-pass` (the same losses with a separate text-only pass, the reference); `alternate`
(the released OPAL schedule: generative and contrastive steps in turn; its time is reported per
two steps against two generative steps). Prints step time, tokens/s, peak GPU memory, model
FLOPs per step and MFU, then the overhead ratios (OPAL / generative-only). Model FLOPs are
counted by torch.utils.flop_counter on a one-sample step without gradient checkpointing (no
recomputation), times the micro-batch.

    python benchmarks/opal_throughput.py --tuning lora --micro-batch 8                 # one GPU
    python benchmarks/opal_throughput.py --tuning full --micro-batch 4 --no-offload \
        --gradient-checkpointing --zero-stage 0              # full on one 141 GB GPU (H200)
    torchrun --nproc_per_node 2 benchmarks/opal_throughput.py --tuning full --micro-batch 4 \
        --no-offload --gradient-checkpointing               # full, ZeRO-2 optimizer sharded
    python benchmarks/opal_throughput.py --tiny              # CPU (gloo, fp32) smoke run of the same code

`--compile` compiles each decoder layer (the highest MFU: full fine-tuning at micro-batch 8 without
gradient checkpointing, one 141 GB GPU at stage 0 or two with ZeRO-2); `--profile PREFIX` writes one
generative step's phase times and top kernels.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from oeseg.io import atomic_write_json, atomic_write_text
from oeseg.models.config import OpalConfig, paper_config
from oeseg.models.losses import LossWeights
from oeseg.models.osprey import build_model
from oeseg.models.tokenization import IGNORE_INDEX, IMAGE_TOKEN_INDEX
from oeseg.models.train import (StageSettings, _add_lora, _set_trainable, compile_decoder_layers,
                                skip_cpu_shm_collectives, step_losses)

REPO = Path(__file__).resolve().parents[1]
TINY = dict(vision_depths=[1, 1, 1, 1], vision_dims=[8, 16, 32, 64], vision_embed_dim=32, image_size=64,
            vocab_size=300, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=4, mask_shape=16, mask_embed_dim=32, max_position_embeddings=2048)


def synthetic_batch(config: OpalConfig, batch: int, prompt_tokens: int, answer_tokens: int, text_tokens: int,
                    generator: torch.Generator, pairs: int = 1) -> dict:
    """A stage-3 batch in the collator's layout: osprey_v1-like prompt (text, image tokens,
    `pairs` x <mask><pos>) and an answer, `pairs` region masks per sample, and one
    `text_tokens`-token description per region for the contrastive loss."""
    vocab, n_image = config.vocab_size, config.image_tokens
    rows, labels = [], []
    region = torch.tensor([config.mask_token_id, config.pos_token_id] * pairs)
    for _ in range(batch):
        text = torch.randint(3, vocab, (prompt_tokens + answer_tokens,), generator=generator)
        ids = torch.cat([text[:prompt_tokens // 2], torch.full((n_image,), IMAGE_TOKEN_INDEX),
                         text[prompt_tokens // 2:prompt_tokens], region, text[prompt_tokens:]])
        lab = torch.full_like(ids, IGNORE_INDEX)
        lab[-answer_tokens:] = ids[-answer_tokens:]
        rows.append(ids)
        labels.append(lab)
    size = config.image_size
    masks = [(torch.rand(pairs, size, size, generator=generator) > 0.7).float() for _ in range(batch)]
    n = batch * pairs
    sample = torch.arange(batch).repeat_interleave(pairs)
    return {"input_ids": torch.stack(rows), "labels": torch.stack(labels),
            "attention_mask": torch.ones(batch, rows[0].numel(), dtype=torch.long),
            "images": torch.randn(batch, 3, size, size, generator=generator), "masks": masks,
            "text_ids": torch.randint(3, vocab, (n, text_tokens), generator=generator),
            "text_attention_mask": torch.ones(n, text_tokens, dtype=torch.long),
            "texts": [f"region {i}" for i in range(n)], "classes": [f"class {i % 7}" for i in range(n)],
            "pair_sample": sample, "pair_region": torch.arange(n), "pair_valid": torch.ones(n, dtype=torch.bool),
            "pair_first": torch.arange(n) % pairs == 0, "has_text": torch.ones(batch, dtype=torch.bool)}


def make_model(args, tuning: str, device: torch.device):
    config = OpalConfig(**TINY) if args.tiny else paper_config()
    dtype = torch.float32 if args.tiny else torch.bfloat16
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    with device:
        model = build_model(config, config.vocab_size, config.vocab_size + 1)
    torch.set_default_dtype(previous)
    if tuning == "lora":  # the paper's LoRA (StageSettings' default: r 64, alpha 16, dropout 0.05)
        _add_lora(model, StageSettings(stage=3, lr=1e-5, global_batch=64, epochs=4).lora)
    _set_trainable(model, 3, tuning)
    if args.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if args.compile:  # each LLM decoder layer through torch.compile, as training's `compile: true`
        # one static graph per mode's shape; --compile-dynamic: torch's automatic dynamic shapes, as
        # training compiles (the modes' different lengths then make the sequence length symbolic)
        compile_decoder_layers(model, dynamic=None if args.compile_dynamic else False)
    return model, config


def engine_for(args, model, params, offload: bool):
    """DeepSpeed ZeRO-2 (bf16 on GPU, fp32 for --tiny on the CPU); with `offload` the optimizer
    states live on the CPU."""
    import deepspeed

    # fused on the GPU: the foreach kernel's temporaries would add a copy of the flat fp32 partition
    optimizer = torch.optim.AdamW(params, lr=1e-5, fused=not args.tiny)
    ds = json.loads((REPO / "configs/deepspeed/zero2.json").read_text())
    ds.update(train_micro_batch_size_per_gpu=args.micro_batch, gradient_accumulation_steps=1)
    ds["bf16"]["enabled"] = not args.tiny
    if args.zero_stage is not None:
        ds["zero_optimization"]["stage"] = args.zero_stage
    if args.bucket_size:  # smaller ZeRO buckets: less GPU memory, e.g. to fit 7B full fine-tuning on one card
        ds["zero_optimization"].update(reduce_bucket_size=args.bucket_size, allgather_bucket_size=args.bucket_size)
    if args.overlap_comm is not None:
        ds["zero_optimization"]["overlap_comm"] = args.overlap_comm
    if offload:  # DeepSpeed's CPU Adam holds the fp32 master weights and Adam states
        # unpinned: pinning copies each 27 GB fp32 buffer of a 7B model once more in host memory
        ds["zero_optimization"]["offload_optimizer"] = {"device": "cpu", "pin_memory": False}
        ds["optimizer"] = {"type": "AdamW", "params": {"lr": 1e-5, "weight_decay": 0.0}}
        optimizer = None
    if args.param_alignment is not None:  # ZeRO-1/2 pad their flat buffers so each parameter is 16-byte aligned
        ds["zero_optimization"]["parameter_alignment"] = args.param_alignment
    engine, _, _, _ = deepspeed.initialize(model=model, model_parameters=params, config=ds, optimizer=optimizer)
    return engine


def misaligned(params) -> int:
    """How many of `params` start off a 16-byte boundary (ZeRO-1/2 views into their flat buffer:
    matrix multiplications on such weights leave the GPU's fast kernels)."""
    return sum(p.data_ptr() % 16 != 0 for p in params)


def _timed(fn, times: dict, key: str, cuda: bool):
    """`fn` wrapped to add its CUDA-synchronised wall time to times[key]."""
    def wrapper(*a, **k):
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        with torch.profiler.record_function(key):
            out = fn(*a, **k)
        if cuda:
            torch.cuda.synchronize()
        times[key] = times.get(key, 0.0) + time.perf_counter() - start
        return out
    return wrapper


def profile_step(model, engine, batch, mode, path: Path, device: torch.device) -> None:
    """Two more steps of `mode`: one with its phases timed (each phase CUDA-synchronised: forward,
    engine.backward, engine.step and, inside ZeRO-1/2's step, the gradient norm, the optimizer
    step over the flat fp32 partition and the all-gather of the bf16 weights), one under
    torch.profiler; writes the phase times and the top CPU operations and GPU kernels to `path`."""
    import deepspeed.runtime.zero.stage_1_and_2 as zero

    cuda = device.type == "cuda"
    times: dict[str, float] = {}
    opt = engine.optimizer
    patched = [(opt, "scaled_global_norm"), (opt, "_optimizer_step"), (zero, "all_gather_dp_groups")]
    saved = [(obj, name, getattr(obj, name)) for obj, name in patched if hasattr(obj, name)]
    for obj, name, fn in saved:
        setattr(obj, name, _timed(fn, times, f"zero.{name}", cuda))
    weights, step, packed = mode

    def one_step():
        losses = _timed(step_losses, times, "forward (losses)", cuda)(model, batch, weights, step=step, packed=packed)
        _timed(engine.backward, times, "engine.backward", cuda)(losses["loss"])
        _timed(engine.step, times, "engine.step", cuda)()

    try:
        one_step()
        phases = dict(times)
        activities = [torch.profiler.ProfilerActivity.CPU] + ([torch.profiler.ProfilerActivity.CUDA] if cuda else [])
        with torch.profiler.profile(activities=activities) as prof:
            one_step()
    finally:
        for obj, name, fn in saved:
            setattr(obj, name, fn)
    table = prof.key_averages()
    lines = [f"phases of one step (CUDA-synchronised), ms: {type(opt).__name__}, "
             f"{misaligned(p for p in model.parameters() if p.requires_grad)} trainable parameters off 16-byte boundaries"]
    lines += [f"  {k:28s} {v * 1e3:9.1f}" for k, v in phases.items()]
    for key, title in (("self_device_time_total", "GPU time"), ("self_cpu_time_total", "CPU time"),
                       ("device_time_total", "GPU time with children (the phases above included)")):
        if "device" in key and not cuda:
            continue
        lines += ["", f"top operations and kernels by {title}:",
                  table.table(sort_by=key, row_limit=25, max_name_column_width=110)]
    atomic_write_text(path, "\n".join(lines) + "\n")


def train_step(model, engine, batch, weights, step: int = 0, packed: bool = True) -> None:
    losses = step_losses(model, batch, weights, step=step, packed=packed)
    engine.backward(losses["loss"])
    engine.step()


def model_flops(args, model, engine, config, mode) -> float:
    """Model FLOPs of one training step at the micro-batch: a one-sample step counted without
    gradient checkpointing (no recomputation), times the micro-batch."""
    weights, step, packed = mode
    g = torch.Generator().manual_seed(1)
    one = synthetic_batch(config, 1, args.prompt_tokens, args.answer_tokens, args.text_tokens, g, args.pairs)
    checkpointing = model.is_gradient_checkpointing
    if checkpointing:
        model.gradient_checkpointing_disable()
    with FlopCounterMode(display=False) as counter, torch.compiler.set_stance("force_eager"):  # eager: every op counted
        train_step(model, engine, one, weights, step, packed)
    if checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    return counter.get_total_flops() * args.micro_batch


def modes(args) -> dict[str, list[tuple[LossWeights, int, bool]]]:
    """Each mode's steps in one timed round: (loss weights, step number, packed)."""
    opal = LossWeights(1.0, "sum", pairs=args.pairs_option)
    alternate = LossWeights(1.0, "alternate", pairs=args.pairs_option)
    out = {"generative": [(LossWeights(0.0), 0, True)]}
    if args.generative_only:
        return out
    out["opal"] = [(opal, 0, True)]
    if args.two_pass:
        out["opal-two-pass"] = [(opal, 0, False)]
    if not args.no_alternate:
        out["alternate-x2"] = [(alternate, 0, True), (alternate, 1, True)]
    return out


def measure(args, tuning: str, device: torch.device, offload: bool) -> dict[str, dict]:
    """All modes for one tuning on the same model and optimizer."""
    model, config = make_model(args, tuning, device)
    params = [p for p in model.parameters() if p.requires_grad]
    engine = engine_for(args, model, params, offload)
    if device.type == "cuda" and int(os.environ.get("RANK", "0")) == 0:
        print(f"{tuning}: {sum(p.numel() for p in params) / 1e9:.2f} B trainable parameters "
              f"({misaligned(params)} off 16-byte boundaries); GPU memory after "
              f"DeepSpeed's set-up {torch.cuda.memory_allocated() / 2**30:.1f} GiB", flush=True)
    model.train()
    g = torch.Generator().manual_seed(0)
    batch = synthetic_batch(config, args.micro_batch, args.prompt_tokens, args.answer_tokens, args.text_tokens, g,
                            args.pairs)
    seq = batch["input_ids"].shape[1]
    world = int(os.environ.get("WORLD_SIZE", "1"))
    results = {}
    for mode, steps in modes(args).items():
        flops = sum(model_flops(args, model, engine, config, s) for s in steps)
        for _ in range(args.warmup):
            for s in steps:
                train_step(model, engine, batch, *s)
        if device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        for _ in range(args.steps):
            for s in steps:
                train_step(model, engine, batch, *s)
        if device.type == "cuda":
            torch.cuda.synchronize()
        step_s = (time.perf_counter() - start) / args.steps
        results[mode] = {
            "step_s": step_s,
            "tokens_per_s": world * len(steps) * args.micro_batch * seq / step_s,  # multimodal sequence tokens
            "tokens_per_s_per_gpu": len(steps) * args.micro_batch * seq / step_s,
            "peak_mem_gib": torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else float("nan"),
            "tflops_per_step": flops / 1e12,
            "mfu": flops / step_s / (args.peak_tflops * 1e12),
        }
        if args.profile and mode == "generative":
            rank = int(os.environ.get("RANK", "0"))
            profile_step(model, engine, batch, steps[0], Path(f"{args.profile}.{tuning}.rank{rank}.txt"), device)
    del engine, model
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="tiny model on CPU (a smoke test of this script)")
    parser.add_argument("--tuning", choices=["lora", "full", "both"], default="both")
    parser.add_argument("--micro-batch", type=int, default=4)
    parser.add_argument("--prompt-tokens", type=int, default=60, help="text tokens of the prompt (besides the image)")
    parser.add_argument("--answer-tokens", type=int, default=16)
    parser.add_argument("--text-tokens", type=int, default=16, help="tokens of each contrastive description")
    parser.add_argument("--pairs", type=int, default=1, help="regions (description rows) per sample")
    parser.add_argument("--pairs-option", choices=["first", "all"], default="all", help="opal.loss.pairs")
    parser.add_argument("--two-pass", action="store_true", help="also time the two-pass OPAL step (the reference)")
    parser.add_argument("--generative-only", action="store_true", help="time the generative step alone")
    parser.add_argument("--no-alternate", action="store_true", help="leave out the released schedule's steps")
    parser.add_argument("--json", default=None, help="write the results to this JSON file")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--peak-tflops", type=float, default=989.0, help="dense bf16 peak (H100 SXM: 989)")
    parser.add_argument("--offload", action=argparse.BooleanOptionalAction, default=None,
                        help="ZeRO-2 optimizer offload to CPU (default: on for full tuning on one GPU)")
    parser.add_argument("--gradient-checkpointing", action="store_true")
    parser.add_argument("--zero-stage", type=int, choices=[0, 1, 2], default=None,
                        help="ZeRO stage (default: configs/deepspeed/zero2.json's 2; with 0, whose step casts "
                             "the gradients to fp32 parameter by parameter, 7B full fine-tuning fits one 141 GB card)")
    parser.add_argument("--bucket-size", type=int, default=None,
                        help="ZeRO reduce/allgather bucket size in elements (default: configs/deepspeed/zero2.json)")
    parser.add_argument("--overlap-comm", action=argparse.BooleanOptionalAction, default=None,
                        help="ZeRO overlap_comm (default: configs/deepspeed/zero2.json)")
    parser.add_argument("--compile", action="store_true", help="torch.compile each decoder layer of the LLM")
    parser.add_argument("--compile-dynamic", action="store_true",
                        help="with --compile: automatic dynamic shapes (as training's `compile: true`)")
    parser.add_argument("--param-alignment", action=argparse.BooleanOptionalAction, default=None,
                        help="ZeRO parameter_alignment (default: configs/deepspeed/zero2.json)")
    parser.add_argument("--profile", default=None, metavar="PREFIX",
                        help="after timing, profile one generative step: phase times and top kernels to "
                             "PREFIX.<tuning>.rank<r>.txt")
    args = parser.parse_args()
    import deepspeed

    if args.tiny:
        args.steps, args.warmup, args.micro_batch = 1, 0, min(args.micro_batch, 2)  # a smoke run: one timed step
        device = torch.device("cpu")
        skip_cpu_shm_collectives()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        for key, value in {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "RANK": "0", "WORLD_SIZE": "1",
                           "LOCAL_RANK": "0"}.items():
            os.environ.setdefault(key, value)
        deepspeed.init_distributed(dist_backend="gloo")
    else:
        deepspeed.init_distributed()
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    rank = int(os.environ.get("RANK", "0"))
    if rank == 0 and device.type == "cuda":
        print(f"{torch.cuda.get_device_name(device)}, {torch.cuda.get_device_properties(device).total_memory / 2**30:.1f} GiB; "
              f"torch {torch.__version__}, DeepSpeed {deepspeed.__version__}; gradient checkpointing "
              f"{'on' if args.gradient_checkpointing else 'off'}", flush=True)
    tunings = ["lora", "full"] if args.tuning == "both" else [args.tuning]
    everything: dict[str, dict] = {}
    for tuning in tunings:
        offload = args.offload
        if offload is None:  # 7B full fine-tuning's Adam states do not fit one 80 GB GPU
            offload = tuning == "full" and int(os.environ.get("WORLD_SIZE", "1")) == 1 and not args.tiny
        results = measure(args, tuning, device, offload)
        everything[tuning] = results
        if rank == 0:
            for mode, r in results.items():
                print(f"{tuning:4s} {mode:14s} step {r['step_s']*1e3:9.1f} ms  {r['tokens_per_s']:10.0f} tokens/s  "
                      f"({r['tokens_per_s_per_gpu']:.0f} a GPU)  peak {r['peak_mem_gib']:6.1f} GiB  "
                      f"{r['tflops_per_step']:8.2f} model TFLOP  MFU {100*r['mfu']:5.1f} %"
                      + ("  (optimizer offloaded to CPU)" if offload else ""), flush=True)
            if args.generative_only:
                continue
            gen, opal = results["generative"], results["opal"]
            print(f"{tuning:4s} OPAL overhead: FLOPs x{opal['tflops_per_step'] / gen['tflops_per_step']:.4f}, "
                  f"step time x{opal['step_s'] / gen['step_s']:.4f} (ratio OPAL / generative-only; paper: ~1.01 FLOPs)")
            if "alternate-x2" in results:
                alt = results["alternate-x2"]
                print(f"{tuning:4s} released schedule: two steps x{alt['step_s'] / (2 * gen['step_s']):.4f} "
                      "(generative + contrastive step / two generative steps)")
            if "opal-two-pass" in results:
                print(f"{tuning:4s} two-pass OPAL step time x{results['opal-two-pass']['step_s'] / gen['step_s']:.4f}")
        if device.type == "cuda":
            torch.cuda.empty_cache()
    if args.json and rank == 0:
        atomic_write_json(args.json, {"args": vars(args), "results": everything})


if __name__ == "__main__":
    main()
