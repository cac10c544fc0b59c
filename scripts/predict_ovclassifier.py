"""Rule predict_ovclassifier: describe every ground-truth region of the val split with its best noun."""

import os

from oeseg.baselines.ovclassifier import predict_regions
from oeseg.workflow import rule_step

with rule_step(snakemake):
    predict_regions(snakemake.input.model, snakemake.input.nouns,
                    os.path.dirname(snakemake.input.split), snakemake.output[0])
