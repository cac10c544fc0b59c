"""Rule download_cityscapes: fetch one Cityscapes package through cityscapesscripts."""

from oeseg.data.cityscapes import download_cityscapes_package
from oeseg.workflow import rule_step

with rule_step(snakemake):
    download_cityscapes_package(snakemake.wildcards.package, snakemake.output[0], snakemake.params.sha256)
