# OPAL and the Osprey baseline: three training stages per variant, then region descriptions.
# Variants are the config methods whose kind (src/oeseg/registry.py) names these rules: `opal`
# (contrastive weight from opal.loss) and `osprey` (weight 0); both train on the train splits of
# training_datasets (or opal.data's sources) from the CLIP tower opal.vision_weights, which the
# demo pretrains itself (opal.tower_pretraining), and the LLM opal.llm_weights, which the demo
# pretrains too (opal.llm_pretraining). A stage's job (settings, data, loss weight,
# resources) is built by oeseg.models.job.opal_job from the method and the stage.

from oeseg.registry import methods_regex
from oeseg.models.job import opal_job
from oeseg.models.workflow import (
    describe_resources,
    described_datasets,
    model_dir,
    pretrains_llm,
    pretrains_tower,
    run_settings,
    train_inputs,
    train_resources,
    train_stage_resources,
    user_provided_files,
)

OPAL = config["opal"]
DESCRIBED_DATASETS = described_datasets(config)
OPAL_GPUS, _, CPUS_PER_GPU = train_resources(config)  # GPUs per node, nodes, CPUs per process
USER_PROVIDED.update(
    {
        f: "a training file named in opal (data, projector_weights, vision_weights, llm_weights, deepspeed)"
        for f in user_provided_files(config)
    }
)


rule opal_train:
    input:
        lambda w: train_inputs(config, OUT, w.method, int(w.stage), TRAIN_SPLIT_DIRS),
    output:
        directory(model_dir(OUT, "{method}", "{stage}")),
    log:
        f"{LOGS}/opal_train/{{method}}.stage{{stage}}.log",
    benchmark:
        f"{BENCH}/opal_train/{{method}}.stage{{stage}}.tsv"
    wildcard_constraints:
        method=methods_regex(config["methods"], "opal_train"),
        stage="[123]",
    priority: PRIORITY_OPAL_CHAIN
    conda:
        "../envs/oeseg.yaml"
    threads: OPAL["resources"]["cpus_per_task"]
    resources:
        # one SLURM task per GPU (srun starts them; see launch_stage), the node's CPUs shared out;
        # a stage that trains nothing (stage 1 without train_stage1) is a describe-sized CPU job
        **train_stage_resources(config),
    params:
        # the stage's whole job: a change of any setting it holds reruns the stage
        job=lambda w: opal_job(config, w.method, int(w.stage)).to_dict(),
    script:
        "../scripts/opal_train.py"


rule opal_describe:
    """One inference run of a method over the val split of every described dataset (one job: the
    model and the libraries load once)."""
    input:
        model=model_dir(OUT, "{method}", 3),
        splits=[split_json(d, "val") for d in DESCRIBED_DATASETS],
    output:
        expand(PREDICTIONS, dataset=DESCRIBED_DATASETS, allow_missing=True),
    log:
        f"{LOGS}/opal_describe/{{method}}/{{run}}.log",
    benchmark:
        f"{BENCH}/opal_describe/{{method}}/{{run}}.tsv"
    wildcard_constraints:
        method=methods_regex(config["methods"], "opal_describe"),
    conda:
        "../envs/oeseg.yaml"
    threads: CPUS_PER_GPU  # one GPU's share
    resources:
        **describe_resources(config),
        gpu=min(1, OPAL_GPUS),
    params:
        split_dirs=[split_dir(d, "val") for d in DESCRIBED_DATASETS],
        settings=lambda w: run_settings(config, w.run),
    script:
        "../scripts/opal_describe.py"


if pretrains_tower(config):

    rule pretrain_tower:
        """Demo only: the tiny tower of opal.model pretrained CLIP-style into opal.vision_weights."""
        input:
            [f"{d}/panoptic.json" for d in TRAIN_SPLIT_DIRS],
        output:
            weights=OPAL["vision_weights"],
            loss_log=f"{OUT}/models/pretrain_tower.loss.jsonl",
        log:
            f"{LOGS}/pretrain_tower.log",
        benchmark:
            f"{BENCH}/pretrain_tower.tsv"
        priority: PRIORITY_OPAL_CHAIN
        conda:
            "../envs/oeseg.yaml"
        threads: 1
        params:
            split_dirs=TRAIN_SPLIT_DIRS,
            model=OPAL["model"],
            section=OPAL["tower_pretraining"],
        script:
            "../scripts/pretrain_tower.py"


if pretrains_llm(config):

    rule pretrain_llm:
        """Demo only: the tiny LLM of opal.model pretrained as a language model on the train splits'
        descriptions into the folder opal.llm_weights (with its tokenizer)."""
        input:
            [f"{d}/panoptic.json" for d in TRAIN_SPLIT_DIRS],
        output:
            model=directory(OPAL["llm_weights"]),
            loss_log=f"{OUT}/models/pretrain_llm.loss.jsonl",
        log:
            f"{LOGS}/pretrain_llm.log",
        benchmark:
            f"{BENCH}/pretrain_llm.tsv"
        priority: PRIORITY_OPAL_CHAIN
        conda:
            "../envs/oeseg.yaml"
        threads: 1
        params:
            split_dirs=TRAIN_SPLIT_DIRS,
            model=OPAL["model"],
            section=OPAL["llm_pretraining"],
        script:
            "../scripts/pretrain_llm.py"
