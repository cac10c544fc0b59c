"""Rule paper_study_table: the paper's published study with its own mapping columns."""

from oeseg.figures.study import write_paper_study
from oeseg.workflow import rule_step

with rule_step(snakemake):  # noqa: F821
    write_paper_study(snakemake.input[0], snakemake.params.vocabulary, snakemake.output[0])  # noqa: F821
