"""Rule human_study_agreement: two annotators' agreement and the disagreements to resolve."""

from oeseg.figures.human_study import write_agreement
from oeseg.workflow import rule_step

with rule_step(snakemake):  # noqa: F821
    write_agreement(list(snakemake.input.annotators), snakemake.params.vocabulary,  # noqa: F821
                    snakemake.output.report, snakemake.output.disagreements)  # noqa: F821
