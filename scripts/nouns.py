"""Rule nouns: write NOUNS from the configured source (oeseg.lexicon.nouns.write_noun_list)."""

from oeseg.lexicon.nouns import write_noun_list
from oeseg.workflow import rule_step

with rule_step(snakemake):
    write_noun_list(snakemake.output[0], tag_lists=snakemake.input.get("tag_lists", []), **snakemake.params.settings)
