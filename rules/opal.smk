# OPAL and the Osprey baseline: three training stages per variant, then region descriptions.
# Variants are the config methods whose kind (src/oeseg/registry.py) names these rules: `opal`
# (contrastive weight from opal.loss) and `osprey` (weight 0); both train on the train splits of
# training_datasets (or opal.data's sources) from the CLIP tower opal.vision_weights, which the
# demo pretrains itself (opal.tower_pretraining).

from oeseg.registry import methods_regex
from oeseg.workflow import gpu_job_resources
from oeseg.models.workflow import (
    contrastive_weight,
    inference_settings,
    pretrains_tower,
    train_inputs,
    user_provided_files,
)

OPAL = config["opal"]
TRAIN_SPLIT_DIRS = [split_dir(d, "train") for d in TRAIN_DATASETS]
OPAL_GPUS, OPAL_NODES = OPAL["resources"]["gpus"], OPAL["resources"].get("nodes", 1)  # GPUs per node, nodes
CPUS_PER_GPU = max(1, OPAL["resources"]["cpus_per_task"] // max(1, OPAL_GPUS))
USER_PROVIDED.update(
    {f: "a training file named in opal (data, projector_weights)" for f in user_provided_files(config)}
)


rule opal_train:
    input:
        lambda w: train_inputs(config, OUT, w.method, int(w.stage), TRAIN_SPLIT_DIRS),
    output:
        directory(f"{OUT}/models/{{method}}/stage{{stage}}"),
    log:
        f"{LOGS}/opal_train/{{method}}.stage{{stage}}.log",
    benchmark:
        f"{BENCH}/opal_train/{{method}}.stage{{stage}}.tsv"
    wildcard_constraints:
        method=methods_regex(config["methods"], "opal_train"),
        stage="[123]",
    conda:
        "../envs/oeseg.yaml"
    threads: OPAL["resources"]["cpus_per_task"]
    resources:
        # one SLURM task per GPU (srun starts them; see launch_stage), the node's CPUs shared out
        **gpu_job_resources(OPAL_GPUS, OPAL_NODES, CPUS_PER_GPU),
        mem_mb=OPAL["resources"]["mem_mb"],
        runtime=OPAL["resources"]["runtime"],
    params:
        section=OPAL,
        split_dirs=TRAIN_SPLIT_DIRS,
        init_dir=lambda w: f"{OUT}/models/{w.method}/stage{int(w.stage) - 1}" if int(w.stage) > 1 else None,
        checkpoint_dir=lambda w: f"{OUT}/models/{w.method}/stage{w.stage}.checkpoints",
        contrastive_weight=lambda w: contrastive_weight(config, w.method),
        deepspeed=OPAL["deepspeed"],
        gpus=OPAL_GPUS,
        nodes=OPAL_NODES,
        cpus_per_gpu=CPUS_PER_GPU,
    script:
        "../scripts/opal_train.py"


rule opal_describe:
    input:
        model=f"{OUT}/models/{{method}}/stage3",
        split=lambda w: split_json(w.dataset, "val"),
    output:
        PREDICTIONS,
    log:
        f"{LOGS}/opal_describe/{{method}}/{{dataset}}/{{run}}.log",
    benchmark:
        f"{BENCH}/opal_describe/{{method}}/{{dataset}}/{{run}}.tsv"
    wildcard_constraints:
        method=methods_regex(config["methods"], "opal_describe"),
    conda:
        "../envs/oeseg.yaml"
    threads: max(1, OPAL["resources"]["cpus_per_task"] // max(1, OPAL_GPUS))  # one GPU's share
    resources:
        gpu=min(1, OPAL_GPUS),
        mem_mb=OPAL["resources"]["mem_mb"],
        runtime=OPAL["resources"]["describe_runtime"],
    params:
        split_dir=lambda w: split_dir(w.dataset, "val"),
        settings=lambda w: inference_settings(config, run_settings(w.run)),
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
        conda:
            "../envs/oeseg.yaml"
        threads: 1
        params:
            split_dirs=TRAIN_SPLIT_DIRS,
            model=OPAL["model"],
            section=OPAL["tower_pretraining"],
        script:
            "../scripts/pretrain_tower.py"
