"""Rule embed_nouns: embed the noun vocabulary of the open-vocabulary classifier once."""

from oeseg.baselines.ovclassifier import embed_nouns
from oeseg.workflow import rule_step

with rule_step(snakemake):
    embed_nouns(snakemake.input[0], snakemake.output[0])
