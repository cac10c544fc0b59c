"""Rule paper_study_ours: our mappings of the published study (from rule map_user_study) as a study table
(no region labels: no lexical mapping with the region's ground-truth priority)."""

from oeseg.human_study.published import write_our_paper_study
from oeseg.workflow import rule_step

with rule_step(snakemake):
    write_our_paper_study(snakemake.input[0], snakemake.output[0])
