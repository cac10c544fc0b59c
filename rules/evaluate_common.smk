# evaluate stage: helpers of rules/evaluate.smk (config lookups and input functions).

EVAL = config["evaluation"]


def evaluation_sbert_classes(wildcards):
    """{"sbert_classes": the vocabulary's prompt-engineered class list} for an SBERT evaluation that
    uses one (mapping.sbert.class_names: prompt), else {} (the category names)."""
    path = sbert_class_list(vocabulary_of(wildcards.dataset)) if wildcards.mapping == "sbert" else None
    return {"sbert_classes": path} if path else {}
