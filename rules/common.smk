from oeseg.mapping import METHODS as MAPPING_METHODS
from oeseg.registry import exact_names_regex
from oeseg.workflow import pin_cpu_kernels

# every job computes with the same CPU kernels on any x86-64 CPU with AVX2 (README, "The demo")
pin_cpu_kernels()

# Path conventions shared by every stage. Intermediate outputs live under config["out"],
# datasets under config["data_root"], tracked artifacts under config["results"].

OUT = config["out"]
DATA = config["data_root"]
RESULTS = config["results"]
LOGS = f"{OUT}/logs"
BENCH = f"{OUT}/benchmarks"
#: job priorities when cores are scarce: OPAL's pretraining and training chain (the DAG's longest
#: path) first, then the baselines' trainings, then the short jobs that fill the gaps
PRIORITY_OPAL_CHAIN = 10
PRIORITY_BASELINE_TRAINING = 5

EVAL_DATASETS = config["evaluation_datasets"]
TRAIN_DATASETS = config["training_datasets"]


def vocabulary_of(dataset):
    """The target vocabulary of a dataset."""
    return config["datasets"][dataset]["vocabulary"]


def split_dir(dataset, split):
    return f"{DATA}/{dataset}/{split}"


def split_json(dataset, split):
    return f"{DATA}/{dataset}/{split}/panoptic.json"


#: inputs the user provides (training annotations, annotation CSVs) -> what each one is; each
#: stage adds its own, and rule user_provided_file stops with that text while one is missing
USER_PROVIDED = {}

NOUNS = f"{OUT}/nouns/nouns.txt"
LEXICON = f"{OUT}/lexicons/{{vocabulary}}.json"
PREDICTIONS = f"{OUT}/predictions/{{method}}/{{dataset}}/{{run}}.jsonl"
EVALUATION = f"{OUT}/evaluations/{{method}}/{{dataset}}/{{run}}.{{mapping}}.json"

TABLE1_FILES = expand(f"{RESULTS}/table1.{{ext}}", ext=["csv", "md", "tex"])
HUMAN_STUDY_PAGE = f"{RESULTS}/human_study/annotation.html"
PROVENANCE = f"{RESULTS}/provenance.json"


wildcard_constraints:
    dataset="[A-Za-z0-9_-]+",
    split="[A-Za-z0-9_-]+",
    method="[A-Za-z0-9_.-]+",
    run="[A-Za-z0-9_.-]+",
    vocabulary="[A-Za-z0-9_-]+",
    mapping=exact_names_regex(MAPPING_METHODS),


METHODS = list(config["methods"])


def runs_of(method):
    """Inference runs of a method: the variance runs for the methods that have them, else main."""
    if method in config["variance"]["methods"]:
        return [r["name"] for r in config["variance"]["runs"]]
    return ["main"]


def datasets_of(source):
    """The config's datasets of one source (synthetic, ade20k, cityscapes)."""
    return [d for d, e in config["datasets"].items() if e["source"] == source]


# --- mapping stage (rules/mapping.smk): the SBERT class lists and the human-study remapping ---
MAPPING_CONFIG = config["mapping"]
SBERT_CONFIG = MAPPING_CONFIG["sbert"]
SBERT_TEMPLATE = SBERT_CONFIG["template"]  # the schema's default unless the config names one
USER_STUDY_CONFIG = MAPPING_CONFIG["user_study"]  # the schema's defaults unless the config names them
USER_STUDY_VOCABULARY = USER_STUDY_CONFIG["vocabulary"]
USER_STUDY_GROUND_TRUTH = USER_STUDY_CONFIG["ground_truth"]
# the paper's published study: a local copy (human_study.paper_study.results) or the download
PAPER_STUDY_JSON = (
    config["human_study"]["paper_study"].get("results") or f"{OUT}/downloads/{USER_STUDY_CONFIG['results']}"
)
HUMAN_STUDY_MAPPINGS = f"{OUT}/human_study/mappings.csv"


def sbert_class_input(vocabulary):
    """{"sbert_classes": the vocabulary's class list} for the SBERT mapping, or {} with plain names."""
    path = sbert_class_list(vocabulary)
    return {"sbert_classes": path} if path else {}


def sbert_class_list(vocabulary):
    """The prompt-engineered class list (a download) of a vocabulary for the SBERT mapping, or None
    for the vocabulary's plain category names (mapping.sbert.class_names: plain)."""
    if SBERT_CONFIG["class_names"] == "plain":
        return None
    name = SBERT_CONFIG.get("class_lists", {}).get(vocabulary)
    if name is None:
        raise ValueError(f"mapping.sbert.class_names is 'prompt' but mapping.sbert.class_lists has no {vocabulary!r}")
    return f"{OUT}/downloads/{name}"
