"""Rule human_study_page: the self-contained annotation page."""

from oeseg.figures.human_study import write_annotation_page
from oeseg.workflow import rule_step

with rule_step(snakemake):  # noqa: F821
    p = snakemake.params  # noqa: F821
    write_annotation_page(snakemake.input[0], p.vocabulary, p.examples, p.title, snakemake.output[0])  # noqa: F821
