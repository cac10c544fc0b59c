"""`oeseg lexicon`: a vocabulary's lexicon from the command line, WordNet offline or an LLM server."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from openai_server import API_KEY
from openai_server import answer_json as _answer

from oeseg import cli
from oeseg.data.vocabularies import get_vocabulary
from oeseg.lexicon.lexicon import load_checked_lexicon

MINE = [{"id": 0, "name": "mug, cup", "isthing": 1}, {"id": 1, "name": "kitchen island", "isthing": 1},
        {"id": 2, "name": "floor", "isthing": 0}]


def test_a_wordnet_lexicon_of_ones_own_vocabulary_serves_the_mapping(tmp_path, capsys):
    """A vocabulary file and a noun list give a lexicon of that vocabulary, the category names added
    to the nouns; `oeseg map` then maps with it."""
    (tmp_path / "mine.json").write_text(json.dumps(MINE), encoding="utf-8")
    (tmp_path / "nouns.txt").write_text("chalice\nhandle\nparquet\n", encoding="utf-8")
    out = tmp_path / "mine.lexicon.json"
    assert cli.main(["lexicon", "--vocabulary", str(tmp_path / "mine.json"), "--nouns", str(tmp_path / "nouns.txt"),
                     "-o", str(out)]) == 0
    assert "lexicon of mine (wordnet, 7 nouns)" in capsys.readouterr().out  # 3 nouns + 4 category names
    lexicon = load_checked_lexicon(out, get_vocabulary(str(tmp_path / "mine.json")))
    cup = next(e for e in lexicon.entries if e.id == 0)
    assert cup.exact == ["mug", "cup"] and "chalice" in cup.hyponym and "handle" in cup.meronym
    (tmp_path / "in.csv").write_text("description\na chalice on the table\n", encoding="utf-8")
    assert cli.main(["map", "--vocabulary", str(tmp_path / "mine.json"), "--method", "lexical", "--lexicon", str(out),
                     str(tmp_path / "in.csv"), "-o", str(tmp_path / "out.csv")]) == 0
    assert (tmp_path / "out.csv").read_text(encoding="utf-8").splitlines()[1] == 'a chalice on the table,"mug, cup"'


@pytest.mark.parametrize("form", ["workflow config", "section alone"])
def test_an_llm_lexicon_from_the_settings_of_a_config(server, tmp_path, monkeypatch, capsys, form):
    """`--builder openai` asks the server named by a workflow config's lexicon.openai (or a file of
    those keys) for every noun, with the key from the environment, and caches the answers."""
    from pathlib import Path

    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    server.scripts["sedan"] = [(200, _answer(hyponyms=["car"]), {})]
    config = yaml.safe_load((Path(__file__).resolve().parents[1] / "config.yaml").read_text(encoding="utf-8"))
    config["lexicon"]["openai"].update(base_url=server.base_url, cache_dir=str(tmp_path / "llm-cache"))
    settings = config if form == "workflow config" else config["lexicon"]["openai"]
    (tmp_path / "settings.yaml").write_text(yaml.safe_dump(settings), encoding="utf-8")
    (tmp_path / "nouns.txt").write_text("sedan\n", encoding="utf-8")
    args = ["lexicon", "--vocabulary", "cityscapes", "--builder", "openai", "--nouns", str(tmp_path / "nouns.txt"),
            "--openai", str(tmp_path / "settings.yaml"), "-o", str(tmp_path / "lex.json")]
    assert cli.main(args) == 0
    assert "INFO asked 20 of 20 nouns (0 given up after their retries) in " in capsys.readouterr().err  # progress
    lexicon = load_checked_lexicon(tmp_path / "lex.json", get_vocabulary("cityscapes"))
    assert next(e for e in lexicon.entries if e.name == "car").hyponym == ["sedan"]
    asked = server.asked("sedan")
    assert asked == 1 and server.auth == {f"Bearer {API_KEY}"}
    assert cli.main(args) == 0 and server.asked("sedan") == asked  # the second run reads the cache
    out = capsys.readouterr().out
    assert f"0 requests, 20 answers from the cache {tmp_path / 'llm-cache'}" in out and API_KEY not in out


@pytest.mark.parametrize("args, settings, message", [
    (["--builder", "openai"], None, "--builder openai needs --nouns"),
    (["--openai", "SETTINGS"], {"model": "x"}, "--openai goes with --builder openai"),
    (["--builder", "openai", "--nouns", "NOUNS", "--openai", "SETTINGS"], {"lexicon": {"builder": "wordnet"}},
     "settings.yaml: lexicon.openai: not a mapping"),
    (["--builder", "openai", "--nouns", "NOUNS", "--openai", "SETTINGS"], ["base_url"],
     "settings.yaml: not a mapping of the openai builder's settings"),
    (["--builder", "openai", "--nouns", "NOUNS", "--openai", "SETTINGS"],
     {"base_url": "http://127.0.0.1:9/v1", "model": "m", "max_retries": "3", "cache_dir": "c"},
     "settings.yaml: lexicon.openai.max_retries: '3' is not an integer"),
    (["--builder", "openai", "--nouns", "NOUNS", "--openai", "SETTINGS"],
     {"lexicon": {"openai": {"base_url": "http://127.0.0.1:9/v1", "model": "m", "tempreature": 0}}},
     "settings.yaml: lexicon.openai: unknown keys ['tempreature']"),
    (["--builder", "openai", "--nouns", "NOUNS", "--openai", "SETTINGS"],
     {"base_url": "http://127.0.0.1:9/v1", "model": "m"}, "settings.yaml: lexicon.openai.cache_dir: missing"),
    (["--builder", "openai", "--nouns", "NOUNS", "--openai", "SETTINGS"],
     {"base_url": "http://127.0.0.1:9/v1", "model": "m", "cache_dir": " "},
     "settings.yaml: lexicon.openai.cache_dir: ' ' is not a folder name"),
])
def test_options_that_do_not_go_together_are_errors(tmp_path, capsys, args, settings, message):
    (tmp_path / "settings.yaml").write_text(yaml.safe_dump(settings), encoding="utf-8")
    (tmp_path / "nouns.txt").write_text("sedan\n", encoding="utf-8")
    args = [{"SETTINGS": str(tmp_path / "settings.yaml"), "NOUNS": str(tmp_path / "nouns.txt")}.get(a, a) for a in args]
    assert cli.main(["lexicon", "--vocabulary", "cityscapes", *args, "-o", str(tmp_path / "lex.json")]) == 2
    assert message in capsys.readouterr().err and not (tmp_path / "lex.json").exists()


def test_a_build_the_server_stops_exits_1_in_one_line(server, tmp_path, monkeypatch, capsys):
    """A server that refuses the key stops the build: exit 1 with the LLMError's message on one line
    (the last, after the build's log lines), no traceback, no lexicon written."""
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    server.scripts["sedan"] = [(401, json.dumps({"error": {"message": "Invalid key.", "type": "invalid_request_error",
                                                           "code": "invalid_api_key"}}).encode(), {})]
    settings = {"base_url": server.base_url, "model": "m", "cache_dir": str(tmp_path / "llm-cache")}
    (tmp_path / "settings.yaml").write_text(yaml.safe_dump(settings), encoding="utf-8")
    (tmp_path / "nouns.txt").write_text("sedan\n", encoding="utf-8")
    assert cli.main(["lexicon", "--vocabulary", "cityscapes", "--builder", "openai", "--nouns",
                     str(tmp_path / "nouns.txt"), "--openai", str(tmp_path / "settings.yaml"),
                     "-o", str(tmp_path / "lex.json")]) == 1
    err = capsys.readouterr().err
    assert err.splitlines()[-1].startswith("oeseg lexicon: error: HTTP 401 AuthenticationError")
    assert "Traceback" not in err and API_KEY not in err
    assert not (tmp_path / "lex.json").exists()


def test_a_noun_list_of_tag_lists_as_the_paper_config_makes_it_serves_the_lexicon(tmp_path, capsys):
    """`oeseg nouns` of two tag lists, every tag, a vocabulary's names appended: the list rule nouns
    makes of the same settings (make_noun_list), which `oeseg lexicon --nouns` then relates."""
    from oeseg.lexicon.nouns import make_noun_list, read_nouns

    first, second = tmp_path / "tag2text.txt", tmp_path / "ram.txt"
    first.write_text("Cars\nsit on\nchalice\n", encoding="utf-8")
    second.write_text("car\nmountain biker\ncloudy\n", encoding="utf-8")
    (tmp_path / "mine.json").write_text(json.dumps(MINE), encoding="utf-8")
    out = tmp_path / "nouns.txt"
    argv = ["nouns", "--tags", str(first), str(second), "--every-tag", "--vocabulary", str(tmp_path / "mine.json"),
            "-o", str(out)]
    assert cli.main(argv) == 0
    want = ["car", "sit on", "chalice", "mountain biker", "cloudy", "mug", "cup", "kitchen island", "floor"]
    assert read_nouns(out) == want and f"9 nouns -> {out}" in capsys.readouterr().out
    assert want == make_noun_list("tag2text", [first, second], vocabularies=[str(tmp_path / "mine.json")],
                                  only_nouns=False)
    assert cli.main(["nouns", "--tags", str(first), str(second), "-o", str(out)]) == 0
    assert read_nouns(out) == ["car", "chalice", "mountain biker"]
    assert cli.main(["lexicon", "--vocabulary", str(tmp_path / "mine.json"), "--nouns", str(out),
                     "-o", str(tmp_path / "lex.json")]) == 0
    cup = next(e for e in load_checked_lexicon(tmp_path / "lex.json", get_vocabulary(str(tmp_path / "mine.json"))).entries
               if e.id == 0)
    assert "chalice" in cup.hyponym


def test_a_noun_list_of_wordnet(tmp_path):
    out = tmp_path / "nouns.txt"
    assert cli.main(["nouns", "--wordnet", "3", "--vocabulary", "cityscapes", "-o", str(out)]) == 0
    nouns = out.read_text(encoding="utf-8").splitlines()
    assert len(nouns) > 4867 and nouns[-1] in {n for c in get_vocabulary("cityscapes") for n in c.names}


@pytest.mark.parametrize("args, message", [
    (["--tags", "{tmp}/missing.txt"], "{tmp}/missing.txt: "),
    (["--wordnet", "3", "--every-tag"], "--every-tag goes with --tags"),
    (["--wordnet", "-1"], "--wordnet: -1 is not a count"),
    (["--tags", "{tmp}/tags.txt", "--vocabulary", "nowhere"], "nowhere"),
])
def test_bad_noun_list_options_exit_2_naming_the_cause(tmp_path, capsys, args, message):
    (tmp_path / "tags.txt").write_text("car\n", encoding="utf-8")
    out = tmp_path / "nouns.txt"
    assert cli.main(["nouns", *[a.format(tmp=tmp_path) for a in args], "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("oeseg nouns: error: ") and message.format(tmp=tmp_path) in err and not out.exists()


def test_a_noun_list_written_over_one_of_its_tag_lists_is_refused(tmp_path, capsys):
    tags = tmp_path / "tags.txt"
    tags.write_text("car\nbus\n", encoding="utf-8")
    other = tmp_path / "other.txt"
    other.write_text("tree\n", encoding="utf-8")
    assert cli.main(["nouns", "--tags", str(other), str(tags), "-o", str(tags)]) == 2
    assert "the output is also the input given as --tags" in capsys.readouterr().err
    assert tags.read_text(encoding="utf-8") == "car\nbus\n"


def test_oeseg_map_without_a_lexicon_warns_of_the_guessed_senses_with_time_and_level(tmp_path, capsys,
                                                                                    monkeypatch):
    """`oeseg map` builds WordNet's lexicon when given none: the builder's warning is a log line of
    the command, as `oeseg lexicon` writes it, not a bare message."""
    street = [{"id": 0, "name": "rider", "isthing": 1}, {"id": 1, "name": "road", "isthing": 0}]
    (tmp_path / "street.json").write_text(json.dumps(street), encoding="utf-8")
    (tmp_path / "in.csv").write_text("description\na horseman\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # no workflow config here: the offline default is built
    assert cli.main(["map", "--vocabulary", "street.json", "--method", "lexical", "in.csv", "-o", "out.csv"]) == 0
    warning = [line for line in capsys.readouterr().err.splitlines() if "most frequent WordNet noun sense" in line]
    assert len(warning) == 1 and re.match(r"\d\d:\d\d:\d\d WARNING vocabulary street: 2 categories take", warning[0])
    assert (tmp_path / "out.csv").read_text().splitlines()[1] == "a horseman,rider"


def test_a_synset_file_writes_down_the_senses_of_ones_own_categories(tmp_path, capsys):
    """Without written senses each name takes its most frequent WordNet sense (rider.n.01, a horseman)
    and a name WordNet lacks ("traffic sign") gets no relations: a warning names both; `--synsets`
    writes down the dataset's senses, and a key naming no category is an error naming the file."""
    street = [{"id": 0, "name": "rider", "isthing": 1}, {"id": 1, "name": "traffic sign", "isthing": 1},
              {"id": 2, "name": "road", "isthing": 0}]
    (tmp_path / "street.json").write_text(json.dumps(street), encoding="utf-8")
    (tmp_path / "nouns.txt").write_text("horseman\ncyclist\nstreet sign\n", encoding="utf-8")
    base = ["lexicon", "--vocabulary", str(tmp_path / "street.json"), "--nouns", str(tmp_path / "nouns.txt")]

    def entries(path):
        lexicon = load_checked_lexicon(path, get_vocabulary(str(tmp_path / "street.json")))
        return {e.name: e for e in lexicon.entries}

    assert cli.main([*base, "-o", str(tmp_path / "guessed.json")]) == 0
    err = capsys.readouterr().err
    assert ("WARNING vocabulary street: 3 categories take each name's most frequent WordNet noun sense, which may not "
            "be the dataset's: 'rider': rider.n.01; 'traffic sign': none (no noun sense of 'traffic sign'); "
            "'road': road.n.01; write the right senses in a synset file") in err, err
    guessed = entries(tmp_path / "guessed.json")
    assert "horseman" in guessed["rider"].hyponym and guessed["traffic sign"].synonym == []
    (tmp_path / "street.yaml").write_text("categories:\n  rider:\n    synsets: [rider.n.03]\n    hyponyms: "
                                          "[cyclist.n.01]\n  traffic sign:\n    synsets: [street_sign.n.01]\n")
    assert cli.main([*base, "--synsets", str(tmp_path / "street.yaml"), "-o", str(tmp_path / "written.json")]) == 0
    err = capsys.readouterr().err
    assert "1 category takes each name's most frequent WordNet noun sense, which may not be the dataset's: " \
           "'road': road.n.01; write" in err, err
    written = entries(tmp_path / "written.json")
    assert "cyclist" in written["rider"].hyponym and "horseman" not in written["rider"].hyponym
    assert "street sign" in written["traffic sign"].synonym
    (tmp_path / "typo.yaml").write_text("categories:\n  riders:\n    synsets: [rider.n.03]\n")
    assert cli.main([*base, "--synsets", str(tmp_path / "typo.yaml"), "-o", str(tmp_path / "x.json")]) == 2
    assert (f"{tmp_path / 'typo.yaml'}: categories ['riders'] are not category names of vocabulary 'street'"
            in capsys.readouterr().err)
    assert cli.main([*base, "--builder", "openai", "--openai", str(tmp_path / "street.yaml"), "--synsets",
                     str(tmp_path / "street.yaml"), "-o", str(tmp_path / "x.json")]) == 2
    assert "--synsets goes with --builder wordnet" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()
