"""Rule predict_tags: the tags baseline (image tags, then the classifier among them)."""

import os

from oeseg.baselines.tags import TagSettings, predict_with_tags
from oeseg.registry import entry_settings
from oeseg.workflow import rule_step

with rule_step(snakemake):
    predict_with_tags(snakemake.input.classifier, snakemake.input.tagger, snakemake.input.nouns,
                      os.path.dirname(snakemake.input.split), snakemake.output.predictions,
                      entry_settings(TagSettings, snakemake.params.entry), tags_output=snakemake.output.tags)
