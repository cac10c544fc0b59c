"""Rule evaluate: PQ, mIoU and mask AP at every lexical level of one predictions file."""

from oeseg.metrics.evaluator import write_evaluation
from oeseg.workflow import rule_step

with rule_step(snakemake):  # noqa: F821
    p = snakemake.params  # noqa: F821
    write_evaluation(snakemake.output[0], p.split_dir, snakemake.input.predictions,  # noqa: F821
                     snakemake.input.lexicon, method=snakemake.wildcards.mapping,  # noqa: F821
                     workers=snakemake.threads, missing_regions=p.missing_regions,  # noqa: F821
                     sbert_class_names=snakemake.input.get("sbert_classes"), sbert_template=p.sbert_template)  # noqa: F821
