# evaluate stage: PQ, mIoU and mask AP at every lexical level, and the LAC score of each.


include: "evaluate_common.smk"


rule evaluations:
    input:
        [path for mapping in EVAL["mappings"] for path in evaluations(METHODS, EVAL_DATASETS, mapping)],


rule evaluate:
    input:
        unpack(lambda w: evaluation_inputs(config, w.dataset, w.mapping)),
        predictions=PREDICTIONS,
        panoptic=lambda w: split_json(w.dataset, "val"),
        lexicon=lambda w: lexicon_of(vocabulary_of(w.dataset)),
    output:
        EVALUATION,
    log:
        f"{LOGS}/evaluate/{{method}}/{{dataset}}/{{run}}.{{mapping}}.log",
    benchmark:
        f"{BENCH}/evaluate/{{method}}/{{dataset}}/{{run}}.{{mapping}}.tsv"
    conda:
        "../envs/oeseg.yaml"
    threads: EVAL["workers"]
    resources:
        mem_mb=EVAL["mem_mb"],
        runtime=EVAL["runtime"],
    params:
        split_dir=lambda w: split_dir(w.dataset, "val"),
        missing_regions=EVAL["missing_regions"],
        scored_images=lambda w: common_option(config["methods"][w.method], "scored_images"),
        sbert_template=SBERT_TEMPLATE,
    script:
        "../scripts/evaluate.py"
