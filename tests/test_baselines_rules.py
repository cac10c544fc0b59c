"""rules/baselines.smk: the published and external rules write PREDICTIONS; each rule only claims the
methods whose kind (oeseg.registry) names it; the paper config's methods validate."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from baselines_demo_split import NOUNS, make_split

from oeseg.baselines.tags import TagSettings, TaggerConfig
from oeseg.data.panoptic import SEMANTIC_VOID, read_segment_ids, write_semantic_ids
from oeseg.data.predictions import read_predictions
from oeseg.data.vocabularies import vocabulary_name
from oeseg.io import InputError
from oeseg.workflow import check_config, vocabulary_files
from oeseg.registry import (COMMON_DEFAULTS, COMMON_KEYS, METHOD_KINDS, check_methods, common_option, exact_names_regex, kind_of, method_gpus,
                            method_options, method_resources, methods_of_rule, methods_regex, entry_settings)

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
STAND_IN = REPO / "tests" / "external_stand_ins" / "region_mllm.py"
README = REPO / "README.md"


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "PATH": f"{SNAKEMAKE.parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run([str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "-d", str(workdir), "--cores", "1",
                           *args, "--configfile", "config.yaml", "overrides.yaml"],
                          capture_output=True, text=True, env=env, cwd=workdir, timeout=300)


@pytest.fixture
def workdir(tmp_path):
    val = make_split(tmp_path / "data" / "demo-city" / "val", 2, seed=4)
    (tmp_path / "work" / "demo" / "nouns").mkdir(parents=True)
    (tmp_path / "work" / "demo" / "nouns" / "nouns.txt").write_text("\n".join(NOUNS) + "\n")
    published = tmp_path / "work" / "demo" / "downloads" / "paper" / "outputs" / "somenet" / "demo-city"
    published.mkdir(parents=True)
    panoptic = json.loads((val / "panoptic.json").read_text())
    published.joinpath("descriptions.json").write_text(json.dumps(
        [{"image_id": a["image_id"], "descriptions": [f"region {s['id']}" for s in a["segments_info"]]}
         for a in panoptic["annotations"]]))
    shutil.copy(REPO / "config.yaml", tmp_path / "config.yaml")
    overrides = {"evaluation_datasets": ["demo-city"], "methods": {
        "pub": {"kind": "published", "label": "P", "source": "somenet"},
        "mllm": {"kind": "external", "label": "M", "resources": {"gpu": 0, "runtime": "5m"}, "format": "lac",
                 "output": "descriptions.json",
                 "command": f"{sys.executable} {STAND_IN} --panoptic-json {{panoptic_json}} "
                            f"--images {{images_dir}} --output {{output}} --seed {{seed}}"}}}
    (tmp_path / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    return tmp_path


def test_published_and_external_rules_write_predictions(workdir):
    targets = [f"work/demo/predictions/{m}/demo-city/main.jsonl" for m in ("pub", "mllm")]
    proc = snakemake(workdir, *targets)
    assert proc.returncode == 0, proc.stderr[-3000:]
    pub, mllm = (read_predictions(workdir / t) for t in targets)
    assert len(pub) == len(mllm) == sum(1 for _ in (workdir / "data/demo-city/val/regions.jsonl").open())
    assert pub[0].description == f"region {pub[0].segment_id}"
    assert all(p.description.startswith("The answer is ") for p in mllm)
    assert (workdir / "work/demo/external/mllm/demo-city/main/descriptions.json").exists()


def test_a_methods_jobs_rerun_on_its_options_not_on_its_label(workdir):
    """The rules' params are the entry's `method_options`: a new label or group (Table 1's) reruns
    no prediction job, a new `on_mismatch` reruns the jobs that convert with it."""
    targets = [f"work/demo/predictions/{m}/demo-city/main.jsonl" for m in ("pub", "mllm")]
    proc = snakemake(workdir, *targets)
    assert proc.returncode == 0, proc.stderr[-3000:]
    overrides = yaml.safe_load((workdir / "overrides.yaml").read_text())
    for entry in overrides["methods"].values():
        entry.update(label=entry["label"] + " renamed", group="mllm")
    (workdir / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    proc = snakemake(workdir, "-n", *targets)
    assert proc.returncode == 0 and "Nothing to be done" in proc.stdout + proc.stderr, proc.stdout[-2000:]
    for entry in overrides["methods"].values():
        entry["on_mismatch"] = "skip"
    (workdir / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    proc = snakemake(workdir, "-n", *targets)
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert "import_published" in proc.stdout and "run_external" in proc.stdout, proc.stdout[-2000:]


def test_method_options_are_what_a_methods_jobs_read():
    """An entry's kind options (not its resources), and `on_mismatch` where its prediction converts
    with it (an external method's): never its label, group or kind; training's only the options it
    reads, prediction's the others."""
    tags = {"kind": "tags", "label": "B", "group": "baseline", "classifier": "ov", "top_k": 5, "epochs": 3,
            "scored_images": "described", "on_mismatch": "skip"}
    assert method_options(tags, "train") == {"epochs": 3}
    assert method_options(tags, "predict") == {"classifier": "ov", "top_k": 5}  # the tagger reads no on_mismatch
    external = {"kind": "external", "label": "M", "command": "run {output}", "format": "lac",
                "resources": {"gpu": 1}, "on_mismatch": "skip"}
    assert method_options(external, "predict") == {"command": "run {output}", "format": "lac", "on_mismatch": "skip"}
    assert method_options({"kind": "ovclassifier", "label": "O", "published": True, "source": "x"}, "predict") == {}
    assert method_options({"kind": "ovclassifier", "epochs": 2, "seed": 1}, "train") == {"epochs": 2, "seed": 1}
    with pytest.raises(ValueError, match="step 'evaluate'"):
        method_options(tags, "evaluate")


def test_a_tags_methods_top_k_and_threshold_are_not_training_options():
    """`top_k` and `threshold` pick tags at prediction: changing them leaves the tagger's training
    options (its rule's params) as they were, and changes prediction's."""
    entry = {"kind": "tags", "classifier": "ov", "top_k": 5, "threshold": 0.3, "epochs": 3, "seed": 7}
    changed = {**entry, "top_k": 2, "threshold": 0.6}
    assert method_options(changed, "train") == method_options(entry, "train") == {"epochs": 3, "seed": 7}
    assert method_options(changed, "predict") != method_options(entry, "predict")
    assert entry_settings(TagSettings, method_options(changed, "predict")) == TagSettings(top_k=2, threshold=0.6)


@pytest.mark.slow
def test_the_tags_baselines_rules_train_and_predict(workdir):
    """Rules train_ovclassifier, train_tagger and predict_tags run their scripts end to end: the
    trainings read the train splits and the entries' settings, the prediction picks at most
    `top_k` tags an image and describes every region with one of them; a new `top_k` or `threshold`
    reruns the prediction, not the trainings."""
    make_split(workdir / "data" / "demo-city" / "train", 4, seed=5)
    overrides = yaml.safe_load((workdir / "overrides.yaml").read_text())
    overrides["datasets"] = {"demo-city": {"source": "folder", "vocabulary": "demo-city"}}
    overrides["training_datasets"] = ["demo-city"]
    overrides["methods"] = {"ovc": {"kind": "ovclassifier", "label": "O", "epochs": 1},
                            "tags": {"kind": "tags", "label": "B", "classifier": "ovc", "epochs": 1, "top_k": 2}}
    (workdir / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    target = "work/demo/predictions/tags/demo-city/main.jsonl"
    proc = snakemake(workdir, target)
    assert proc.returncode == 0, (proc.stderr + proc.stdout)[-3000:]
    tags = json.loads((workdir / "work/demo/tags/tags/demo-city/main.json").read_text())
    assert tags and all(len(t) <= 2 for t in tags.values())
    predictions = read_predictions(workdir / target)
    assert len(predictions) == sum(1 for _ in (workdir / "data/demo-city/val/regions.jsonl").open())
    assert all(p.description in tags[p.image_id] for p in predictions)
    overrides["methods"]["tags"].update(top_k=1, threshold=0.5)  # prediction's settings: no retraining
    (workdir / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    proc = snakemake(workdir, "-n", target)
    assert proc.returncode == 0, (proc.stderr + proc.stdout)[-3000:]
    assert "rule predict_tags:" in proc.stdout and "rule train_" not in proc.stdout, proc.stdout[-3000:]


def test_external_weights_are_an_input(workdir):
    """New weights at the same path rerun the method's predictions: the folder is an input of the job."""
    overrides = yaml.safe_load((workdir / "overrides.yaml").read_text())
    overrides["methods"]["ospr"] = {"kind": "external", "label": "O", "weights": "ckpt/osprey-7b"}
    (workdir / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    target = "work/demo/predictions/ospr/demo-city/main.jsonl"
    proc = snakemake(workdir, "-n", target)  # missing: a user-provided file, where a run stops naming it
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert ("ckpt/osprey-7b: missing; it is the checkpoint folder of methods.ospr.weights, provided by you"
            in proc.stdout), proc.stdout[-2000:]
    (workdir / "ckpt" / "osprey-7b").mkdir(parents=True)
    (workdir / "ckpt" / "osprey-7b" / "config.json").write_text("{}")
    proc = snakemake(workdir, "-n", target)  # the job lists it among its inputs
    assert proc.returncode == 0 and "user_provided_file" not in proc.stdout, proc.stdout[-2000:]
    assert "ckpt/osprey-7b" in proc.stdout


def test_published_rule_makes_only_the_main_run(workdir):
    target = "work/demo/predictions/pub/demo-city/s0-t0.2.jsonl"
    proc = snakemake(workdir, "-n", target)
    message = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "MissingRuleException" in message and target in message


def test_each_rule_claims_exactly_the_methods_whose_kind_names_it():
    methods = yaml.safe_load((REPO / "config.yaml").read_text())["methods"]
    rules = {r for name in METHOD_KINDS for r in (METHOD_KINDS.get(name).predict_rule, METHOD_KINDS.get(name).train_rule)}
    claimed = {rule: {m for m in methods if re.fullmatch(methods_regex(methods, rule), m)} for rule in rules - {None}}
    assert claimed["predict_tags"] == claimed["train_tagger"] == {"tags"}
    assert claimed["predict_ovclassifier"] == claimed["train_ovclassifier"] == {"ovclassifier"}
    assert claimed["opal_train"] == claimed["opal_describe"] == {"opal", "osprey"}
    assert claimed["run_external"] == claimed["import_published"] == set()
    # every method's predictions come from exactly one rule
    predict_rules = {METHOD_KINDS.get(name).predict_rule for name in METHOD_KINDS}
    assert all(sum(m in claimed[r] for r in predict_rules) == 1 for m in methods)
    assert methods_regex(methods, "no_such_rule") == "(?!)"
    assert not re.fullmatch(methods_regex(methods, "run_external"), "")


def test_an_exact_names_constraint_matches_those_names_and_nothing_else():
    names = ["demo-city", "a.b", "x+y", "demo"]
    pattern = exact_names_regex(names)
    assert pattern.split("|") == [re.escape(n) for n in names]
    assert all(re.fullmatch(pattern, n) for n in names)
    assert not any(re.fullmatch(pattern, n) for n in ["aXb", "xy", "x+yy", "demo-cit", "", "demo-city|demo"])
    assert exact_names_regex({"only": "a dict's keys"}) == "only"
    assert exact_names_regex([]) == "(?!)" and not re.fullmatch(exact_names_regex(()), "")


def test_registry_rules_exist_in_the_workflow():
    defined = {m.group(1) for f in (REPO / "rules").glob("*.smk")
               for m in re.finditer(r"^rule (\w+):", f.read_text(), re.MULTILINE)}
    for name in METHOD_KINDS:
        kind = METHOD_KINDS.get(name)
        assert {kind.predict_rule, kind.train_rule} - {None} <= defined, name


def test_paper_config_methods_and_registry():
    from snakemake.utils import validate

    paper = yaml.safe_load((REPO / "configs" / "paper.yaml").read_text())
    validate(paper, str(REPO / "schemas" / "config.schema.yaml"))
    methods = paper["methods"]
    assert sorted(methods) == sorted(["ovseg", "maskclip", "masqclip", "masqclip_tags", "shikra", "ferret",
                                      "gpt4roi", "osprey-7b", "opal"])
    check_methods(methods)
    published = ["ovseg", "maskclip", "masqclip", "masqclip_tags", "shikra", "ferret", "gpt4roi"]
    assert methods_regex(methods, "import_published").split("|") == published
    assert methods_of_rule(methods, "opal_train") == ["opal"] and methods_of_rule(methods, "run_external") == ["osprey-7b"]
    assert kind_of(methods["osprey-7b"]).gpu and not kind_of(methods["ovseg"]).gpu
    assert method_gpus(methods["osprey-7b"]) == 1 and method_gpus(methods["ovseg"]) == 0
    assert method_gpus({**methods["osprey-7b"], "resources": {"gpu": 0}}) == 0
    assert method_resources(methods["osprey-7b"]) == {"mem_mb": 64000, "runtime": "8h", "cpus_per_task": 8, "gpu": 1}
    assert method_resources({"kind": "external"})["mem_mb"] == 32000  # the default a 7B model's run starts from
    assert method_resources({**methods["osprey-7b"], "resources": {"runtime": "2h"}})["runtime"] == "2h"
    # the overlay takes OPAL and Osprey-7B from their published outputs too, and stays valid
    overlay = yaml.safe_load((REPO / "configs" / "paper-published.yaml").read_text())
    merged = {name: {**entry, **overlay["methods"].get(name, {})} for name, entry in methods.items()}
    validate({**paper, "methods": merged, "variance": {**paper["variance"], **overlay["variance"]}},
             str(REPO / "schemas" / "config.schema.yaml"))
    check_methods(merged)
    assert methods_regex(merged, "import_published").split("|") == [re.escape(m) for m in methods]
    assert methods_of_rule(merged, "opal_describe") == methods_of_rule(merged, "run_external") == []
    assert methods_regex(methods, "predict_tags") == "(?!)"


def test_the_readme_documents_every_registered_kind():
    """README's list of method kinds names exactly the registry's kinds, so a kind a contributor
    registers is documented where users look for it."""
    kinds = README.read_text().split("\nThe kinds:\n", 1)[1].split("\n\n", 2)[:2]
    documented = set(re.findall(r"^- \*\*(.+?)\*\*:", "\n".join(kinds), re.M))
    assert {k for entry in documented for k in re.findall(r"`([a-z_]+)`", entry)} == set(METHOD_KINDS.names())


def test_check_methods_reads_each_kinds_keys():
    with pytest.raises(InputError, match=r"methods.x: kind external needs command or weights"):
        check_methods({"x": {"kind": "external", "label": "X"}})
    with pytest.raises(InputError, match=r"methods.t: kind tags needs classifier"):
        check_methods({"t": {"kind": "tags", "label": "T"}})
    with pytest.raises(InputError, match=r"methods.o.epochs: not a key of kind opal"):
        check_methods({"o": {"kind": "opal", "label": "O", "epochs": 2}})
    with pytest.raises(InputError, match=r"methods.p.command: not a key of kind published"):
        check_methods({"p": {"kind": "published", "label": "P", "command": "x"}})
    with pytest.raises(InputError, match=r"methods.b.classifier: 'x' is not a method of kind ovclassifier"):
        check_methods({"x": {"kind": "published"}, "b": {"kind": "tags", "classifier": "x"}})
    with pytest.raises(InputError, match=r"methods.m.kind: unknown method kind 'magic' \(known: opal, "):
        check_methods({"m": {"kind": "magic"}})
    check_methods({"x": {"kind": "external", "label": "X", "weights": "ckpt", "published": True, "source": "s"}})


def test_schema_documents_exactly_the_registrys_keys():
    schema = yaml.safe_load((REPO / "schemas" / "baselines.schema.yaml").read_text())
    documented = set(schema["additionalProperties"]["properties"])
    options = {key for name in METHOD_KINDS for key in (*METHOD_KINDS.get(name).options, *COMMON_KEYS)}
    assert documented == options


def test_config_check_runs_before_the_rules(tmp_path):
    shutil.copy(REPO / "config.yaml", tmp_path / "config.yaml")
    (tmp_path / "overrides.yaml").write_text(yaml.safe_dump(
        {"methods": {"o": {"kind": "opal", "label": "O", "top_k": 3}}}))
    proc = snakemake(tmp_path, "-n", "all")
    assert proc.returncode != 0 and "methods.o.top_k: not a key of kind opal" in proc.stdout + proc.stderr


def test_common_options_default_to_what_the_schema_says():
    """`on_mismatch` and `scored_images`: the entry's value, else the default that the config
    schema's description names, one of the values it allows."""
    schema = yaml.safe_load((Path(__file__).resolve().parents[1] / "schemas/baselines.schema.yaml").read_text())
    properties = next(v["properties"] for v in _mappings(schema) if "scored_images" in v.get("properties", {}))
    for key, default in COMMON_DEFAULTS.items():
        assert default in properties[key]["enum"] and f"{default} (default" in properties[key]["description"]
        assert common_option({"kind": "tags"}, key) == default
    assert common_option({"scored_images": "described"}, "scored_images") == "described"
    assert common_option({"on_mismatch": "skip"}, "on_mismatch") == "skip"


def _mappings(node):
    """Every mapping in a parsed YAML tree, depth first."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _mappings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _mappings(value)


def test_entry_settings_takes_the_entrys_settings_and_the_classs_defaults():
    """A method entry's `epochs` and `seed` reach its trainer and `top_k` its tag picking; its other
    keys (kind, label, classifier, ...) are not settings, and what the entry leaves out keeps the default."""
    entry = {"kind": "tags", "label": "Baseline", "group": "baseline", "classifier": "ovclassifier",
             "top_k": 5, "epochs": 3, "seed": 7}
    config = entry_settings(TaggerConfig, entry)
    assert (config.epochs, config.seed) == (3, 7)
    assert config == TaggerConfig(epochs=3, seed=7)
    assert entry_settings(TaggerConfig, {"kind": "tags"}) == TaggerConfig()
    assert entry_settings(TagSettings, entry) == TagSettings(top_k=5, threshold=0.3)
    assert entry_settings(TaggerConfig, method_options(entry, "train")) == TaggerConfig(epochs=3, seed=7)
    given = TaggerConfig(epochs=2)
    assert entry_settings(TaggerConfig, given) is given and entry_settings(TaggerConfig, None) == TaggerConfig()


def test_a_folder_dataset_with_a_vocabulary_file_is_scored_by_the_workflow(workdir):
    """`source: folder` takes a dataset the user put in the panoptic format, with its own vocabulary
    as a JSON file: its lexicon is built from that file under the vocabulary's name, and a method's
    descriptions of it are scored; a split that is missing stops the run naming the file."""
    mine = workdir / "data" / "mine" / "val"
    shutil.copytree(workdir / "data" / "demo-city" / "val", mine)
    panoptic = json.loads((mine / "panoptic.json").read_text())
    panoptic["info"]["vocabulary"] = "mine"
    (mine / "panoptic.json").write_text(json.dumps(panoptic))
    (workdir / "vocab").mkdir()
    (workdir / "vocab" / "mine.json").write_text(json.dumps({"categories": panoptic["categories"]}))
    outputs = workdir / "work" / "demo" / "downloads" / "paper" / "outputs" / "somenet"
    shutil.copytree(outputs / "demo-city", outputs / "mine")
    overrides = yaml.safe_load((workdir / "overrides.yaml").read_text())
    overrides["datasets"] = {"mine": {"source": "folder", "vocabulary": "vocab/mine.json"}}
    overrides["evaluation_datasets"], overrides["training_datasets"] = ["mine"], []
    overrides["figures"] = {"fig2": {"vocabulary": "vocab/mine.json"}}
    (workdir / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    # the jobs that read the file have it as an input, beside the lexicon built from it
    proc = snakemake(workdir, "-n", "results/figures/fig2.pdf")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert re.search(r"rule fig2:\n\s+input: [^\n]*vocab/mine\.json", proc.stdout), proc.stdout[-3000:]
    target = "work/demo/evaluations/pub/mine/main.lexical.json"
    proc = snakemake(workdir, target)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads((workdir / "work/demo/lexicons/mine.json").read_text())["vocabulary"] == "mine"
    results = json.loads((workdir / target).read_text())
    assert results["regions"]["total"] == sum(len(a["segments_info"]) for a in panoptic["annotations"])
    assert set(results["lac"]) == {"PQ", "mIoU", "AP"}
    # a split of another vocabulary stops the run before anything is described
    (mine / "panoptic.json").write_text(json.dumps({**panoptic, "info": {"vocabulary": "theirs"}}))
    proc = snakemake(workdir, "-n", target)
    assert proc.returncode != 0
    assert ("data/mine/val/panoptic.json: datasets.mine.vocabulary is 'vocab/mine.json', named 'mine', but the "
            "split is of vocabulary 'theirs'") in proc.stderr + proc.stdout
    renamed = [{**c, "name": "automobile"} if c["id"] == 13 else c for c in panoptic["categories"]]
    (mine / "panoptic.json").write_text(json.dumps({**panoptic, "categories": renamed}))
    proc = snakemake(workdir, "-n", target)
    assert proc.returncode != 0
    assert ("whose categories differ from the split's: first the split's (13, 'automobile', True) against the "
            "vocabulary's (13, 'car', True)") in proc.stderr + proc.stdout
    shutil.rmtree(mine)
    (workdir / target).unlink()
    missing = ("data/mine/val/panoptic.json: missing; it is split val of dataset mine (datasets.mine.source: "
               "folder) in the panoptic format, provided by you")
    proc = snakemake(workdir, "-n", target)  # a dry run names it already
    assert proc.returncode == 0 and missing in proc.stdout, proc.stdout[-3000:]
    proc = snakemake(workdir, target)
    assert proc.returncode != 0
    assert missing in proc.stderr + proc.stdout


def test_a_method_scored_on_the_images_it_describes(workdir):
    """`scored_images: described` in a method's entry reaches its evaluations: a published file that
    describes part of the split is scored on those images, not with the others as background."""
    published = workdir / "work/demo/downloads/paper/outputs/somenet/demo-city/descriptions.json"
    entries = json.loads(published.read_text())
    published.write_text(json.dumps(entries[1:]))
    overrides = yaml.safe_load((workdir / "overrides.yaml").read_text())
    overrides["methods"]["pub"]["scored_images"] = "described"
    (workdir / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    target = "work/demo/evaluations/pub/demo-city/main.lexical.json"
    proc = snakemake(workdir, target)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((workdir / target).read_text())
    assert results["images"] == {"total": len(entries), "scored": len(entries) - 1, "policy": "described"}
    assert results["regions"]["missing"] == 0


def test_a_semantic_folder_added_to_a_folder_dataset_rescores_it(workdir):
    """A folder dataset's val split may carry semantic/ PNGs (the mIoU ground truth): adding them
    later reruns the dataset's evaluations, which then score mIoU against them."""
    overrides = yaml.safe_load((workdir / "overrides.yaml").read_text())
    overrides["datasets"] = {"demo-city": {"source": "folder", "vocabulary": "demo-city"}}
    (workdir / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    target = "work/demo/evaluations/pub/demo-city/main.lexical.json"
    proc = snakemake(workdir, target)
    assert proc.returncode == 0, proc.stderr[-3000:]
    before = json.loads((workdir / target).read_text())
    val = workdir / "data" / "demo-city" / "val"
    panoptic = json.loads((val / "panoptic.json").read_text())
    for annotation in panoptic["annotations"]:  # every pixel void: no category has ground truth
        shape = read_segment_ids(val / "panoptic" / annotation["file_name"]).shape
        write_semantic_ids(val / "semantic" / annotation["file_name"], np.full(shape, SEMANTIC_VOID, np.uint8))
    proc = snakemake(workdir, "-n", target)
    assert proc.returncode == 0 and re.search(r"rule evaluate:\n\s+input: [^\n]*data/demo-city/val/semantic",
                                              proc.stdout), proc.stdout[-3000:]
    proc = snakemake(workdir, target)
    assert proc.returncode == 0, proc.stderr[-3000:]
    after = json.loads((workdir / target).read_text())
    assert before["lac"]["mIoU"] == 0.0 and after["lac"]["mIoU"] is None  # no category has ground truth


def test_vocabulary_files_are_named_by_their_stem_and_may_not_share_a_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("vocab/mine.json", "other/mine.json", "vocab/mine.v2.json", "mine/cityscapes.json"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("[]")
    config = {"datasets": {"a": {"vocabulary": "cityscapes"}, "b": {"vocabulary": "vocab/mine.json"},
                           "c": {"vocabulary": "./vocab/mine.json"}}}
    assert vocabulary_files(config) == {"mine": "vocab/mine.json"}  # one file, however it is spelt
    assert vocabulary_name("vocab/mine.json") == "mine" and vocabulary_name("cityscapes") == "cityscapes"
    for spec, message in [
        ("other/mine.json", r"datasets.c.vocabulary: 'other/mine.json' and datasets.b.vocabulary: "
                            r"'vocab/mine.json' are two vocabulary files named 'mine'"),
        ("mine/cityscapes.json", "named like the built-in vocabulary 'cityscapes'"),
        ("vocab/mine.v2.json", r"datasets.c.vocabulary: the vocabulary file 'vocab/mine.v2.json' is named "
                               r"'mine.v2'; a vocabulary file's stem names its lexicon"),
        ("cityscape", r"datasets.c.vocabulary: 'cityscape' is neither a built-in vocabulary \(ade20k, "
                      r"cityscapes, demo-ade, demo-city\) nor a file"),
    ]:
        config["datasets"]["c"]["vocabulary"] = spec
        with pytest.raises(InputError, match=message):
            vocabulary_files(config)
    config["datasets"]["c"]["vocabulary"] = "mine"  # the file's name, where its path is meant
    with pytest.raises(InputError, match=r"datasets.c.vocabulary: 'mine' is neither a built-in vocabulary .* nor a "
                                         r"file; a vocabulary file is given by its path, as datasets.b.vocabulary: "
                                         r"'vocab/mine.json'"):
        vocabulary_files(config)


def test_a_source_makes_only_its_own_vocabularies():
    """A synthetic dataset draws the scenes of demo-city or demo-ade, a converter writes its own
    categories: any other vocabulary there is a config error naming the key, not a failure deep
    in a job; a vocabulary of one's own goes with `source: folder`."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["datasets"]["demo-city"]["vocabulary"] = "cityscapes"
    with pytest.raises(InputError, match=r"datasets.demo-city.vocabulary: 'cityscapes' is not a vocabulary that "
                                         r"source synthetic makes \(one of: demo-ade, demo-city\)"):
        check_config(config, REPO / "schemas")
    config["datasets"]["demo-city"] = {"source": "folder", "vocabulary": "cityscapes"}
    check_config(config, REPO / "schemas")


def test_a_folder_dataset_is_never_an_output_once_it_exists(workdir):
    """The files of a `source: folder` dataset are the user's: a missing train split stops a run
    that trains on it, naming the file; once present, even --forceall plans no job that would
    remove and remake them."""
    overrides = yaml.safe_load((workdir / "overrides.yaml").read_text())
    overrides["datasets"] = {"demo-city": {"source": "folder", "vocabulary": "demo-city"}}
    overrides["methods"]["tags"] = {"kind": "tags", "label": "B", "classifier": "ovc", "epochs": 1}
    overrides["methods"]["ovc"] = {"kind": "ovclassifier", "label": "O", "epochs": 1}
    overrides["training_datasets"] = ["demo-city"]
    (workdir / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    target = "work/demo/models/tags/tagger.pt"
    proc = snakemake(workdir, target)
    assert proc.returncode != 0
    assert re.search(r"data/demo-city/train/(panoptic\.json|regions\.jsonl): missing; it is split train of dataset "
                     r"demo-city \(datasets\.demo-city\.source: folder\) in the panoptic format",
                     proc.stderr + proc.stdout), (proc.stderr + proc.stdout)[-3000:]
    make_split(workdir / "data" / "demo-city" / "train", 2, seed=5)
    proc = snakemake(workdir, "-n", "--forceall", "work/demo/evaluations/pub/demo-city/main.lexical.json", target)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "user_provided_file" not in proc.stdout and "rule train_tagger" in proc.stdout


def test_an_external_method_without_format_and_output_is_a_config_error():
    """An external method of one's own names its output's format and file in the config; without
    them the run stops at start-up, not when its job has already run the command."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["methods"]["mine"] = {"kind": "external", "label": "M", "command": "true"}
    with pytest.raises(InputError, match=r"methods.mine: an external method not in the registry \(.*\) needs "
                                         r"'format' and 'output'"):
        check_config(config, REPO / "schemas")
    config["methods"]["mine"].update(format="lac", output="descriptions.json")
    check_config(config, REPO / "schemas")
    config["methods"]["shikra"] = {"kind": "external", "label": "S", "command": "true"}  # the registry's
    config["methods"]["ospr"] = {"kind": "external", "label": "O", "weights": "ckpt/osprey-7b"}  # our model code
    check_config(config, REPO / "schemas")


def test_an_external_command_with_an_unknown_placeholder_is_a_config_error():
    """A misspelt placeholder in an external method's command (`{out}` for `{output}`) stops the
    run at start-up (a dry run included), not when its job, maybe queued for hours, renders it."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["methods"]["mine"] = {"kind": "external", "label": "M", "format": "jsonl", "output": "pred.jsonl",
                                 "command": "cp preds/{dataset}.jsonl {out}"}
    with pytest.raises(InputError, match=r"methods.mine.command: unknown placeholder \{out\}"):
        check_config(config, REPO / "schemas")
    config["methods"]["mine"]["command"] = "awk '{print}' preds/{dataset}.jsonl > {output}"
    with pytest.raises(InputError, match=r"methods.mine.command: unknown placeholder \{print\}"):
        check_config(config, REPO / "schemas")
    config["methods"]["mine"]["command"] = "cp preds/{dataset}.jsonl {output}"
    check_config(config, REPO / "schemas")
