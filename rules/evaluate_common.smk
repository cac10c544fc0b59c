# evaluate stage: helpers of rules/evaluate.smk (config lookups and input functions).

import os

EVAL = config["evaluation"]


def evaluation_sbert_classes(wildcards):
    """The SBERT class list input of an SBERT evaluation (sbert_class_input), {} for a lexical one."""
    return sbert_class_input(vocabulary_of(wildcards.dataset)) if wildcards.mapping == "sbert" else {}


def evaluation_semantic(wildcards):
    """{"semantic": the val split's semantic/ folder} where the split has one (docs/formats.md): an
    ADE20K conversion writes it, a folder dataset may carry it, and adding it reruns the scores."""
    semantic = f"{split_dir(wildcards.dataset, 'val')}/semantic"
    source = config["datasets"][wildcards.dataset]["source"]
    return {"semantic": semantic} if source == "ade20k" or os.path.isdir(semantic) else {}


def evaluations(methods, datasets, mapping):
    """EVALUATION files of every run of the methods on the datasets, mapped with `mapping`."""
    return [
        EVALUATION.format(method=m, dataset=d, run=r, mapping=mapping)
        for m in methods
        for d in datasets
        for r in runs_of(m)
    ]
