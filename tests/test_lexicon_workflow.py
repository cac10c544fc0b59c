"""The nouns and lexicon rules run by Snakemake: tag2text nouns + the openai builder against a local
OpenAI-compatible server (cache kept outside the outputs, reruns ask nothing), and the paper builder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from openai_server import API_KEY
from openai_server import answer_json as _answer

from oeseg.data.vocabularies import get_vocabulary
from oeseg.io import InputError
from oeseg.lexicon import load_lexicon
from oeseg.lexicon.build import build_lexicon_file

REPO = Path(__file__).resolve().parents[1]


def _snakemake(configfile: Path, target: Path, env: dict, *extra: str) -> subprocess.CompletedProcess:
    snakemake = Path(sys.executable).parent / "snakemake"
    return subprocess.run([str(snakemake), "--cores", "1", "--resources", "llm_api=1", *extra,
                           "--configfile", str(configfile), "--", str(target)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_openai_lexicon_rule(server, tmp_path):
    server.scripts.update({"sedan": [(200, _answer(hyponyms=["car"]), {})],
                           "wheel": [(429, "later", {"retry-after": "0"}),
                                     (200, _answer(meronyms=["car", "bicycle"]), {})]})
    out = tmp_path / "out"
    (out / "downloads" / "tags").mkdir(parents=True)
    (out / "downloads" / "tags" / "list.txt").write_text("sedans\nwheel\nsit on\n", encoding="utf-8")
    config = tmp_path / "config.yaml"
    settings = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))  # the demo's
    settings.update({
        "out": str(out), "nouns": {"source": "tag2text", "tag_list": "tags/list.txt"},
        "lexicon": {"builder": "openai", "openai": {
            "base_url": server.base_url, "model": "gpt-test", "api_key_env": "TEST_LLM_KEY",
            "max_retries": 2, "backoff_s": 0.01, "cache_dir": str(tmp_path / "llm-cache")}}})
    config.write_text(yaml.safe_dump(settings))
    env = {**os.environ, "TEST_LLM_KEY": API_KEY,
           "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    target = out / "lexicons" / "demo-city.json"
    run = _snakemake(config, target, env)
    assert run.returncode == 0, run.stderr[-3000:]
    assert (out / "nouns" / "nouns.txt").read_text() == "sedan\nwheel\n"
    lexicon = load_lexicon(target)
    car = next(e for e in lexicon.entries if e.name == "car")
    assert car.hyponym == ["sedan"] and car.meronym == ["wheel"]
    summary = json.loads((out / "lexicons" / "demo-city.openai-summary.json").read_text())
    assert summary["calls"] == 3 and summary["retries"] == 1 and summary["cache_hits"] == 0
    # forced rerun: the cache outside the outputs survives, nothing is asked again
    asked = len(server.requests)
    run = _snakemake(config, target, env, "--forcerun", "lexicon_openai")
    assert run.returncode == 0, run.stderr[-3000:]
    assert len(server.requests) == asked
    assert json.loads((out / "lexicons" / "demo-city.openai-summary.json").read_text())["cache_hits"] == 2
    for path in [*out.rglob("*"), *(tmp_path / "llm-cache").rglob("*")]:
        if path.is_file():
            assert API_KEY not in path.read_text(encoding="utf-8", errors="replace"), path
    assert API_KEY not in run.stderr + run.stdout


def test_paper_builder_converts_the_gpt4_lexicon(shared_data, tmp_path):
    lexicon = build_lexicon_file("paper", "cityscapes", tmp_path / "cityscapes.json",
                                 paper_file=shared_data / "paper" / "output_semantics_gpt4_cityscapes.json")
    again = load_lexicon(tmp_path / "cityscapes.json")
    assert again.to_json() == lexicon.to_json() and again.builder["kind"] == "paper"
    assert [e.id for e in again.entries] == [c.id for c in get_vocabulary("cityscapes")]
    assert "automobile" in next(e for e in again.entries if e.name == "car").synonym
    with pytest.raises(InputError, match="category id 13 is not in the dataset's vocabulary 'demo-ade'"):
        build_lexicon_file("paper", "demo-ade", tmp_path / "x.json",
                           paper_file=shared_data / "paper" / "output_semantics_gpt4_cityscapes.json")
    with pytest.raises(InputError, match=r"unknown lexicon builder 'gpt5' \(known: wordnet, openai, paper\)"):
        build_lexicon_file("gpt5", "cityscapes", tmp_path / "x.json")
    with pytest.raises(InputError, match="lexicon builder paper: no GPT-4 lexicon file for vocabulary cityscapes"):
        build_lexicon_file("paper", "cityscapes", tmp_path / "x.json")


@pytest.mark.slow
def test_wordnet_lexicon_rule_takes_the_senses_of_a_synset_file(tmp_path):
    """lexicon.synsets names a vocabulary's synset file: its categories replace the packaged senses
    (rider as rider.n.01, whose kinds include the horseman), the other categories keep theirs; the
    file is an input of the lexicon job."""
    out = tmp_path / "out"
    (out / "downloads" / "tags").mkdir(parents=True)
    (out / "downloads" / "tags" / "list.txt").write_text("horseman\ncyclist\nsedan\n", encoding="utf-8")
    (tmp_path / "senses.yaml").write_text("categories:\n  rider:\n    synsets: [rider.n.01]\n", encoding="utf-8")
    settings = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))  # the demo's
    settings.update({"out": str(out), "nouns": {"source": "tag2text", "tag_list": "tags/list.txt"},
                     "lexicon": {"builder": "wordnet", "synsets": {"demo-city": str(tmp_path / "senses.yaml")}}})
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(settings))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    target = out / "lexicons" / "demo-city.json"
    run = _snakemake(config, target, env)
    assert run.returncode == 0, run.stderr[-3000:]
    entries = {e.name: e for e in load_lexicon(target).entries}
    assert "horseman" in entries["rider"].hyponym and "sedan" in entries["car"].hyponym
    assert entries["rider"].synonym == [] and load_lexicon(target).builder["synsets"]["rider"] == ["rider.n.01"]
    (tmp_path / "senses.yaml").write_text("categories:\n  riders:\n    synsets: [rider.n.01]\n", encoding="utf-8")
    run = _snakemake(config, target, env, "--forcerun", "lexicon_wordnet")
    assert run.returncode != 0 and "senses.yaml: categories ['riders'] are not category names of vocabulary " \
                                   "'demo-city'" in run.stderr, run.stderr[-3000:]


@pytest.mark.parametrize("synsets, builder, message", [
    ({"nowhere": "senses.yaml"}, "wordnet", r"config: lexicon.synsets.nowhere: no vocabulary of this config is named "
                                            r"'nowhere' \(they are demo-ade, demo-city\)"),
    ({"demo-city": "absent.yaml"}, "wordnet", r"config: lexicon.synsets.demo-city: no such file 'absent.yaml'"),
    ({"demo-city": "senses.yaml"}, "paper", r"config: lexicon.synsets: synset files serve the wordnet builder, "
                                            r"not lexicon.builder 'paper'"),
])
def test_a_synset_file_setting_that_cannot_serve_is_named(tmp_path, monkeypatch, synsets, builder, message):
    from oeseg.workflow import synset_files

    monkeypatch.chdir(tmp_path)
    (tmp_path / "senses.yaml").write_text("categories: {}\n", encoding="utf-8")
    config = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    config["lexicon"] = {"builder": builder, "synsets": synsets}
    with pytest.raises(InputError, match=message):
        synset_files(config)
    config["lexicon"] = {"builder": "wordnet", "synsets": {"demo-city": "senses.yaml"}}
    assert synset_files(config) == {"demo-city": "senses.yaml"}
