"""Rule nouns: write NOUNS from the configured source (oeseg.lexicon.nouns.write_noun_list)."""

from oeseg.lexicon.nouns import write_noun_list
from oeseg.workflow import rule_step

with rule_step(snakemake):
    write_noun_list(snakemake.params.source, snakemake.output[0], tag_lists=snakemake.input.get("tag_lists", []),
                    min_wordnet_count=snakemake.params.min_wordnet_count,
                    vocabularies=snakemake.params.vocabularies, only_nouns=snakemake.params.only_nouns)
