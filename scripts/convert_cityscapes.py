"""Rule convert_cityscapes: one Cityscapes split in the panoptic format."""

from pathlib import Path

from oeseg.data.cityscapes import convert_cityscapes
from oeseg.workflow import rule_step

with rule_step(snakemake):
    convert_cityscapes(snakemake.input.gtfine, snakemake.input.images, snakemake.wildcards.split,
                       Path(snakemake.output.json).parent, snakemake.params.max_images)
