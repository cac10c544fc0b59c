"""Rule predict_tags: the tags baseline (image tags, then the classifier among them)."""

import os

from oeseg.baselines.tags import predict_with_tags
from oeseg.workflow import rule_step

with rule_step(snakemake):  # noqa: F821
    entry = snakemake.params.entry  # noqa: F821
    predict_with_tags(snakemake.input.classifier, snakemake.input.tagger, snakemake.input.nouns,  # noqa: F821
                      os.path.dirname(snakemake.input.split), snakemake.output.predictions,  # noqa: F821
                      top_k=entry.get("top_k", 8), threshold=entry.get("threshold", 0.3),
                      tags_output=snakemake.output.tags)  # noqa: F821
