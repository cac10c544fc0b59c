"""Rule train_tagger: train the image tagger of the tags baseline."""

import os

from oeseg.baselines.tags import TaggerConfig, train_tagger
from oeseg.workflow import rule_step

with rule_step(snakemake):  # noqa: F821
    entry = snakemake.params.entry  # noqa: F821
    config = TaggerConfig(**{k: entry[k] for k in ("epochs", "seed") if k in entry})
    train_tagger([os.path.dirname(p) for p in snakemake.input.splits], snakemake.input.nouns,  # noqa: F821
                 snakemake.output[0], config)  # noqa: F821
