"""Rule pretrain_llm: the demo's tiny LLM, pretrained on the train splits' descriptions."""

from oeseg.models.pretrain import run_llm_pretraining
from oeseg.workflow import rule_step

with rule_step(snakemake, torch_threads=True):
    run_llm_pretraining(list(snakemake.params.split_dirs), dict(snakemake.params.model), dict(snakemake.params.section),
                        snakemake.output.model, snakemake.output.loss_log)
