"""Rule download: fetch one `downloads` entry of the config, resumable (its pin, read from the config, keeps the resuming safe)."""

from oeseg.data.download import fetch_download
from oeseg.workflow import download_pins, rule_step

with rule_step(snakemake):
    fetch_download(snakemake.params.url, snakemake.output[0],
                   download_pins(snakemake.config)[snakemake.wildcards.name].sha256, snakemake.params.verified)
