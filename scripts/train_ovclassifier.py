"""Rule train_ovclassifier: train the open-vocabulary classifier's region encoder."""

import os

from oeseg.baselines.ovclassifier import RegionEncoderConfig, train_region_encoder
from oeseg.workflow import rule_step

with rule_step(snakemake):
    entry = snakemake.params.entry
    config = RegionEncoderConfig(**{k: entry[k] for k in ("epochs", "seed") if k in entry})
    train_region_encoder([os.path.dirname(p) for p in snakemake.input.splits], snakemake.output[0], config)
