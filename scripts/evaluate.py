"""Rule evaluate: PQ, mIoU and mask AP at every lexical level of one predictions file."""

from oeseg.metrics.evaluator import write_evaluation
from oeseg.workflow import rule_step

with rule_step(snakemake):
    p = snakemake.params
    write_evaluation(snakemake.output[0], p.split_dir, snakemake.input.predictions,
                     snakemake.input.lexicon, mapping=snakemake.wildcards.mapping,
                     workers=snakemake.threads, missing_regions=p.missing_regions,
                     sbert_class_names=snakemake.input.get("sbert_classes"), sbert_template=p.sbert_template,
                     scored_images=p.scored_images)
