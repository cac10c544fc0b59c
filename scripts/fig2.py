"""Rule fig2: a category's valid vocabulary by level and how example descriptions map."""

from oeseg.figures.lexicon_levels import write_fig2
from oeseg.workflow import rule_step

with rule_step(snakemake):
    p = snakemake.params
    write_fig2(snakemake.input.lexicon, p.vocabulary, p.category, list(p.descriptions),
               snakemake.output.pdf, snakemake.output.png, p.max_terms, p.note)
