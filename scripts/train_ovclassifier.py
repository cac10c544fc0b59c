"""Rule train_ovclassifier: train the open-vocabulary classifier's region encoder."""

from oeseg.baselines.ovclassifier import train_region_encoder
from oeseg.workflow import rule_step

with rule_step(snakemake):
    train_region_encoder(snakemake.params.split_dirs, snakemake.output[0], snakemake.params.settings)
