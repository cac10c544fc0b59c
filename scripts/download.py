"""Rule download: fetch one `downloads` entry of the config, resumable and sha256-checked."""

from oeseg.data.download import download_file
from oeseg.workflow import rule_step

with rule_step(snakemake):
    download_file(snakemake.params.url, snakemake.output[0], snakemake.params.sha256)
