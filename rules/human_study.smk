# human study stage: the human verification study (oeseg.human_study): the descriptions to
# annotate, the annotation page, the annotators' agreement and the study tables that Figures 1, 3
# and 8 plot; also the study tables of the paper's published study. Every rule calls one library
# function through scripts/<rule>.py.


include: "human_study_common.smk"


USER_PROVIDED.update(annotation_hints(HS, HUMAN_STUDY_PAGE, HUMAN_STUDY_SECOND_PAGE, DISAGREEMENTS))


rule human_study_select:
    input:
        unpack(lambda w: sbert_class_input(config, vocabulary_of(HS["dataset"]))),
        split=split_json(HS["dataset"], "val"),
        lexicon=lexicon_of(vocabulary_of(HS["dataset"])),
        vocabulary=vocabulary_file(vocabulary_of(HS["dataset"])),
        predictions=list(study_predictions(HS["methods"], HS["dataset"]).values()),
    output:
        f"{HUMAN_STUDY}/selection.csv",
    log:
        f"{LOGS}/human_study/select.log",
    benchmark:
        f"{BENCH}/human_study/select.tsv"
    conda:
        "../envs/oeseg.yaml"
    resources:
        mem_mb=4000,
        runtime="30m",
    params:
        methods=HS["methods"],
        split_dir=lambda w, input: split_folder(input.split),
        vocabulary=vocabulary_of(HS["dataset"]),
        max_descriptions=HS["max_descriptions"],
        seed=HS["seed"],
        sbert_template=SBERT_TEMPLATE,
    script:
        "../scripts/human_study_select.py"


rule human_study_page:
    input:
        f"{HUMAN_STUDY}/selection.csv",
    output:
        report(HUMAN_STUDY_PAGE, caption="../report/annotation.rst", category="Human study"),
    log:
        f"{LOGS}/human_study/page.log",
    conda:
        "../envs/oeseg.yaml"
    params:
        vocabulary=vocabulary_of(HS["dataset"]),
        examples=HS["examples"],
        title=HS["title"],
    script:
        "../scripts/human_study_page.py"


rule human_study_agreement:
    input:
        unpack(annotation_files(["annotators"])),
        selection=f"{HUMAN_STUDY}/selection.csv",
    output:
        report=report(f"{HUMAN_STUDY}/agreement.json", caption="../report/agreement.rst", category="Human study"),
        disagreements=DISAGREEMENTS,
    log:
        f"{LOGS}/human_study/agreement.log",
    conda:
        "../envs/oeseg.yaml"
    params:
        vocabulary=vocabulary_of(HS["dataset"]),
    script:
        "../scripts/human_study_agreement.py"


# the second stage's page: the disagreements alone, without the first stage's answers. Made
# from the annotators' CSVs, once they exist: an intermediate under out, not a tracked artifact.
rule human_study_second_page:
    input:
        DISAGREEMENTS,
    output:
        HUMAN_STUDY_SECOND_PAGE,
    log:
        f"{LOGS}/human_study/second_page.log",
    conda:
        "../envs/oeseg.yaml"
    params:
        vocabulary=vocabulary_of(HS["dataset"]),
        examples=HS["examples"],
        title=HS["title"],
    script:
        "../scripts/human_study_second_page.py"


if HS["reference"] == "annotators":

    rule human_study_table:
        input:
            unpack(annotation_files(["annotators", "resolved"])),
            selection=f"{HUMAN_STUDY}/selection.csv",
            agreement=f"{HUMAN_STUDY}/agreement.json",
            # the selection's lexicon: each description mapped again with its human label as the priority
            lexicon=lexicon_of(vocabulary_of(HS["dataset"])),
        output:
            study=f"{HUMAN_STUDY}/study.csv",
            report=report(
                f"{HUMAN_STUDY}/second_stage.json",
                caption="../report/second_stage.rst",
                category="Human study",
            ),
        log:
            f"{LOGS}/human_study/table.log",
        conda:
            "../envs/oeseg.yaml"
        params:
            vocabulary=vocabulary_of(HS["dataset"]),
            second_page=HUMAN_STUDY_SECOND_PAGE,
        script:
            "../scripts/human_study_table.py"

else:

    rule human_study_table:
        input:
            selection=f"{HUMAN_STUDY}/selection.csv",
        output:
            f"{HUMAN_STUDY}/study.csv",
        log:
            f"{LOGS}/human_study/table.log",
        conda:
            "../envs/oeseg.yaml"
        params:
            vocabulary=vocabulary_of(HS["dataset"]),
        script:
            "../scripts/human_study_reference.py"


rule human_study:
    input:
        HUMAN_STUDY_PAGE,
        f"{HUMAN_STUDY}/study.csv",


rule paper_study_table:
    input:
        PAPER_STUDY_JSON,
        vocabulary=vocabulary_file(USER_STUDY_VOCABULARY),
    output:
        f"{PAPER_STUDY}/paper_mappings.csv",
    log:
        f"{LOGS}/human_study/paper_study_table.log",
    conda:
        "../envs/oeseg.yaml"
    params:
        vocabulary=USER_STUDY_VOCABULARY,
    script:
        "../scripts/paper_study_table.py"


rule paper_study_ours:
    input:
        HUMAN_STUDY_MAPPINGS,
    output:
        f"{PAPER_STUDY}/our_mappings.csv",
    log:
        f"{LOGS}/human_study/paper_study_ours.log",
    conda:
        "../envs/oeseg.yaml"
    script:
        "../scripts/paper_study_ours.py"
