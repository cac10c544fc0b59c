# evaluate stage: helpers of rules/evaluate.smk (config lookups and input functions).

EVAL = config["evaluation"]

#: the prompt-engineered class list (a `downloads` entry) of prior work's Sentence-BERT mapping
SBERT_CLASS_LISTS = {
    "cityscapes": "paper/cityscapes_with_prompt_eng.txt",
    "ade20k": "paper/ade20k_150_with_prompt_eng.txt",
}


def sbert_class_list(wildcards):
    """The class list of the dataset's vocabulary for the SBERT mapping when the config asks for
    prompt-engineered names and downloads it; none (the category names) otherwise."""
    name = SBERT_CLASS_LISTS.get(vocabulary_of(wildcards.dataset))
    wanted = wildcards.mapping == "sbert" and config["mapping"]["sbert"]["class_names"] == "prompt"
    return {"sbert_classes": f"{OUT}/downloads/{name}"} if wanted and name in config.get("downloads", {}) else {}
