"""Three-stage training of Osprey/OPAL: one loop for the CPU (plain torch) and GPUs (DeepSpeed),
with the same losses, schedule (AdamW, linear warm-up, cosine decay), clipping and checkpoints.

Stage 1 trains the projector on image-text pairs, stage 2 the mask extractor and the temperature,
stage 3 the LLM (LoRA or full), the projector, the extractor and the contrastive temperature. An
interrupted stage resumes from the last checkpoint in its checkpoint folder (with every process's
random states), which goes once the stage's model is saved; SIGTERM (a SLURM time limit,
preemption, scancel) makes a training stage checkpoint the step it reached and stop. Models
are built, saved and loaded by `oeseg.models.weights`; `oeseg.models.launch` starts a stage's
processes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import math
import os
import pickle
import random
import re
import shutil
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.distributed as dist

from oeseg.io import InputError, atomic_write_text, error_summary, read_json, save_checkpoint
from oeseg.models.data import Collator, RegionDataset, RegionRecord, has_region_description, record_texts
from oeseg.models.job import OpalJob
from oeseg.models.losses import LossWeights, contrastive_loss, positive_keys
from oeseg.models.osprey import OpalForCausalLM
from oeseg.models.weights import initial_model, load_model, save_model
from oeseg.models.workflow import stage_trains
from oeseg.workflow import JobStopped, sigterm_handler

if TYPE_CHECKING:
    from deepspeed import DeepSpeedEngine
    from peft import PeftModel
    from transformers import PreTrainedTokenizerBase

log = logging.getLogger("oeseg.opal")
#: stage 3's LoRA adapters (`opal.lora`), each key left out of the config taking its value here
LORA_DEFAULTS = {"r": 64, "alpha": 16, "dropout": 0.05}
LORA_TARGETS = r".*model\.layers\.\d+\.(self_attn\.(q|k|v|o)_proj|mlp\.(gate|up|down)_proj)"
TRAINABLE = {1: ("model.mm_projector.",), 2: ("mask_extractor.", "contrastive_temperature"),
             3: ("model.mm_projector.", "mask_extractor.", "contrastive_temperature")}


#: model config keys left out of a stage's fingerprint: where the model was read and the library's version
UNFINGERPRINTED_CONFIG = ("_name_or_path", "transformers_version")


class TrainingStopped(JobStopped):
    """A stage stopped by SIGTERM once it had checkpointed the step it reached: a rerun resumes there."""


@dataclass
class StageSettings:
    """Optimisation settings of one stage (`opal.stages.stage<N>` in the config)."""

    stage: int
    lr: float
    global_batch: int
    epochs: int
    micro_batch: int = 1
    max_steps: int | None = None
    warmup_ratio: float = 0.1
    grad_clip: float = 1.0
    weight_decay: float = 0.0
    max_length: int = 2048
    save_every: int = 50
    seed: int = 0
    gradient_checkpointing: bool = False
    compile: bool = False             # each LLM decoder layer through torch.compile (compile_decoder_layers)
    llm_tuning: str = "lora"          # stage 3: lora | full
    lora: dict = field(default_factory=lambda: dict(LORA_DEFAULTS))

    @classmethod
    def from_section(cls, section: dict, stage: int) -> "StageSettings":
        """Settings of `stage` from the `opal` config section (stage keys override shared ones)."""
        shared = {k: section[k] for k in ("max_length", "warmup_ratio", "grad_clip", "seed", "llm_tuning",
                                          "lora", "save_every", "gradient_checkpointing", "compile") if k in section}
        if "lora" in shared:  # a key left out takes its default
            shared["lora"] = {**LORA_DEFAULTS, **shared["lora"]}
        try:
            return cls(stage=stage, **{**shared, **section["stages"][f"stage{stage}"]})
        except (KeyError, TypeError) as e:
            raise InputError(f"opal.stages.stage{stage}: {e}") from None


def accumulation(global_batch: int, micro_batch: int, processes: int) -> tuple[int, int]:
    """(micro-batch, accumulation steps) giving exactly `global_batch` samples per optimizer step
    on `processes` processes: the configured micro-batch, lowered where needed to the largest
    that divides each process's share."""
    if global_batch % processes:
        raise InputError(f"opal: global batch {global_batch} is not a multiple of the {processes} processes")
    share = global_batch // processes
    micro = max(m for m in range(1, min(micro_batch, share) + 1) if share % m == 0)
    return micro, share // micro


def lr_factor(step: int, total: int, warmup_ratio: float) -> float:
    """Linear warm-up over the first warmup_ratio of the steps, then cosine decay to 0."""
    warmup = max(1, math.ceil(total * warmup_ratio))
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


def world() -> tuple[int, int]:
    """(rank, world size) of this process."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def skip_cpu_shm_collectives() -> None:
    """Have DeepSpeed on the CPU use torch's (gloo) collectives, not its shared-memory ones: those are
    a C++ extension built on first use (a minute on two cores) and serve multi-process CPU training,
    which nothing here does (the CPU runs DeepSpeed in one process: tests, `--tiny` benchmarks)."""
    import deepspeed.ops

    deepspeed.ops.__compatible_ops__["deepspeed_shm_comm"] = False


def end_process_group() -> None:
    """Destroy this process's group, through DeepSpeed once it has taken the group: a later engine
    must not find DeepSpeed's references to the old one."""
    import deepspeed.comm

    (deepspeed.comm if deepspeed.comm.is_initialized() else dist).destroy_process_group()


@contextlib.contextmanager
def deepspeed_process_group() -> Iterator[None]:
    """For DeepSpeed in a stage run in this one process (no launcher: DeepSpeed would look for
    MPI), a process group of this process alone: rank 0 of 1 meeting at a free local port (RANK,
    WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT, those not set), NCCL on CUDA, else gloo;
    the group (and DeepSpeed's references to it) and the variables it set end with the context.
    A group already set up (launched processes) is used as it is."""
    if dist.is_initialized():
        yield
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    wanted = {"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}
    added = {k: v for k, v in wanted.items() if k not in os.environ}
    os.environ.update(added)
    try:
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        try:
            yield
        finally:
            end_process_group()
    finally:
        for k in added:
            os.environ.pop(k, None)


def _set_trainable(model: OpalForCausalLM, stage: int, llm_tuning: str) -> None:
    """Freeze every parameter but those the stage trains (TRAINABLE; in stage 3 the LLM too, full or LoRA)."""
    prefixes = TRAINABLE[stage]
    for name, p in model.named_parameters():
        trainable = name.startswith(prefixes)
        if stage == 3 and llm_tuning == "full":
            trainable = trainable or (name.startswith(("model.", "lm_head.")) and ".vision_tower." not in name)
        if stage == 3 and llm_tuning == "lora":
            trainable = trainable or "lora_" in name
        p.requires_grad_(trainable)


def compile_decoder_layers(model: OpalForCausalLM, dynamic: bool | None = None) -> int:
    """Compile each decoder layer of the LLM in place (`nn.Module.compile`; the layers share one
    graph, and the state dict keeps its keys); returns how many. `dynamic=None` (torch's automatic
    dynamic shapes) compiles one static graph and makes a dimension symbolic once it changes, as the
    padded length does from batch to batch; `False` keeps one static graph per shape."""
    torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, 64)
    layers = model.get_decoder().layers
    for layer in layers:
        layer.compile(dynamic=dynamic)
    return len(layers)


def _add_lora(model: OpalForCausalLM, lora: dict) -> PeftModel:
    """The model wrapped with LoRA adapters (rank, alpha, dropout of `lora`) on LORA_TARGETS."""
    from peft import LoraConfig, get_peft_model

    return get_peft_model(model, LoraConfig(r=lora["r"], lora_alpha=lora["alpha"], lora_dropout=lora["dropout"],
                                            target_modules=LORA_TARGETS, bias="none"))


def contrastive_rows(batch: dict, pairs: str) -> torch.Tensor:
    """Indices of the batch's contrastive rows that take part: every valid pair (`all`) or each
    sample's first (`first`); one invalid row where none is valid, so that the text pass runs."""
    chosen = batch["pair_first"] if pairs == "first" else batch["pair_valid"]
    rows = torch.nonzero(chosen).flatten()
    return rows if len(rows) else torch.zeros(1, dtype=torch.long)


def step_losses(model: OpalForCausalLM, batch: dict, weights: LossWeights, step: int,
                packed: bool = True) -> dict[str, torch.Tensor]:
    """The losses of one micro-batch at an optimizer step: `loss` (what is minimised) and its terms.

    Each contrastive pair is a region's mask token and its description (`weights.pairs`: each
    sample's first pair or all of them). When both losses are due and `packed`, one LLM call
    computes both (`OpalForCausalLM.forward_packed`); otherwise the generative pass and the
    text-only pass run separately (the same losses and gradients)."""
    use_gen, use_con = weights.terms(step)
    dev = next(model.parameters()).device
    ids, attn = batch["input_ids"].to(dev), batch["attention_mask"].to(dev)
    masks = [m.to(dev) for m in batch["masks"]]
    images = batch["images"].to(dev)
    out: dict[str, torch.Tensor] = {}
    mask_tokens = text = None
    rows = contrastive_rows(batch, weights.pairs)
    t_ids, t_attn = batch["text_ids"][rows].to(dev), batch["text_attention_mask"][rows].to(dev)
    if use_gen and use_con and packed:
        po = model.forward_packed(ids, attn, images, masks, batch["labels"].to(dev), t_ids, t_attn,
                                  batch["pair_sample"][rows], weights.detach_text_embeddings)
        out["generative"], mask_tokens, text = po.loss, po.mask_tokens, po.text_embeddings
    elif use_gen:
        mm = model.forward_multimodal(ids, attn, images, masks, batch["labels"].to(dev), return_logits=False)
        out["generative"], mask_tokens = mm.loss, mm.mask_tokens
    n_masks = sum(len(m) for m in masks)
    if use_con:
        if mask_tokens is None and n_masks:
            _, feats = model.encode_images(images)
            mask_tokens = torch.cat(model.mask_extractor(feats, masks)[0])
        if text is None:
            with contextlib.nullcontext() if weights.text_gradient else torch.no_grad():
                text = model.text_embeddings(t_ids, t_attn, weights.detach_text_embeddings)
        if not weights.text_gradient:  # fixed targets, as the released code's gather leaves them
            text = text.detach()
        valid = batch["pair_valid"][rows].to(dev)
        region = torch.zeros_like(text)
        if n_masks:
            where = batch["pair_region"][rows].to(dev).clamp(max=n_masks - 1)
            region = torch.where(valid[:, None], mask_tokens[where].to(text.dtype), region)
        keys = positive_keys([batch["texts"][r] for r in rows.tolist()], [batch["classes"][r] for r in rows.tolist()],
                             weights.positives)
        out["contrastive"] = contrastive_loss(region, text, keys, model.contrastive_temperature.clamp(min=0.01),
                                              valid, weights.symmetric)
    out["loss"] = out.get("generative", 0.0) + weights.contrastive * out.get("contrastive", 0.0)
    return out


def _batches(dataset: RegionDataset, settings: StageSettings, step: int, accum: int, collate: Collator,
             contrastive_pool: list[int] | None = None) -> Iterator[dict]:
    """Micro-batches of optimizer step `step` for this process: a seeded permutation per epoch.

    With a `contrastive_pool` (the samples holding a region description; `alternate` losses) an
    epoch is two interleaved passes, as the released OPAL code's task-grouped sampler makes it:
    even steps go through all samples (the generative loss), odd steps through the pool in an
    order of its own (the contrastive loss), cycled to as many steps as the first pass."""
    rank, size = world()
    per_step = settings.micro_batch * accum * size
    steps_per_epoch = max(1, len(dataset) // per_step)
    passes = 1 if contrastive_pool is None else 2
    epoch, pos = divmod(step, steps_per_epoch * passes)
    dataset.epoch = epoch
    task, pos = pos % passes, pos // passes
    if task == 0:
        order = list(range(len(dataset)))
        random.Random(settings.seed * 100003 + epoch).shuffle(order)
        chunk = order[pos * per_step:(pos + 1) * per_step]
    else:
        order = list(contrastive_pool)
        random.Random(f"{settings.seed}/{epoch}/contrastive").shuffle(order)
        chunk = [order[(pos * per_step + i) % len(order)] for i in range(per_step)]
    share = len(chunk) // size  # contiguous shares: process r takes the micro-batches one process would take r-th
    mine = chunk[rank * share:(rank + 1) * share] if share else chunk
    for i in range(0, len(mine), settings.micro_batch):
        yield collate([dataset[j] for j in mine[i:i + settings.micro_batch]])


def total_steps(n: int, settings: StageSettings, accum: int, passes: int = 1) -> int:
    """Optimizer steps of a stage: epochs of `passes` passes over n samples at the global batch (or
    max_steps)."""
    if settings.max_steps:
        return settings.max_steps
    return settings.epochs * passes * max(1, n // (settings.micro_batch * accum * world()[1]))


def _rng_states() -> list[dict]:
    """The random states of every process (python's, torch's CPU and, with CUDA, each GPU's), by
    rank; a collective where a process group is set up."""
    own = {"python": random.getstate(), "torch": torch.get_rng_state(),
           "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}
    size = world()[1]
    if size == 1:
        return [own]
    states: list = [None] * size
    dist.all_gather_object(states, own)
    return states


def _restore_rng(states: list[dict] | torch.Tensor | None, where: Path) -> None:
    """Set this process's random states to those a checkpoint saved for its rank (`_rng_states`)."""
    rank, size = world()
    if torch.is_tensor(states):  # a checkpoint saved before python's and CUDA's states were kept
        torch.set_rng_state(states)
        return
    if states is None or len(states) != size:
        log.warning("%s: no random state saved for %d processes; dropout is drawn anew", where, size)
        return
    own = states[rank]
    random.setstate(own["python"])
    torch.set_rng_state(own["torch"])
    if own["cuda"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(own["cuda"])


@contextlib.contextmanager
def reading_checkpoint(path: Path, job_dir: Path) -> Iterator[None]:
    """Loading the checkpoint `path` of the job folder `job_dir`: a file that does not load (cut
    short, corrupt, missing a part) is an InputError naming it, which says to remove `job_dir`."""
    try:
        yield
    except torch.cuda.OutOfMemoryError:  # not a bad file: the error as it is
        raise
    except (OSError, EOFError, RuntimeError, ValueError, KeyError, TypeError, AssertionError, pickle.UnpicklingError) as e:
        detail = f"no {e}" if isinstance(e, KeyError) else error_summary(e).split(". ")[0]
        raise InputError(f"{path}: the stage's checkpoint does not load ({detail}); "
                         f"remove {job_dir} to train the stage anew") from None


def _check_shard_count(tag_dir: Path, job_dir: Path, processes: int) -> None:
    """A DeepSpeed checkpoint resumes only in as many processes as wrote it (ZeRO partitions the
    optimizer state among them, one `*optim_states.pt` a process): else an InputError saying so."""
    shards = len(list(tag_dir.glob("*optim_states.pt")))
    if shards and shards != processes:
        raise InputError(f"{tag_dir}: the stage's checkpoint was written by {shards} processes (GPUs) and this run "
                         f"has {processes}: rerun with {shards} (opal.resources.gpus × nodes) to resume it, "
                         f"or remove {job_dir} to train the stage anew")


def _tensor_digest(tensor: torch.Tensor) -> bytes:
    """sha256 of a tensor's bytes (read from its buffer on the host, not copied again; a 0-dim
    tensor's too, as one element)."""
    return hashlib.sha256(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy()).digest()


def hash_weights(h: hashlib._Hash, model: torch.nn.Module) -> None:
    """Feed every tensor of the model (name, dtype, shape and its bytes' sha256) to the hash `h`.
    The tensors are copied and hashed in threads, as many as torch computes on (the rule's
    `threads`), at most 8 (both release the GIL): a 7B model's 13 GiB took 25 s on one."""
    items = sorted(model.state_dict().items())
    with ThreadPoolExecutor(min(8, torch.get_num_threads())) as pool:
        digests = pool.map(_tensor_digest, [tensor for _, tensor in items])
        for (name, tensor), digest in zip(items, digests):
            h.update(f"{name}\0{tensor.dtype}\0{tuple(tensor.shape)}\0".encode())
            h.update(digest)


def fingerprinted_config(model: torch.nn.Module) -> dict:
    """The model config a fingerprint covers: what the weights do not show (image size, norm
    epsilon, activation, RoPE), not where it was read or the library's version."""
    return {k: v for k, v in model.config.to_dict().items() if k not in UNFINGERPRINTED_CONFIG}


def stage_fingerprint(model: torch.nn.Module, records: list[RegionRecord], tokenizer: PreTrainedTokenizerBase,
                      settings: StageSettings,
                      weights: LossWeights, deepspeed: dict | None = None) -> str:
    """sha256 naming a stage's training job: its initial weights and model config, its samples
    (annotations and texts; images by path), the tokenizer's vocabulary, its settings and, when it trains with
    DeepSpeed, DeepSpeed's config. Checkpoints are kept under it, so that only the same job
    resumes them."""
    h = hashlib.sha256()
    hash_weights(h, model)
    # where a record's annotation is (for errors) is not what it trains
    samples = [{k: v for k, v in dataclasses.asdict(r).items() if k != "origin"} for r in records]
    h.update(json.dumps(samples, sort_keys=True, default=str).encode())
    h.update(json.dumps(sorted(tokenizer.get_vocab().items())).encode())
    h.update(json.dumps(fingerprinted_config(model), sort_keys=True, default=str).encode())
    # when checkpoints are written and whether the layers run compiled do not matter
    fields = {k: v for k, v in dataclasses.asdict(dataclasses.replace(settings, save_every=0)).items() if k != "compile"}
    loss = dataclasses.asdict(weights)
    if loss["text_gradient"]:  # the default: the fingerprints of jobs from before the option stay as they were
        del loss["text_gradient"]
    h.update(json.dumps([fields, loss], sort_keys=True).encode())
    if deepspeed is not None:  # only then: the fingerprints of jobs without DeepSpeed stay as they were
        h.update(json.dumps(deepspeed, sort_keys=True).encode())
    return h.hexdigest()


def job_checkpoint_dir(checkpoint_dir: Path, fingerprint: str) -> Path:
    """The folder of this job's checkpoints, `checkpoint_dir/<fingerprint[:16]>`; rank 0 removes
    the checkpoints of other jobs (another fingerprint: other initial weights, samples, tokenizer
    or settings) kept there. The fingerprint does not cover the code: `run_stage` (`describe_splits`)
    removes the whole checkpoint folder once the stage's model (the job's predictions) is saved, so
    a rerun of a finished job starts anew."""
    own = checkpoint_dir / fingerprint[:16]
    if world()[0] == 0:
        for other in checkpoint_dir.glob("*"):
            if other != own and other.is_dir() and re.fullmatch(r"[0-9a-f]{16}", other.name):
                log.warning("%s: removing the checkpoints of another job", other)
                shutil.rmtree(other)
    return own


def remove_checkpoints(checkpoint_dir: str | os.PathLike) -> None:
    """Remove a stage's checkpoint folder, renamed first (atomically) so that a removal cut short
    leaves nothing a rerun would resume from."""
    folder = Path(checkpoint_dir)
    doomed = folder.with_name(folder.name + ".removing")
    if doomed.exists():  # left by a removal cut short
        shutil.rmtree(doomed)
    if folder.exists():
        folder.rename(doomed)
        shutil.rmtree(doomed)


def _keep_only(checkpoint_dir: Path, tag: str) -> None:
    """Remove the DeepSpeed checkpoints (tag folders) of `checkpoint_dir` other than `tag`."""
    for old in checkpoint_dir.iterdir():
        if old.is_dir() and old.name != tag:
            shutil.rmtree(old)


def _save_training_state(checkpoint_dir: Path, step: int, history: list[dict], model: OpalForCausalLM,
                         optimizer: torch.optim.Optimizer, scheduler: torch.optim.lr_scheduler.LRScheduler,
                         engine: DeepSpeedEngine | None) -> None:
    """Checkpoint a stage after `step` optimizer steps, called by every process (a collective):
    DeepSpeed's tag `step<N>` (then the `latest` file naming it, written atomically by rank 0 once
    every process's files are saved; the older tags then go) or rank 0's `last.pt`, with every
    process's random states. Every process returns once it is whole, so none stops (or is stopped
    by a launcher that saw another exit) while it is written."""
    rank, size = world()
    rng = _rng_states()  # dropout's draws go on where they were when resumed
    if engine is not None:
        # DeepSpeed's own `latest` is written in place by rank 0 before the other ranks' files are
        # known to be saved; its save_checkpoint ends with a barrier, after which all of them are
        engine.save_checkpoint(str(checkpoint_dir), tag=f"step{step}", save_latest=False,
                               client_state={"step": step, "history": history, "rng": rng})
        if rank == 0:
            atomic_write_text(checkpoint_dir / "latest", f"step{step}")
            _keep_only(checkpoint_dir, f"step{step}")
    elif rank == 0:
        save_checkpoint(checkpoint_dir / "last.pt", {
            "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(), "rng": rng, "step": step, "history": history})
    if size > 1:
        dist.barrier()


def any_process(flag: bool, device: torch.device) -> bool:
    """Whether `flag` is set in any process: with several, one MAX all_reduce of one number on `device`."""
    if world()[1] == 1:
        return flag
    flags = torch.tensor([int(flag)], device=device)
    dist.all_reduce(flags, op=dist.ReduceOp.MAX)
    return bool(flags.item())


def train_stage(model: OpalForCausalLM, records: list[RegionRecord], tokenizer: PreTrainedTokenizerBase,
                settings: StageSettings,
                weights: LossWeights, checkpoint_dir: str | os.PathLike, deepspeed_config: str | None = None,
                stop_after: int | None = None, use_deepspeed: bool | None = None) -> tuple[OpalForCausalLM, list[dict]]:
    """Train one stage; returns the trained model (LoRA merged) and the per-step loss log.

    DeepSpeed (with `deepspeed_config`) runs when `use_deepspeed`, by default when CUDA is there;
    otherwise a plain torch loop (DeepSpeed in a process group of this process alone where none is
    set up). Resumes from the checkpoint of the same job (`last.pt`, or DeepSpeed's tag named by
    its `latest` file, in `checkpoint_dir/<stage_fingerprint[:16]>`) when present; `stop_after`
    ends early after that many steps. A SIGTERM to any process while the stage trains (in the
    main thread) lets the optimizer step in progress finish, then every process checkpoints that
    step and raises TrainingStopped (the previous SIGTERM handler is back once the stage ends)."""
    rank, size = world()
    if len(records) == 0:
        raise InputError(f"opal stage {settings.stage}: no training samples")
    if len(records) < settings.global_batch:  # an optimizer step would take fewer samples than it says
        raise InputError(f"opal.stages.stage{settings.stage}.global_batch: {settings.global_batch} is more than "
                         f"the stage's {len(records)} training samples")
    if use_deepspeed is None:
        use_deepspeed = bool(deepspeed_config) and torch.cuda.is_available()
    ds = read_json(deepspeed_config) if use_deepspeed else None
    checkpoint_dir = job_checkpoint_dir(Path(checkpoint_dir),
                                        stage_fingerprint(model, records, tokenizer, settings, weights, ds))
    peft_model = None
    if settings.stage == 3 and settings.llm_tuning == "lora":
        peft_model = _add_lora(model, settings.lora)
    _set_trainable(model, settings.stage, settings.llm_tuning)
    if settings.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if settings.compile:
        compile_decoder_layers(model)
    params = [p for p in model.parameters() if p.requires_grad]
    micro, accum = accumulation(settings.global_batch, settings.micro_batch, size)
    settings = dataclasses.replace(settings, micro_batch=micro)
    dataset = RegionDataset(records, model.config.image_size, settings.seed)
    collate = Collator(tokenizer, model.config.image_tokens, settings.max_length)
    pool = None
    if weights.combination == "alternate" and weights.contrastive > 0:
        pool = [i for i, r in enumerate(records) if has_region_description(r)]
        if not pool:
            raise InputError(f"opal stage {settings.stage}: the alternate loss combination needs samples with a "
                             "region description (its contrastive steps), the stage has none")
    steps = total_steps(len(dataset), settings, accum, 1 if pool is None else 2)
    # fused on GPUs: the foreach kernel's temporaries would add a copy of the fp32 master weights
    optimizer = torch.optim.AdamW(params, lr=settings.lr, weight_decay=settings.weight_decay,
                                  fused=all(p.is_cuda for p in params))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, steps, settings.warmup_ratio))
    engine = None
    step, history = 0, []
    with deepspeed_process_group() if use_deepspeed else contextlib.nullcontext():
        if use_deepspeed:
            import deepspeed

            if not torch.cuda.is_available():
                skip_cpu_shm_collectives()
            ds.update(train_micro_batch_size_per_gpu=settings.micro_batch, gradient_accumulation_steps=accum,
                      gradient_clipping=settings.grad_clip)
            ds.pop("train_batch_size", None)
            engine, optimizer, _, scheduler = deepspeed.initialize(model=model, model_parameters=params, config=ds,
                                                                   optimizer=optimizer, lr_scheduler=scheduler)
            if (checkpoint_dir / "latest").exists():  # written once a checkpoint's files are all saved
                tag = (checkpoint_dir / "latest").read_text().strip()
                where = checkpoint_dir / tag if tag and (checkpoint_dir / tag).is_dir() else checkpoint_dir / "latest"
                _check_shard_count(where, checkpoint_dir, size)
                with reading_checkpoint(where, checkpoint_dir):
                    if where.name == "latest":
                        raise ValueError(f"it names {tag!r}, not a checkpoint folder of {checkpoint_dir}")
                    _, client = engine.load_checkpoint(str(checkpoint_dir), tag=tag)
                    step, history = client["step"], client["history"]
                _restore_rng(client.get("rng"), checkpoint_dir)
        elif (checkpoint_dir / "last.pt").exists():
            with reading_checkpoint(checkpoint_dir / "last.pt", checkpoint_dir):
                state = torch.load(checkpoint_dir / "last.pt", map_location="cpu", weights_only=False)
                model.load_state_dict(state["model"])
                optimizer.load_state_dict(state["optimizer"])
                scheduler.load_state_dict(state["scheduler"])
                step, history = state["step"], state["history"]
            _restore_rng(state["rng"], checkpoint_dir)
        if step:
            log.info("stage %d: resumed at step %d from %s", settings.stage, step, checkpoint_dir)
        model.train()
        end = steps if stop_after is None else min(steps, step + stop_after)
        sigterm: list[int] = []  # the SIGTERMs received while the stage trains: the handler only notes them
        with sigterm_handler(lambda signum, frame: sigterm.append(signum)):
            while step < end:
                sums: dict[str, float] = {}
                lr = scheduler.get_last_lr()[0]  # this step's (the scheduler steps with the optimizer)
                for batch in _batches(dataset, settings, step, accum, collate, pool):
                    losses = step_losses(model, batch, weights, step)
                    if engine is not None:
                        engine.backward(losses["loss"])
                        engine.step()
                    else:
                        (losses["loss"] / accum).backward()
                    for k, v in losses.items():
                        sums[k] = sums.get(k, 0.0) + float(v.detach() if torch.is_tensor(v) else v) / accum
                if engine is None:
                    if size > 1:  # data parallel without DeepSpeed (CPU processes): average the gradients
                        for p in params:
                            if p.grad is not None:
                                dist.all_reduce(p.grad)
                                p.grad /= size
                    torch.nn.utils.clip_grad_norm_(params, settings.grad_clip)
                    optimizer.step()
                    scheduler.step()
                    optimizer.zero_grad(set_to_none=True)
                history.append({"step": step, "lr": lr, **sums})
                step += 1
                stopping = any_process(bool(sigterm), params[0].device)  # every process stops at the same step
                if step % settings.save_every == 0 or step == end or stopping:
                    _save_training_state(checkpoint_dir, step, history, model, optimizer, scheduler, engine)
                if rank == 0 and (step % 10 == 0 or step == end):
                    log.info("stage %d step %d/%d %s", settings.stage, step, steps, history[-1])
                if stopping:
                    if rank == 0:
                        log.warning("stage %d: stopped by SIGTERM at step %d/%d, its checkpoint saved in %s; "
                                    "a rerun resumes from here", settings.stage, step, steps, checkpoint_dir)
                    raise TrainingStopped(f"stage {settings.stage}: stopped by SIGTERM at step {step}/{steps} "
                                          f"(checkpoint in {checkpoint_dir})")
    model.eval()
    if peft_model is not None and step >= steps:
        model = peft_model.merge_and_unload()
    return model, history


def stage_records(section: dict, stage: int, train_split_dirs: list[str]) -> list[RegionRecord]:
    """Training records of a stage: `opal.data.stage<N>` sources when configured (Osprey's
    formats), else the demo splits (captions for stage 1; regions for stages 2-3, grouped per
    image as `opal.demo_samples` says)."""
    from oeseg.models.data import records_from_source

    sources = (section.get("data") or {}).get(f"stage{stage}")
    if sources:
        return [r for i, s in enumerate(sources) for r in records_from_source(s, f"opal.data.stage{stage}[{i}]")]
    if stage == 1:
        sources = [{"format": "demo_captions", "split_dir": d} for d in train_split_dirs]
    else:
        grouping = section.get("demo_samples") or {}
        sources = [{"format": "demo_regions", "split_dir": d, **grouping} for d in train_split_dirs]
    return [r for s in sources for r in records_from_source(s, "opal.demo_samples")]


def run_stage(job: OpalJob) -> list[dict]:
    """Train the job's stage from `job.init_dir` (None: a fresh model), save it to `job.out_dir`,
    then remove its checkpoint folder `job.checkpoint_dir`."""
    section, stage = job.section, job.stage
    trains = stage_trains(section, stage)
    if not trains and not section.get("projector_weights"):
        raise InputError("opal: train_stage1 false needs opal.projector_weights (a released stage-1 projector)")
    records = stage_records(section, stage, job.train_split_dirs) if trains else []
    if job.init_dir is None:  # the demo's tokenizer is built from the stage-2 texts; Vicuna's needs none
        texts = [] if section["model"].get("tokenizer_path") else record_texts(
            stage_records(section, 2, job.train_split_dirs))
        model, tokenizer = initial_model(section, texts)
    else:
        model, tokenizer = load_model(job.init_dir)
    if torch.cuda.is_available():
        model.to(f"cuda:{torch.cuda.current_device()}")
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True  # fp32 matmuls in TF32, as released
    settings = StageSettings.from_section(section, stage)
    weights = LossWeights.from_section(section.get("loss", {}), job.contrastive_weight)
    if not trains:  # the projector as given (opal.projector_weights)
        history: list[dict] = []
    else:
        model, history = train_stage(model, records, tokenizer, settings, weights, job.checkpoint_dir,
                                     job.deepspeed_config)
    if world()[1] > 1:
        dist.barrier()  # every process is done with the checkpoints
    if world()[0] == 0:
        save_model(model.to("cpu"), tokenizer, job.out_dir, history)
        remove_checkpoints(job.checkpoint_dir)  # the model is saved: a rerun (after a code change) trains anew
    return history
