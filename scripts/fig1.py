"""Rule fig1 (and paper_study_fig1): Figure 1 from study tables, one per input (source of mappings)."""

from oeseg.figures.accuracy import write_fig1
from oeseg.workflow import rule_step

with rule_step(snakemake):
    p = snakemake.params
    write_fig1(dict(snakemake.input.items()), p.vocabulary, snakemake.output.pdf, snakemake.output.png,
               p.n_examples, p.seed, p.reference_label, p.note)
