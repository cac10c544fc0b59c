"""Rule pretrain_tower: the demo's tiny CLIP tower, pretrained on the train splits."""

import torch

from oeseg.models.pretrain import run_tower_pretraining
from oeseg.workflow import rule_step

smk = snakemake  # noqa: F821 (injected by Snakemake)
with rule_step(smk):
    torch.set_num_threads(smk.threads)
    run_tower_pretraining(list(smk.params.split_dirs), dict(smk.params.model), dict(smk.params.section),
                          smk.output.weights, smk.output.loss_log)
