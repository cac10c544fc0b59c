"""Rule train_tagger: train the image tagger of the tags baseline."""

from oeseg.baselines.tags import train_tagger
from oeseg.workflow import rule_step

with rule_step(snakemake):
    train_tagger(snakemake.params.split_dirs, snakemake.input.nouns, snakemake.output[0], snakemake.params.settings)
