"""Rules fig4 and fig12: Lexical Alignment Curves of the params' metrics."""

from oeseg.figures.curves import write_lac_curves
from oeseg.workflow import rule_step

with rule_step(snakemake):
    write_lac_curves(list(snakemake.input), snakemake.params.methods, snakemake.params.datasets,
                     snakemake.params.metrics, snakemake.output.pdf, snakemake.output.png,
                     mapping=snakemake.params.mapping, note=snakemake.params.note)
