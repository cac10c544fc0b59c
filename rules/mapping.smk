# mapping stage: the paper's human-study descriptions remapped with our lexical and Sentence-BERT
# mappings, for the figures stage (library: src/oeseg/mapping; config keys: mapping.*).

USER_STUDY_CONFIG = MAPPING_CONFIG["user_study"]  # the schema's defaults unless the config names them
USER_STUDY_VOCABULARY = USER_STUDY_CONFIG["vocabulary"]
USER_STUDY_GROUND_TRUTH = USER_STUDY_CONFIG["ground_truth"]
# the paper's published study: a local copy (human_study.paper_study.results) or the download
PAPER_STUDY_JSON = config["human_study"]["paper_study"].get("results") or download_path(
    OUT, USER_STUDY_CONFIG["results"]
)


rule map_user_study:
    input:
        unpack(lambda wildcards: sbert_class_input(config, USER_STUDY_VOCABULARY)),
        study=PAPER_STUDY_JSON,
        lexicon=lexicon_of(USER_STUDY_VOCABULARY),
        vocabulary=vocabulary_file(USER_STUDY_VOCABULARY),
    output:
        HUMAN_STUDY_MAPPINGS,
    log:
        f"{LOGS}/mapping/map_user_study.log",
    benchmark:
        f"{BENCH}/mapping/map_user_study.tsv"
    conda:
        "../envs/oeseg.yaml"
    threads: 2  # the SLURM job's CPUs (cpus_per_task follows threads); torch takes what it sees
    resources:
        mem_mb=4000,
        runtime="20m",
    params:
        vocabulary=USER_STUDY_VOCABULARY,
        template=SBERT_TEMPLATE,
        ground_truth=USER_STUDY_GROUND_TRUTH,
    script:
        "../scripts/map_user_study.py"
