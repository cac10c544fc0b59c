"""Rule convert_ade20k: one ADE20K split in the panoptic format."""

from pathlib import Path

from oeseg.data.ade20k import convert_ade20k
from oeseg.workflow import rule_step

with rule_step(snakemake):
    convert_ade20k(snakemake.input.scene_parsing, snakemake.input.instances, snakemake.wildcards.split,
                   Path(snakemake.output.json).parent, snakemake.params.max_images)
