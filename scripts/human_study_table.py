"""Rule human_study_table (annotators): the study table from the annotators' and the second stage's
answers (one consensus CSV, independent re-annotations that agree, or none where there are no
disagreements), with the lexical mapping made again with the final labels as the priority, and the
second stage's report."""

from oeseg.human_study.agreement import write_annotated_study
from oeseg.workflow import rule_step

with rule_step(snakemake):
    write_annotated_study(snakemake.input.selection, list(snakemake.input.annotators),
                          # one CSV (a string), a list of re-annotations, or None (human_study.resolved unset)
                          snakemake.input.get("resolved"),
                          snakemake.params.vocabulary, snakemake.input.lexicon, snakemake.output.study,
                          snakemake.output.report, snakemake.params.second_page)
