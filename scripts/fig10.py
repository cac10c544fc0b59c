"""Rule fig10: region crops with the methods' descriptions."""

from oeseg.figures.qualitative import write_fig10
from oeseg.workflow import rule_step

with rule_step(snakemake):
    p = snakemake.params
    write_fig10(p.split_dir, dict(zip(p.labels, snakemake.input.predictions)),
                snakemake.output.pdf, snakemake.output.png, p.n_regions, p.min_area, note=p.note)
