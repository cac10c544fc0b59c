"""Rule paper_study_remap: the paper's published descriptions and human labels with our mappings."""

from oeseg.figures.study import write_our_paper_study
from oeseg.workflow import rule_step

with rule_step(snakemake):  # noqa: F821
    write_our_paper_study(snakemake.input.results, snakemake.params.vocabulary,  # noqa: F821
                          snakemake.input.lexicon, snakemake.output[0],  # noqa: F821
                          snakemake.input.get("sbert_class_names"), snakemake.params.sbert_template)  # noqa: F821
