"""Rule verify_download: check a fetched download against its pinned sha256 and link it where the workflow reads it."""

from oeseg.data.download import verify_download
from oeseg.workflow import rule_step

with rule_step(snakemake):
    verify_download(snakemake.input[0], snakemake.output[0], snakemake.params.sha256, snakemake.params.setting)
