"""Rule fig3 (and paper_study_fig3): Figure 3 and its accuracies from study tables, one per input."""

from oeseg.figures.accuracy import write_fig3
from oeseg.workflow import rule_step

with rule_step(snakemake):
    p = snakemake.params
    write_fig3(dict(snakemake.input.items()), p.vocabulary, snakemake.output.pdf, snakemake.output.png,
               snakemake.output.accuracy, p.reference_label, p.note)
