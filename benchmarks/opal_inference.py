"""Describing regions at the paper's shape: the shared-prefix path (`describe_images`: each image
encoded once, its prompt prefix run once, all its regions' suffixes prefilled and decoded
together) against the plain path (`sample_descriptions`: every region its own full prompt, the
reference), with random weights (ConvNeXt-L CLIP tower at 512 px, LLaMA-7B-shaped LLM, bf16).

Prints regions/s, the minutes one run over ADE20K val (30,250 regions) and Cityscapes val (14,671)
takes and the ratio against the reference; then a breakdown of one batch (tower and mask
extractor, prefix prefill, suffix prefill, one decode step, sampling) and the CPU time to load an
image and its masks, to tell what bounds the stage. It first times the job fingerprint's hash of
the model's weights, which every describe job and training stage computes once. Synthetic images carry region counts drawn
like the datasets' (ADE20K val: median 11, mean 15, up to 257 a image; Cityscapes val: median 29)
and boolean region masks at the datasets' resolutions (683 x 512, 2048 x 1024), as loaded.

    python benchmarks/opal_inference.py                       # one GPU
    python benchmarks/opal_inference.py --tiny                # CPU smoke run (tiny model, fp32)
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time

import numpy as np
import torch
from PIL import Image

from oeseg.data.panoptic import write_segment_ids
from oeseg.models.config import OpalConfig, paper_config
from oeseg.models.inference import (
    ImageRegions,
    choose_tokens,
    describe_images,
    image_batches,
    load_regions,
    make_sampling,
    model_fingerprint,
    sample_descriptions,
)
from oeseg.models.osprey import build_model
from oeseg.models.tokenization import IMAGE_TOKEN_INDEX, build_demo_tokenizer

TINY = {"vision_depths": [1, 1, 1, 1], "vision_dims": [8, 16, 32, 64], "vision_embed_dim": 32, "image_size": 64,
        "vocab_size": 300, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 4, "mask_shape": 16, "mask_embed_dim": 32,
        "max_position_embeddings": 2048}
# regions a val split has, and the log-normal its per-image region counts are drawn from (median, sigma)
DATASETS = {"ade20k": (30250, 11, 0.8), "cityscapes": (14671, 29, 0.35)}
TODAY = {"ade20k": 9.0}  # regions/s of the plain path at batch 8 before this path (CPU sampling)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device: torch.device, repeat: int = 1) -> float:
    """Seconds per call of fn()."""
    sync(device)
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    sync(device)
    return (time.perf_counter() - start) / repeat


def make_prompt(config: OpalConfig, prefix_text: int, suffix_text: int, g: torch.Generator):
    """Prompt ids of the paper's lengths: BOS, system text, the image placeholders, the question's
    first words (prefix); `<mask><pos>` and the rest of the question (suffix)."""
    text = torch.randint(3, min(config.vocab_size, 32000), (prefix_text + suffix_text,), generator=g)
    head = prefix_text * 2 // 3
    prefix = torch.cat([torch.tensor([1]), text[:head - 1], torch.full((config.image_tokens,), IMAGE_TOKEN_INDEX),
                        text[head - 1:prefix_text]])
    suffix = torch.cat([torch.tensor([config.mask_token_id, config.pos_token_id]), text[prefix_text:]])
    return prefix, suffix


def region_counts(name: str, images: int, g: torch.Generator) -> list[int]:
    _, median, sigma = DATASETS[name]
    z = torch.randn(images, generator=g)
    return [max(1, min(257, round(median * math.exp(sigma * float(v))))) for v in z]


#: the resolution of a val image (and so of its region masks, which reach the mask extractor as loaded)
RESOLUTIONS = {"ade20k": (512, 683), "cityscapes": (1024, 2048)}


def synthetic_batch(counts: list[int], size: int, device: torch.device, dtype: torch.dtype, name: str = "ade20k"):
    """Random images at the input size and, per image, boolean region masks at the dataset's resolution."""
    images = torch.randn(len(counts), 3, size, size, device=device, dtype=dtype)
    return images, [torch.rand(n, *RESOLUTIONS[name], device=device) > 0.5 for n in counts]


def load_seconds(size: int, regions: int) -> float:
    """CPU seconds to load one 683x512 image (PNG) and its panoptic masks at `size`."""
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        Image.fromarray(rng.integers(0, 255, (512, 683, 3), dtype=np.uint8)).save(f"{tmp}/im.png")
        ids = np.repeat(np.arange(1, regions + 1, dtype=np.uint32), math.ceil(512 * 683 / regions))[:512 * 683]
        write_segment_ids(f"{tmp}/pan.png", ids.reshape(512, 683))
        image = ImageRegions("im", f"{tmp}/im.png", f"{tmp}/pan.png", tuple(range(1, regions + 1)))
        load_regions(image, size)
        start = time.perf_counter()
        for _ in range(3):
            load_regions(image, size)
        return (time.perf_counter() - start) / 3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="tiny model on CPU (a smoke test of this script)")
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--images", type=int, default=128, help="synthetic images per measured setting (ADE20K; "
                        "Cityscapes half as many)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[256, 512], help="region slots per batch")
    parser.add_argument("--images-per-batch", type=int, nargs="+", default=[16, 32])
    parser.add_argument("--new-tokens", type=int, nargs="+", default=[12],
                        help="tokens decoded per region (random weights never stop early)")
    parser.add_argument("--worst-case-tokens", type=int, default=64,
                        help="also time the best setting decoding this many tokens (the paper config's max_new_tokens)")
    parser.add_argument("--reference-batch", type=int, default=8, help="regions per batch of the plain path")
    parser.add_argument("--reference-batches", type=int, default=3)
    parser.add_argument("--prefix-text", type=int, default=57, help="text tokens of the prompt before <mask><pos>")
    parser.add_argument("--suffix-text", type=int, default=13, help="text tokens after <mask><pos>")
    args = parser.parse_args()
    if args.tiny:
        device, dtype, config = torch.device("cpu"), torch.float32, OpalConfig(**TINY)
        args.images, args.reference_batches = min(args.images, 8), 1
        args.batch_sizes, args.images_per_batch = sorted({min(b, 16) for b in args.batch_sizes}), args.images_per_batch[:1]
    else:
        device, dtype, config = torch.device("cuda", 0), torch.bfloat16, paper_config()
        torch.cuda.set_device(device)
        print(f"{torch.cuda.get_device_name(device)}, torch {torch.__version__}", flush=True)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    with device:  # Osprey's <mask>/<pos> ids lie beyond Vicuna's 32,000-token table
        model = build_model(config, config.vocab_size, config.vocab_size + 1).eval()
    torch.set_default_dtype(previous)
    start = time.perf_counter()
    model_fingerprint(model)  # a describe job's (and a training stage's) fingerprint hashes every weight once
    weights = sum(t.numel() * t.element_size() for t in model.state_dict().values()) / 2**30
    print(f"job fingerprint: the model's {weights:.1f} GiB of weights hashed in {time.perf_counter() - start:.1f} s",
          flush=True)
    tok = build_demo_tokenizer(["a red car"])
    g = torch.Generator().manual_seed(0)
    prefix, suffix = make_prompt(config, args.prefix_text, args.suffix_text, g)
    size, T0 = config.image_size, args.new_tokens[0]
    print(f"prompt {len(prefix)} + {len(suffix)} tokens ({config.image_tokens} image tokens), "
          f"{T0} new tokens a region", flush=True)

    def sampling(new_tokens: int):
        return make_sampling(tok, config.vocab_size, 0.2, 1.0, new_tokens, torch.Generator(device=device).manual_seed(0))

    # the reference: every region its own full prompt and image
    ids = torch.cat([prefix, suffix])[None].expand(args.reference_batch, -1)
    images, masks = synthetic_batch([1] * args.reference_batch, size, device, dtype)
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "images": images, "masks": masks}

    def run() -> None:
        sample_descriptions(model, tok, batch, 0.2, 1.0, T0, torch.Generator(device=device).manual_seed(0))

    run()
    ref_rate = args.reference_batch / timed(run, device, args.reference_batches)
    print(f"reference (plain path, batch {args.reference_batch}): {ref_rate:8.1f} regions/s   ADE20K val "
          f"{DATASETS['ade20k'][0] / ref_rate / 60:6.1f} min" + (f"   (before on-device sampling: "
          f"{TODAY['ade20k']} regions/s)" if not args.tiny else ""), flush=True)

    def measure(name: str, counts: list[int], slots: int, per_batch: int, new_tokens: int) -> float:
        """Regions/s describing synthetic images with `counts` regions (printed with memory and padding)."""
        s = sampling(new_tokens)
        batches = image_batches(counts, slots, per_batch)
        data = [synthetic_batch([counts[i] for i in b], size, device, dtype, name) for b in batches]
        describe_images(model, tok, *data[0], s, (prefix, suffix))  # warm-up
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        seconds = timed(lambda: [describe_images(model, tok, im, m, s, (prefix, suffix)) for im, m in data], device)
        rate = sum(counts) / seconds
        peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else float("nan")
        padded = sum(len(b) * max(counts[i] for i in b) for b in batches) / sum(counts)
        print(f"{name:10s} {new_tokens:3d} new tokens  slots {slots:4d}  images/batch {per_batch:3d}  "
              f"{rate:8.1f} regions/s  val {DATASETS[name][0] / rate / 60:6.1f} min  x{rate / ref_rate:5.1f} vs "
              f"reference  peak {peak:6.1f} GiB  (decoded slots / regions {padded:.2f})", flush=True)
        return rate

    best: dict[str, tuple[float, int, int]] = {}
    samples: dict[str, list[int]] = {}
    for name in args.datasets:
        counts = samples[name] = region_counts(name, args.images if name == "ade20k" else args.images // 2, g)
        for new_tokens in args.new_tokens:
            for slots in args.batch_sizes:
                for per_batch in args.images_per_batch:
                    rate = measure(name, counts, slots, per_batch, new_tokens)
                    if new_tokens == T0 and rate > best.get(name, (0, 0, 0))[0]:
                        best[name] = (rate, slots, per_batch)

    for name, (_, slots, per_batch) in best.items():
        if args.worst_case_tokens and args.worst_case_tokens != T0:
            measure(name, samples[name], slots, per_batch, args.worst_case_tokens)

    # what bounds it: one typical batch of the best ADE20K (or first) setting, phase by phase
    name = "ade20k" if "ade20k" in best else next(iter(best))
    _, slots, per_batch = best[name]
    counts = region_counts(name, 4 * per_batch, torch.Generator().manual_seed(1))
    batch_ids = image_batches(counts, slots, per_batch)
    typical = [counts[i] for i in batch_ids[len(batch_ids) // 2]]
    images, masks = synthetic_batch(typical, size, device, dtype, name)
    rows = len(typical) * max(typical)
    with torch.no_grad():
        tower = timed(lambda: model.mask_extractor(model.encode_images(images)[1], masks), device, 3)
        pre = torch.randn(len(typical), len(prefix), config.hidden_size, device=device, dtype=dtype)
        prefill = timed(lambda: model.model(inputs_embeds=pre, use_cache=True), device, 2)
        one = timed(lambda: describe_images(model, tok, images, masks, sampling(1), (prefix, suffix)), device, 2)
        full = timed(lambda: describe_images(model, tok, images, masks, sampling(T0), (prefix, suffix)), device, 2)
        logits = torch.randn(rows, config.vocab_size, device=device, dtype=dtype)
        s = sampling(T0)
        sample = timed(lambda: choose_tokens(logits, False, s), device, 5)
    step = (full - one) / max(T0 - 1, 1)
    suffix_prefill = one - tower - prefill - sample
    print(f"one {name} batch ({len(typical)} images, {sum(typical)} regions, {rows} slots, {T0} new tokens): "
          f"{full * 1e3:.0f} ms = tower + mask extractor {tower * 1e3:.0f} ms, prefix prefill {prefill * 1e3:.0f} ms, "
          f"suffix prefill {suffix_prefill * 1e3:.0f} ms, {T0 - 1} decode steps x {step * 1e3:.1f} ms "
          f"(of which sampling {sample * 1e3:.2f} ms)", flush=True)
    loading = load_seconds(size, 15)
    print(f"CPU: loading one image and its 15 masks {loading * 1e3:.0f} ms "
          f"({15 / loading:.0f} regions/s on one core, overlapped with the GPU)", flush=True)
    for name, (rate, slots, per_batch) in best.items():
        print(f"best {name}: slots {slots}, images/batch {per_batch}: {rate:.1f} regions/s, val "
              f"{DATASETS[name][0] / rate / 60:.1f} min, x{rate / ref_rate:.1f} vs reference", flush=True)


if __name__ == "__main__":
    main()
