"""Rule train_tagger: train the image tagger of the tags baseline."""

import os

from oeseg.baselines.tags import TaggerConfig, train_tagger
from oeseg.workflow import rule_step

with rule_step(snakemake):
    entry = snakemake.params.entry
    config = TaggerConfig(**{k: entry[k] for k in ("epochs", "seed") if k in entry})
    train_tagger([os.path.dirname(p) for p in snakemake.input.splits], snakemake.input.nouns,
                 snakemake.output[0], config)
