"""Rule human_study_table (demo): the study table with ground-truth categories as reference labels
(so both of its lexical mappings, the reference's priority and the region's, are the selection's)."""

from oeseg.human_study.agreement import write_reference_study
from oeseg.workflow import rule_step

with rule_step(snakemake):
    write_reference_study(snakemake.input.selection, snakemake.params.vocabulary, snakemake.output[0])
