"""Rule predict_ovclassifier: describe every ground-truth region of the val split with its best noun."""

import os

from oeseg.baselines.ovclassifier import predict_regions
from oeseg.workflow import rule_step

with rule_step(snakemake):  # noqa: F821
    predict_regions(snakemake.input.model, snakemake.input.nouns,  # noqa: F821
                    os.path.dirname(snakemake.input.split), snakemake.output[0])  # noqa: F821
