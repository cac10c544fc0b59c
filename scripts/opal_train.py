"""Rule opal_train: train one stage of an OPAL/Osprey variant (its job built by the rule)."""

from oeseg.models.job import OpalJob
from oeseg.models.launch import launch_stage
from oeseg.workflow import rule_step

with rule_step(snakemake, torch_threads=True):
    launch_stage(OpalJob.from_dict(snakemake.params.job, "rule opal_train"), snakemake.log[0])
