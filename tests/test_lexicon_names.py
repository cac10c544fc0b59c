"""One normalisation of category names (oeseg.data.vocabularies.name_terms) serves every path that
lists or compares them: Category.names, the WordNet and LLM builders' exact terms, the lexicon
reader (ours and the paper's format) and the lookups by name; and the registries of lexicon
builders and mapping methods name the registered ones for an unknown name."""

from __future__ import annotations

import json

import pytest

from oeseg.data.vocabularies import Vocabulary, name_terms, normalize_term
from oeseg.io import InputError
from oeseg.lexicon.build import LEXICON_BUILDERS, build_lexicon, build_lexicon_file, noun_builders
from oeseg.lexicon.lexicon import load_lexicon
from oeseg.mapping import MAPPING_METHODS, map_regions

NAME = "Traffic  Light, street_lamp"
EXACT = ["traffic light", "street lamp"]


def _vocabulary() -> Vocabulary:
    return Vocabulary.from_json("mine", [{"id": 0, "name": NAME, "isthing": 1},
                                         {"id": 1, "name": "road", "isthing": 0}])


def test_a_name_of_double_spaces_and_underscores_gives_the_same_exact_terms_on_every_path(tmp_path, server,
                                                                                           monkeypatch):
    from oeseg.lexicon.llm import LLMConfig, build_llm_lexicon
    from oeseg.lexicon.wordnet import build_wordnet_lexicon

    vocabulary = _vocabulary()
    category = vocabulary.by_id(0)
    assert name_terms(NAME) == [normalize_term(n) for n in NAME.split(",")] == EXACT
    assert category.names == EXACT and category.display_name == "traffic light"
    assert next(e for e in build_wordnet_lexicon(vocabulary, ["road"]).entries if e.id == 0).exact == EXACT
    monkeypatch.setenv("TEST_LLM_KEY", "sk-test")
    config = LLMConfig(base_url=server.base_url, model="gpt-test", api_key_env="TEST_LLM_KEY", backoff_s=0.01)
    llm, _ = build_llm_lexicon(vocabulary, ["road"], config, tmp_path / "cache")
    assert next(e for e in llm.entries if e.id == 0).exact == EXACT
    # a lexicon without `exact` reads the names; one whose `exact` lacks them gains them
    ours = tmp_path / "ours.json"
    ours.write_text(json.dumps({"vocabulary": "mine", "categories": [
        {"id": 0, "name": NAME}, {"id": 1, "name": "road", "exact": ["Road"]}]}))
    assert load_lexicon(ours).entries[0].exact == EXACT
    paper = tmp_path / "paper.json"
    paper.write_text(json.dumps({NAME: {"id": 0, "exact": ["traffic_light"]}, "road": {"id": 1}}))
    assert sorted(load_lexicon(paper, vocabulary).entries[0].exact) == sorted(EXACT)  # order: the test below
    # the lookups by name compare the same normalised names
    for name in ("street_lamp", "Street  Lamp", "street lamp", "traffic_light", NAME):
        assert vocabulary.by_name(name) == category


def test_the_paper_reader_puts_the_missing_names_first_in_the_order_it_always_did(tmp_path):
    """The names a GPT-4 entry's `exact` lacks are put in front one by one (so in reverse order):
    the converted lexicon file keeps the order it always had."""
    paper = tmp_path / "paper.json"
    paper.write_text(json.dumps({NAME: {"id": 0, "exact": ["signal"]}, "road": {"id": 1}}))
    assert load_lexicon(paper).entries[0].exact == ["street lamp", "traffic light", "signal"]


@pytest.mark.parametrize("name", ["_", "car, _", "car,  __ ,auto"])
def test_a_name_of_underscores_only_is_an_empty_name(name):
    with pytest.raises(InputError, match=r"mine.json: categories\[0\]: category 0's name .* has an empty name "):
        Vocabulary.from_json("mine", [{"id": 0, "name": name, "isthing": 1}], "mine.json")


def test_the_registries_reject_an_unknown_name_listing_the_registered_ones(tmp_path):
    builders = ", ".join(LEXICON_BUILDERS.names())
    assert builders == "wordnet, openai, paper" and noun_builders() == ["wordnet", "openai"]
    with pytest.raises(InputError, match=rf"^unknown lexicon builder 'gpt5' \(known: {builders}\)$"):
        build_lexicon_file("gpt5", "cityscapes", tmp_path / "x.json")
    with pytest.raises(InputError, match=rf"^unknown lexicon builder 'gpt5' \(known: {builders}\)$"):
        build_lexicon("gpt5", _vocabulary(), ["road"])
    with pytest.raises(InputError, match=r"^lexicon builder paper converts a file and relates no noun list "
                                         r"\(the builders that do: wordnet, openai\)$"):
        build_lexicon("paper", _vocabulary(), ["road"])
    assert MAPPING_METHODS.names() == ["lexical", "sbert"]
    with pytest.raises(InputError, match=r"^unknown mapping method 'clip' \(known: lexical, sbert\)$"):
        map_regions(["a road"], None, _vocabulary(), "clip")


def test_the_schema_the_cli_and_the_rules_offer_exactly_the_registered_builders():
    import argparse
    from pathlib import Path

    import yaml

    from oeseg.lexicon.command import add_arguments

    root = Path(__file__).resolve().parents[1]
    schema = yaml.safe_load((root / "schemas" / "lexicon.schema.yaml").read_text())
    assert schema["properties"]["builder"]["enum"] == LEXICON_BUILDERS.names()
    rules = (root / "rules" / "lexicon.smk").read_text()
    assert all(f"rule lexicon_{name}:" in rules for name in LEXICON_BUILDERS)
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    builder = next(a for a in parser._actions if a.dest == "builder")
    assert builder.choices == noun_builders() and builder.default in noun_builders()
