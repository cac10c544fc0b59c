"""Rule user_provided_file: an input that the user provides is missing."""

from oeseg.workflow import require_user_file, rule_step

with rule_step(snakemake):
    require_user_file(snakemake.output[0], snakemake.params.what)
