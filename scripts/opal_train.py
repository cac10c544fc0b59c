"""Rule opal_train: train one stage of an OPAL/Osprey variant."""

import torch

from oeseg.models.train import launch_stage
from oeseg.workflow import rule_step

with rule_step(snakemake):
    torch.set_num_threads(snakemake.threads)
    launch_stage(dict(section=snakemake.params.section, stage=int(snakemake.wildcards.stage),
                      train_split_dirs=list(snakemake.params.split_dirs), init_dir=snakemake.params.init_dir,
                      out_dir=snakemake.output[0], checkpoint_dir=snakemake.params.checkpoint_dir,
                      contrastive_weight=snakemake.params.contrastive_weight,
                      deepspeed_config=snakemake.params.deepspeed),
                 gpus=int(snakemake.params.gpus), nodes=int(snakemake.params.nodes),
                 cpus_per_process=int(snakemake.params.cpus_per_gpu))
