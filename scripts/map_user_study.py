"""Rule map_user_study: the paper's human-study descriptions mapped with our two mappings."""

from oeseg.human_study.published import remap_user_study
from oeseg.workflow import rule_step

with rule_step(snakemake):
    remap_user_study(
        snakemake.input.study,
        snakemake.input.lexicon,
        snakemake.output[0],
        vocabulary=snakemake.params.vocabulary,
        sbert_class_names=snakemake.input.get("sbert_classes"),
        sbert_template=snakemake.params.template,
        ground_truth=snakemake.params.ground_truth,
    )
