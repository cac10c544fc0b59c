"""Rule human_study_second_page: the second stage's annotation page of the disagreements."""

from oeseg.human_study.annotation import write_second_stage_page
from oeseg.workflow import rule_step

with rule_step(snakemake):
    p = snakemake.params
    write_second_stage_page(snakemake.input[0], p.vocabulary, p.examples, p.title, snakemake.output[0])
