"""Rule run_external: an external method's own inference through its command template, converted."""

from oeseg.baselines.external import run_external
from oeseg.workflow import rule_step, split_folder

with rule_step(snakemake):
    wc = snakemake.wildcards
    run_external(wc.method, snakemake.params.entry, split_folder(snakemake.input.split),
                 snakemake.input.nouns, snakemake.output.raw, snakemake.output.predictions,
                 dataset=wc.dataset, run=wc.run, settings=snakemake.params.settings,
                 log_file=snakemake.log[0], workers=snakemake.threads)
