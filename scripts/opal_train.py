"""Rule opal_train: train one stage of an OPAL/Osprey variant (its job built by the rule)."""

from oeseg.models.launch import launch_stage
from oeseg.workflow import rule_step

with rule_step(snakemake, torch_threads=True):
    launch_stage(snakemake.params.job, snakemake.log[0])
