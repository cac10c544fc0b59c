"""Rule predict_ovclassifier: describe every ground-truth region of the val split with its best noun."""

from oeseg.baselines.ovclassifier import predict_regions
from oeseg.workflow import rule_step, split_folder

with rule_step(snakemake):
    predict_regions(snakemake.input.model, snakemake.input.nouns,
                    split_folder(snakemake.input.split), snakemake.output[0])
