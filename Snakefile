"""oeseg: the workflow of "Benchmarking Open-Ended Segmentation".

Targets: all, table1, one per figure (fig1 ... fig12), human_study, demo_data; or any file.
"""

from snakemake.utils import min_version, validate

min_version("9.20")


configfile: "config.yaml"


validate(config, "schemas/config.schema.yaml")


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/nouns.smk"
include: "rules/lexicon.smk"
include: "rules/mapping.smk"
include: "rules/opal.smk"
include: "rules/baselines.smk"
include: "rules/evaluate.smk"
include: "rules/figures.smk"
include: "rules/provenance.smk"


rule all:
    default_target: True
    input:
        TABLE1_FILES,
        FIGURE_FILES,
        HUMAN_STUDY_PAGE,
        PROVENANCE,
