"""Rule train_tagger: train the image tagger of the tags baseline."""

import os

from oeseg.baselines.tags import TaggerConfig, train_tagger
from oeseg.registry import entry_settings
from oeseg.workflow import rule_step

with rule_step(snakemake):
    config = entry_settings(TaggerConfig, snakemake.params.entry)
    train_tagger([os.path.dirname(p) for p in snakemake.input.splits], snakemake.input.nouns,
                 snakemake.output[0], config)
