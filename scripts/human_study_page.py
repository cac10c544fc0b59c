"""Rule human_study_page: the self-contained annotation page."""

from oeseg.human_study.annotation import write_annotation_page
from oeseg.workflow import rule_step

with rule_step(snakemake):
    p = snakemake.params
    write_annotation_page(snakemake.input[0], p.vocabulary, p.examples, p.title, snakemake.output[0])
