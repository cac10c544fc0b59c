"""Rule generate_synthetic: draw one split of a synthetic dataset."""

from pathlib import Path

from oeseg.data.synthetic import generate_split
from oeseg.data.vocabularies import get_vocabulary
from oeseg.workflow import rule_step

with rule_step(snakemake):
    generate_split(Path(snakemake.output.json).parent, get_vocabulary(snakemake.params.vocabulary),
                   snakemake.wildcards.split, snakemake.params.n_images, tuple(snakemake.params.image_size),
                   snakemake.params.seed, snakemake.params.descriptions)
