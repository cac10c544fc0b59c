"""Rule fig3 (and paper_study_fig3): Figure 3 and its accuracies from study tables, one per input."""

from oeseg.figures.study import write_fig3
from oeseg.workflow import rule_step

with rule_step(snakemake):  # noqa: F821
    p = snakemake.params  # noqa: F821
    write_fig3(dict(snakemake.input.items()), p.vocabulary, snakemake.output.pdf, snakemake.output.png,  # noqa: F821
               snakemake.output.accuracy, p.reference_label, p.note)  # noqa: F821
