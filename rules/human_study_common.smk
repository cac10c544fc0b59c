# human study stage: helper functions of rules/human_study.smk (config lookups and input functions).

from oeseg.workflow import annotation_hints, annotation_inputs

HS = config["human_study"]
HUMAN_STUDY = f"{OUT}/human_study"
DISAGREEMENTS = f"{HUMAN_STUDY}/disagreements.csv"
HUMAN_STUDY_SECOND_PAGE = f"{HUMAN_STUDY}/second_stage.html"
STUDY_NOTE = HS.get("note", "")
PAPER_STUDY = f"{OUT}/paper_study"


def study_predictions(methods, dataset):
    """method -> the PREDICTIONS file of its study run on the dataset."""
    return {m: PREDICTIONS.format(method=m, dataset=dataset, run=study_run(config, m)) for m in methods}


def annotation_files(keys):
    """The input function of the annotation CSVs of `keys` that the config names (annotation_inputs;
    rule user_provided_file stops while one is missing)."""
    return lambda wildcards: annotation_inputs(HS, keys, HUMAN_STUDY_PAGE, DISAGREEMENTS)
