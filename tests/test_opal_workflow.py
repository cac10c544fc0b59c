"""rules/opal.smk and its helpers: variants by method kind, inputs per stage, run settings, a
dry run of the rules, and initialisation from user-provided LLM, CLIP and tokenizer files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest
import torch
import yaml
from transformers import LlamaConfig, LlamaForCausalLM

from oeseg.io import InputError
from oeseg.models.weights import initial_model
from oeseg.models.tokenization import build_demo_tokenizer
from oeseg.models.vision import ClipConvNeXt
from oeseg.models.job import OpalJob, opal_job
from oeseg.models.workflow import (describe_resources, described_datasets, opal_methods, run_settings,
                                   train_inputs, train_stage_resources, user_provided_files)
from opal_synthetic import make_split

REPO = Path(__file__).resolve().parents[1]
CONFIG = {"methods": {"opal": {"kind": "opal"}, "osprey": {"kind": "osprey"}, "x": {"kind": "published"},
                      "y": {"kind": "opal", "published": True}},
          "opal": {"loss": {"contrastive_weight": 0.7}, "inference": {"seed": 0, "temperature": 0.2, "top_p": 1.0,
                                                                     "batch_size": 8, "max_new_tokens": 9},
                   "data": {"stage2": [{"format": "coco_instances", "ann_file": "a.json", "image_root": "im"}]}}}


def test_the_deepspeed_config_is_an_input_of_gpu_training_stages_alone():
    """With GPUs (opal.resources.gpus > 0) each training stage reads opal.deepspeed: an edit reruns
    it; without (the demo) the stages train without DeepSpeed and their inputs leave it out."""
    gpu = {**CONFIG, "opal": {**CONFIG["opal"], "deepspeed": "ds.json", "resources": {"gpus": 4}}}
    cpu = {**CONFIG, "opal": {**gpu["opal"], "resources": {"gpus": 0}}}
    assert train_inputs(gpu, "out", "opal", 1, ["d/train"]) == ["d/train/panoptic.json", "ds.json"]
    assert train_inputs(gpu, "out", "opal", 2, ["d/train"]) == ["d/train/panoptic.json", "a.json", "ds.json",
                                                                 "out/models/opal/stage1"]
    assert user_provided_files(gpu) == ["a.json", "ds.json"]
    untrained = {**gpu, "opal": {**gpu["opal"], "train_stage1": False, "projector_weights": "p.bin"}}
    assert "ds.json" not in train_inputs(untrained, "out", "opal", 1, ["d/train"])  # stage 1 trains nothing
    assert train_inputs(cpu, "out", "opal", 2, ["d/train"]) == ["d/train/panoptic.json", "a.json", "out/models/opal/stage1"]
    assert user_provided_files(cpu) == ["a.json"]
    demo = yaml.safe_load((REPO / "config.yaml").read_text())
    assert demo["opal"]["deepspeed"] and all(demo["opal"]["deepspeed"] not in train_inputs(
        demo, "out", "opal", stage, ["d/train"]) for stage in (1, 2, 3))


def test_variants_weights_inputs_and_run_settings():
    assert opal_methods(CONFIG) == ["opal", "osprey"]  # y is taken from its published outputs
    assert user_provided_files(CONFIG) == ["a.json"]
    assert train_inputs(CONFIG, "out", "opal", 1, ["d/train"]) == ["d/train/panoptic.json"]
    assert train_inputs(CONFIG, "out", "opal", 2, ["d/train"]) == ["d/train/panoptic.json", "a.json", "out/models/opal/stage1"]
    # a demo split as a source: its panoptic.json is an input (once), made by the data stage, not the user
    demo = {**CONFIG, "opal": {**CONFIG["opal"], "data": {"stage3": [
        {"format": "demo_regions", "split_dir": "d/train", "regions_per_sample": 9},
        {"format": "demo_regions", "split_dir": "e/train", "regions_per_sample": 9}]}}}
    assert user_provided_files(demo) == []
    assert train_inputs(demo, "out", "opal", 3, ["d/train"]) == ["d/train/panoptic.json", "e/train/panoptic.json",
                                                                 "out/models/opal/stage2"]
    # a source without the file its format reads: an error naming the source's key
    for source, key in [({"format": "demo_regions"}, "split_dir"), ({"format": "coco_instances"}, "ann_file"),
                        ({"format": "coco_instances", "ann_file": "a.json"}, "image_root")]:
        bad = {**CONFIG, "opal": {**CONFIG["opal"], "data": {"stage3": [demo["opal"]["data"]["stage3"][0], source]}}}
        with pytest.raises(InputError, match=rf"opal\.data\.stage3\[1\]\.{key}: missing"):
            train_inputs(bad, "out", "opal", 3, ["d/train"])
    # each run describes the evaluation datasets, then the human study's and Figure 10's others
    sets = {"datasets": {"a": {}, "b": {}, "c": {}}, "evaluation_datasets": ["b", "a"]}
    assert described_datasets(sets) == ["b", "a"]
    assert described_datasets({**sets, "human_study": {"dataset": "c"}, "figures": {"fig10": {"dataset": "a"}}}) == [
        "b", "a", "c"]
    # a variance run's seed, temperature and top_p override opal.inference; the run main takes it as it is
    runs = {**CONFIG, "variance": {"runs": [{"name": "s2-t0.5", "seed": 2, "temperature": 0.5, "top_p": 0.9}]}}
    s = run_settings(runs, "s2-t0.5")
    assert (s["seed"], s["temperature"], s["top_p"], s["max_new_tokens"]) == (2, 0.5, 0.9, 9)
    seeded = {**runs, "opal": {**CONFIG["opal"], "inference": {**CONFIG["opal"]["inference"], "seed": 7}}}
    assert run_settings(seeded, "main") == seeded["opal"]["inference"]
    # a run of another name is not planned with main's settings
    with pytest.raises(InputError, match=r"inference run 's9-bogus' is neither main nor one of variance.runs \(s2-t0.5\)"):
        run_settings(seeded, "s9-bogus")


def demo_config(**loss) -> dict:
    """The repository's config.yaml, its opal.loss updated by `loss`."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["opal"]["loss"].update(loss)
    return config


def test_job_of_a_stage_holds_its_effective_contrastive_weight():
    config = demo_config(contrastive_weight=0.7)
    opal2, osprey3, opal1 = opal_job(config, "opal", 2), opal_job(config, "osprey", 3), opal_job(config, "opal", 1)
    assert (opal2.contrastive_weight, osprey3.contrastive_weight, opal1.contrastive_weight) == (0.7, 0.0, 0.0)
    out = config["out"]
    assert (opal2.stage, opal2.init_dir, opal2.out_dir) == (2, f"{out}/models/opal/stage1", f"{out}/models/opal/stage2")
    assert opal2.checkpoint_dir == f"{out}/models/opal/stage2.checkpoints" and opal1.init_dir is None
    assert opal2.train_split_dirs == [f"{config['data_root']}/{d}/train" for d in config["training_datasets"]]
    # a CPU job does not read the DeepSpeed config (no input of its rule), so it trains without it
    assert opal2.section is config["opal"] and config["opal"]["deepspeed"] and opal2.deepspeed_config is None
    assert (opal2.gpus, opal2.nodes, opal2.cpus_per_process) == (0, 1, 1)
    config["opal"]["resources"].update(gpus=4, nodes=2, cpus_per_task=32)
    job = opal_job(config, "osprey", 2)
    assert (job.gpus, job.nodes, job.cpus_per_process, job.contrastive_weight) == (4, 2, 8, 0.0)
    assert job.deepspeed_config == config["opal"]["deepspeed"]


def test_job_json_round_trip(tmp_path):
    job = opal_job(demo_config(), "opal", 3)
    assert OpalJob.from_dict(json.loads(json.dumps(job.to_dict()))) == job
    job.write(tmp_path / "launch.json")
    assert OpalJob.read(tmp_path / "launch.json") == job
    (tmp_path / "bad.json").write_text(json.dumps({**job.to_dict(), "gpu": 1}))
    with pytest.raises(InputError, match="bad.json: .*gpu"):
        OpalJob.read(tmp_path / "bad.json")


def test_dry_run_plans_three_stages_per_variant_and_describes(tmp_path):
    for d in ("demo-city", "demo-ade"):
        make_split(tmp_path / "data" / d / "train", 2, 0, size=32)
        make_split(tmp_path / "data" / d / "val", 1, 1, size=32)
    out = tmp_path / "out"
    targets = [f"{out}/predictions/{m}/demo-city/s0-t0.2.jsonl" for m in ("opal", "osprey")]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    snakemake = shutil.which("snakemake") or str(Path(sys.executable).parent / "snakemake")
    res = subprocess.run([snakemake, "-n", "--quiet", "rules", "--cores", "1", "--config", f"data_root={tmp_path / 'data'}",
                          f"out={out}", "--", *targets], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    counts = {line.split()[0]: int(line.split()[1]) for line in res.stdout.splitlines()
              if len(line.split()) == 2 and line.split()[1].isdigit()}
    assert counts["opal_train"] == 6 and counts["opal_describe"] == 2, res.stdout


def test_initial_model_loads_user_llm_clip_and_tokenizer(tmp_path):
    tok = build_demo_tokenizer(["a red car"])
    tok.save_pretrained(tmp_path / "tok")
    llm_cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                          num_attention_heads=4, num_key_value_heads=4)
    torch.manual_seed(5)
    LlamaForCausalLM(llm_cfg).save_pretrained(tmp_path / "llm")
    model_section = {"size": "custom", "vision_depths": [1, 1, 1, 1], "vision_dims": [8, 16, 32, 64],
                     "vision_embed_dim": 16, "image_size": 64, "hidden_size": 32, "intermediate_size": 64,
                     "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 4,
                     "mask_shape": 8, "mask_embed_dim": 16, "vocab_size": len(tok), "tokenizer_path": str(tmp_path / "tok")}
    clip = ClipConvNeXt([1, 1, 1, 1], [8, 16, 32, 64], 16)
    torch.save({f"visual.{k}": v for k, v in clip.visual.state_dict().items()} | {"text.x": torch.zeros(1)},
               tmp_path / "clip.bin")
    section = {"model": model_section, "llm_weights": str(tmp_path / "llm"), "vision_weights": str(tmp_path / "clip.bin")}
    model, tokenizer = initial_model(section, [])
    llm = LlamaForCausalLM.from_pretrained(tmp_path / "llm")
    assert torch.equal(model.model.layers[0].mlp.up_proj.weight, llm.model.layers[0].mlp.up_proj.weight)
    assert torch.equal(model.lm_head.weight, llm.lm_head.weight)
    assert torch.equal(model.model.vision_tower.vision_tower.visual.trunk.stem[0].weight, clip.visual.trunk.stem[0].weight)
    assert tokenizer.get_vocab() == tok.get_vocab()
    torch.save({"text.x": torch.zeros(1)}, tmp_path / "notclip.bin")
    with pytest.raises(InputError, match="notclip.bin"):
        initial_model({**section, "vision_weights": str(tmp_path / "notclip.bin")}, [])


def test_the_study_describes_the_variance_run_of_variance_methods_and_main_of_the_others(tmp_path):
    """human_study.run names the run of the methods with variance runs; a method beside them
    without variance runs is described by its one run, main (not a run of that name)."""
    make_split(tmp_path / "data" / "demo-city" / "val", 1, 1, size=32)
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    snakemake = shutil.which("snakemake") or str(Path(sys.executable).parent / "snakemake")
    out = tmp_path / "out"
    res = subprocess.run([snakemake, "-n", "--cores", "1", "--config", f"data_root={tmp_path / 'data'}", f"out={out}",
                          'human_study={"run": "s1-t0.2", "methods": ["opal", "tags"]}', "--",
                          f"{out}/human_study/selection.csv"], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    select = res.stdout[res.stdout.index("rule human_study_select:"):].split("\n")[1]
    assert f"{out}/predictions/opal/demo-city/s1-t0.2.jsonl" in select
    assert f"{out}/predictions/tags/demo-city/main.jsonl" in select, select


def test_describe_resources_fall_back_to_the_training_memory():
    res = {"mem_mb": 64000, "describe_mem_mb": 32000, "describe_runtime": "4h"}
    assert describe_resources({"opal": {"resources": res}}) == {"mem_mb": 32000, "runtime": "4h"}
    del res["describe_mem_mb"]
    assert describe_resources({"opal": {"resources": res}}) == {"mem_mb": 64000, "runtime": "4h"}


def test_a_stage_that_trains_nothing_asks_no_gpu():
    """Stage 1 without train_stage1 only assembles the initial model: a plain CPU job with a describe
    job's memory and time, not the 4-GPU, 72-hour job of the stages that train, which it would hold
    in the queue for minutes of work."""
    config = yaml.safe_load((REPO / "configs" / "paper.yaml").read_text())
    resources = train_stage_resources(config)

    def of(stage: int) -> dict:
        return {key: value(types.SimpleNamespace(stage=str(stage))) for key, value in resources.items()}

    res = config["opal"]["resources"]
    assert {k: v for k, v in of(1).items() if v is not None} == {"mem_mb": res["describe_mem_mb"],
                                                                 "runtime": res["describe_runtime"]}
    assert (of(2)["mem_mb"], of(3)["runtime"]) == (res["mem_mb"], res["runtime"])
    assert of(2)["gres"] == of(3)["gres"] == f"gpu:{config['opal']['resources']['gpus']}" and of(2)["mpi"] == "srun"
    assert of(2)["slurm_extra"] == "--signal=TERM@600"  # SIGTERM 10 min before the time limit: a checkpoint
    config["opal"]["resources"]["gpus"] = 0  # a CPU job (the demo's) keeps SLURM's own signals
    assert "slurm_extra" not in train_stage_resources(config)
    config["opal"]["resources"].update(gpus=4, runtime="20m")  # signalled at once: it would stop at its first step
    assert "slurm_extra" not in train_stage_resources(config)
    config["opal"]["resources"]["runtime"] = 21  # minutes
    assert train_stage_resources(config)["slurm_extra"](types.SimpleNamespace(stage="2")) == "--signal=TERM@600"
    config["opal"]["resources"]["runtime"] = "90"  # minutes, as Snakemake reads a text of digits (not seconds)
    assert train_stage_resources(config)["slurm_extra"](types.SimpleNamespace(stage="2")) == "--signal=TERM@600"
    config["opal"]["train_stage1"] = True
    assert train_stage_resources(config)["gres"](types.SimpleNamespace(stage="1")) == of(2)["gres"]
