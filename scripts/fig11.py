"""Rule fig11: box plots of the LAC score over the variance runs."""

from oeseg.figures.curves import write_lac_boxplots
from oeseg.workflow import rule_step

with rule_step(snakemake):  # noqa: F821
    write_lac_boxplots(list(snakemake.input), snakemake.params.methods, snakemake.params.datasets,  # noqa: F821
                       snakemake.params.metric, snakemake.output.pdf, snakemake.output.png)  # noqa: F821
