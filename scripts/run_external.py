"""Rule run_external: an external method's own inference through its command template, converted."""

import os

from oeseg.baselines.external import run_external
from oeseg.workflow import rule_step

with rule_step(snakemake):  # noqa: F821
    wc = snakemake.wildcards  # noqa: F821
    run_external(wc.method, snakemake.params.entry, os.path.dirname(snakemake.input.split),  # noqa: F821
                 snakemake.input.nouns, snakemake.output.raw, snakemake.output.predictions,  # noqa: F821
                 dataset=wc.dataset, run=wc.run, settings=snakemake.params.settings,  # noqa: F821
                 log_file=snakemake.log[0])  # noqa: F821
