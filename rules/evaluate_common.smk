# evaluate stage: helpers of rules/evaluate.smk (config lookups and input functions).

EVAL = config["evaluation"]


def evaluation_sbert_classes(wildcards):
    """The SBERT class list input of an SBERT evaluation (sbert_class_input), {} for a lexical one."""
    return sbert_class_input(vocabulary_of(wildcards.dataset)) if wildcards.mapping == "sbert" else {}
