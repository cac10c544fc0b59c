"""Rule human_study_table (annotators): the study table from the annotators' and resolved answers."""

from oeseg.human_study.agreement import write_annotated_study
from oeseg.workflow import rule_step

with rule_step(snakemake):
    write_annotated_study(snakemake.input.selection, list(snakemake.input.annotators),
                          snakemake.input.resolved, snakemake.params.vocabulary, snakemake.output[0])
