# figures stage: helper functions of rules/figures.smk (config lookups and input functions).

import os

from snakemake.exceptions import WorkflowError

FIG = config["figures"]
HS = config["human_study"]
HUMAN_STUDY = f"{OUT}/human_study"
MAPPING_OF_TABLE = FIG["mapping"]


def method_labels(methods):
    """(name, label) of methods, for tables and legends."""
    return [(m, config["methods"][m]["label"]) for m in methods]


def dataset_labels(datasets):
    """(name, label) of datasets; labels from figures.dataset_labels, else the name."""
    return [(d, FIG.get("dataset_labels", {}).get(d, d)) for d in datasets]


def evaluations(methods, datasets, mapping=MAPPING_OF_TABLE):
    """EVALUATION files of every run of the methods on the datasets."""
    return [EVALUATION.format(method=m, dataset=d, run=r, mapping=mapping)
            for m in methods for d in datasets for r in runs_of(m)]


def study_run(method):
    """The run whose predictions the human study (and Figure 10) describe."""
    return HS.get("run") or runs_of(method)[0]


def study_predictions(methods, dataset):
    return {m: PREDICTIONS.format(method=m, dataset=dataset, run=study_run(m)) for m in methods}


def annotation_files(keys):
    """The annotation CSVs named in the config; a clear stop while any of them is missing."""

    def inputs(wildcards):
        paths = {k: HS[k] for k in keys}
        listed = [p for k in keys for p in ([paths[k]] if isinstance(paths[k], str) else paths[k] or [])]
        if "annotators" in keys and len(paths["annotators"] or []) != 2:
            raise WorkflowError("human_study.annotators: list the two annotators' CSVs exported from "
                                f"{HUMAN_STUDY_PAGE} (human_study.reference is 'annotators').")
        if "resolved" in keys and not paths["resolved"]:
            raise WorkflowError("human_study.resolved: name the CSV of resolved disagreements.")
        missing = [p for p in listed if not os.path.exists(p)]
        if missing:
            hint = (f"annotate with {HUMAN_STUDY_PAGE} (snakemake human_study_page) and export each annotator's CSV"
                    if "resolved" not in keys or any(p in missing for p in paths["annotators"]) else
                    f"run `snakemake human_study_agreement`, fill in the 'answer' column of "
                    f"{HUMAN_STUDY}/disagreements.csv in a second stage and save it")
            raise WorkflowError(f"human study: missing annotation file(s) {missing}: {hint}.")
        return paths

    return inputs


SBERT_CLASS_LISTS = {"cityscapes": "paper/cityscapes_with_prompt_eng.txt", "ade20k": "paper/ade20k_150_with_prompt_eng.txt"}
SBERT_TEMPLATE = config.get("mapping", {}).get("sbert", {}).get("template")


def sbert_class_names(vocabulary, local=None):
    """{"sbert_class_names": path} of the Sentence-BERT mapping's prompt-engineered class list
    (config mapping.sbert.class_names: prompt; a local copy if given, else the download), or {}."""
    if config.get("mapping", {}).get("sbert", {}).get("class_names", "prompt") != "prompt":
        return {}
    if local:
        return {"sbert_class_names": local}
    if vocabulary in SBERT_CLASS_LISTS:
        return {"sbert_class_names": f"{OUT}/downloads/{SBERT_CLASS_LISTS[vocabulary]}"}
    return {}
