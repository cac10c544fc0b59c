"""Rule opal_describe: describe every ground-truth region of a val split."""

import torch

from oeseg.models.inference import describe_split
from oeseg.workflow import rule_step

with rule_step(snakemake):
    torch.set_num_threads(snakemake.threads)
    s = snakemake.params.settings
    describe_split(snakemake.input.model, snakemake.params.split_dir, snakemake.output[0], seed=s["seed"],
                   temperature=s["temperature"], top_p=s["top_p"], batch_size=s["batch_size"],
                   max_new_tokens=s["max_new_tokens"], workers=snakemake.threads)
