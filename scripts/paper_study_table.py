"""Rule paper_study_table: the paper's published study with its own mapping columns (no region labels:
no lexical mapping with the region's ground-truth priority)."""

from oeseg.human_study.published import write_paper_study
from oeseg.workflow import rule_step

with rule_step(snakemake):
    write_paper_study(snakemake.input[0], snakemake.params.vocabulary, snakemake.output[0])
