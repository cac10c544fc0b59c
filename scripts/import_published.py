"""Rule import_published: the paper's published descriptions as region predictions."""

from oeseg.baselines.importers import import_predictions
from oeseg.workflow import rule_step, split_folder

with rule_step(snakemake):
    import_predictions(snakemake.params.import_format, snakemake.input.descriptions,
                       split_folder(snakemake.input.split), snakemake.output[0],
                       on_mismatch=snakemake.params.on_mismatch)
