"""Rule human_study_table (annotators): the study table from the annotators' and the second stage's
answers (one consensus CSV, or independent re-annotations that agree), and the second stage's report."""

from oeseg.human_study.agreement import write_annotated_study
from oeseg.workflow import rule_step

with rule_step(snakemake):
    write_annotated_study(snakemake.input.selection, list(snakemake.input.annotators),
                          snakemake.input.resolved,  # one CSV (a string), or a list of re-annotations
                          snakemake.params.vocabulary, snakemake.output.study, snakemake.output.report)
