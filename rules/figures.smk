# figures stage: Table 1, the paper's figures and the human verification study (issue 7).
# Every rule calls one function of oeseg.figures through scripts/<rule>.py.

include: "figures_common.smk"

USER_PROVIDED.update(annotation_hints())


report: "../report/workflow.rst"


PAPER_STUDY_FIGURES = expand(f"{RESULTS}/paper_study/{{fig}}.{{ext}}", fig=["fig1", "fig3", "fig8"], ext=["pdf", "png"])


VARIANCE_METHODS = [m for m in METHODS if len(runs_of(m)) > 1] or METHODS
NOTE = FIG.get("note", "")
STUDY_NOTE = HS.get("note", "")


rule table1:
    input:
        evaluations(METHODS, EVAL_DATASETS),
    output:
        csv=report(f"{RESULTS}/table1.csv", caption="../report/table1.rst", category="Table 1"),
        md=report(f"{RESULTS}/table1.md", caption="../report/table1.rst", category="Table 1"),
        tex=report(f"{RESULTS}/table1.tex", caption="../report/table1.rst", category="Table 1"),
    params:
        methods=method_labels(METHODS),
        datasets=dataset_labels(EVAL_DATASETS),
        mapping=MAPPING_OF_TABLE,
        caption=FIG["table1_caption"],
        note=NOTE,
    log:
        f"{LOGS}/figures/table1.log",
    conda:
        "../envs/oeseg.yaml"
    script:
        "../scripts/table1.py"


rule fig4:
    input:
        evaluations(METHODS, EVAL_DATASETS),
    output:
        pdf=report(f"{RESULTS}/figures/fig4.pdf", caption="../report/fig4.rst", category="Figures", labels={"figure": "4", "format": "PDF"}),
        png=report(f"{RESULTS}/figures/fig4.png", caption="../report/fig4.rst", category="Figures", labels={"figure": "4", "format": "PNG"}),
    params:
        methods=method_labels(METHODS),
        datasets=dataset_labels(EVAL_DATASETS),
        metrics=["PQ"],
        note=NOTE,
    log:
        f"{LOGS}/figures/fig4.log",
    conda:
        "../envs/oeseg.yaml"
    script:
        "../scripts/lac_curves.py"


use rule fig4 as fig12 with:
    output:
        pdf=report(f"{RESULTS}/figures/fig12.pdf", caption="../report/fig12.rst", category="Figures", labels={"figure": "12", "format": "PDF"}),
        png=report(f"{RESULTS}/figures/fig12.png", caption="../report/fig12.rst", category="Figures", labels={"figure": "12", "format": "PNG"}),
    params:
        methods=method_labels(METHODS),
        datasets=dataset_labels(EVAL_DATASETS),
        metrics=["AP", "mIoU"],
        note=NOTE,
    log:
        f"{LOGS}/figures/fig12.log",


rule fig11:
    input:
        evaluations(VARIANCE_METHODS, EVAL_DATASETS),
    output:
        pdf=report(f"{RESULTS}/figures/fig11.pdf", caption="../report/fig11.rst", category="Figures", labels={"figure": "11", "format": "PDF"}),
        png=report(f"{RESULTS}/figures/fig11.png", caption="../report/fig11.rst", category="Figures", labels={"figure": "11", "format": "PNG"}),
    params:
        methods=method_labels(VARIANCE_METHODS),
        datasets=dataset_labels(EVAL_DATASETS),
        metric=FIG["fig11"]["metric"],
        note=NOTE,
    log:
        f"{LOGS}/figures/fig11.log",
    conda:
        "../envs/oeseg.yaml"
    script:
        "../scripts/fig11.py"


rule fig2:
    input:
        lexicon=LEXICON.format(vocabulary=FIG["fig2"]["vocabulary"]),
    output:
        pdf=report(f"{RESULTS}/figures/fig2.pdf", caption="../report/fig2.rst", category="Figures", labels={"figure": "2", "format": "PDF"}),
        png=report(f"{RESULTS}/figures/fig2.png", caption="../report/fig2.rst", category="Figures", labels={"figure": "2", "format": "PNG"}),
    params:
        vocabulary=FIG["fig2"]["vocabulary"],
        category=FIG["fig2"]["category"],
        descriptions=FIG["fig2"]["descriptions"],
        max_terms=FIG["fig2"]["max_terms"],
        note=NOTE,
    log:
        f"{LOGS}/figures/fig2.log",
    conda:
        "../envs/oeseg.yaml"
    script:
        "../scripts/fig2.py"


rule fig10:
    input:
        split=split_json(FIG["fig10"]["dataset"], "val"),
        predictions=list(study_predictions(FIG["fig10"]["methods"], FIG["fig10"]["dataset"]).values()),
    output:
        pdf=report(f"{RESULTS}/figures/fig10.pdf", caption="../report/fig10.rst", category="Figures", labels={"figure": "10", "format": "PDF"}),
        png=report(f"{RESULTS}/figures/fig10.png", caption="../report/fig10.rst", category="Figures", labels={"figure": "10", "format": "PNG"}),
    params:
        split_dir=lambda w, input: os.path.dirname(input.split),
        labels=[config["methods"][m]["label"] for m in FIG["fig10"]["methods"]],
        n_regions=FIG["fig10"]["n_regions"],
        min_area=FIG["fig10"]["min_area"],
        note=NOTE,
    log:
        f"{LOGS}/figures/fig10.log",
    conda:
        "../envs/oeseg.yaml"
    script:
        "../scripts/fig10.py"


# --- the human verification study ----------------------------------------------------------

rule human_study_select:
    input:
        unpack(lambda w: sbert_class_input(vocabulary_of(HS["dataset"]))),
        split=split_json(HS["dataset"], "val"),
        lexicon=LEXICON.format(vocabulary=vocabulary_of(HS["dataset"])),
        predictions=list(study_predictions(HS["methods"], HS["dataset"]).values()),
    output:
        f"{HUMAN_STUDY}/selection.csv",
    params:
        methods=HS["methods"],
        split_dir=lambda w, input: os.path.dirname(input.split),
        vocabulary=vocabulary_of(HS["dataset"]),
        max_descriptions=HS["max_descriptions"],
        seed=HS["seed"],
        sbert_template=SBERT_TEMPLATE,
    log:
        f"{LOGS}/figures/human_study_select.log",
    benchmark:
        f"{BENCH}/figures/human_study_select.tsv"
    resources:
        mem_mb=4000,
        runtime="30m",
    conda:
        "../envs/oeseg.yaml"
    script:
        "../scripts/human_study_select.py"


rule human_study_page:
    input:
        f"{HUMAN_STUDY}/selection.csv",
    output:
        report(HUMAN_STUDY_PAGE, caption="../report/annotation.rst", category="Human study"),
    params:
        vocabulary=vocabulary_of(HS["dataset"]),
        examples=HS["examples"],
        title=HS["title"],
        note=STUDY_NOTE,
    log:
        f"{LOGS}/figures/human_study_page.log",
    conda:
        "../envs/oeseg.yaml"
    script:
        "../scripts/human_study_page.py"


rule human_study_agreement:
    input:
        unpack(annotation_files(["annotators"])),
    output:
        report=report(f"{HUMAN_STUDY}/agreement.json", caption="../report/agreement.rst", category="Human study"),
        disagreements=f"{HUMAN_STUDY}/disagreements.csv",
    params:
        vocabulary=vocabulary_of(HS["dataset"]),
    log:
        f"{LOGS}/figures/human_study_agreement.log",
    conda:
        "../envs/oeseg.yaml"
    script:
        "../scripts/human_study_agreement.py"


if HS["reference"] == "annotators":

    rule human_study_table:
        input:
            unpack(annotation_files(["annotators", "resolved"])),
            selection=f"{HUMAN_STUDY}/selection.csv",
            agreement=f"{HUMAN_STUDY}/agreement.json",
        output:
            f"{HUMAN_STUDY}/study.csv",
        params:
            vocabulary=vocabulary_of(HS["dataset"]),
        log:
            f"{LOGS}/figures/human_study_table.log",
        conda:
            "../envs/oeseg.yaml"
        script:
            "../scripts/human_study_table.py"

else:

    rule human_study_table:
        input:
            selection=f"{HUMAN_STUDY}/selection.csv",
        output:
            f"{HUMAN_STUDY}/study.csv",
        log:
            f"{LOGS}/figures/human_study_table.log",
        conda:
            "../envs/oeseg.yaml"
        script:
            "../scripts/human_study_reference.py"


STUDY_PARAMS = dict(vocabulary=vocabulary_of(HS["dataset"]), reference_label=HS["reference_label"],
                    n_examples=FIG["examples"]["n"], seed=FIG["examples"]["seed"], note=STUDY_NOTE)


rule fig1:
    input:
        ours=f"{HUMAN_STUDY}/study.csv",
    output:
        pdf=report(f"{RESULTS}/figures/fig1.pdf", caption="../report/fig1.rst", category="Figures", labels={"figure": "1", "format": "PDF"}),
        png=report(f"{RESULTS}/figures/fig1.png", caption="../report/fig1.rst", category="Figures", labels={"figure": "1", "format": "PNG"}),
    params:
        **STUDY_PARAMS,
    log:
        f"{LOGS}/figures/fig1.log",
    conda:
        "../envs/oeseg.yaml"
    script:
        "../scripts/fig1.py"


rule fig3:
    input:
        ours=f"{HUMAN_STUDY}/study.csv",
    output:
        pdf=report(f"{RESULTS}/figures/fig3.pdf", caption="../report/fig3.rst", category="Figures", labels={"figure": "3", "format": "PDF"}),
        png=report(f"{RESULTS}/figures/fig3.png", caption="../report/fig3.rst", category="Figures", labels={"figure": "3", "format": "PNG"}),
        accuracy=f"{HUMAN_STUDY}/accuracy.json",
    params:
        **STUDY_PARAMS,
    log:
        f"{LOGS}/figures/fig3.log",
    conda:
        "../envs/oeseg.yaml"
    script:
        "../scripts/fig3.py"


rule fig8:
    input:
        ours=f"{HUMAN_STUDY}/study.csv",
    output:
        pdf=report(f"{RESULTS}/figures/fig8.pdf", caption="../report/fig8.rst", category="Figures", labels={"figure": "8", "format": "PDF"}),
        png=report(f"{RESULTS}/figures/fig8.png", caption="../report/fig8.rst", category="Figures", labels={"figure": "8", "format": "PNG"}),
    params:
        **STUDY_PARAMS,
    log:
        f"{LOGS}/figures/fig8.log",
    conda:
        "../envs/oeseg.yaml"
    script:
        "../scripts/fig8.py"


rule human_study:
    input:
        HUMAN_STUDY_PAGE,
        f"{HUMAN_STUDY}/study.csv",


# --- the paper's published human study: Figures 1, 3 and 8 from user_study_results.json ----------

PS = HS["paper_study"]
PAPER_STUDY_JSON = PS.get("results") or f"{OUT}/downloads/{USER_STUDY_CONFIG.get('results', 'paper/user_study_results.json')}"
PAPER_STUDY = f"{OUT}/paper_study"


rule paper_study_table:
    input:
        PAPER_STUDY_JSON,
    output:
        f"{PAPER_STUDY}/paper_mappings.csv",
    params:
        vocabulary=PS["vocabulary"],
    log:
        f"{LOGS}/figures/paper_study_table.log",
    conda:
        "../envs/oeseg.yaml"
    script:
        "../scripts/paper_study_table.py"


rule paper_study_ours:
    input:
        HUMAN_STUDY_MAPPINGS,
    output:
        f"{PAPER_STUDY}/our_mappings.csv",
    log:
        f"{LOGS}/figures/paper_study_ours.log",
    conda:
        "../envs/oeseg.yaml"
    script:
        "../scripts/paper_study_ours.py"


PAPER_STUDY_PARAMS = dict(vocabulary=PS["vocabulary"], reference_label="Human", n_examples=FIG["examples"]["n"],
                          seed=FIG["examples"]["seed"], note=f"{PS.get('note', '')} {USER_STUDY_GT_NOTE}".strip())


use rule fig1 as paper_study_fig1 with:
    input:
        paper=f"{PAPER_STUDY}/paper_mappings.csv",
        ours=f"{PAPER_STUDY}/our_mappings.csv",
    output:
        pdf=report(f"{RESULTS}/paper_study/fig1.pdf", caption="../report/paper_fig1.rst", category="Paper's human study", labels={"figure": "1", "format": "PDF"}),
        png=report(f"{RESULTS}/paper_study/fig1.png", caption="../report/paper_fig1.rst", category="Paper's human study", labels={"figure": "1", "format": "PNG"}),
    params:
        **PAPER_STUDY_PARAMS,
    log:
        f"{LOGS}/figures/paper_study_fig1.log",


use rule fig3 as paper_study_fig3 with:
    input:
        paper=f"{PAPER_STUDY}/paper_mappings.csv",
        ours=f"{PAPER_STUDY}/our_mappings.csv",
    output:
        pdf=report(f"{RESULTS}/paper_study/fig3.pdf", caption="../report/paper_fig3.rst", category="Paper's human study", labels={"figure": "3", "format": "PDF"}),
        png=report(f"{RESULTS}/paper_study/fig3.png", caption="../report/paper_fig3.rst", category="Paper's human study", labels={"figure": "3", "format": "PNG"}),
        accuracy=report(f"{RESULTS}/paper_study/accuracy.json", caption="../report/paper_fig3.rst", category="Paper's human study", labels={"figure": "3", "format": "JSON"}),
    params:
        **PAPER_STUDY_PARAMS,
    log:
        f"{LOGS}/figures/paper_study_fig3.log",


use rule fig8 as paper_study_fig8 with:
    input:
        paper=f"{PAPER_STUDY}/paper_mappings.csv",
        ours=f"{PAPER_STUDY}/our_mappings.csv",
    output:
        pdf=report(f"{RESULTS}/paper_study/fig8.pdf", caption="../report/paper_fig8.rst", category="Paper's human study", labels={"figure": "8", "format": "PDF"}),
        png=report(f"{RESULTS}/paper_study/fig8.png", caption="../report/paper_fig8.rst", category="Paper's human study", labels={"figure": "8", "format": "PNG"}),
    params:
        **PAPER_STUDY_PARAMS,
    log:
        f"{LOGS}/figures/paper_study_fig8.log",


rule paper_study:
    input:
        PAPER_STUDY_FIGURES,
        f"{RESULTS}/paper_study/accuracy.json",
