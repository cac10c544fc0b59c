"""Rule human_study_select: the descriptions where the two mappings disagree at one or more levels."""

from oeseg.human_study.selection import select_study_descriptions
from oeseg.workflow import rule_step

with rule_step(snakemake):
    p = snakemake.params
    select_study_descriptions(dict(zip(p.methods, snakemake.input.predictions)), p.split_dir,
                              p.vocabulary, snakemake.input.lexicon, snakemake.output[0],
                              p.max_descriptions, p.seed, snakemake.input.get("sbert_classes"),
                              p.sbert_template)
