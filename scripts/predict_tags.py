"""Rule predict_tags: the tags baseline (image tags, then the classifier among them)."""

import os

from oeseg.baselines.tags import predict_with_tags
from oeseg.workflow import rule_step

with rule_step(snakemake):
    predict_with_tags(snakemake.input.classifier, snakemake.input.tagger, snakemake.input.nouns,
                      os.path.dirname(snakemake.input.split), snakemake.output.predictions,
                      snakemake.params.settings, tags_output=snakemake.output.tags)
