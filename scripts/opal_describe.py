"""Rule opal_describe: one inference run describing every ground-truth region of each val split."""

import torch

from oeseg.models.inference import describe_splits
from oeseg.workflow import rule_step

with rule_step(snakemake):
    torch.set_num_threads(snakemake.threads)
    s = snakemake.params.settings
    describe_splits(snakemake.input.model, dict(zip(snakemake.params.split_dirs, snakemake.output)),
                    seed=s["seed"], temperature=s["temperature"], top_p=s["top_p"], batch_size=s["batch_size"],
                    max_new_tokens=s["max_new_tokens"], workers=snakemake.threads)
