"""Rules lexicon_*: build LEXICON with the rule's builder (oeseg.lexicon.build.build_lexicon_file)."""

from oeseg.lexicon.build import build_lexicon_file
from oeseg.workflow import rule_step

with rule_step(snakemake):
    sm = snakemake
    build_lexicon_file(sm.params.builder, sm.params.vocabulary, sm.output[0],
                       nouns=sm.input.get("nouns"), paper_file=sm.input.get("paper_file"),
                       openai=sm.params.get("openai"), cache_dir=sm.params.get("cache_dir"),
                       summary=sm.output.get("summary"), synsets=sm.input.get("synsets") or None)
