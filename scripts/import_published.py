"""Rule import_published: the paper's published descriptions as region predictions."""

import os

from oeseg.baselines.importers import import_predictions
from oeseg.workflow import rule_step

with rule_step(snakemake):  # noqa: F821
    import_predictions("lac", snakemake.input.descriptions, os.path.dirname(snakemake.input.split),  # noqa: F821
                       snakemake.output[0], on_mismatch=snakemake.params.entry.get("on_mismatch", "error"))  # noqa: F821
