"""Rule map_user_study: the paper's human-study descriptions mapped with our two mappings."""

from oeseg.mapping.study import remap_user_study
from oeseg.workflow import rule_step

with rule_step(snakemake) as log:  # noqa: F821 (set by Snakemake)
    table = remap_user_study(
        snakemake.input.study,  # noqa: F821
        snakemake.input.lexicon,  # noqa: F821
        snakemake.output[0],  # noqa: F821
        vocabulary=snakemake.params.vocabulary,  # noqa: F821
        sbert_class_names=snakemake.input.classes or None,  # noqa: F821
        sbert_template=snakemake.params.template,  # noqa: F821
        ground_truth=snakemake.params.ground_truth,  # noqa: F821
    )
    for row in table:
        log.info("%s %s: reproduces the paper %.1f %%, agrees with humans %.1f %%", row["mapping"],
                 row["level"], row["reproduces_paper"], row["agrees_with_human"])
