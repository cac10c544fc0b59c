"""Rule human_study_select: the descriptions where the two mappings disagree at one or more levels."""

from oeseg.figures.human_study import select_study_descriptions
from oeseg.workflow import rule_step

with rule_step(snakemake):  # noqa: F821
    p = snakemake.params  # noqa: F821
    select_study_descriptions(dict(zip(p.methods, snakemake.input.predictions)), p.split_dir,  # noqa: F821
                              p.vocabulary, snakemake.input.lexicon, snakemake.output[0],  # noqa: F821
                              p.max_descriptions, p.seed, snakemake.input.get("sbert_class_names"),  # noqa: F821
                              p.sbert_template)
