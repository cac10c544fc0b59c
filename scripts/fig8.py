"""Rule fig8 (and paper_study_fig8): Figure 8 from study tables, one per input (source of mappings)."""

from oeseg.figures.accuracy import write_fig8
from oeseg.workflow import rule_step

with rule_step(snakemake):
    p = snakemake.params
    write_fig8(dict(snakemake.input.items()), p.vocabulary, snakemake.output.pdf, snakemake.output.png,
               p.n_examples, p.seed, p.reference_label, p.note)
