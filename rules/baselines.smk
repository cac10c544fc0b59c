# Baselines stage: training and region predictions of the methods whose kind (src/oeseg/registry.py)
# names these rules; each rule's `method` constraint is the registry's methods_regex of the rule.


from oeseg.registry import method_options, method_resources, methods_regex
from oeseg.models.workflow import run_settings
from oeseg.workflow import published_descriptions

#: the region encoder of an ovclassifier method (a tags method's `classifier` names one)
REGION_ENCODER = f"{OUT}/models/{{method}}/region_encoder.pt"

USER_PROVIDED.update(
    {
        entry["weights"]: f"the checkpoint folder of methods.{name}.weights"
        for name, entry in config["methods"].items()
        if entry.get("weights")
    }
)


rule train_ovclassifier:
    input:
        splits=[f"{d}/panoptic.json" for d in TRAIN_SPLIT_DIRS],
        regions=[f"{d}/regions.jsonl" for d in TRAIN_SPLIT_DIRS],
    output:
        REGION_ENCODER,
    log:
        f"{LOGS}/train_ovclassifier/{{method}}.log",
    benchmark:
        f"{BENCH}/train_ovclassifier/{{method}}.tsv"
    wildcard_constraints:
        method=methods_regex(config["methods"], "train_ovclassifier"),
    priority: PRIORITY_BASELINE_TRAINING
    conda:
        "../envs/oeseg.yaml"
    resources:
        mem_mb=4000,
        runtime="1h",
        cpus_per_task=1,
    params:
        split_dirs=TRAIN_SPLIT_DIRS,
        settings=lambda wc: method_options(config["methods"][wc.method], "train"),
    script:
        "../scripts/train_ovclassifier.py"


rule train_tagger:
    input:
        splits=[f"{d}/panoptic.json" for d in TRAIN_SPLIT_DIRS],
        regions=[f"{d}/regions.jsonl" for d in TRAIN_SPLIT_DIRS],
        nouns=NOUNS,
    output:
        f"{OUT}/models/{{method}}/tagger.pt",
    log:
        f"{LOGS}/train_tagger/{{method}}.log",
    benchmark:
        f"{BENCH}/train_tagger/{{method}}.tsv"
    wildcard_constraints:
        method=methods_regex(config["methods"], "train_tagger"),
    priority: PRIORITY_BASELINE_TRAINING
    conda:
        "../envs/oeseg.yaml"
    resources:
        mem_mb=4000,
        runtime="1h",
        cpus_per_task=1,
    params:
        split_dirs=TRAIN_SPLIT_DIRS,
        settings=lambda wc: method_options(config["methods"][wc.method], "train"),
    script:
        "../scripts/train_tagger.py"


rule embed_nouns:
    input:
        NOUNS,
    output:
        f"{OUT}/models/noun_embeddings.pt",
    log:
        f"{LOGS}/embed_nouns.log",
    benchmark:
        f"{BENCH}/embed_nouns.tsv"
    priority: PRIORITY_BASELINE_TRAINING
    conda:
        "../envs/oeseg.yaml"
    resources:
        mem_mb=4000,
        runtime="1h",
        cpus_per_task=1,
    script:
        "../scripts/embed_nouns.py"


rule predict_ovclassifier:
    input:
        model=REGION_ENCODER,
        nouns=f"{OUT}/models/noun_embeddings.pt",
        split=lambda wc: split_json(wc.dataset, "val"),
    output:
        PREDICTIONS,
    log:
        f"{LOGS}/predict_ovclassifier/{{method}}/{{dataset}}/{{run}}.log",
    benchmark:
        f"{BENCH}/predict_ovclassifier/{{method}}/{{dataset}}/{{run}}.tsv"
    wildcard_constraints:
        method=methods_regex(config["methods"], "predict_ovclassifier"),
    conda:
        "../envs/oeseg.yaml"
    resources:
        mem_mb=6000,
        runtime="1h",
        cpus_per_task=1,
    script:
        "../scripts/predict_ovclassifier.py"


rule predict_tags:
    input:
        classifier=lambda wc: REGION_ENCODER.format(method=config["methods"][wc.method]["classifier"]),
        tagger=f"{OUT}/models/{{method}}/tagger.pt",
        nouns=NOUNS,
        split=lambda wc: split_json(wc.dataset, "val"),
    output:
        predictions=PREDICTIONS,
        tags=f"{OUT}/tags/{{method}}/{{dataset}}/{{run}}.json",
    log:
        f"{LOGS}/predict_tags/{{method}}/{{dataset}}/{{run}}.log",
    benchmark:
        f"{BENCH}/predict_tags/{{method}}/{{dataset}}/{{run}}.tsv"
    wildcard_constraints:
        method=methods_regex(config["methods"], "predict_tags"),
    conda:
        "../envs/oeseg.yaml"
    resources:
        mem_mb=6000,
        runtime="1h",
        cpus_per_task=1,
    params:
        settings=lambda wc: method_options(config["methods"][wc.method], "predict"),
    script:
        "../scripts/predict_tags.py"


rule run_external:
    input:
        split=lambda wc: split_json(wc.dataset, "val"),
        nouns=NOUNS,
        weights=lambda wc: config["methods"][wc.method].get("weights") or [],  # new weights: a rerun
    output:
        predictions=PREDICTIONS,
        raw=directory(f"{OUT}/external/{{method}}/{{dataset}}/{{run}}"),
    log:
        f"{LOGS}/run_external/{{method}}/{{dataset}}/{{run}}.log",
    benchmark:
        f"{BENCH}/run_external/{{method}}/{{dataset}}/{{run}}.tsv"
    wildcard_constraints:
        method=methods_regex(config["methods"], "run_external"),
    conda:
        "../envs/oeseg.yaml"
    threads: lambda wildcards: method_resources(config["methods"][wildcards.method])["cpus_per_task"]
    resources:
        gpu=lambda wildcards: method_resources(config["methods"][wildcards.method])["gpu"],
        mem_mb=lambda wildcards: method_resources(config["methods"][wildcards.method])["mem_mb"],
        runtime=lambda wildcards: method_resources(config["methods"][wildcards.method])["runtime"],
        cpus_per_task=lambda wildcards: method_resources(config["methods"][wildcards.method])["cpus_per_task"],
    params:
        entry=lambda wc: method_options(config["methods"][wc.method], "predict"),
        settings=lambda wc: run_settings(config, wc.run),
    script:
        "../scripts/run_external.py"


rule import_published:
    input:
        descriptions=lambda wc: published_descriptions(OUT, wc.method, config["methods"][wc.method], wc.dataset),
        split=lambda wc: split_json(wc.dataset, "val"),
    output:
        PREDICTIONS,
    log:
        f"{LOGS}/import_published/{{method}}/{{dataset}}/{{run}}.log",
    benchmark:
        f"{BENCH}/import_published/{{method}}/{{dataset}}/{{run}}.tsv"
    wildcard_constraints:
        method=methods_regex(config["methods"], "import_published"),
        run="main",
    conda:
        "../envs/oeseg.yaml"
    resources:
        mem_mb=2000,
        runtime="10m",
    params:
        import_format="lac",
        on_mismatch=lambda wc: common_option(config["methods"][wc.method], "on_mismatch"),
    script:
        "../scripts/import_published.py"
