"""The workflow's side of the library: the config check every run makes, the rules' input
functions and params that choose or build (rules/ only looks them up), and what every `scripts/`
entry point does around its one library call: logging to the rule's log and, when the call
succeeds, provenance records of the tracked artifacts it made (oeseg.provenance)."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, MutableMapping
from itertools import zip_longest
from pathlib import Path
from types import FrameType
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from oeseg.io import InputError, read_json, read_yaml, redact_url
from oeseg.provenance.record import record_rule


#: what a vocabulary's name (a JSON file's stem) may hold: it names the vocabulary's lexicon file
VOCABULARY_NAME = re.compile(r"[A-Za-z0-9_-]+")


def check_references(config: dict[str, Any]) -> None:
    """Raise InputError naming the config key where a list or key names a dataset or a method that
    the config does not define (a misspelt `variance.methods` entry would silently give that
    method one run; a misspelt dataset would fail deep inside a rule), where a list names one
    twice or two variance runs share a name, where `human_study.run` is not a run of the
    methods it describes, where `human_study.annotators` lists one CSV twice, and where
    `human_study.resolved` lists fewer than two CSVs or one twice."""
    datasets, methods = config.get("datasets", {}), config.get("methods", {})
    figures, study = config.get("figures", {}), config.get("human_study", {})
    fig10 = figures.get("fig10", {})
    references = [
        ("evaluation_datasets", config.get("evaluation_datasets", []), datasets, "datasets"),
        ("training_datasets", config.get("training_datasets", []), datasets, "datasets"),
        ("variance.methods", config.get("variance", {}).get("methods", []), methods, "methods"),
        ("figures.fig10.methods", fig10.get("methods", []), methods, "methods"),
        ("figures.fig10.dataset", [fig10["dataset"]] if "dataset" in fig10 else [], datasets, "datasets"),
        ("figures.dataset_labels", list(figures.get("dataset_labels", {})), datasets, "datasets"),
        ("human_study.methods", study.get("methods", []), methods, "methods"),
        ("human_study.dataset", [study["dataset"]] if "dataset" in study else [], datasets, "datasets"),
    ]
    for key, names, defined, section in references:
        for name in names:
            if name not in defined:
                raise InputError(f"config: {key}: {name!r} is not one of the config's {section} "
                                 f"({', '.join(map(str, defined)) or 'none'})")
    runs = [run.get("name") for run in config.get("variance", {}).get("runs", [])]
    for key, names in [*((key, names) for key, names, _, _ in references), ("variance.runs[].name", runs)]:
        repeated = next((name for i, name in enumerate(names) if name in names[:i]), None)
        if repeated is not None:
            raise InputError(f"config: {key}: {repeated!r} is given twice (a repeated entry would be "
                             f"trained, run or scored twice); list each once")
    _check_study_run(config, runs)
    _check_study_annotators(study.get("annotators"))
    _check_study_resolved(study.get("resolved"))
    _check_synthetic_splits(config)
    _check_fig2_category(figures.get("fig2", {}))
    for name, entry in datasets.items():
        drawable = source_vocabularies(entry.get("source"))
        if drawable is not None and entry.get("vocabulary") not in drawable:
            raise InputError(f"config: datasets.{name}.vocabulary: {entry.get('vocabulary')!r} is not a vocabulary "
                             f"that source {entry['source']} makes (one of: {', '.join(drawable)}); "
                             f"a vocabulary of your own goes with source folder")


def _check_fig2_category(fig2: dict[str, Any]) -> None:
    """Raise InputError naming `figures.fig2.category` where its vocabulary (a built-in one or a
    file; another is named by `vocabulary_files`) has no such category, or several: before any
    job runs, not when Figure 2 is drawn at the end."""
    from oeseg.data.vocabularies import BUILTIN, get_vocabulary

    spec, category = fig2.get("vocabulary"), fig2.get("category")
    if category is None or spec is None or not (spec in BUILTIN or Path(spec).is_file()):
        return
    try:
        get_vocabulary(spec).by_name(category)
    except KeyError as e:
        raise InputError(f"config: figures.fig2.category: {e.args[0]}") from None


def _check_synthetic_splits(config: dict[str, Any]) -> None:
    """Raise InputError naming `datasets.<name>.splits` where a synthetic dataset lacks a split that
    the config uses (train for training_datasets, val for the scored and described ones): the
    workflow would otherwise stop on a bare KeyError when it plans the split's generation."""
    study, fig10 = config.get("human_study", {}), config.get("figures", {}).get("fig10", {})
    uses = [*(("training_datasets", name, "train") for name in config.get("training_datasets", [])),
            *(("evaluation_datasets", name, "val") for name in config.get("evaluation_datasets", []))]
    uses += [(key, section["dataset"], "val") for key, section in
             (("human_study.dataset", study), ("figures.fig10.dataset", fig10)) if "dataset" in section]
    for key, name, split in uses:
        entry = config.get("datasets", {}).get(name, {})
        splits = entry.get("splits", {})
        if entry.get("source") == "synthetic" and split not in splits:
            raise InputError(f"config: datasets.{name}.splits: no {split!r} split, which {key} needs "
                             f"(splits: {', '.join(map(str, splits)) or 'none'})")


def _check_study_run(config: dict[str, Any], runs: list[str]) -> None:
    """Raise InputError where `human_study.run`, the run of the methods of `variance.methods` that
    the human study and Figure 10 describe (the others have the one run main), is not one of
    `variance.runs`, or where no method they describe has variance runs."""
    run = config.get("human_study", {}).get("run")
    if run is None:
        return
    variance = config.get("variance", {}).get("methods", [])
    methods = [*config.get("human_study", {}).get("methods", []),
               *config.get("figures", {}).get("fig10", {}).get("methods", [])]
    if not any(method in variance for method in methods):
        raise InputError(f"config: human_study.run: {run!r} names a variance run, but none of human_study.methods "
                         f"and figures.fig10.methods is in variance.methods (their one run is main): leave it null")
    if run not in runs:
        raise InputError(f"config: human_study.run: {run!r} is not one of variance.runs ({', '.join(map(str, runs))}); "
                         f"the methods outside variance.methods have the one run main")


def _check_listed_once(key: str, csvs: list[str], consequence: str, entry: str) -> None:
    """Raise InputError naming `key` where the list `csvs` names one file twice (by any path: relative
    ones are of the working folder, as the rules read them): a CSV agrees with itself."""
    paths = [os.path.realpath(p) for p in csvs]
    repeated = next((k for k, p in enumerate(paths) if p in paths[:k]), None)
    if repeated is not None:
        raise InputError(f"config: {key}: {csvs[repeated]!r} is given twice (a CSV agrees with itself{consequence}); "
                         f"list each {entry} once")


def _check_study_annotators(annotators: list[str] | None) -> None:
    """Raise InputError where `human_study.annotators` names one CSV twice: it would agree with itself."""
    _check_listed_once("human_study.annotators", annotators or [], ": 100 % agreement, no disagreements",
                       "annotator's CSV")


def _check_study_resolved(resolved: str | list[str] | None) -> None:
    """Raise InputError where `human_study.resolved`, as a list (independent re-annotations of the
    disagreements), names one CSV alone or one CSV twice: either would agree with itself."""
    if not isinstance(resolved, list) or not resolved:
        return
    if len(resolved) == 1:
        raise InputError(f"config: human_study.resolved: a list names two or more annotators' independent "
                         f"re-annotations of the disagreements, this one only {resolved[0]!r}; give one consensus "
                         f"CSV as a string (resolved: {resolved[0]})")
    _check_listed_once("human_study.resolved", resolved, "", "annotator's re-annotation")


def source_vocabularies(source: str | None) -> list[str] | None:
    """The vocabularies a dataset source makes: the synthetic scenes' and each converter's own;
    None for `folder` (any vocabulary, a built-in one or a JSON file)."""
    from oeseg.data.synthetic import SCENES

    return {"synthetic": sorted(SCENES), "ade20k": ["ade20k"], "cityscapes": ["cityscapes"]}.get(source)


def config_vocabularies(config: dict[str, Any]) -> list[tuple[str, str | None]]:
    """(config key, vocabulary as given: a built-in name or a file) of every vocabulary a config
    names: each dataset's, Figure 2's and the paper study's (None where a key is unset)."""
    given = [(f"datasets.{name}.vocabulary", entry.get("vocabulary")) for name, entry in config["datasets"].items()]
    given.append(("figures.fig2.vocabulary", config.get("figures", {}).get("fig2", {}).get("vocabulary")))
    given.append(("mapping.user_study.vocabulary", config.get("mapping", {}).get("user_study", {}).get("vocabulary")))
    return given


def vocabulary_files(config: dict[str, Any]) -> dict[str, str]:
    """Name -> JSON file of each vocabulary that the config gives as a file (a dataset's, Figure 2's,
    the paper study's; named as `vocabularies.vocabulary_name` names it), for the rules that build
    its lexicon, named by that name. A name that is neither a built-in vocabulary nor a file, a
    file whose name could not name a lexicon file, and two files of one name (or one named like a
    built-in vocabulary), which would share a lexicon, are an InputError naming the keys."""
    from oeseg.data.vocabularies import BUILTIN, vocabulary_name

    given = config_vocabularies(config)
    files: dict[str, str] = {}
    keys: dict[str, str] = {}
    for key, spec in given:
        if spec is None or spec in BUILTIN:
            continue
        if not Path(spec).is_file():
            named = [f"{k}: {s!r}" for k, s in given if s and Path(s).is_file() and vocabulary_name(s) == spec]
            hint = f"; a vocabulary file is given by its path, as {named[0]}" if named else ""
            raise InputError(f"config: {key}: {spec!r} is neither a built-in vocabulary "
                             f"({', '.join(sorted(BUILTIN))}) nor a file{hint}")
        name, spec = vocabulary_name(spec), os.path.normpath(spec)
        if not VOCABULARY_NAME.fullmatch(name):
            raise InputError(f"config: {key}: the vocabulary file {spec!r} is named {name!r}; a vocabulary "
                             f"file's stem names its lexicon and may hold only letters, digits, '_' and '-'")
        if name in BUILTIN:
            raise InputError(f"config: {key}: the vocabulary file {spec!r} is named like the built-in "
                             f"vocabulary {name!r} (a lexicon is named by its vocabulary); rename the file")
        if files.setdefault(name, spec) != spec:
            raise InputError(f"config: {key}: {spec!r} and {keys[name]}: {files[name]!r} are two vocabulary "
                             f"files named {name!r} (a lexicon is named by its vocabulary); rename one")
        keys.setdefault(name, key)
    return files


def synset_files(config: dict[str, Any]) -> dict[str, str]:
    """`lexicon.synsets`: vocabulary name -> the synset file that writes down its categories' WordNet
    senses, for rule lexicon_wordnet; a key that names no vocabulary of the config, a file that does
    not exist, or the setting with another builder than wordnet is an InputError naming the key."""
    from oeseg.data.vocabularies import vocabulary_name

    given = config["lexicon"].get("synsets") or {}
    if given and config["lexicon"]["builder"] != "wordnet":
        raise InputError(f"config: lexicon.synsets: synset files serve the wordnet builder, not lexicon.builder "
                         f"{config['lexicon']['builder']!r}, which would ignore them")
    names = sorted({vocabulary_name(spec) for _, spec in config_vocabularies(config) if spec})
    for name, path in given.items():
        if name not in names:
            raise InputError(f"config: lexicon.synsets.{name}: no vocabulary of this config is named {name!r} "
                             f"(they are {', '.join(names)})")
        if not Path(path).is_file():
            raise InputError(f"config: lexicon.synsets.{name}: no such file {path!r}")
    return {name: os.path.normpath(path) for name, path in given.items()}


def noun_list_vocabularies(config: dict[str, Any]) -> list[str]:
    """The vocabularies (names or files) whose category names join the noun list: the datasets'
    where `nouns.category_names` is set, else none."""
    if not config["nouns"]["category_names"]:
        return []
    return sorted({entry["vocabulary"] for entry in config["datasets"].values()})


def noun_list_settings(config: dict[str, Any]) -> dict[str, Any]:
    """Rule nouns' settings: the arguments of `oeseg.lexicon.nouns.make_noun_list` but the tag lists
    (source, min_wordnet_count, only_nouns, vocabularies)."""
    nouns = config["nouns"]
    return {"source": nouns["source"], "min_wordnet_count": nouns["min_wordnet_count"],
            "only_nouns": nouns["only_nouns"], "vocabularies": noun_list_vocabularies(config)}


def tag_list_names(nouns: dict[str, Any]) -> list[str]:
    """The `downloads` names of the tag lists that a `nouns` config section names (one or a list)."""
    return [nouns["tag_list"]] if isinstance(nouns["tag_list"], str) else list(nouns["tag_list"])


def noun_list_inputs(config: dict[str, Any]) -> dict[str, Any]:
    """Rule nouns' inputs: `tag_lists`, the downloaded tag lists (only for `nouns.source` tag2text;
    `nouns.tag_list` is one `downloads` name or a list), and `vocabulary_files`, the files of
    `noun_list_vocabularies` (the built-in ones have none)."""
    from oeseg.data.vocabularies import BUILTIN

    nouns = config["nouns"]
    inputs: dict[str, Any] = {"vocabulary_files": [v for v in noun_list_vocabularies(config) if v not in BUILTIN]}
    if nouns["source"] == "tag2text":
        inputs["tag_lists"] = [download_path(config["out"], name) for name in tag_list_names(nouns)]
    return inputs


def published_descriptions(out: str, method: str, entry: dict[str, Any], dataset: str) -> str:
    """The paper's published descriptions (a download under `out`) that rule import_published
    reads for a method on a dataset: those of the method its `source` names, else its own."""
    return download_path(out, f"paper/outputs/{entry.get('source', method)}/{dataset}/descriptions.json")


def openai_lexicon_settings(config: dict[str, Any]) -> dict[str, Any]:
    """`lexicon.openai` less its `cache_dir` (which goes apart): rule lexicon_openai's params, so that
    moving the answer cache remakes no lexicon."""
    return {key: value for key, value in config["lexicon"]["openai"].items() if key != "cache_dir"}


def method_runs(config: dict[str, Any], method: str) -> list[str]:
    """The inference runs of a method: the variance runs for those of `variance.methods`, else main."""
    if method in config["variance"]["methods"]:
        return [run["name"] for run in config["variance"]["runs"]]
    return ["main"]


def study_run(config: dict[str, Any], method: str) -> str:
    """The run whose predictions the human study (and Figure 10) describe: `human_study.run` for a
    method with variance runs (null: its first), main for the others."""
    if method in config["variance"]["methods"]:
        return config["human_study"].get("run") or method_runs(config, method)[0]
    return "main"


def sbert_class_input(config: dict[str, Any], vocabulary: str) -> dict[str, str]:
    """{"sbert_classes": the prompt-engineered class list (a download under `out`) of a vocabulary
    (a name or its file)} for the SBERT mapping, {} for its plain category names
    (`mapping.sbert.class_names: plain`); a vocabulary that `class_lists` lacks is an InputError."""
    from oeseg.data.vocabularies import vocabulary_name

    sbert = config["mapping"]["sbert"]
    if sbert["class_names"] == "plain":
        return {}
    name = vocabulary_name(vocabulary)
    download = sbert.get("class_lists", {}).get(name)
    if download is None:
        raise InputError(f"config: mapping.sbert.class_lists: no class list of vocabulary {name!r}, which the "
                         f"SBERT mapping needs (mapping.sbert.class_names: prompt); add one or set class_names: plain")
    return {"sbert_classes": download_path(config["out"], download)}


def evaluation_inputs(config: dict[str, Any], dataset: str, mapping: str) -> dict[str, str]:
    """Rule evaluate's inputs beyond the predictions and the split: the SBERT class list of an SBERT
    evaluation (`sbert_class_input`), and `semantic`, the val split's semantic/ folder where the
    split has one (docs/formats.md: an ADE20K conversion writes it, a folder dataset may carry it;
    adding it reruns the scores)."""
    inputs = sbert_class_input(config, config["datasets"][dataset]["vocabulary"]) if mapping == "sbert" else {}
    semantic = f"{dataset_split_dir(config['data_root'], dataset, 'val')}/semantic"
    if config["datasets"][dataset]["source"] == "ade20k" or os.path.isdir(semantic):
        inputs["semantic"] = semantic
    return inputs


def resolved_files(study: dict[str, Any]) -> list[str]:
    """The CSVs of `human_study.resolved`: one consensus CSV or the re-annotations (none: [])."""
    resolved = study.get("resolved") or []
    return [resolved] if isinstance(resolved, str) else list(resolved)


def annotation_inputs(study: dict[str, Any], keys: list[str], page: str, disagreements: str) -> dict[str, Any]:
    """The annotation CSVs of `keys` (`annotators`, `resolved`) that the `human_study` section
    names, as a rule's inputs (`resolved` only where it names some). An InputError where
    `annotators` is not two CSVs (exported from the annotation `page`), or where `resolved` names
    the `disagreements` CSV, which rule human_study_agreement writes again on a rerun
    (`check_config` checks the rest; none named: the script checks that there are no disagreements)."""
    inputs = {key: study[key] for key in keys if key != "resolved"}
    if "annotators" in keys and len(inputs["annotators"] or []) != 2:
        raise InputError(f"human_study.annotators: list the two annotators' CSVs exported from {page}; the "
                         f"agreement of two annotators belongs to human_study.reference 'annotators' (this "
                         f"config's is {study['reference']!r}).")
    if "resolved" in keys:
        for path in resolved_files(study):
            if os.path.abspath(path) == os.path.abspath(disagreements):
                raise InputError(f"human_study.resolved: {path} is the disagreements CSV that rule "
                                 "human_study_agreement writes, and writes again on a rerun (the answers filled "
                                 "in would be lost): save the filled-in copy under another name and name that.")
        if resolved_files(study):
            inputs["resolved"] = study["resolved"]
    return inputs


def annotation_hints(study: dict[str, Any], page: str, second_page: str, disagreements: str) -> dict[str, str]:
    """What each annotation CSV that the `human_study` section names is (with reference
    `annotators`; else none), for the message that names a missing one: an annotator's export of
    the annotation `page`, the resolved disagreements or a re-annotation (from `second_page`)."""
    if study.get("reference") != "annotators":
        return {}
    annotate = f"an annotator's CSV exported from {page} (snakemake human_study_page)"
    resolve = (f"the CSV of resolved disagreements: a consensus exported from {second_page} (snakemake "
               f"human_study_second_page), or {disagreements} with its 'answer' column filled in, saved under "
               "another name")
    reannotate = ("an annotator's independent re-annotation of the disagreements, exported from "
                  f"{second_page} (snakemake human_study_second_page) under their own name")
    hints = dict.fromkeys(study.get("annotators") or [], annotate)
    resolved = resolved_files(study)
    hints.update(dict.fromkeys(resolved, resolve if len(resolved) == 1 else reannotate))
    return hints


def variance_methods(config: dict[str, Any]) -> list[str]:
    """The methods whose runs Figure 11 shows: `variance.methods` (the paper: OPAL and Osprey-7B,
    however many runs they have), else, where it lists none, every method."""
    return list(config["variance"]["methods"]) or list(config["methods"])


#: what the paper-study figures' note says of the ground-truth priority, by `mapping.user_study.ground_truth`
USER_STUDY_GROUND_TRUTH_NOTES = {
    "human": "In our lexical mapping the human label stands in for the region's ground truth in the "
             "ground-truth priority (the published study has no region labels).",
    "none": "Our lexical mapping runs without ground-truth priority (the published study has no region labels).",
}


def paper_study_note(config: dict[str, Any]) -> str:
    """The note of the paper-study figures: `human_study.paper_study.note`, then what our lexical
    mapping takes for the regions' ground truth (USER_STUDY_GROUND_TRUTH_NOTES)."""
    note = config["human_study"]["paper_study"].get("note", "")
    return f"{note} {USER_STUDY_GROUND_TRUTH_NOTES[config['mapping']['user_study']['ground_truth']]}".strip()


def download_path(out: str | os.PathLike, name: str) -> str:
    """Where the workflow keeps a download: `<out>/downloads/<name>` (the config's `out` folder)."""
    return f"{os.fspath(out)}/downloads/{name}"


def fetched_path(out: str | os.PathLike, name: str) -> str:
    """Where a download's fetch step puts it, before its verify step checks its pin and links it to
    `download_path`: `<out>/downloads/.fetched/<name>`."""
    from oeseg.data.download import FETCHED

    return download_path(out, f"{FETCHED}/{name}")


class Pin(NamedTuple):
    """A download's pinned sha256 (None: none pinned) and the config key that pins it."""

    sha256: str | None
    setting: str


def download_pins(config: dict[str, Any]) -> dict[str, Pin]:
    """Each download of a checked config by its name under `<out>/downloads/`: the `downloads` entries,
    and `cityscapes/<package>` for the packages of a `source: cityscapes` dataset (the first such
    dataset names the key; check_cityscapes_packages makes them pin alike)."""
    pins = {name: Pin(entry["sha256"], config_key(["downloads", name, "sha256"]))
            for name, entry in config.get("downloads", {}).items()}
    for dataset, entry in config.get("datasets", {}).items():
        if entry["source"] == "cityscapes":
            for package, sha256 in entry["packages"].items():
                pins.setdefault(f"cityscapes/{package}", Pin(sha256, config_key(["datasets", dataset, "packages",
                                                                                  package])))
    return pins


def check_download_urls(config: dict[str, Any]) -> None:
    """Raise InputError naming `downloads.<name>.url` where a URL is not one requests fetches (an
    http:// or https:// URL with a host, `url_problem`) or carries a login (user:password@): logins
    come only from ~/.netrc. Run before the schema, whose messages would print the URL whole."""
    from oeseg.data.download import url_problem

    downloads = config.get("downloads")
    for name, entry in downloads.items() if isinstance(downloads, dict) else ():
        url = entry.get("url") if isinstance(entry, dict) else None
        if not isinstance(url, str):
            continue  # the schema names what is wrong
        where = f"config: {config_key(['downloads', name, 'url'])}: {redact_url(url)}"
        problem = url_problem(url)
        if problem is not None:
            raise InputError(f"{where}: {problem}")
        parts = urlsplit(url)
        if "@" in parts.netloc:
            raise InputError(f"{where}: the URL holds a login (user:password@ before the host); give it in "
                             f"~/.netrc instead, as `machine {parts.hostname} login USER password PASSWORD`")


def check_cityscapes_packages(config: dict[str, Any]) -> None:
    """Raise InputError naming `datasets.<name>.packages` where a `source: cityscapes` dataset does not
    pin exactly the packages its rules read (`oeseg.data.cityscapes.PACKAGES`), or pins one otherwise
    than another such dataset does (one file is downloaded for both)."""
    from oeseg.data.cityscapes import PACKAGES

    expected = sorted(PACKAGES.values())
    pinned: dict[str, tuple[str, Any]] = {}
    for dataset, entry in config.get("datasets", {}).items():
        if entry["source"] != "cityscapes":
            continue
        packages = entry.get("packages", {})
        if sorted(map(str, packages)) != expected:
            raise InputError(f"config: {config_key(['datasets', dataset, 'packages'])}: expected exactly "
                             f"{', '.join(expected)} (each with its sha256, or null), the packages rule "
                             f"convert_cityscapes reads; got {', '.join(map(str, packages)) or 'none'}")
        for package, sha256 in packages.items():
            key = config_key(["datasets", dataset, "packages", package])
            first = pinned.setdefault(package, (key, sha256))
            if first[1] != sha256:
                raise InputError(f"config: {key}: {sha256!r}, but {first[0]} pins {first[1]!r}; both datasets "
                                 "read one downloaded file: pin it alike")


def dataset_split_dir(data_root: str | os.PathLike, dataset: str, split: str) -> str:
    """The folder of a dataset's split, `<data_root>/<dataset>/<split>` (docs/formats.md, "Datasets")."""
    return f"{os.fspath(data_root)}/{dataset}/{split}"


def split_folder(panoptic_json: str | os.PathLike) -> str:
    """The folder of a split from its `panoptic.json` (the `split` input of a rule that reads the split)."""
    return os.path.dirname(os.fspath(panoptic_json))


def folder_dataset_files(config: dict[str, Any]) -> dict[str, str]:
    """The files of each `source: folder` dataset that the user provides (rule user_provided_file
    names a missing one) -> what each is: both splits' panoptic.json and the train split's
    regions.jsonl (docs/formats.md, "Datasets")."""
    files = {}
    for name, entry in config["datasets"].items():
        if entry["source"] != "folder":
            continue
        for split in ("train", "val"):
            what = f"split {split} of dataset {name} (datasets.{name}.source: folder) in the panoptic format"
            root = dataset_split_dir(config["data_root"], name, split)
            files[f"{root}/panoptic.json"] = what
            if split == "train":
                files[f"{root}/regions.jsonl"] = what
    return files


def check_folder_datasets(config: dict[str, Any]) -> None:
    """Stop at start-up where a present split of a `source: folder` dataset is not of the dataset's
    vocabulary (another name in `info.vocabulary`, or other categories), naming the file and the
    config key: otherwise the mismatch would show only when its descriptions are scored, after a
    model made them. A split not present is left to the run, which names it where it is needed. A
    split's categories are kept in `<out>/cache/` until its panoptic.json changes (reading a large
    one takes seconds, at every start-up)."""
    from oeseg.data.panoptic import read_split_vocabulary
    from oeseg.data.vocabularies import category_key, get_vocabulary

    for name, entry in config["datasets"].items():
        if entry["source"] != "folder":
            continue
        vocabulary = get_vocabulary(entry["vocabulary"])
        for split in ("train", "val"):
            root = Path(dataset_split_dir(config["data_root"], name, split))
            if not (root / "panoptic.json").is_file():
                continue
            found = read_split_vocabulary(root, Path(config["out"]) / "cache" / "split_vocabularies" / name
                                          / f"{split}.json")
            where = f"{root / 'panoptic.json'}: datasets.{name}.vocabulary is {entry['vocabulary']!r}"
            if found.name != vocabulary.name:
                raise InputError(f"{where}, named {vocabulary.name!r}, but the split is of vocabulary {found.name!r} "
                                 f"(its info.vocabulary; without one, the name its categories or its dataset "
                                 f"folder give it: docs/formats.md)")
            differ = next(((ours, theirs) for ours, theirs in zip_longest(category_key(found), category_key(vocabulary))
                           if ours != theirs), None)
            if differ:
                raise InputError(f"{where}, whose categories differ from the split's: first the split's "
                                 f"{differ[0]} against the vocabulary's {differ[1]} (id, name, isthing); a split "
                                 f"carries exactly its vocabulary's categories")


def read_config_file(path: str | os.PathLike) -> Any:
    """A config file read strictly: a `.json` one as JSON (`oeseg.io.read_json`), any other as YAML
    (`oeseg.io.read_yaml`), a key given twice (which Snakemake's reader keeps silently, the last
    value winning) an InputError naming the file."""
    return read_json(path) if Path(path).suffix.lower() == ".json" else read_yaml(path, "config file")


def check_config_files(paths: list[str | os.PathLike]) -> None:
    """Read each config file with `read_config_file`, so that a key given twice stops the run."""
    for path in paths:
        read_config_file(path)


def check_config(config: dict[str, Any], schemas: str | os.PathLike) -> None:
    """Validate a workflow config as every run sees it, in place: the config schema, each method's
    keys (`oeseg.registry`), then every section whose schema is a file of its own against that
    file, its defaults filled in (a `$ref`'d schema fills none; a section left out is filled when
    its schema requires nothing), so the rules read the schemas' defaults instead of restating
    them; names of datasets and methods must be the config's (`check_references`), a download's URL
    one that can be fetched, without a login (`check_download_urls`), and a Cityscapes dataset's
    packages the ones its rules read (`check_cityscapes_packages`). The Snakefile and `oeseg audit`
    both call this, so their configs hash alike."""
    from oeseg.baselines.external import check_command, external_spec
    from oeseg.registry import check_methods, kind_of

    schemas = Path(schemas).resolve()
    top = schemas / "config.schema.yaml"
    check_download_urls(config)  # before the schema, whose message would print a URL's password
    validate_section(config, top)
    check_methods(config["methods"])
    for name, entry in config["methods"].items():  # a command's template, output format and file, before any job
        if kind_of(entry).name == "external" and "command" in entry:
            external_spec(name, entry)
            check_command(name, entry)
    check_references(config)
    for key, prop in read_yaml(top, "schema")["properties"].items():
        ref = prop.get("$ref", "#")
        if "#" in ref:
            continue
        section = schemas / ref
        required = read_yaml(section, "schema").get("required")
        if key not in config and not required:
            config[key] = {}
        elif key not in config:
            raise InputError(f"config: section {key!r} is missing (it needs {', '.join(required)}; "
                             f"{section.name} describes it)")
        if key in config:
            validate_section(config[key], section, key)
    check_cityscapes_packages(config)  # after the datasets section's schema


def validate_section(instance: Any, schema: Path, key: str = "") -> None:
    """Validate `instance` (the config, or its section `key`) against a schema file, filling in
    the schema's defaults; a failure is an InputError naming the config key and what is wrong with
    its value (Snakemake's own message prints the schema first, the key last)."""
    import jsonschema
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    try:
        validate(instance, os.fspath(schema))
    except WorkflowError as e:
        error = e.__context__  # Snakemake raises its error while handling jsonschema's
        if not isinstance(error, jsonschema.ValidationError):
            raise
        if error.context:  # of oneOf / anyOf: the alternative that came closest, not one of another type
            error = jsonschema.exceptions.best_match([e for e in error.context if e.validator != "type"]
                                                     or error.context)
        where = config_key([*([key] if key else []), *error.absolute_path])
        raise InputError(f"config: {where + ': ' if where else ''}{error.message}") from None


def config_key(path: list[str | int]) -> str:
    """A config value's key as the messages name it: `opal.loss.contrastive_weight`, a list index
    `opal.data.stage2[0]`, a key with a dot or a slash quoted `downloads["paper/x.json"].sha256`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z0-9_-]+", part):
            out += f".{part}" if out else part
        else:
            out += f'["{part}"]'
    return out


#: the instruction set of the CPU kernels every job runs: torch's own (ATen), MKL's (its
#: conditional numerical reproducibility, on Intel CPUs) and oneDNN's. Kernels of another width sum
#: in another order, so a CPU with AVX-512 trained other weights than one without (README, "The demo").
CPU_KERNEL_PINS = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"}


def read_cpuinfo(path: str | os.PathLike = "/proc/cpuinfo") -> dict[str, str]:
    """The fields of the first processor in /proc/cpuinfo (`vendor_id`, `model name`, `flags`, ...);
    empty where the file cannot be read (not Linux)."""
    fields: dict[str, str] = {}
    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return fields
    for line in lines:
        if not line.strip():
            break
        name, sep, value = line.partition(":")
        if sep:
            fields[name.strip()] = value.strip()
    return fields


def pin_cpu_kernels(environ: MutableMapping[str, str] = os.environ,
                    cpuinfo: str | os.PathLike = "/proc/cpuinfo") -> dict[str, str]:
    """Set CPU_KERNEL_PINS in `environ` (the jobs inherit it) where the CPU has AVX2 and the user
    has not set the variable; returns the variables set (none without /proc/cpuinfo)."""
    if "avx2" not in read_cpuinfo(cpuinfo).get("flags", "").split():
        return {}
    pinned = {k: v for k, v in CPU_KERNEL_PINS.items() if k not in environ}
    environ.update(pinned)
    return pinned


class JobStopped(RuntimeError):
    """A job stopped on request (SIGTERM) once it had saved its work: a rerun resumes from there."""


@contextlib.contextmanager
def sigterm_handler(handler: Callable[[int, FrameType | None], object]) -> Iterator[None]:
    """Within the context SIGTERM calls `handler` instead of ending the process, the previous
    handler back after (the default where it was set outside Python). Only the main thread can set
    a handler: in any other the context changes nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


@contextlib.contextmanager
def _started(argv: list[str], env: dict[str, str] | None, forward_sigterm: bool,
             **streams: Any) -> Iterator[tuple[subprocess.Popen, list[int]]]:
    """The command started with `streams` and the SIGTERMs passed on to it (with `forward_sigterm`,
    a SIGTERM to this process meanwhile goes on to it), waited for on leaving. An error here
    (Ctrl-C) stops the command first, as subprocess.run does: SIGKILL, or with `forward_sigterm`
    SIGTERM (a training stage checkpoints), then a wait, so it is never left running alone."""
    forwarded: list[int] = []

    def forward(signum: int, frame: FrameType | None) -> None:
        """Pass the signal on to the command and note it."""
        forwarded.append(signum)
        proc.send_signal(signum)

    with subprocess.Popen(argv, env=env, **streams) as proc:
        try:
            with sigterm_handler(forward) if forward_sigterm else contextlib.nullcontext():
                yield proc, forwarded
        except BaseException:
            if forward_sigterm:
                proc.terminate()
            else:
                proc.kill()
            proc.wait()  # reaped here: Popen's exit waits only 0.25 s on a KeyboardInterrupt, and an
            raise        # orphaned zombie stays where the container's init reaps none


def run_logged(argv: list[str], log_file: str | os.PathLike | None, env: dict[str, str] | None = None,
               tail_lines: int = 20, forward_sigterm: bool = False) -> tuple[int, str]:
    """Run a command; its stdout and stderr are appended to `log_file` as they come (kept if the job
    is killed; without a log file, captured); returns the exit status and its last `tail_lines`
    lines of output, for a message (a 72-hour training's whole output is never read back). With
    `forward_sigterm`, a SIGTERM to this process is passed on to the command, which is still waited
    for (a training stage checkpoints and stops) instead of being left running; if the command
    then fails, JobStopped says so."""
    if log_file is None:
        with _started(argv, env, forward_sigterm, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                      text=True) as (proc, forwarded):
            stdout, stderr = proc.communicate()
        printed = stdout + stderr
    else:
        with open(log_file, "ab") as sink:
            start = sink.tell()
            with _started(argv, env, forward_sigterm, stdout=sink, stderr=subprocess.STDOUT) as (proc, forwarded):
                proc.wait()
        with open(log_file, "rb") as f:
            f.seek(max(start, os.path.getsize(log_file) - 256 * tail_lines))
            printed = f.read().decode("utf-8", errors="replace")
    if forwarded and proc.returncode != 0:
        raise JobStopped(f"{Path(argv[0]).name} stopped on the SIGTERM passed on to it (exit status "
                         f"{proc.returncode}){f'; its output is in {log_file}' if log_file else ''}")
    return proc.returncode, "\n".join(printed.splitlines()[-tail_lines:])


@contextlib.contextmanager
def rule_step(snakemake: Any, *, torch_threads: bool = False) -> Iterator[logging.Logger]:
    """Run a rule's body: the `oeseg` logger (and any uncaught error) goes to the rule's log; on
    success, the rule's outputs under config["results"] are recorded in the provenance manifest.
    Bad input (`InputError`) and a stop on request (`JobStopped`) are logged as their message alone
    and end the job with exit status 1; any other error is logged with its traceback and raised.
    With `torch_threads`, torch computes on the rule's `threads` (torch is imported only then)."""
    if torch_threads:
        import torch

        torch.set_num_threads(snakemake.threads)
    logger = logging.getLogger("oeseg")
    logger.setLevel(logging.INFO)
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if snakemake.log:  # emptied once, then appended to: a command the body runs appends its output too
        Path(snakemake.log[0]).write_bytes(b"")
        handlers.append(logging.FileHandler(snakemake.log[0], mode="a", encoding="utf-8"))
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    for h in handlers:
        h.setFormatter(fmt)
        logger.addHandler(h)
    try:
        yield logger
        recorded = record_rule(snakemake)
        if recorded:
            logger.info("provenance recorded for %s", ", ".join(recorded))
    except InputError as err:
        logger.error("rule %s: error: %s", getattr(snakemake, "rule", "?"), err)
        raise SystemExit(1) from None
    except JobStopped as err:
        logger.warning("rule %s: %s", getattr(snakemake, "rule", "?"), err)
        raise SystemExit(1) from None
    except Exception:
        logger.exception("rule %s failed", getattr(snakemake, "rule", "?"))
        raise
    finally:
        for h in handlers:
            logger.removeHandler(h)
            h.close()


def missing_user_file(path: str, what: str) -> str:
    """What a dry run lists and a run stops with where `path`, an input the user provides, is missing."""
    return f"{path}: missing; it is {what}, provided by you (see the README), not made by the workflow"


def require_user_file(path: str, what: str) -> None:
    """Stop with a clear message: `path` is an input the user provides, not one the workflow makes."""
    raise InputError(missing_user_file(path, what))


def gpu_job_resources(gpus_per_node: int, nodes: int = 1, cpus_per_gpu: int = 8) -> dict[str, Any]:
    """Snakemake resources of a (multi-)GPU job, for `resources: **gpu_job_resources(...)`.

    One SLURM task per GPU: `--nodes=N --gres=gpu:K --ntasks-per-node=K --cpus-per-task=C` (or
    `--ntasks=N` for one GPU a node). The `mpi` resource makes the job run in the batch shell (not
    in an `srun -n1` step), where `srun` starts the tasks, one process each (as
    oeseg.models.launch.launch_stage does). One GPU: a plain one-task job. No GPU: a plain CPU job
    (the demo).
    """
    if gpus_per_node < 0 or nodes < 1 or cpus_per_gpu < 1:
        raise ValueError(f"invalid GPU job shape: {gpus_per_node} GPUs x {nodes} nodes, "
                         f"{cpus_per_gpu} CPUs per GPU")
    if gpus_per_node == 0:
        if nodes > 1:
            raise ValueError("several nodes need GPUs (gpus_per_node > 0)")
        return {}
    resources: dict[str, Any] = {"cpus_per_task": cpus_per_gpu, "tasks_per_gpu": 0}  # 0: no --ntasks-per-gpu
    if gpus_per_node == 1 and nodes == 1:
        return {**resources, "gpu": 1}
    tasks = {"tasks_per_node": gpus_per_node} if gpus_per_node > 1 else {"tasks": nodes}
    return {**resources, **tasks, "nodes": nodes, "gres": f"gpu:{gpus_per_node}", "mpi": "srun"}
