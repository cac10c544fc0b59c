from oeseg.mapping import MAPPING_METHODS
from oeseg.registry import common_option, exact_names_regex
from oeseg.data.vocabularies import vocabulary_name
from oeseg.provenance import export_config_files, layered_config_files
from oeseg.models.workflow import train_split_dirs
from oeseg.workflow import (
    VOCABULARY_NAME,
    check_folder_datasets,
    dataset_split_dir,
    download_path,
    method_runs,
    pin_cpu_kernels,
    sbert_class_input,
    split_folder,
    study_run,
    vocabulary_files,
)

# every job computes with the same CPU kernels on any x86-64 CPU with AVX2 (README, "The demo")
pin_cpu_kernels()
# every job records the config files this run was given (their paths and sha256s) with its artifacts
export_config_files(layered_config_files(workflow))

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
#: the train split folders of TRAIN_DATASETS (OPAL's and the baselines' training data)
TRAIN_SPLIT_DIRS = train_split_dirs(config)


def vocabulary_of(dataset):
    """The target vocabulary of a dataset: a built-in name or a vocabulary JSON file."""
    return config["datasets"][dataset]["vocabulary"]


#: name -> JSON file of the vocabularies given as files: an input of the first jobs that read them
#: (the noun list, the lexicon, Figure 2, the study selection, remapping and the paper study's
#: table); the jobs after them follow through those jobs' outputs
VOCABULARY_FILES = vocabulary_files(config)


def vocabulary_file(vocabulary):
    """[the JSON file] of a vocabulary given by its name or its file; [] for a built-in one."""
    name = vocabulary_name(vocabulary)
    return [VOCABULARY_FILES[name]] if name in VOCABULARY_FILES else []


def vocabulary_spec(name):
    """What get_vocabulary reads for a vocabulary's name: its JSON file, else the built-in name."""
    return VOCABULARY_FILES.get(name, name)


def lexicon_of(vocabulary):
    """The lexicon (LEXICON) of a vocabulary given as a built-in name or a JSON file."""
    return LEXICON.format(vocabulary=vocabulary_name(vocabulary))


def split_dir(dataset, split):
    """The folder of a dataset's split under DATA (dataset_split_dir)."""
    return dataset_split_dir(DATA, dataset, split)


def split_json(dataset, split):
    """The panoptic.json of a dataset's split."""
    return f"{split_dir(dataset, split)}/panoptic.json"


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
    vocabulary=VOCABULARY_NAME.pattern,
    mapping=exact_names_regex(MAPPING_METHODS),


METHODS = list(config["methods"])


def datasets_of(source):
    """The config's datasets of one source (synthetic, ade20k, cityscapes, folder)."""
    return [d for d, e in config["datasets"].items() if e["source"] == source]


# --- mapping stage (rules/mapping.smk): the SBERT class lists and the human-study remapping ---
MAPPING_CONFIG = config["mapping"]
SBERT_CONFIG = MAPPING_CONFIG["sbert"]
SBERT_TEMPLATE = SBERT_CONFIG["template"]  # the schema's default unless the config names one
HUMAN_STUDY_MAPPINGS = f"{OUT}/human_study/mappings.csv"
