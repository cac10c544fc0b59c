"""Rule human_study_agreement: two annotators' agreement and the disagreements to resolve."""

from oeseg.human_study.agreement import write_agreement
from oeseg.workflow import rule_step

with rule_step(snakemake):
    write_agreement(snakemake.input.selection, list(snakemake.input.annotators), snakemake.params.vocabulary,
                    snakemake.output.report, snakemake.output.disagreements)
