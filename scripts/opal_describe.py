"""Rule opal_describe: one inference run describing every ground-truth region of each val split."""

from oeseg.models.inference import describe_splits
from oeseg.workflow import rule_step

with rule_step(snakemake, torch_threads=True):
    describe_splits(snakemake.input.model, dict(zip(snakemake.params.split_dirs, snakemake.output)),
                    workers=snakemake.threads, **snakemake.params.settings)
