"""The workflow config as every rule sees it (oeseg.workflow.check_config on the repository's schemas)."""

import os
import re
from pathlib import Path

import pytest
import yaml

from oeseg.io import InputError
from oeseg.models.config import config_from_section
from oeseg.workflow import (Pin, annotation_hints, annotation_inputs, check_config, check_config_files,
                            download_pins, evaluation_inputs, fetched_path, folder_dataset_files, method_runs,
                            noun_list_inputs, noun_list_settings, noun_list_vocabularies, openai_lexicon_settings,
                            paper_study_note, published_descriptions, resolved_files, sbert_class_input, study_run,
                            variance_methods)

REPO = Path(__file__).resolve().parents[1]


def demo_config() -> dict:
    return yaml.safe_load((REPO / "config.yaml").read_text())


def test_sections_of_their_own_schema_get_its_defaults():
    """A key left out of a section whose schema is a file of its own takes that schema's default
    (the rules read it plainly); a section left out is filled only when its schema requires nothing."""
    config = demo_config()
    for key in ("category_names", "min_wordnet_count"):
        del config["nouns"][key]
    del config["mapping"]
    check_config(config, REPO / "schemas")
    assert config["nouns"]["category_names"] is False and config["nouns"]["min_wordnet_count"] == 0
    assert config["mapping"]["sbert"]["template"]  # the mapping section's defaults, from its schema
    # the paper's user study, left out: the published file, remapped on Cityscapes with the human label
    assert config["mapping"]["user_study"] == {"results": "paper/user_study_results.json",
                                               "vocabulary": "cityscapes", "ground_truth": "human"}


def test_a_dataset_entry_gets_its_schema_defaults():
    """Keys left out of a dataset entry take data.schema.yaml's defaults; a key given is kept."""
    config = demo_config()
    config["datasets"]["demo-city"].pop("descriptions_per_region", None)
    config["datasets"]["demo-ade"]["descriptions_per_region"] = 2
    check_config(config, REPO / "schemas")
    assert config["datasets"]["demo-city"]["descriptions_per_region"] == 4
    assert config["datasets"]["demo-ade"]["descriptions_per_region"] == 2


@pytest.mark.parametrize("section", ["opal", "evaluation", "figures", "human_study"])
def test_a_section_left_out_whose_schema_requires_keys_is_named(section):
    """Nothing can fill such a section: the check names it (a rule would stop on a bare KeyError)."""
    config = demo_config()
    del config[section]
    with pytest.raises(InputError, match=rf"config: section '{section}' is missing \(it needs "):
        check_config(config, REPO / "schemas")


def test_a_misspelt_opal_model_key_is_named():
    """OpalConfig, a transformers config, would keep an unknown key as an attribute nothing reads."""
    config = demo_config()
    config["opal"]["model"]["hiden_size"] = 32
    check_config(config, REPO / "schemas")  # the schema lists OpalConfig's fields in no closed set
    with pytest.raises(InputError, match=r"opal.model: unknown key\(s\) 'hiden_size'"):
        config_from_section(config["opal"]["model"])
    del config["opal"]["model"]["hiden_size"]
    assert config_from_section(config["opal"]["model"]).hidden_size == config["opal"]["model"]["hidden_size"]


def test_a_misspelt_key_of_an_opal_data_source_is_named():
    config = yaml.safe_load((REPO / "configs" / "paper.yaml").read_text())
    config["opal"]["data"]["stage2"][0]["regions_per_samples"] = 5
    with pytest.raises(InputError, match=r"^config: opal.data.stage2\[0\]: Additional properties are not allowed "
                                         r"\('regions_per_samples' was unexpected\)$"):
        check_config(config, REPO / "schemas")


def test_a_bad_value_inside_a_section_names_it():
    config = demo_config()
    config["nouns"]["category_names"] = "yes"
    with pytest.raises(InputError, match=r"^config: nouns.category_names: 'yes' is not of type 'boolean'$"):
        check_config(config, REPO / "schemas")


def test_a_schema_error_names_the_key_not_the_schema():
    """A value the schema refuses is named by its config key in one line: Snakemake's own message
    prints the whole schema (and for an unknown top-level key the whole config) before the key."""
    config = demo_config()
    config["datasets"]["demo-city"]["splits"]["val"] = "96"
    with pytest.raises(InputError, match=r"^config: datasets.demo-city.splits.val: '96' is not of type 'integer'$"):
        check_config(config, REPO / "schemas")
    config = demo_config()
    config["figure"] = {}
    with pytest.raises(InputError) as error:
        check_config(config, REPO / "schemas")
    assert str(error.value) == "config: Additional properties are not allowed ('figure' was unexpected)"


def test_the_tag_list_is_one_downloads_name_or_a_list_of_them():
    config = demo_config()
    config["nouns"].update(source="tag2text", tag_list=["tag2text/tags.txt", "ram/tags.txt"])
    check_config(config, REPO / "schemas")
    assert config["nouns"]["only_nouns"] is True
    for bad in ([], ["a.txt", "a.txt"], 3):
        config["nouns"]["tag_list"] = bad
        with pytest.raises(InputError, match=r"^config: nouns.tag_list: "):
            check_config(config, REPO / "schemas")


def test_a_partial_lora_section_takes_the_other_keys_defaults():
    from oeseg.models.train import LORA_DEFAULTS, StageSettings

    config = demo_config()
    config["opal"]["lora"] = {"r": 8}
    check_config(config, REPO / "schemas")
    assert StageSettings.from_section(config["opal"], 3).lora == {**LORA_DEFAULTS, "r": 8}
    del config["opal"]["lora"]
    assert StageSettings.from_section(config["opal"], 3).lora == LORA_DEFAULTS


@pytest.mark.parametrize("edit, message", [
    (lambda c: c["variance"].update(methods=["opal", "ospray"]),
     r"config: variance.methods: 'ospray' is not one of the config's methods \(opal, osprey, ovclassifier, tags\)"),
    (lambda c: c.update(evaluation_datasets=["demo-cty"]),
     r"config: evaluation_datasets: 'demo-cty' is not one of the config's datasets \(demo-city, demo-ade\)"),
    (lambda c: c["figures"]["fig10"].update(methods=["opal", "ospray"]), r"config: figures.fig10.methods: 'ospray'"),
    (lambda c: c["figures"]["fig10"].update(dataset="demo"), r"config: figures.fig10.dataset: 'demo'"),
    (lambda c: c["human_study"].update(methods=["opal", "osprey-7b"]), r"config: human_study.methods: 'osprey-7b'"),
    (lambda c: c["human_study"].update(dataset="cityscapes"), r"config: human_study.dataset: 'cityscapes'"),
    (lambda c: c.update(training_datasets=["ade"]), r"config: training_datasets: 'ade'"),
    (lambda c: c["figures"].update(dataset_labels={"demo-cty": "X"}), r"config: figures.dataset_labels: 'demo-cty'"),
])
def test_a_name_that_the_config_does_not_define_is_named(edit, message):
    """A misspelt method of `variance.methods` would silently give that method one run (Table 1's
    ± and Figure 11 change); other misspelt names would fail inside a rule with a bare KeyError."""
    config = demo_config()
    check_config(config, REPO / "schemas")
    config = demo_config()
    edit(config)
    with pytest.raises(InputError, match=message):
        check_config(config, REPO / "schemas")


def test_a_key_given_twice_in_a_config_file_is_named(tmp_path):
    """YAML readers keep the last of two equal keys silently: every config file is read strictly."""
    text = (REPO / "config.yaml").read_text()
    check_config_files([REPO / "config.yaml", REPO / "configs" / "paper.yaml"])
    twice = tmp_path / "twice.yaml"
    lines = text.splitlines()
    line = next(i for i, t in enumerate(lines, start=1) if t.startswith("  source: wordnet"))
    twice.write_text("\n".join([*lines[:line], "  source: tag2text", *lines[line:]]))
    with pytest.raises(InputError, match=rf"^{twice}:{line + 1}: key 'source' given twice in one mapping "
                                         rf"\(first on line {line}\)"):
        check_config_files([twice])


def test_a_merge_key_may_override_what_it_merges(tmp_path):
    """`<<: *anchor` then a key of the anchor's is YAML's override, not a key given twice."""
    from oeseg.io import read_yaml

    path = tmp_path / "merge.yaml"
    path.write_text("base: &base {lr: 1, steps: 2}\nstage: {<<: *base, steps: 3}\n")
    assert read_yaml(path) == {"base": {"lr": 1, "steps": 2}, "stage": {"lr": 1, "steps": 3}}


@pytest.mark.parametrize("edit, message", [
    (lambda c: c.update(evaluation_datasets=["demo-city", "demo-ade", "demo-city"]),
     r"config: evaluation_datasets: 'demo-city' is given twice"),
    (lambda c: c.update(training_datasets=["demo-ade", "demo-ade"]), r"config: training_datasets: 'demo-ade' is given twice"),
    (lambda c: c["variance"].update(methods=["opal", "osprey", "opal"]), r"config: variance.methods: 'opal' is given twice"),
    (lambda c: c["variance"]["runs"].append({"name": "s1-t0.2", "seed": 5}),
     r"config: variance.runs\[\]\.name: 's1-t0.2' is given twice"),
    (lambda c: c["figures"]["fig10"].update(methods=["opal", "opal"]), r"config: figures.fig10.methods: 'opal' is given twice"),
    (lambda c: c["human_study"].update(methods=["osprey", "opal", "osprey"]),
     r"config: human_study.methods: 'osprey' is given twice"),
])
def test_a_name_listed_twice_is_named(edit, message):
    """A dataset listed twice would be a second Table 1 column (and a made-up ± of one run counted
    twice); a run name given twice would count the first run twice and never run the second."""
    config = demo_config()
    edit(config)
    with pytest.raises(InputError, match=message):
        check_config(config, REPO / "schemas")


@pytest.mark.parametrize("edit, message", [
    (lambda c: c["human_study"].update(run="s9-bogus"),
     r"config: human_study.run: 's9-bogus' is not one of variance.runs \(s0-t0.2, s1-t0.2, s2-t0.5\)"),
    (lambda c: c["human_study"].update(run="main"), r"config: human_study.run: 'main' is not one of variance.runs"),
    (lambda c: (c["human_study"].update(run="s1-t0.2", methods=["tags"]), c["figures"]["fig10"].update(
        methods=["tags"])), r"config: human_study.run: 's1-t0.2' names a variance run, but none of"),
])
def test_a_study_run_that_is_no_variance_run_is_named(edit, message):
    """A misspelt human_study.run would silently plan an inference run of that name."""
    config = demo_config()
    edit(config)
    with pytest.raises(InputError, match=message):
        check_config(config, REPO / "schemas")


def test_the_study_run_is_that_of_the_variance_methods():
    """check_config accepts a variance run as human_study.run where one described method (opal) has
    variance runs and the others (tags; Figure 10's osprey, ovclassifier) have not, and keeps the
    choice as given. (Which predictions file each rule then reads: tests/test_opal_workflow.py,
    test_the_study_describes_the_variance_run_of_variance_methods_and_main_of_the_others.)"""
    config = demo_config()
    config["human_study"].update(run="s1-t0.2", methods=["opal", "tags"])
    config["figures"]["fig10"]["methods"] = ["osprey", "ovclassifier"]
    check_config(config, REPO / "schemas")
    assert (config["human_study"]["run"], config["human_study"]["methods"], config["figures"]["fig10"]["methods"]) \
        == ("s1-t0.2", ["opal", "tags"], ["osprey", "ovclassifier"])


@pytest.mark.parametrize("resolved", [None, [], "annotations/resolved.csv", ["r1.csv", "r2.csv"],
                                      ["r1.csv", "r2.csv", "r3.csv"]])
def test_the_second_stage_is_one_consensus_csv_or_independent_re_annotations(resolved):
    """human_study.resolved: one consensus CSV (a string), a list of re-annotations, or none."""
    config = demo_config()
    config["human_study"]["resolved"] = resolved
    check_config(config, REPO / "schemas")
    assert config["human_study"]["resolved"] == resolved


@pytest.mark.parametrize("resolved, message", [
    (["r1.csv"], r"^config: human_study.resolved: a list names two or more annotators' independent re-annotations "
                 r"of the disagreements, this one only 'r1.csv'; give one consensus CSV as a string"),
    (["r1.csv", "./r1.csv"], r"^config: human_study.resolved: './r1.csv' is given twice \(a CSV agrees with itself\)"),
    (["r1.csv", os.path.abspath("r1.csv")], r"^config: human_study.resolved: '/\S+/r1.csv' is given twice"),
    (["r1.csv", 2], r"^config: human_study.resolved\[1\]: 2 is not of type 'string'$"),
    ({"r1.csv": 1}, r"^config: human_study.resolved: \{'r1.csv': 1\} is not of type 'string', 'array', 'null'$"),
])
def test_a_second_stage_that_cannot_agree_is_refused(resolved, message):
    """One re-annotation, or one listed twice, would agree with itself: not the paper's independent
    second stage; a value of another shape is named by its key."""
    config = demo_config()
    config["human_study"]["resolved"] = resolved
    with pytest.raises(InputError, match=message):
        check_config(config, REPO / "schemas")


@pytest.mark.parametrize("annotators", [["a1.csv", "./a1.csv"], ["a1.csv", os.path.abspath("a1.csv")]])
def test_one_annotator_csv_listed_twice_is_refused(annotators):
    """human_study.annotators naming one CSV twice would agree with itself (100 %, no second stage)."""
    config = demo_config()
    config["human_study"]["annotators"] = annotators
    with pytest.raises(InputError, match=rf"^config: human_study.annotators: '{re.escape(annotators[1])}' is given "
                                         r"twice \(a CSV agrees with itself"):
        check_config(config, REPO / "schemas")


def test_a_synthetic_dataset_without_a_split_it_is_used_for_is_named():
    """A training dataset without a train split (or a scored one without val) would stop the
    workflow's planning on a bare KeyError; a misspelt split name is refused by the schema."""
    config = demo_config()
    config["datasets"]["demo-city"]["splits"] = {"val": 4}
    with pytest.raises(InputError, match=r"^config: datasets.demo-city.splits: no 'train' split, which "
                                         r"training_datasets needs \(splits: val\)$"):
        check_config(config, REPO / "schemas")
    config = demo_config()
    config["datasets"]["demo-ade"]["splits"] = {"train": 4}
    with pytest.raises(InputError, match=r"^config: datasets.demo-ade.splits: no 'val' split, which "
                                         r"evaluation_datasets needs"):
        check_config(config, REPO / "schemas")
    config = demo_config()
    config["datasets"]["demo-city"]["splits"] = {"trian": 4, "val": 2}
    with pytest.raises(InputError, match=r"^config: datasets.demo-city.splits: 'trian' is not one of "):
        check_config(config, REPO / "schemas")


def test_figure_2s_category_is_checked_before_any_job():
    """figures.fig2.category names a category of figures.fig2.vocabulary, checked with the config (a
    typo would otherwise fail Figure 2's rule at the end of a run); an ambiguous name lists the
    candidates."""
    config = demo_config()
    config["figures"]["fig2"]["category"] = "kar"
    with pytest.raises(InputError, match=r"^config: figures.fig2.category: vocabulary demo-city has no "
                                         r"category named 'kar'$"):
        check_config(config, REPO / "schemas")
    config = demo_config()
    config["figures"]["fig2"].update(vocabulary="ade20k", category="ground")
    with pytest.raises(InputError, match=r"^config: figures.fig2.category: 'ground' names several categories "
                                         r"of vocabulary ade20k \(\d+ '.*'; \d+ '.*'\): give a full name"):
        check_config(config, REPO / "schemas")
    config = demo_config()
    config["figures"]["fig2"].update(vocabulary="ade20k", category="earth, ground")
    check_config(config, REPO / "schemas")


def test_the_noun_list_reads_the_tag_list_and_the_datasets_vocabulary_files_it_uses(tmp_path):
    """Rule nouns' inputs: the tag list only for tag2text; with category_names, the datasets'
    vocabularies and the files among them (not another vocabulary file of the config: editing
    Figure 2's would remake the nouns and every lexicon); without, none."""
    mine = tmp_path / "mine.json"
    fig2 = tmp_path / "fig2.json"
    config = demo_config()
    config["datasets"]["demo-ade"]["vocabulary"] = str(mine)
    config["figures"]["fig2"]["vocabulary"] = str(fig2)
    config["nouns"]["category_names"] = False
    assert noun_list_inputs(config) == {"vocabulary_files": []} and noun_list_vocabularies(config) == []
    config["nouns"].update(category_names=True, source="tag2text", tag_list="tag2text/tags.txt")
    assert noun_list_vocabularies(config) == sorted(["demo-city", str(mine)])
    assert noun_list_inputs(config) == {"vocabulary_files": [str(mine)],
                                        "tag_lists": [f"{config['out']}/downloads/tag2text/tags.txt"]}
    assert noun_list_settings(config) == {"source": "tag2text", "min_wordnet_count": 3, "only_nouns": True,
                                          "vocabularies": sorted(["demo-city", str(mine)])}
    config["nouns"]["tag_list"] = ["tag2text/tags.txt", "ram/tags.txt"]
    assert noun_list_inputs(config)["tag_lists"] == [f"{config['out']}/downloads/tag2text/tags.txt",
                                                     f"{config['out']}/downloads/ram/tags.txt"]


def test_a_published_method_reads_the_outputs_its_source_names():
    """Rule import_published's input: the download of the method that `source` names, else its own."""
    assert (published_descriptions("w", "mine", {"kind": "published", "source": "osprey"}, "ade20k")
            == "w/downloads/paper/outputs/osprey/ade20k/descriptions.json")
    assert (published_descriptions("w", "osprey", {"kind": "published"}, "cityscapes")
            == "w/downloads/paper/outputs/osprey/cityscapes/descriptions.json")


def test_the_openai_lexicons_params_leave_the_answer_cache_out():
    config = demo_config()
    config["lexicon"]["openai"] = {"base_url": "http://127.0.0.1:1/v1", "model": "m", "cache_dir": "cache"}
    assert openai_lexicon_settings(config) == {"base_url": "http://127.0.0.1:1/v1", "model": "m"}
    assert config["lexicon"]["openai"]["cache_dir"] == "cache"


def test_a_methods_runs_and_the_run_the_study_describes():
    """The variance methods have the variance runs (the study's: human_study.run, else the first),
    every other method the one run main."""
    config = demo_config()
    check_config(config, REPO / "schemas")
    names = [run["name"] for run in config["variance"]["runs"]]
    assert method_runs(config, "opal") == names and method_runs(config, "ovclassifier") == ["main"]
    config["human_study"]["run"] = None
    assert study_run(config, "opal") == names[0] and study_run(config, "ovclassifier") == "main"
    config["human_study"]["run"] = names[-1]
    assert study_run(config, "osprey") == names[-1]


def test_an_evaluation_reads_the_class_list_of_sbert_and_a_semantic_folder_where_there_is_one(tmp_path):
    """An SBERT evaluation reads its vocabulary's class list (plain names: none; a vocabulary without
    one is named); an ADE20K split's semantic/ folder is always an input, another split's once present."""
    config = demo_config()
    check_config(config, REPO / "schemas")
    config["data_root"] = str(tmp_path)
    config["datasets"]["demo-ade"]["source"] = "folder"
    config["mapping"]["sbert"].update(class_names="prompt", class_lists={"demo-city": "lists/city.txt"})
    assert evaluation_inputs(config, "demo-city", "lexical") == {}
    assert evaluation_inputs(config, "demo-city", "sbert") == {"sbert_classes": f"{config['out']}/downloads/lists/city.txt"}
    with pytest.raises(InputError, match=r"^config: mapping.sbert.class_lists: no class list of vocabulary 'demo-ade'"):
        evaluation_inputs(config, "demo-ade", "sbert")
    (tmp_path / "demo-ade" / "val" / "semantic").mkdir(parents=True)
    assert evaluation_inputs(config, "demo-ade", "lexical") == {"semantic": f"{tmp_path}/demo-ade/val/semantic"}
    config["datasets"]["demo-city"]["source"] = "ade20k"
    assert evaluation_inputs(config, "demo-city", "lexical") == {"semantic": f"{tmp_path}/demo-city/val/semantic"}
    config["mapping"]["sbert"]["class_names"] = "plain"
    assert sbert_class_input(config, "demo-ade") == {}


def test_the_annotation_csvs_are_inputs_and_their_hints_say_what_each_is():
    """The annotators' two CSVs and the resolved ones are the study rules' inputs (`resolved` only
    where named); one annotator, or the disagreements CSV as resolved, is an InputError; each CSV's
    hint says what it is (none unless the reference is the annotators)."""
    study = {"reference": "annotators", "annotators": ["a1.csv", "a2.csv"], "resolved": None}
    assert annotation_inputs(study, ["annotators", "resolved"], "page.html", "w/dis.csv") == {
        "annotators": ["a1.csv", "a2.csv"]}
    assert resolved_files(study) == [] and resolved_files({**study, "resolved": "r.csv"}) == ["r.csv"]
    two = {**study, "resolved": ["r1.csv", "r2.csv"]}
    assert annotation_inputs(two, ["annotators", "resolved"], "page.html", "w/dis.csv")["resolved"] == ["r1.csv", "r2.csv"]
    with pytest.raises(InputError, match=r"^human_study.annotators: list the two annotators' CSVs exported from page.html"):
        annotation_inputs({**study, "annotators": ["a1.csv"]}, ["annotators"], "page.html", "w/dis.csv")
    with pytest.raises(InputError, match=r"^human_study.resolved: w/./dis.csv is the disagreements CSV"):
        annotation_inputs({**study, "resolved": ["r1.csv", "w/./dis.csv"]}, ["resolved"], "page.html", "w/dis.csv")
    hints = annotation_hints({**study, "resolved": "r.csv"}, "page.html", "second.html", "w/dis.csv")
    assert hints["a1.csv"].startswith("an annotator's CSV exported from page.html")
    assert hints["r.csv"].startswith("the CSV of resolved disagreements: a consensus exported from second.html")
    assert annotation_hints(two, "page.html", "second.html", "w/dis.csv")["r2.csv"].startswith(
        "an annotator's independent re-annotation")
    assert annotation_hints({**study, "reference": "generator"}, "page.html", "second.html", "w/dis.csv") == {}


def test_figure_11s_methods_and_the_paper_study_note():
    """Figure 11 shows the variance methods, every method where none is listed; the paper-study
    figures' note is the config's, then what stands in for the regions' ground truth."""
    config = demo_config()
    check_config(config, REPO / "schemas")
    assert variance_methods(config) == ["opal", "osprey"]
    config["variance"]["methods"] = []
    assert variance_methods(config) == list(config["methods"])
    config["human_study"]["paper_study"]["note"] = "Published."
    config["mapping"]["user_study"]["ground_truth"] = "none"
    assert paper_study_note(config) == ("Published. Our lexical mapping runs without ground-truth priority "
                                        "(the published study has no region labels).")
    del config["human_study"]["paper_study"]["note"]
    config["mapping"]["user_study"]["ground_truth"] = "human"
    assert paper_study_note(config).startswith("In our lexical mapping the human label stands in")


def test_a_folder_datasets_files_are_the_users():
    """Both splits' panoptic.json and the train split's regions.jsonl of each folder dataset, each
    named for the message of a missing one; a synthetic dataset's are the workflow's."""
    config = demo_config()
    check_config(config, REPO / "schemas")
    assert folder_dataset_files(config) == {}
    config["datasets"]["demo-city"]["source"] = "folder"
    files = folder_dataset_files(config)
    root = config["data_root"]
    assert sorted(files) == [f"{root}/demo-city/train/panoptic.json", f"{root}/demo-city/train/regions.jsonl",
                             f"{root}/demo-city/val/panoptic.json"]
    assert files[f"{root}/demo-city/val/panoptic.json"] == ("split val of dataset demo-city "
                                                            "(datasets.demo-city.source: folder) in the panoptic format")


@pytest.mark.parametrize("url, problem", [
    ("ftp://alice:s3cret@example.org/x.zip", "ftp://example.org/x.zip: only http:// and https:// URLs can be "
                                             "downloaded, not ftp://"),
    ("http://alice:s3cret@/x.zip", "http:///x.zip: it names no host"),
    ("https://example.org:99999/x.zip", "https://<redacted>: its host or port cannot be read (a port is a number "
                                        "up to 65535)"),
    ("https://alice:s3cret@example.org/x.zip", "https://example.org/x.zip: the URL holds a login (user:password@ "
                                               "before the host); give it in ~/.netrc instead, as `machine "
                                               "example.org login USER password PASSWORD`"),
], ids=["ftp", "no-host", "bad-port", "login"])
def test_a_download_url_that_cannot_be_fetched_or_holds_a_login_is_named_without_its_password(url, problem):
    config = demo_config()
    config["downloads"] = {"paper/x.zip": {"url": url, "sha256": None}}
    with pytest.raises(InputError) as err:
        check_config(config, REPO / "schemas")
    assert str(err.value) == f'config: downloads["paper/x.zip"].url: {problem}'
    assert "s3cret" not in str(err.value)


@pytest.mark.parametrize("name", [".fetched/x.zip", "a/../x.zip", "a/.hidden"])
def test_a_download_name_with_a_part_that_starts_with_a_dot_is_refused(name):
    """`<out>/downloads/.fetched/` holds the fetched files: no download may be named into it (nor out
    of the folder with '..')."""
    config = demo_config()
    config["downloads"] = {name: {"url": "https://example.org/x.zip", "sha256": None}}
    with pytest.raises(InputError, match=rf"config: downloads: '{re.escape(name)}' does not match"):
        check_config(config, REPO / "schemas")


def _cityscapes_config(*packages: dict) -> dict:
    """The demo config with one `source: cityscapes` dataset per `packages` given."""
    config = demo_config()
    for i, pins in enumerate(packages):
        config["datasets"][f"city{i}"] = {"source": "cityscapes", "vocabulary": "cityscapes", "packages": pins}
    return config


PINNED = {"gtFine_trainvaltest.zip": "a" * 64, "leftImg8bit_trainvaltest.zip": None}


@pytest.mark.parametrize("packages, message", [
    ({"gtFine_trainvaltest.zip": None}, "got gtFine_trainvaltest.zip"),
    ({**PINNED, "gtCoarse.zip": None}, "got gtFine_trainvaltest.zip, leftImg8bit_trainvaltest.zip, gtCoarse.zip"),
    ({}, "got none"),
])
def test_a_cityscapes_dataset_pins_exactly_the_packages_its_rules_read(packages, message):
    with pytest.raises(InputError) as err:
        check_config(_cityscapes_config(packages), REPO / "schemas")
    assert str(err.value) == ("config: datasets.city0.packages: expected exactly gtFine_trainvaltest.zip, "
                              "leftImg8bit_trainvaltest.zip (each with its sha256, or null), the packages rule "
                              f"convert_cityscapes reads; {message}")


def test_two_cityscapes_datasets_pin_one_package_alike_and_the_first_names_its_key():
    config = _cityscapes_config(PINNED, {**PINNED, "gtFine_trainvaltest.zip": "b" * 64})
    with pytest.raises(InputError) as err:
        check_config(config, REPO / "schemas")
    assert str(err.value) == (f'config: datasets.city1.packages["gtFine_trainvaltest.zip"]: {"b" * 64!r}, but '
                              f'datasets.city0.packages["gtFine_trainvaltest.zip"] pins {"a" * 64!r}; both datasets '
                              "read one downloaded file: pin it alike")
    config = _cityscapes_config(PINNED, PINNED)
    config["downloads"] = {"paper/x.zip": {"url": "https://example.org/x.zip", "sha256": "c" * 64}}
    check_config(config, REPO / "schemas")
    assert download_pins(config) == {
        "paper/x.zip": Pin("c" * 64, 'downloads["paper/x.zip"].sha256'),
        "cityscapes/gtFine_trainvaltest.zip": Pin("a" * 64, 'datasets.city0.packages["gtFine_trainvaltest.zip"]'),
        "cityscapes/leftImg8bit_trainvaltest.zip": Pin(None, 'datasets.city0.packages["leftImg8bit_trainvaltest.zip"]'),
    }
    assert fetched_path("w", "paper/x.zip") == "w/downloads/.fetched/paper/x.zip"
