"""OPAL on a CUDA GPU, the workflow's code path: the three stages through DeepSpeed with the
repo's ZeRO-2 bf16 config (stage 3 with LoRA, stopped and resumed from DeepSpeed's checkpoint, or
stopped by SIGTERM), then inference. Skipped without a GPU (CI has none); run on one with `pytest -m gpu`."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

from oeseg.data.panoptic import PanopticSplit
from oeseg.data.predictions import read_predictions
from oeseg.models.inference import describe_split
from oeseg.models.losses import LossWeights
from oeseg.models.job import OpalJob
from oeseg.models.train import StageSettings, run_stage, stage_records, train_stage
from oeseg.models.weights import initial_model, load_model, save_model
from opal_sigterm import child
from opal_synthetic import TINY_MODEL, make_split

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]
ZERO2 = str(Path(__file__).resolve().parents[1] / "configs/deepspeed/zero2.json")
MODEL = {**TINY_MODEL, "hidden_size": 64, "intermediate_size": 128}


def _section(steps: int) -> dict:
    stage = {"lr": 3e-3, "global_batch": 16, "micro_batch": 8, "epochs": 1, "max_steps": steps}
    return {"model": MODEL, "llm_tuning": "lora", "lora": {"r": 8, "alpha": 16, "dropout": 0.0}, "seed": 0,
            "save_every": 5, "stages": {f"stage{s}": stage for s in (1, 2, 3)}}


def _lora_dropout_stage(tmp_path: Path, monkeypatch) -> tuple[Path, dict]:
    """(train split, section) of a 4-step stage 3 with LoRA dropout, run as a one-GPU workflow job
    runs it (no launcher's variables)."""
    for key in ("MASTER_ADDR", "MASTER_PORT", "RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(key, raising=False)
    sec = _section(4)
    sec["lora"] = {"r": 8, "alpha": 16, "dropout": 0.3}
    return make_split(tmp_path / "train", 16, seed=0), sec


def _train_stage3(sec: dict, train: Path, checkpoints: Path, use_deepspeed: bool, **kwargs) -> list[dict]:
    """The loss log of stage 3 of `sec` trained on the GPU from a fresh initial model (resuming from
    a checkpoint in `checkpoints`), with DeepSpeed (the repo's ZeRO-2) or the plain loop."""
    model, tok = initial_model(sec, [t for r in stage_records(sec, 2, [str(train)]) for t in r.descriptions])
    _, history = train_stage(model.cuda(), stage_records(sec, 3, [str(train)]), tok, StageSettings.from_section(sec, 3),
                             LossWeights(1.0), checkpoints, ZERO2, use_deepspeed=use_deepspeed, **kwargs)
    return history


def test_three_stages_with_deepspeed_bf16_resume_and_inference(tmp_path, monkeypatch):
    """As in a workflow job on one GPU: no launcher's RANK, MASTER_ADDR, ...; each stage starts
    (and ends) a process group of its own process (NCCL)."""
    launcher = ("MASTER_ADDR", "MASTER_PORT", "RANK", "WORLD_SIZE", "LOCAL_RANK")
    for key in launcher:
        monkeypatch.delenv(key, raising=False)
    train, val = make_split(tmp_path / "train", 16, seed=0), make_split(tmp_path / "val", 6, seed=1)
    sec = _section(20)
    prev = None
    for stage in (1, 2):
        out = tmp_path / f"stage{stage}"
        history = run_stage(OpalJob(sec, stage, [str(train)], prev, str(out), str(tmp_path / f"ckpt{stage}"),
                                     1.0 if stage > 1 else 0.0, ZERO2))
        assert len(history) == 20 and all(math.isfinite(h["loss"]) for h in history)
        prev = str(out)
    # stage 3 (LoRA): 10 steps, then a new process-like start resumes from DeepSpeed's checkpoint
    settings = StageSettings.from_section(sec, 3)
    records = stage_records(sec, 3, [str(train)])
    model, tok = load_model(prev)
    _, part = train_stage(model.cuda(), records, tok, settings, LossWeights(1.0), tmp_path / "ckpt3", ZERO2,
                          stop_after=10)
    (job,) = (tmp_path / "ckpt3").iterdir()  # the newest checkpoint alone, named by DeepSpeed's `latest`
    assert (job / "latest").read_text() == "step10" and [d.name for d in job.iterdir() if d.is_dir()] == ["step10"]
    assert len(part) == 10 and not dist.is_initialized() and not any(key in os.environ for key in launcher)
    model, tok = load_model(prev)
    model, history = train_stage(model.cuda(), records, tok, settings, LossWeights(1.0), tmp_path / "ckpt3", ZERO2)
    assert [h["step"] for h in history] == list(range(20)) and history[:10] == part
    first = sum(h["generative"] for h in history[:3]) / 3
    last = sum(h["generative"] for h in history[-3:]) / 3
    assert last < 0.95 * first, history  # LoRA r 8 on a tiny model: a slow but steady fall
    assert not any("lora_" in n for n, _ in model.named_parameters())  # merged after the last step
    save_model(model.float().cpu(), tok, tmp_path / "stage3", history)
    path = tmp_path / "pred.jsonl"
    describe_split(str(tmp_path / "stage3"), val, path, seed=0, temperature=0.2, batch_size=5, max_new_tokens=4)
    want = [(im.id, s.id) for im in PanopticSplit.load(val).images for s in im.segments]
    preds = read_predictions(path)
    assert [(p.image_id, p.segment_id) for p in preds] == want and all(p.description for p in preds)


@pytest.mark.parametrize("use_deepspeed", [True, False], ids=["deepspeed", "plain"])
def test_resumed_stage3_with_lora_dropout_equals_uninterrupted(tmp_path, monkeypatch, use_deepspeed):
    """With LoRA dropout on a GPU (CUDA's random state), a stage 3 stopped after 2 steps and
    resumed in a new start trains as one run straight through, with DeepSpeed or the plain loop."""
    train, sec = _lora_dropout_stage(tmp_path, monkeypatch)
    whole = _train_stage3(sec, train, tmp_path / "a", use_deepspeed)
    part = _train_stage3(sec, train, tmp_path / "b", use_deepspeed, stop_after=2)
    torch.manual_seed(1234)  # a new process draws other random numbers before it resumes
    torch.rand(100, device="cuda")
    resumed = _train_stage3(sec, train, tmp_path / "b", use_deepspeed)
    assert len(part) == 2 and [h["step"] for h in resumed] == [0, 1, 2, 3]
    for a, b in zip(whole, resumed):
        assert a.keys() == b.keys() and all(a[k] == pytest.approx(b[k], rel=1e-4) for k in a), (whole, resumed)


#: a child process training stage 3 of a section on the GPU, SIGTERM arriving during a given step
STAGE3_ON_GPU_UNTIL_SIGTERM = """
import json, sys
from oeseg.models.losses import LossWeights
from oeseg.models.train import StageSettings, stage_records, train_stage
from oeseg.models.weights import initial_model
from opal_sigterm import sigterm_during_step
sec, train, checkpoints, cfg, use_deepspeed, signalled = json.loads(sys.argv[1])
sigterm_during_step(signalled)
model, tok = initial_model(sec, [t for r in stage_records(sec, 2, [train]) for t in r.descriptions])
train_stage(model.cuda(), stage_records(sec, 3, [train]), tok, StageSettings.from_section(sec, 3), LossWeights(1.0),
            checkpoints, cfg, use_deepspeed=use_deepspeed)
"""


@pytest.mark.parametrize("use_deepspeed", [True, False], ids=["deepspeed", "plain"])
def test_sigterm_on_a_gpu_checkpoints_the_step_reached_and_the_rerun_trains_as_one_run(tmp_path, monkeypatch,
                                                                                      use_deepspeed):
    """SIGTERM during step 1 of 4 of a GPU stage 3 (save_every 5): DeepSpeed's checkpoint (or
    last.pt) of step 2 is written, the process fails, and the rerun trains as one run straight
    through (LoRA dropout: CUDA's random state is saved too)."""
    train, sec = _lora_dropout_stage(tmp_path, monkeypatch)
    process = child(STAGE3_ON_GPU_UNTIL_SIGTERM, json.dumps([sec, str(train), str(tmp_path / "b"), ZERO2,
                                                             use_deepspeed, 1]))
    try:
        _, stderr = process.communicate(timeout=300)
    finally:
        process.kill()
    assert process.returncode == 1, stderr[-3000:]
    assert "stage 3: stopped by SIGTERM at step 2/4, its checkpoint saved in " in stderr
    (job,) = (tmp_path / "b").iterdir()
    if use_deepspeed:
        assert (job / "latest").read_text() == "step2"
    else:
        assert torch.load(job / "last.pt", weights_only=False)["step"] == 2
    # the child trained at torch's default precision; an earlier test's run_stage turned TF32 on here
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    resumed = _train_stage3(sec, train, tmp_path / "b", use_deepspeed)
    whole = _train_stage3(sec, train, tmp_path / "a", use_deepspeed)
    assert [h["step"] for h in resumed] == [0, 1, 2, 3]
    for a, b in zip(whole, resumed):
        assert a.keys() == b.keys() and all(a[k] == pytest.approx(b[k], rel=1e-4) for k in a), (whole, resumed)
