"""Rule download_cityscapes: fetch one Cityscapes package through cityscapesscripts (its pin read from the config)."""

from oeseg.data.cityscapes import fetch_cityscapes_package
from oeseg.workflow import download_pins, rule_step

with rule_step(snakemake):
    package = snakemake.wildcards.package
    sha256 = download_pins(snakemake.config)[f"cityscapes/{package}"].sha256
    fetch_cityscapes_package(package, snakemake.output[0], sha256, snakemake.params.verified)
