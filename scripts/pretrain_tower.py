"""Rule pretrain_tower: the demo's tiny CLIP tower, pretrained on the train splits."""

from oeseg.models.pretrain import run_tower_pretraining
from oeseg.workflow import rule_step

with rule_step(snakemake, torch_threads=True):
    run_tower_pretraining(list(snakemake.params.split_dirs), dict(snakemake.params.model),
                          dict(snakemake.params.section), snakemake.output.weights, snakemake.output.loss_log)
