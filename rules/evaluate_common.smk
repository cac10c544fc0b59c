# evaluate stage: helpers of rules/evaluate.smk (config lookups and input functions).

from oeseg.workflow import evaluation_inputs

EVAL = config["evaluation"]


def evaluations(methods, datasets, mapping):
    """EVALUATION files of every run of the methods on the datasets, mapped with `mapping`."""
    return [
        EVALUATION.format(method=m, dataset=d, run=r, mapping=mapping)
        for m in methods
        for d in datasets
        for r in method_runs(config, m)
    ]
