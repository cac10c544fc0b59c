"""Rule train_ovclassifier: train the open-vocabulary classifier's region encoder."""

import os

from oeseg.baselines.ovclassifier import RegionEncoderConfig, train_region_encoder
from oeseg.registry import entry_settings
from oeseg.workflow import rule_step

with rule_step(snakemake):
    config = entry_settings(RegionEncoderConfig, snakemake.params.entry)
    train_region_encoder([os.path.dirname(p) for p in snakemake.input.splits], snakemake.output[0], config)
