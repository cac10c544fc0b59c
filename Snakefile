"""oeseg: the workflow of "Benchmarking Open-Ended Segmentation".

Targets: all, table1, one per data figure of the paper (fig1-fig4, fig8, fig10-fig12), human_study,
demo_data; or any file.
"""

from pathlib import Path

from snakemake.utils import min_version

from oeseg.workflow import check_config, check_config_files

min_version("9.20")


# config.yaml is the embedded default; a config given with --configfile (configs/paper.yaml)
# replaces it rather than being merged into it, so no demo dataset or method leaks in.
if not workflow.config_settings.configfiles:

    configfile: "config.yaml"


check_config_files(workflow.config_settings.configfiles or [Path(workflow.basedir) / "config.yaml"])
check_config(config, Path(workflow.basedir) / "schemas")


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/nouns.smk"
include: "rules/lexicon.smk"
include: "rules/mapping.smk"
include: "rules/opal.smk"
include: "rules/baselines.smk"
include: "rules/evaluate.smk"
include: "rules/human_study.smk"
include: "rules/figures.smk"
include: "rules/provenance.smk"
include: "rules/user_provided.smk"


rule all:
    default_target: True
    input:
        TABLE1_FILES,
        FIGURE_FILES,
        HUMAN_STUDY_PAGE,
        PROVENANCE,
