# figures stage: Table 1 and the paper's figures (oeseg.figures); Figures 1, 3 and 8 plot the study
# tables of rules/human_study.smk. Every rule calls one library function through scripts/<rule>.py.


from oeseg.workflow import paper_study_note, variance_methods


include: "figures_common.smk"


report: "../report/workflow.rst"


PAPER_STUDY_FIGURES = expand(f"{RESULTS}/paper_study/{{fig}}.{{ext}}", fig=["fig1", "fig3", "fig8"], ext=["pdf", "png"])


VARIANCE_METHODS = variance_methods(config)  # Figure 11's
NOTE = FIG.get("note", "")


rule table1:
    input:
        evaluations(METHODS, EVAL_DATASETS, MAPPING_OF_TABLE),
    output:
        **report_outputs(f"{RESULTS}/table1", "table1", "Table 1", ("csv", "md", "tex")),
    log:
        f"{LOGS}/figures/table1.log",
    conda:
        "../envs/oeseg.yaml"
    params:
        methods=method_labels(METHODS),
        datasets=dataset_labels(EVAL_DATASETS),
        mapping=MAPPING_OF_TABLE,
        caption=FIG["table1_caption"],
        groups=method_groups(METHODS),
        note=NOTE,
    script:
        "../scripts/table1.py"


rule fig4:
    input:
        evaluations(METHODS, EVAL_DATASETS, MAPPING_OF_TABLE),
    output:
        **figure_outputs("fig4"),
    log:
        f"{LOGS}/figures/fig4.log",
    conda:
        "../envs/oeseg.yaml"
    params:
        methods=method_labels(METHODS),
        datasets=dataset_labels(EVAL_DATASETS),
        metrics=["PQ"],
        mapping=MAPPING_OF_TABLE,
        note=NOTE,
    script:
        "../scripts/lac_curves.py"


use rule fig4 as fig12 with:
    output:
        **figure_outputs("fig12"),
    log:
        f"{LOGS}/figures/fig12.log",
    params:
        metrics=["AP", "mIoU"],  # fig4's other params are kept


rule fig11:
    input:
        evaluations(VARIANCE_METHODS, EVAL_DATASETS, MAPPING_OF_TABLE),
    output:
        **figure_outputs("fig11"),
    log:
        f"{LOGS}/figures/fig11.log",
    conda:
        "../envs/oeseg.yaml"
    params:
        methods=method_labels(VARIANCE_METHODS),
        datasets=dataset_labels(EVAL_DATASETS),
        metric=FIG["fig11"]["metric"],
        mapping=MAPPING_OF_TABLE,
        note=NOTE,
    script:
        "../scripts/fig11.py"


rule fig2:
    input:
        lexicon=lexicon_of(FIG["fig2"]["vocabulary"]),
        vocabulary=vocabulary_file(FIG["fig2"]["vocabulary"]),
    output:
        **figure_outputs("fig2"),
    log:
        f"{LOGS}/figures/fig2.log",
    conda:
        "../envs/oeseg.yaml"
    params:
        vocabulary=FIG["fig2"]["vocabulary"],
        category=FIG["fig2"]["category"],
        descriptions=FIG["fig2"]["descriptions"],
        max_terms=FIG["fig2"]["max_terms"],
        note=NOTE,
    script:
        "../scripts/fig2.py"


rule fig10:
    input:
        split=split_json(FIG["fig10"]["dataset"], "val"),
        predictions=list(study_predictions(FIG["fig10"]["methods"], FIG["fig10"]["dataset"]).values()),
    output:
        **figure_outputs("fig10"),
    log:
        f"{LOGS}/figures/fig10.log",
    conda:
        "../envs/oeseg.yaml"
    params:
        split_dir=lambda w, input: split_folder(input.split),
        labels=[config["methods"][m]["label"] for m in FIG["fig10"]["methods"]],
        n_regions=FIG["fig10"]["n_regions"],
        min_area=FIG["fig10"]["min_area"],
        note=NOTE,
    script:
        "../scripts/fig10.py"


STUDY_PARAMS = dict(
    vocabulary=vocabulary_of(HS["dataset"]),
    reference_label=HS["reference_label"],
    n_examples=FIG["examples"]["n"],
    seed=FIG["examples"]["seed"],
    note=STUDY_NOTE,
)


rule fig1:
    input:
        ours=f"{HUMAN_STUDY}/study.csv",
    output:
        **figure_outputs("fig1"),
    log:
        f"{LOGS}/figures/fig1.log",
    conda:
        "../envs/oeseg.yaml"
    params:
        **STUDY_PARAMS,
    script:
        "../scripts/fig1.py"


rule fig3:
    input:
        ours=f"{HUMAN_STUDY}/study.csv",
    output:
        **figure_outputs("fig3"),
        accuracy=f"{HUMAN_STUDY}/accuracy.json",
    log:
        f"{LOGS}/figures/fig3.log",
    conda:
        "../envs/oeseg.yaml"
    params:
        **STUDY_PARAMS,
    script:
        "../scripts/fig3.py"


rule fig8:
    input:
        ours=f"{HUMAN_STUDY}/study.csv",
    output:
        **figure_outputs("fig8"),
    log:
        f"{LOGS}/figures/fig8.log",
    conda:
        "../envs/oeseg.yaml"
    params:
        **STUDY_PARAMS,
    script:
        "../scripts/fig8.py"


# --- the paper's published human study: Figures 1, 3 and 8 from user_study_results.json ----------

PAPER_STUDY_PARAMS = dict(
    vocabulary=USER_STUDY_VOCABULARY,
    reference_label="Human",
    n_examples=FIG["examples"]["n"],
    seed=FIG["examples"]["seed"],
    note=paper_study_note(config),
)


use rule fig1 as paper_study_fig1 with:
    input:
        paper=f"{PAPER_STUDY}/paper_mappings.csv",
        ours=f"{PAPER_STUDY}/our_mappings.csv",
    output:
        **paper_study_outputs("fig1"),
    log:
        f"{LOGS}/figures/paper_study_fig1.log",
    params:
        **PAPER_STUDY_PARAMS,


use rule fig3 as paper_study_fig3 with:
    input:
        paper=f"{PAPER_STUDY}/paper_mappings.csv",
        ours=f"{PAPER_STUDY}/our_mappings.csv",
    output:
        **paper_study_outputs("fig3"),
        accuracy=report_file(f"{RESULTS}/paper_study/accuracy.json", "paper_fig3", "Paper's human study", figure="3"),
    log:
        f"{LOGS}/figures/paper_study_fig3.log",
    params:
        **PAPER_STUDY_PARAMS,


use rule fig8 as paper_study_fig8 with:
    input:
        paper=f"{PAPER_STUDY}/paper_mappings.csv",
        ours=f"{PAPER_STUDY}/our_mappings.csv",
    output:
        **paper_study_outputs("fig8"),
    log:
        f"{LOGS}/figures/paper_study_fig8.log",
    params:
        **PAPER_STUDY_PARAMS,


rule paper_study:
    input:
        PAPER_STUDY_FIGURES,
        f"{RESULTS}/paper_study/accuracy.json",
