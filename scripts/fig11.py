"""Rule fig11: box plots of the LAC score over the variance runs."""

from oeseg.figures.curves import write_lac_boxplots
from oeseg.workflow import rule_step

with rule_step(snakemake):
    write_lac_boxplots(list(snakemake.input), snakemake.params.methods, snakemake.params.datasets,
                       snakemake.params.metric, snakemake.output.pdf, snakemake.output.png,
                       mapping=snakemake.params.mapping, note=snakemake.params.note)
