"""Rule human_study_table (annotators): the study table from the annotators' and resolved answers."""

from oeseg.figures.human_study import write_annotated_study
from oeseg.workflow import rule_step

with rule_step(snakemake):  # noqa: F821
    write_annotated_study(snakemake.input.selection, list(snakemake.input.annotators),  # noqa: F821
                          snakemake.input.resolved, snakemake.params.vocabulary, snakemake.output[0])  # noqa: F821
