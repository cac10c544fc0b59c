"""Rule human_study_table (demo): the study table with ground-truth categories as reference labels."""

from oeseg.figures.human_study import write_reference_study
from oeseg.workflow import rule_step

with rule_step(snakemake):  # noqa: F821
    write_reference_study(snakemake.input.selection, snakemake.output[0])  # noqa: F821
