# mapping stage: the paper's human-study descriptions remapped with our lexical and Sentence-BERT
# mappings, for the figures stage (library: src/oeseg/mapping; config keys: mapping.*).


rule map_user_study:
    input:
        unpack(lambda wildcards: sbert_class_input(USER_STUDY_VOCABULARY)),
        study=PAPER_STUDY_JSON,
        lexicon=LEXICON.format(vocabulary=USER_STUDY_VOCABULARY),
    output:
        HUMAN_STUDY_MAPPINGS,
    log:
        f"{LOGS}/mapping/map_user_study.log",
    benchmark:
        f"{BENCH}/mapping/map_user_study.tsv"
    conda:
        "../envs/oeseg.yaml"
    resources:
        mem_mb=4000,
        runtime="20m",
        cpus_per_task=2,
    params:
        vocabulary=USER_STUDY_VOCABULARY,
        template=SBERT_TEMPLATE,
        ground_truth=USER_STUDY_GROUND_TRUTH,
    script:
        "../scripts/map_user_study.py"
