"""Rule predict_tags: the tags baseline (image tags, then the classifier among them)."""

from oeseg.baselines.tags import predict_with_tags
from oeseg.workflow import rule_step, split_folder

with rule_step(snakemake):
    predict_with_tags(snakemake.input.classifier, snakemake.input.tagger, snakemake.input.nouns,
                      split_folder(snakemake.input.split), snakemake.output.predictions,
                      snakemake.params.settings, tags_output=snakemake.output.tags)
