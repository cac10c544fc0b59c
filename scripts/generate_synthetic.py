"""Rule generate_synthetic: draw one split of a synthetic dataset."""

from pathlib import Path

from oeseg.data.synthetic import generate_split
from oeseg.workflow import rule_step

with rule_step(snakemake):
    generate_split(Path(snakemake.output.json).parent, snakemake.params.vocabulary, snakemake.wildcards.split,
                   snakemake.params.n_images, snakemake.params.image_size, snakemake.params.seed,
                   snakemake.params.descriptions)
