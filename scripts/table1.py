"""Rule table1: Table 1 (CSV, Markdown, LaTeX) from the evaluations."""

from oeseg.figures.table import write_table1
from oeseg.workflow import rule_step

with rule_step(snakemake):
    write_table1(list(snakemake.input), snakemake.params.methods, snakemake.params.datasets,
                 snakemake.output.csv, snakemake.output.md, snakemake.output.tex,
                 snakemake.params.caption, snakemake.params.mapping, snakemake.params.note,
                 snakemake.params.groups)
