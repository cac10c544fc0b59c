"""Helpers of rules/opal.smk: which methods are OPAL variants and what each rule needs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from oeseg.registry import methods_of_rule

#: how long a training stage has to stop on SIGTERM (each process checkpoints the step it reached):
#: torchrun's wait for its processes, and how early before its time limit SLURM signals a GPU training
#: job; the defaults, 30 s (torchrun) and KillWait (SLURM, 30 s), can be too short for a large checkpoint
STOP_GRACE_S = 600


def opal_methods(config: dict) -> list[str]:
    """Config methods that rules/opal.smk trains: those whose kind's train rule is opal_train
    (kinds opal and osprey, unless taken as published)."""
    return methods_of_rule(config["methods"], "opal_train")


def model_dir(out: str, method: str, stage: int | str) -> str:
    """The folder of a method's trained stage under the workflow's `out` folder."""
    return f"{out}/models/{method}/stage{stage}"


def train_split_dirs(config: dict) -> list[str]:
    """The train split folders of the config's training datasets (the demo's training data)."""
    from oeseg.workflow import dataset_split_dir

    return [dataset_split_dir(config["data_root"], d, "train") for d in config["training_datasets"]]


def stage_trains(opal: dict, stage: int) -> bool:
    """Whether a stage trains: every stage but stage 1 without `opal.train_stage1`, which only
    assembles the initial model (the LLM, the CLIP tower and the released projector)."""
    return stage > 1 or bool(opal.get("train_stage1", True))


def train_stage_resources(config: dict) -> dict[str, Callable[[Any], Any]]:
    """Resources of rule opal_train, each a function of the job's wildcards: for a stage that
    trains, the GPU job of `opal.resources` (`oeseg.workflow.gpu_job_resources`) with its `mem_mb`
    and `runtime`, and on GPUs SLURM's SIGTERM STOP_GRACE_S before a time limit over twice that; for one that only assembles the initial model, a plain CPU job with the
    memory and time of a describe job (`describe_mem_mb`, `describe_runtime`), which also builds
    the model on the CPU."""
    from oeseg.workflow import gpu_job_resources

    res = config["opal"]["resources"]
    training = {**gpu_job_resources(*train_resources(config)), "mem_mb": res["mem_mb"], "runtime": res["runtime"]}
    minutes = runtime_minutes(res["runtime"])
    if int(res["gpus"]) > 0 and (minutes is None or minutes * 60 > 2 * STOP_GRACE_S):
        # SIGTERM STOP_GRACE_S before the time limit: the steps (not B:) checkpoint and stop; a job
        # of 2 * STOP_GRACE_S or less would stop at its first step, so it keeps SLURM's own signals
        training["slurm_extra"] = f"--signal=TERM@{STOP_GRACE_S}"
    assembly = describe_resources(config)

    def value(key: str) -> Callable[[Any], Any]:
        """The resource `key` of a job: the training job's value, or the assembly job's (None: unset)."""
        return lambda wildcards: (training if stage_trains(config["opal"], int(wildcards.stage)) else assembly).get(key)

    return {key: value(key) for key in training}


def describe_resources(config: dict) -> dict[str, Any]:
    """`mem_mb` and `runtime` of a describe job (rule opal_describe) from `opal.resources`: its
    `describe_mem_mb` (else `mem_mb`) and `describe_runtime`."""
    res = config["opal"]["resources"]
    return {"mem_mb": res.get("describe_mem_mb", res["mem_mb"]), "runtime": res["describe_runtime"]}


def runtime_minutes(runtime: object) -> float | None:
    """A Snakemake `runtime` resource in minutes, as Snakemake reads it (a number or a text of digits:
    minutes; a text with units: "72h", "30m"), or None when it reads no time span."""
    from humanfriendly import InvalidTimespan, parse_timespan

    if isinstance(runtime, (int, float)) and not isinstance(runtime, bool):
        return float(runtime)
    text = str(runtime).strip("'\"")
    if text.isdecimal():  # "90": 90 minutes to Snakemake (`-t 90`), 90 seconds to parse_timespan
        return float(text)
    try:
        return parse_timespan(text) / 60
    except InvalidTimespan:
        return None


def train_resources(config: dict) -> tuple[int, int, int]:
    """(GPUs per node, nodes, CPUs per process) of a training stage from `opal.resources`: the
    node's `cpus_per_task` shared out among its GPUs' processes."""
    res = config["opal"]["resources"]
    gpus = int(res["gpus"])
    return gpus, int(res.get("nodes", 1)), max(1, int(res["cpus_per_task"]) // max(1, gpus))


def deepspeed_file(config: dict) -> str | None:
    """The DeepSpeed JSON config the training stages read (`opal.deepspeed`): None where their jobs
    ask no GPUs (`opal.resources.gpus` 0, the demo: the CPU, without DeepSpeed)."""
    opal = config["opal"]
    return opal.get("deepspeed") if int((opal.get("resources") or {}).get("gpus", 0)) > 0 else None


def train_inputs(config: dict, out: str, method: str, stage: int, train_split_dirs: list[str]) -> list[str]:
    """Inputs of a training stage: the demo splits (their panoptic.json, written with regions.jsonl
    by the data stage), opal.data's annotation files for the stage, the stage-1 inputs (the CLIP
    tower checkpoint opal.vision_weights, the LLM folder opal.llm_weights and its tokenizer
    opal.model.tokenizer_path, Osprey's projector opal.projector_weights), the DeepSpeed config
    of GPU jobs (`deepspeed_file`) and the previous stage's model."""
    opal = config["opal"]
    files = [f"{d}/panoptic.json" for d in train_split_dirs]
    if stage_trains(opal, stage):
        files += [source_file(s, f"opal.data.stage{stage}[{i}]")
                  for i, s in enumerate((opal.get("data") or {}).get(f"stage{stage}", []))]
        if deepspeed := deepspeed_file(config):
            files.append(deepspeed)
    if stage == 1:
        files += list(dict.fromkeys(path for path in (opal.get("vision_weights"), *_llm_files(opal),
                                                      opal.get("projector_weights")) if path))
    if stage > 1:
        files.append(model_dir(out, method, stage - 1))
    return list(dict.fromkeys(files))


DEMO_FORMATS = ("demo_regions", "demo_captions")


def source_paths(source: dict, where: str = "opal data source") -> dict[str, str]:
    """The paths an opal.data source reads by its format: `split_dir` (demo_regions,
    demo_captions), else `ann_file` and `image_root`; a source that is not a mapping or lacks one
    is an InputError naming `where` (e.g. opal.data.stage2[0])."""
    from oeseg.io import InputError

    if not isinstance(source, dict):
        raise InputError(f"{where}: a source is a mapping (format, split_dir or ann_file + image_root), not {source!r}")
    kind = source.get("format")
    needed = ("split_dir",) if kind in DEMO_FORMATS else ("ann_file", "image_root")
    missing = [k for k in needed if k not in source]
    if missing:
        raise InputError(f"{where}.{missing[0]}: missing (format {kind} reads {' and '.join(needed)})")
    return {k: source[k] for k in needed}


def source_file(source: dict, where: str = "opal data source") -> str:
    """The file a training source reads: a demo split's panoptic.json, else its `ann_file`."""
    paths = source_paths(source, where)
    return f"{paths['split_dir']}/panoptic.json" if "split_dir" in paths else paths["ann_file"]


def _llm_files(opal: dict) -> list[str]:
    """The LLM folder opal.llm_weights and its tokenizer opal.model.tokenizer_path, those set."""
    return [path for path in (opal.get("llm_weights"), (opal.get("model") or {}).get("tokenizer_path")) if path]


def user_provided_files(config: dict) -> list[str]:
    """Training files that the user provides (opal.data's annotation files, the stage-1 projector
    opal.projector_weights, opal.vision_weights unless the demo's tower pretraining makes it, and
    the LLM folder opal.llm_weights and opal.model.tokenizer_path unless the demo's LLM
    pretraining makes them, the DeepSpeed config of GPU jobs), for the rule that names them."""
    if not opal_methods(config):
        return []
    opal = config["opal"]
    # a demo split's files come from the data stage (rules/data.smk), not the user
    files = {s["ann_file"] for stage, sources in (opal.get("data") or {}).items() for s in sources
             if "ann_file" in s and stage_trains(opal, int(stage.removeprefix("stage")))}
    if opal.get("projector_weights"):
        files.add(opal["projector_weights"])
    if opal.get("vision_weights") and not pretrains_tower(config):
        files.add(opal["vision_weights"])
    if not pretrains_llm(config):
        files.update(_llm_files(opal))
    if deepspeed := deepspeed_file(config):
        files.add(deepspeed)
    return sorted(files)


def pretrains_tower(config: dict) -> bool:
    """Whether the workflow pretrains the vision tower (opal.tower_pretraining, the demo) into
    opal.vision_weights; a config with tower_pretraining must name that file."""
    from oeseg.io import InputError

    if config["opal"].get("tower_pretraining") is None:
        return False
    if not config["opal"].get("vision_weights"):
        raise InputError("opal.tower_pretraining: opal.vision_weights must name the checkpoint it writes")
    return True


def pretrains_llm(config: dict) -> bool:
    """Whether the workflow pretrains the LLM (opal.llm_pretraining, the demo) into the folder
    opal.llm_weights, which then also holds the tokenizer (opal.model.tokenizer_path names it)."""
    from oeseg.io import InputError

    opal = config["opal"]
    if opal.get("llm_pretraining") is None:
        return False
    if not opal.get("llm_weights") or (opal.get("model") or {}).get("tokenizer_path") != opal["llm_weights"]:
        raise InputError("opal.llm_pretraining: opal.llm_weights must name the folder it writes, and "
                         "opal.model.tokenizer_path the same folder (its tokenizer)")
    return True


def described_datasets(config: dict) -> list[str]:
    """Datasets whose val split each inference run of OPAL and Osprey describes: the evaluation
    datasets, then the human study's and Figure 10's where they are others."""
    wanted = [*config["evaluation_datasets"], (config.get("human_study") or {}).get("dataset"),
              ((config.get("figures") or {}).get("fig10") or {}).get("dataset")]
    return [d for d in dict.fromkeys(wanted) if d in config["datasets"]]


def run_settings(config: dict, run: str) -> dict:
    """Sampling settings of the inference run named `run`: opal.inference overridden by the
    variance run's seed/temperature/top_p; the run main of other methods takes opal.inference's.
    Another name is an InputError (a misspelt run would otherwise be planned with main's settings)."""
    from oeseg.io import InputError

    names = [r["name"] for r in config["variance"]["runs"]]
    if run not in names and run != "main":
        raise InputError(f"inference run {run!r} is neither main nor one of variance.runs "
                         f"({', '.join(names) or 'none'}); human_study.run names one of these")
    own = next((r for r in config["variance"]["runs"] if r["name"] == run), {})
    return {**config["opal"]["inference"], **{k: own[k] for k in ("seed", "temperature", "top_p") if k in own}}
