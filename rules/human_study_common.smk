# human study stage: helper functions of rules/human_study.smk (config lookups and input functions).

import os

from snakemake.exceptions import WorkflowError

HS = config["human_study"]
HUMAN_STUDY = f"{OUT}/human_study"
DISAGREEMENTS = f"{HUMAN_STUDY}/disagreements.csv"
HUMAN_STUDY_SECOND_PAGE = f"{HUMAN_STUDY}/second_stage.html"
STUDY_NOTE = HS.get("note", "")
PS = HS["paper_study"]
PAPER_STUDY = f"{OUT}/paper_study"


def study_predictions(methods, dataset):
    """method -> the PREDICTIONS file of its study run on the dataset."""
    return {m: PREDICTIONS.format(method=m, dataset=dataset, run=study_run(config, m)) for m in methods}


def annotation_files(keys):
    """The annotation CSVs named in the config (rule user_provided_file stops while one is missing);
    `resolved` only where human_study.resolved names some (none: no input of that name)."""

    def inputs(wildcards):
        paths = {k: HS[k] for k in keys if k != "resolved"}
        if "annotators" in keys and len(paths["annotators"] or []) != 2:
            raise WorkflowError(
                "human_study.annotators: list the two annotators' CSVs exported from "
                f"{HUMAN_STUDY_PAGE}; the agreement of two annotators belongs to "
                f"human_study.reference 'annotators' (this config's is {HS['reference']!r})."
            )
        if "resolved" in keys:
            check_resolved()
            if resolved_files():
                paths["resolved"] = HS["resolved"]
        return paths

    return inputs


def resolved_files():
    """The CSVs of human_study.resolved: one consensus CSV or the re-annotations (none: [])."""
    resolved = HS.get("resolved") or []
    return [resolved] if isinstance(resolved, str) else list(resolved)


def check_resolved():
    """Stop where human_study.resolved names the disagreements CSV (oeseg.workflow.check_config checks
    the rest; none named: the script checks that there are no disagreements)."""
    for path in resolved_files():
        if os.path.abspath(path) == os.path.abspath(DISAGREEMENTS):
            raise WorkflowError(
                f"human_study.resolved: {path} is the disagreements CSV that rule "
                "human_study_agreement writes, and writes again on a rerun (the answers filled in "
                "would be lost): save the filled-in copy under another name and name that."
            )


USER_STUDY_GT_NOTE = {
    "human": "In our lexical mapping the human label stands in for the region's ground truth in the "
    "ground-truth priority (the published study has no region labels).",
    "none": "Our lexical mapping runs without ground-truth priority (the published study has no region labels).",
}[USER_STUDY_GROUND_TRUTH]


def annotation_hints():
    """What each annotation CSV of the config is, for the message that names a missing one."""
    annotate = f"an annotator's CSV exported from {HUMAN_STUDY_PAGE} (snakemake human_study_page)"
    resolve = (
        f"the CSV of resolved disagreements: a consensus exported from {HUMAN_STUDY_SECOND_PAGE} "
        f"(snakemake human_study_second_page), or {DISAGREEMENTS} with its 'answer' column "
        "filled in, saved under another name"
    )
    reannotate = (
        "an annotator's independent re-annotation of the disagreements, exported from "
        f"{HUMAN_STUDY_SECOND_PAGE} (snakemake human_study_second_page) under their own name"
    )
    hints = {p: annotate for p in HS.get("annotators") or []}
    resolved = resolved_files()
    hints.update({p: resolve if len(resolved) == 1 else reannotate for p in resolved})
    return hints if HS.get("reference") == "annotators" else {}
