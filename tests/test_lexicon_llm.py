"""The LLM lexicon builder against a local OpenAI-compatible server started by the test."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from openai_server import API_KEY
from openai_server import answer_json as _answer

from oeseg.data.vocabularies import get_vocabulary
from oeseg.io import InputError
from oeseg.lexicon.lexicon import LEVELS
from oeseg.lexicon.llm import (USER_PROMPT, AnswerCache, LLMConfig, LLMError, build_llm_lexicon,
                               parse_answer, prompt_sha256, system_prompt)

VOCAB = get_vocabulary("cityscapes")


@pytest.fixture
def config(server, monkeypatch):
    monkeypatch.setenv("TEST_LLM_KEY", API_KEY)
    return LLMConfig(base_url=server.base_url, model="gpt-test", api_key_env="TEST_LLM_KEY",
                     max_concurrency=3, requests_per_minute=6000, max_retries=3, backoff_s=0.01,
                     max_malformed_share=0.5)


def _script(server):
    server.scripts.update({
        "sedan": [(200, _answer(hyponyms=["car"]), {})],
        "wheel": [(200, "```json\n" + _answer(meronyms=["car", "bicycle", "spaceship"]) + "\n```", {})],
        "automobile": [(429, "slow down", {"retry-after": "0"}), (200, _answer(synonyms=["car"]), {})],
        "pavement": [(500, "oops", {}), (503, "busy", {}), (200, _answer(synonyms=["sidewalk"]), {})],
        "banana": [(200, "I think it is a fruit.", {})],
        "tree": [(200, json.dumps({"synonyms": ["vegetation"]}), {})],  # keys left out: empty lists
    })


NOUNS = ["sedan", "wheel", "automobile", "pavement", "banana", "tree"]


def test_lexicon_counts_retries_and_cache(server, config, tmp_path, caplog):
    _script(server)
    caplog.set_level(logging.DEBUG)
    lexicon, summary = build_llm_lexicon(VOCAB, NOUNS, config, tmp_path / "cache")
    car = next(e for e in lexicon.entries if e.name == "car")
    assert car.hyponym == ["sedan"] and car.synonym == ["automobile"] and car.meronym == ["wheel"]
    assert next(e for e in lexicon.entries if e.name == "bicycle").meronym == ["wheel"]
    assert next(e for e in lexicon.entries if e.name == "sidewalk").synonym == ["pavement"]
    assert next(e for e in lexicon.entries if e.name == "vegetation").synonym == ["tree"]
    assert summary.calls == 6 + 1 + 2 and summary.retries == 3 and summary.cache_hits == 0
    assert summary.dropped_answers == 1 and summary.malformed_nouns == ["banana"]
    assert summary.dropped_categories == 1  # spaceship
    assert "1 of 6 answer(s) malformed (not a JSON object of lists under synonyms, hyponyms, meronyms) and " \
           "dropped: 'banana'" in caplog.text
    assert summary.prompt_tokens == 600 and summary.completion_tokens == 60
    assert server.asked("automobile") == 2 and server.asked("pavement") == 3
    assert server.auth == {f"Bearer {API_KEY}"}
    request = server.requests[0]["body"]
    assert request["temperature"] == 0 and request["model"] == "gpt-test"
    assert request["messages"][0] == {"role": "system", "content": system_prompt(VOCAB)}
    assert '["road", "sidewalk", "building"' in request["messages"][0]["content"]
    assert lexicon.builder["prompt_sha256"] == prompt_sha256(VOCAB) and lexicon.builder["kind"] == "openai"
    # a second build asks nothing: every answer, malformed ones included, comes from the cache;
    # its summary still reports the whole build's calls and tokens
    before = len(server.requests)
    again, summary2 = build_llm_lexicon(VOCAB, NOUNS, config, tmp_path / "cache")
    assert len(server.requests) == before and summary2.cache_hits == 6 and summary2.run_calls == 0
    assert (summary2.calls, summary2.retries, summary2.prompt_tokens) == (9, 3, 600)
    assert again.to_json() == lexicon.to_json()
    # the key appears in no file and no log line
    lexicon.save(tmp_path / "lexicon.json")
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert API_KEY not in path.read_text(encoding="utf-8")
    assert API_KEY not in caplog.text


def test_resume_after_interruption(server, config, tmp_path, caplog):
    _script(server)
    server.scripts["pavement"] = [(500, "down", {})]  # fails every time
    with pytest.raises(LLMError, match="pavement"), caplog.at_level(logging.INFO, logger="oeseg.lexicon.llm"):
        build_llm_lexicon(VOCAB, NOUNS, config, tmp_path / "cache")
    assert "asked 6 of 6 nouns (1 given up after their retries) in " in caplog.text  # the progress line
    assert server.asked("pavement") == config.max_retries + 1
    server.scripts["pavement"] = [(200, _answer(synonyms=["sidewalk"]), {})]
    server.requests.clear()
    lexicon, summary = build_llm_lexicon(VOCAB, NOUNS, config, tmp_path / "cache")
    assert [r["noun"] for r in server.requests] == ["pavement"]  # only the missing noun is asked
    assert summary.cache_hits == 5 and summary.run_calls == 1
    # the whole build: 6 first calls, automobile's retry, pavement's 3 retries and its rerun call
    assert summary.calls == 6 + 1 + config.max_retries + 1 and summary.prompt_tokens == 600
    assert next(e for e in lexicon.entries if e.name == "sidewalk").synonym == ["pavement"]


def test_a_cache_file_that_is_no_answer_record_of_its_noun_is_named(server, config, tmp_path):
    """A cache file of another noun, or without an answer (hand-edited, half-copied), stops the
    build naming it, before it is used for the noun or asked again unseen."""
    _script(server)
    build_llm_lexicon(VOCAB, NOUNS, config, tmp_path / "cache")
    cache = AnswerCache(tmp_path / "cache", config.model, prompt_sha256(VOCAB), config.temperature)
    for record in ({"noun": "pavement", "content": "{}"}, {"noun": "sedan"}, ["sedan"]):
        cache.put("sedan", record)
        with pytest.raises(InputError, match=r"\.json: not an answer record for 'sedan' \(remove it to ask again\)"):
            build_llm_lexicon(VOCAB, NOUNS, config, tmp_path / "cache")
    answer = cache.get("pavement")
    for counts in ({"calls": "x"}, {"usage": None}, {"usage": {"prompt_tokens": 1.5}}):
        cache.put("sedan", {**answer, "noun": "sedan", **counts})
        with pytest.raises(InputError, match=r"\.json: the cached answer of 'sedan' counts its calls or tokens with "
                                             r"other than integers"):
            build_llm_lexicon(VOCAB, NOUNS, config, tmp_path / "cache")


def test_cache_is_per_model_and_prompt(server, config, tmp_path):
    server.scripts["sedan"] = [(200, _answer(hyponyms=["car"]), {})]
    build_llm_lexicon(VOCAB, ["sedan"], config, tmp_path)
    other = LLMConfig(**{**config.__dict__, "model": "other-model"})
    build_llm_lexicon(VOCAB, ["sedan"], other, tmp_path)
    build_llm_lexicon(get_vocabulary("demo-ade"), ["sedan"], config, tmp_path)
    assert server.asked("sedan") == 3


def test_missing_key_and_bad_status(server, config, tmp_path, monkeypatch):
    monkeypatch.delenv("TEST_LLM_KEY")
    with pytest.raises(Exception, match="TEST_LLM_KEY is not set"):
        build_llm_lexicon(VOCAB, ["sedan"], config, tmp_path / "cache")
    assert not (tmp_path / "cache").exists()  # refused before the cache's folders are made
    monkeypatch.setenv("TEST_LLM_KEY", API_KEY)
    server.scripts["sedan"] = [(401, "bad key", {})]
    with pytest.raises(LLMError):
        build_llm_lexicon(VOCAB, ["sedan"], config, tmp_path)
    assert server.asked("sedan") == 1  # a client error is not retried


def test_build_lexicon_file_takes_the_config_section_as_it_is(server, config, tmp_path, monkeypatch):
    """The README's library call: openai= the section lexicon.openai of config.yaml, cache_dir inside."""
    from pathlib import Path

    import yaml

    from oeseg.lexicon.build import build_lexicon_file

    server.scripts["sedan"] = [(200, _answer(hyponyms=["car"]), {})]
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    root = Path(__file__).resolve().parents[1]
    section = yaml.safe_load((root / "config.yaml").read_text(encoding="utf-8"))["lexicon"]["openai"]
    section.update(base_url=server.base_url, cache_dir=str(tmp_path / "llm-cache"))
    assert set(section) >= {"base_url", "model", "api_key_env", "cache_dir"}
    (tmp_path / "nouns.txt").write_text("sedan\n", encoding="utf-8")
    lexicon = build_lexicon_file("openai", "cityscapes", tmp_path / "lexicon.json",
                                 nouns=tmp_path / "nouns.txt", openai=section, summary=tmp_path / "summary.json")
    assert next(e for e in lexicon.entries if e.name == "car").hyponym == ["sedan"]
    assert list((tmp_path / "llm-cache").rglob("*.json")) and server.asked("sedan") == 1
    # the workflow's call (cache_dir apart) still works; two different folders are an error
    build_lexicon_file("openai", "cityscapes", tmp_path / "again.json", nouns=tmp_path / "nouns.txt",
                       openai={k: v for k, v in section.items() if k != "cache_dir"}, cache_dir=tmp_path / "llm-cache")
    assert server.asked("sedan") == 1
    with pytest.raises(InputError, match="two cache folders"):
        build_lexicon_file("openai", "cityscapes", tmp_path / "x.json", nouns=tmp_path / "nouns.txt",
                           openai=section, cache_dir=tmp_path / "other")


@pytest.mark.parametrize("key, value, message", [
    ("requests_per_minute", 0, "requests_per_minute: 0 is not above 0"),
    ("max_concurrency", 0, "max_concurrency: 0 is not at least 1"),
    ("max_concurrency", 2.5, "max_concurrency: 2.5 is not an integer"),
    ("max_retries", True, "max_retries: True is not an integer"),
    ("timeout_s", "60", "timeout_s: '60' is not a number"),
    ("temperature", -0.5, "temperature: -0.5 is not at least 0"),
    ("max_malformed_share", 1.5, "max_malformed_share: 1.5 is not at least 0 and at most 1"),
    ("backoff_s", float("nan"), "backoff_s: nan is not at least 0"),
    ("model", 4, "model: 4 is not a string"),
])
def test_llm_config_from_dict_checks_ranges(key, value, message):
    with pytest.raises(InputError, match=f"^lexicon.openai.{message}$"):
        LLMConfig.from_dict({"base_url": "http://127.0.0.1:1/v1", "model": "m", key: value})
    assert LLMConfig.from_dict({"base_url": "http://127.0.0.1:1/v1", "model": "m", "requests_per_minute": 1, "max_concurrency": 1,
                                "temperature": 0, "max_malformed_share": 1}).requests_per_minute == 1


def test_llm_config_checks_the_bounds_the_schema_states():
    """LLMConfig checks a section given outside the workflow (`build_lexicon_file`) by the bounds that
    schemas/lexicon.schema.yaml states for the workflow's config: the same keys, types and bounds."""
    import yaml

    from oeseg.lexicon.llm import _RANGES, _TEXT_SETTINGS

    schema = yaml.safe_load((Path(__file__).resolve().parents[1] / "schemas" / "lexicon.schema.yaml").read_text())
    properties = {k: v for k, v in schema["properties"]["openai"]["properties"].items() if k != "cache_dir"}
    assert set(properties) == set(LLMConfig.__dataclass_fields__) == {*_TEXT_SETTINGS, *_RANGES}
    assert all(properties[key]["type"] == "string" for key in _TEXT_SETTINGS)
    stated = {key: (prop["type"] == "integer", prop.get("exclusiveMinimum", prop.get("minimum")),
                    "exclusiveMinimum" in prop, prop.get("maximum")) for key, prop in properties.items()
              if key in _RANGES}
    assert stated == _RANGES


def test_parse_answer_validation():
    assert parse_answer(_answer(synonyms=["Car", "car"], hyponyms=["building, edifice"]), VOCAB) == (
        {"synonym": [13], "hyponym": [], "meronym": []}, ["building, edifice"], [])
    assert parse_answer("[1, 2]", VOCAB) == (None, [], [])
    assert parse_answer('{"synonyms": "car", "hyponyms": [], "meronyms": []}', VOCAB) == (None, [], [])
    assert parse_answer('{"synonyms": ["car"]}', VOCAB) == ({"synonym": [13], "hyponym": [], "meronym": []}, [], [])
    # one of the three keys spelt otherwise would lose its relations unseen: the answer is malformed
    assert parse_answer('{"synonyms": [], "hyponyms": [], "Meronyms": ["car"]}', VOCAB) == (None, [], [])
    # a key given twice: which of its values would be meant? malformed
    assert parse_answer('{"synonyms": ["car"], "synonyms": []}', VOCAB) == (None, [], [])
    # the three keys misspelt or the answer wrapped under another key: every level would be lost
    # unseen: malformed
    for answer in ('{"synonym": ["car"], "hyponym": ["truck"], "meronym": []}', '{"answer": {"synonyms": ["car"]}}',
                   '{" Synonyms ": ["car"]}', '{"meronym": []}'):
        assert parse_answer(answer, VOCAB) == (None, [], []), answer
    # no key at all, or only another relation: a noun related to no category
    for answer in ('{}', '{"semantically_related": ["road"]}'):
        assert parse_answer(answer, VOCAB) == ({"synonym": [], "hyponym": [], "meronym": []}, [], []), answer
    # lists under none of the three keys: an answer in a shape of its own, its names lost unseen: malformed
    for answer in ('{"categories": ["car"]}', '{"related": ["car"], "semantically_related": []}'):
        assert parse_answer(answer, VOCAB) == (None, [], []), answer
    # beside the three keys, a list under another key (a model's own notes) is ignored
    assert parse_answer('{"synonyms": ["car"], "notes": ["a sedan is a car"]}', VOCAB) == (
        {"synonym": [13], "hyponym": [], "meronym": []}, [], [])
    # another relation (the paper's lexicons carry "semantically_related") is not scored: ignored
    assert parse_answer('{"synonyms": ["car"], "semantically_related": ["road"]}', VOCAB) == (
        {"synonym": [13], "hyponym": [], "meronym": []}, [], [])


def test_malformed_answers_over_the_share_fail_the_build_naming_them(server, config, tmp_path):
    """Dropped answers are each named in a warning; more than `max_malformed_share` of them (a model
    or prompt that does not answer as asked) fail the build, the answers staying cached."""
    _script(server)
    config = dataclasses.replace(config, max_malformed_share=0.1)
    with pytest.raises(LLMError, match=r"1 of 6 answer\(s\) malformed .* and dropped: 'banana' \(.*\.json\); more "
                                       r"than lexicon.openai.max_malformed_share \(0.1\) of the answers"):
        build_llm_lexicon(VOCAB, NOUNS, config, tmp_path / "cache")
    asked = len(server.requests)
    lexicon, summary = build_llm_lexicon(VOCAB, NOUNS, dataclasses.replace(config, max_malformed_share=0.2),
                                         tmp_path / "cache")
    assert len(server.requests) == asked and summary.malformed_nouns == ["banana"]  # from the cache
    assert USER_PROMPT.format(noun="dog") == ("Please identify synonyms, hyponyms, and meronyms of the "
                                              "noun dog from the predefined list of categories.")


def test_an_answer_without_the_three_keys_is_counted_malformed(server, config, tmp_path):
    """Singular or nested keys would lose every level unseen: the answer is dropped, named and
    counted against `max_malformed_share`."""
    server.scripts.update({
        "sedan": [(200, json.dumps({"synonym": ["car"], "hyponym": ["truck"], "meronym": []}), {})],
        "wheel": [(200, json.dumps({"answer": {"synonyms": ["car"]}}), {})],
        "automobile": [(200, _answer(synonyms=["car"]), {})],
    })
    with pytest.raises(LLMError, match=r"2 of 3 answer\(s\) malformed .* 'sedan' .* 'wheel'"):
        build_llm_lexicon(VOCAB, ["sedan", "wheel", "automobile"], config, tmp_path / "cache")
    lexicon, summary = build_llm_lexicon(VOCAB, ["sedan", "wheel", "automobile"],
                                         dataclasses.replace(config, max_malformed_share=1.0), tmp_path / "cache")
    assert summary.malformed_nouns == ["sedan", "wheel"] and summary.dropped_answers == 2
    assert next(e for e in lexicon.entries if e.name == "car").synonym == ["automobile"]


def test_concurrency_and_rate(server, config, tmp_path):
    nouns = [f"noun{i}" for i in range(8)]
    server.delay_s = 0.2
    fast = LLMConfig(**{**config.__dict__, "max_concurrency": 2})
    build_llm_lexicon(VOCAB, nouns, fast, tmp_path / "a")
    assert server.max_in_flight == 2  # concurrent, within the configured bound
    server.delay_s, server.requests = 0.0, []
    slow = LLMConfig(**{**config.__dict__, "max_concurrency": 4, "requests_per_minute": 600})
    build_llm_lexicon(VOCAB, nouns, slow, tmp_path / "b")
    times = sorted(r["time"] for r in server.requests)
    assert times[-1] - times[0] >= 0.1 * (len(nouns) - 1) * 0.9  # at most 10 requests per second


def _build_in_a_child(config: LLMConfig, nouns: list[str], cache: Path, max_concurrency: int,
                      **popen: object) -> subprocess.Popen:
    """A process building the Cityscapes lexicon of `nouns` (SIGINT handled as in a terminal: a
    pytest-xdist worker ignores it, and a child inherits that)."""
    script = ("import signal; signal.signal(signal.SIGINT, signal.default_int_handler)\n"
              "import sys, json\n"
              "from oeseg.data.vocabularies import get_vocabulary\n"
              "from oeseg.lexicon.llm import LLMConfig, build_llm_lexicon\n"
              "cfg = LLMConfig(**json.loads(sys.argv[1]))\n"
              "build_llm_lexicon(get_vocabulary('cityscapes'), json.loads(sys.argv[2]), cfg, sys.argv[3])\n")
    settings = {**config.__dict__, "max_concurrency": max_concurrency}
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen([sys.executable, "-c", script, json.dumps(settings), json.dumps(nouns), str(cache)],
                            env=env, text=True, **popen)


def test_resume_after_a_killed_run(server, config, tmp_path):
    """A run killed mid-way leaves only complete answers in the cache; the next run asks the rest."""
    nouns = [f"noun{i}" for i in range(12)]
    server.delay_s = 0.15
    process = _build_in_a_child(config, nouns, tmp_path / "cache", max_concurrency=1)
    deadline = time.monotonic() + 60
    while len(server.requests) < 4 and time.monotonic() < deadline:
        time.sleep(0.02)
    process.kill()
    process.wait()
    cached = [p for p in (tmp_path / "cache").rglob("*.json")]
    assert 3 <= len(cached) < len(nouns)
    assert all(json.loads(p.read_text())["content"] == _answer() for p in cached)  # complete records only
    answered = {json.loads(p.read_text())["noun"] for p in cached}
    while server.in_flight:  # the killed run's last request, still being served
        time.sleep(0.02)
    server.delay_s = 0.0
    server.requests.clear()
    _, summary = build_llm_lexicon(VOCAB, nouns, config, tmp_path / "cache")
    asked = [r["noun"] for r in server.requests]
    assert summary.cache_hits == len(cached) and summary.run_calls == len(asked)
    assert sorted(asked) == sorted(set(nouns) - answered)  # exactly the unanswered nouns, once each


def test_ctrl_c_stops_asking_and_keeps_the_answers_got(server, config, tmp_path):
    """SIGINT (Ctrl-C) mid-build: the queued nouns are not asked (they would be paid for), the
    process stops soon, the answers got stay cached and a rerun asks only the rest."""
    nouns = [f"noun{i}" for i in range(60)]
    server.delay_s = 0.2
    process = _build_in_a_child(config, nouns, tmp_path / "cache", max_concurrency=2, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while len(server.requests) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode != 0 and "KeyboardInterrupt" in stderr
    while server.in_flight:
        time.sleep(0.02)
    asked = {r["noun"] for r in server.requests}
    assert 2 <= len(asked) <= 6  # those in flight when interrupted; without the stop, all 60
    cached = {json.loads(p.read_text())["noun"] for p in (tmp_path / "cache").rglob("*.json")
              if "content" in json.loads(p.read_text())}
    assert len(cached) >= 2 and cached <= asked  # the answers got, kept for the rerun
    server.delay_s = 0.0
    server.requests.clear()
    _, summary = build_llm_lexicon(VOCAB, nouns, config, tmp_path / "cache")
    assert summary.cache_hits == len(cached)
    assert sorted(r["noun"] for r in server.requests) == sorted(set(nouns) - cached)


NO_CHOICES = json.dumps({"id": "c1", "object": "chat.completion", "created": 0, "model": "gpt-test",
                         "choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 0}}).encode()


def test_malformed_replies_are_retried_then_failed_and_resumed(server, config, tmp_path):
    """A 200 whose body is not JSON, or has no choice, is retried like a server error; a noun still
    unanswered is recorded as failed while the others go on; a rerun asks only the failed noun and
    its summary counts the whole build."""
    server.scripts.update({
        "sedan": [(200, b"<html>proxy error</html>", {}), (200, _answer(hyponyms=["car"]), {})],
        "wheel": [(200, NO_CHOICES, {})],  # every time
        "pavement": [(200, _answer(synonyms=["sidewalk"]), {})],
    })
    nouns = ["sedan", "wheel", "pavement"]
    with pytest.raises(LLMError, match=r"1 noun\(s\) unanswered .*'wheel'"):
        build_llm_lexicon(VOCAB, nouns, config, tmp_path / "cache")
    assert server.asked("sedan") == 2 and server.asked("wheel") == config.max_retries + 1
    assert server.asked("pavement") == 1
    failed = AnswerCache(tmp_path / "cache", config.model, prompt_sha256(VOCAB), config.temperature).get("wheel")
    assert failed["failed"] is True and failed["error"] == "MalformedReply"
    assert failed["calls"] == config.max_retries + 1 and "content" not in failed
    server.scripts["wheel"] = [(200, _answer(meronyms=["car"]), {})]
    server.requests.clear()
    lexicon, summary = build_llm_lexicon(VOCAB, nouns, config, tmp_path / "cache")
    assert [r["noun"] for r in server.requests] == ["wheel"]  # the minimal rerun: one request
    assert summary.run_calls == 1 and summary.cache_hits == 2 and not summary.failed_nouns
    assert summary.calls == 2 + (config.max_retries + 1) + 1 + 1
    assert summary.retries == 1 + config.max_retries + 1
    # tokens: sedan's and pavement's answers, wheel's 4 empty replies (7 each) and its answer
    assert summary.prompt_tokens == 100 + 100 + 4 * 7 + 100
    car = next(e for e in lexicon.entries if e.name == "car")
    assert car.hyponym == ["sedan"] and car.meronym == ["wheel"]
    # a third build asks nothing and reports the same whole-build totals
    server.requests.clear()
    _, again = build_llm_lexicon(VOCAB, nouns, config, tmp_path / "cache")
    assert not server.requests and again.run_calls == 0
    assert (again.calls, again.retries, again.prompt_tokens) == (summary.calls, summary.retries, summary.prompt_tokens)


@pytest.mark.parametrize("retry_after", ["3600", "inf", "1e400", "nan", "Wed, 21 Oct 2099 07:28:00 GMT"])
def test_retry_after_is_capped(server, config, tmp_path, retry_after):
    server.scripts["sedan"] = [(429, "slow down", {"retry-after": retry_after}), (200, _answer(hyponyms=["car"]), {})]
    capped = LLMConfig(**{**config.__dict__, "max_retry_wait_s": 0.2})
    start = time.monotonic()
    lexicon, summary = build_llm_lexicon(VOCAB, ["sedan"], capped, tmp_path)
    assert time.monotonic() - start < 5 and summary.calls == 2 and summary.retries == 1
    assert next(e for e in lexicon.entries if e.name == "car").hyponym == ["sedan"]
    assert LLMConfig.from_dict({"base_url": "http://127.0.0.1:1/v1", "model": "m"}).max_retry_wait_s == 60


def test_shared_names_exact_full_name_wins_else_counted_drop(server, config, tmp_path):
    """ADE20K: `pot`, `stool`, `screen` are names of several categories, and one category's full
    name each; `ground` is only ever one of several names (earth, ground / land, ground, soil)."""
    ade = get_vocabulary("ade20k")
    server.scripts["thing"] = [(200, _answer(synonyms=["pot", "stool", "screen", "ground", "Ground", "toilet"]), {})]
    lexicon, summary = build_llm_lexicon(ade, ["thing"], config, tmp_path)
    having = sorted(e.name for e in lexicon.entries if "thing" in e.synonym)
    assert having == ["pot", "screen", "stool", "toilet, can, commode, crapper, pot, potty, stool, throne"]
    assert summary.dropped_ambiguous == 2 and summary.ambiguous_names == ["ground"]
    assert summary.dropped_categories == 0
    assert parse_answer(_answer(synonyms=["ground", "pot"]), ade) == (
        {"synonym": [125], "hyponym": [], "meronym": []}, [], ["ground"])  # 125: "pot"


#: Two hundred nouns: an error of every request must not cost one request each.
MANY = [f"noun{i}" for i in range(200)]


def _error(status: int, message: str, type_: str, code: str | None = None) -> tuple[int, bytes, dict]:
    """A scripted reply: an OpenAI error body with this status, type and code."""
    return status, json.dumps({"error": {"message": message, "type": type_, "param": None, "code": code}}).encode(), {}


def _everyone(server, reply) -> None:
    """Script the same reply for every noun of MANY."""
    server.scripts.update({noun: [reply] for noun in MANY})


def test_wrong_key_stops_the_build_and_keeps_the_cache(server, config, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    server.scripts.update({noun: [(200, _answer(hyponyms=["car"]), {})] for noun in MANY[:3]})
    build_llm_lexicon(VOCAB, MANY[:3], config, tmp_path / "cache")  # three answers cached
    _everyone(server, _error(401, f"Incorrect API key provided: {API_KEY}.", "invalid_request_error",
                             "invalid_api_key"))
    server.requests.clear()
    start = time.monotonic()
    with pytest.raises(LLMError) as raised:
        build_llm_lexicon(VOCAB, MANY, config, tmp_path / "cache")
    assert time.monotonic() - start < 5
    assert 1 <= len(server.requests) <= config.max_concurrency  # not one request per noun
    assert not {r["noun"] for r in server.requests} & set(MANY[:3])  # cached answers are not asked
    message = str(raised.value)
    for part in ("HTTP 401", "AuthenticationError", "'invalid_request_error'", "'invalid_api_key'",
                 "Incorrect API key provided: ***", "TEST_LLM_KEY", "lexicon.openai.api_key_env",
                 "197 noun(s) not answered", "the 3 answer(s) got are cached"):
        assert part in message
    assert "unanswered after" not in message and API_KEY not in message and API_KEY not in caplog.text
    for path in (tmp_path / "cache").rglob("*.json"):
        assert API_KEY not in path.read_text(encoding="utf-8")
    # the key fixed: the rerun asks every noun but the three cached ones, once each
    _everyone(server, (200, _answer(synonyms=["road"]), {}))
    server.requests.clear()
    lexicon, summary = build_llm_lexicon(VOCAB, MANY, config, tmp_path / "cache")
    assert sorted(r["noun"] for r in server.requests) == sorted(MANY[3:])
    assert summary.cache_hits == 3 and not summary.failed_nouns
    assert next(e for e in lexicon.entries if e.name == "car").hyponym == MANY[:3]


def test_exhausted_quota_is_not_retried_as_a_rate_limit(server, config, tmp_path):
    _everyone(server, _error(429, "You exceeded your current quota, please check your plan and billing details.",
                             "insufficient_quota", "insufficient_quota"))
    start = time.monotonic()
    with pytest.raises(LLMError) as raised:
        build_llm_lexicon(VOCAB, MANY, config, tmp_path / "cache")
    assert time.monotonic() - start < 5
    assert 1 <= len(server.requests) <= config.max_concurrency
    assert all(server.asked(noun) <= 1 for noun in MANY)  # no retry either
    message = str(raised.value)
    for part in ("HTTP 429", "RateLimitError", "'insufficient_quota'", "You exceeded your current quota",
                 "quota and billing", "TEST_LLM_KEY", "200 noun(s) not answered"):
        assert part in message


def test_a_plain_rate_limit_is_still_retried(server, config, tmp_path):
    slow = (429, json.dumps({"error": {"message": "Rate limit reached", "type": "requests",
                                       "code": "rate_limit_exceeded"}}).encode(), {"retry-after": "0"})
    server.scripts["sedan"] = [slow, slow, (200, _answer(hyponyms=["car"]), {})]
    lexicon, summary = build_llm_lexicon(VOCAB, ["sedan"], config, tmp_path / "cache")
    assert server.asked("sedan") == 3 and summary.retries == 2
    assert next(e for e in lexicon.entries if e.name == "car").hyponym == ["sedan"]


@pytest.mark.parametrize("status, type_, code, names", [
    (403, "invalid_request_error", "unsupported_country_region_territory",
     ["PermissionDeniedError", "may use model 'gpt-test'", "lexicon.openai.base_url http://127.0.0.1:"]),
    (404, "invalid_request_error", "model_not_found",
     ["NotFoundError", "lexicon.openai.model ('gpt-test')", "lexicon.openai.base_url (http://127.0.0.1:"]),
    (400, "invalid_request_error", "unsupported_value",
     ["BadRequestError", "lexicon.openai.temperature (0.0)", "lexicon.openai.model ('gpt-test')"]),
    (422, "validation_error", None, ["UnprocessableEntityError", "lexicon.openai.temperature (0.0)"]),
])
def test_errors_of_every_request_stop_the_build(server, config, tmp_path, status, type_, code, names):
    _everyone(server, _error(status, f"the server says no ({status})", type_, code))
    with pytest.raises(LLMError) as raised:
        build_llm_lexicon(VOCAB, MANY, config, tmp_path / "cache")
    assert 1 <= len(server.requests) <= config.max_concurrency
    message = str(raised.value)
    for part in [f"HTTP {status}", f"the server says no ({status})", f"'{type_}'", *names]:
        assert part in message
    assert code is None or f"'{code}'" in message


def test_a_content_filter_refuses_one_noun_only(server, config, tmp_path):
    """A content filter's 400 is that noun's answer (no relation), cached: the build completes, the
    summary names the noun, and a rerun asks nothing (a failed noun would fail on every rerun)."""
    server.scripts["sedan"] = [(200, _answer(hyponyms=["car"]), {})]
    server.scripts["grenade"] = [_error(400, "The prompt was filtered.", "invalid_request_error", "content_filter")]
    lexicon, summary = build_llm_lexicon(VOCAB, ["sedan", "grenade", "road"], config, tmp_path / "cache")
    assert server.asked("sedan") == server.asked("grenade") == server.asked("road") == 1
    assert summary.refused_nouns == ["grenade"] and not summary.failed_nouns and summary.calls == 3
    assert next(e for e in lexicon.entries if e.name == "car").hyponym == ["sedan"]
    assert not any("grenade" in e.terms(level) for e in lexicon.entries for level in LEVELS)
    server.requests.clear()
    again, summary = build_llm_lexicon(VOCAB, ["sedan", "grenade", "road"], config, tmp_path / "cache")
    assert not server.requests and summary.refused_nouns == ["grenade"] and again.entries == lexicon.entries


def test_retry_after_as_an_http_date():
    """Retry-After's other form, an HTTP date, waits until then (at most max_wait_s)."""
    from datetime import datetime, timedelta, timezone
    from email.utils import format_datetime
    from types import SimpleNamespace

    from oeseg.io import retry_delay

    def error(value: str) -> SimpleNamespace:
        return SimpleNamespace(response=SimpleNamespace(headers={"retry-after": value}))

    soon = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    assert 28 <= retry_delay(error(soon), 0, backoff_s=0.1, max_wait_s=60) <= 30
    assert retry_delay(error(soon), 0, backoff_s=0.1, max_wait_s=5) == 5
    assert retry_delay(error("Wed, 21 Oct 2015 07:28:00 GMT"), 0, backoff_s=0.1) == 0  # past: at once
    assert 0.4 <= retry_delay(error("soon"), 3, backoff_s=0.1) <= 0.8  # unreadable: backoff (jittered)


def test_backoff_is_jittered_so_that_requests_refused_together_do_not_retry_together():
    """Without a retry-after: between half and all of backoff_s * 2**attempt, capped at max_wait_s,
    and not the same for every request."""
    from types import SimpleNamespace

    from oeseg.io import retry_delay

    error = SimpleNamespace(response=SimpleNamespace(headers={}))
    delays = [retry_delay(error, 2, backoff_s=1.0, max_wait_s=60) for _ in range(50)]
    assert all(2.0 <= d <= 4.0 for d in delays) and len(set(delays)) > 40
    assert all(5.0 <= retry_delay(error, 10, backoff_s=1.0, max_wait_s=10) <= 10.0 for _ in range(20))


def test_a_key_with_a_line_end_is_stripped_and_one_with_a_space_inside_refused(server, config, tmp_path,
                                                                                monkeypatch):
    """A key read from a CRLF .env file ends in "\r": stripped, it works; one no HTTP header can
    carry is an error naming the variable (never the key), not a connection failure retried."""
    server.scripts["sedan"] = [(200, _answer(hyponyms=["car"]), {})]
    monkeypatch.setenv("TEST_LLM_KEY", API_KEY + "\r\n")
    build_llm_lexicon(VOCAB, ["sedan"], config, tmp_path / "a")
    assert server.asked("sedan") == 1
    monkeypatch.setenv("TEST_LLM_KEY", API_KEY[:4] + " " + API_KEY[4:])
    with pytest.raises(InputError, match=r"^environment variable TEST_LLM_KEY holds a space") as raised:
        build_llm_lexicon(VOCAB, ["sedan"], config, tmp_path / "b")
    assert API_KEY[4:] not in str(raised.value) and server.asked("sedan") == 1


def test_a_fatal_error_cuts_a_retry_wait_short(server, config, tmp_path):
    """A noun waiting to retry (a 503 asking for 30 s) is not asked again once another noun's 401
    stops the build; it is recorded as failed with the one call it cost."""
    patient = LLMConfig(**{**config.__dict__, "max_retry_wait_s": 30.0})
    server.scripts["sedan"] = [(503, "busy", {"retry-after": "30"})]
    server.delay_s = 0.1  # both requests are in flight together
    server.scripts["wheel"] = [_error(401, "Invalid key.", "invalid_request_error", "invalid_api_key")]
    start = time.monotonic()
    with pytest.raises(LLMError, match="HTTP 401"):
        build_llm_lexicon(VOCAB, ["sedan", "wheel"], patient, tmp_path / "cache")
    assert time.monotonic() - start < 5 and server.asked("sedan") == 1
    record = AnswerCache(tmp_path / "cache", "gpt-test", prompt_sha256(VOCAB), 0.0).get("sedan")
    assert record["failed"] is True and record["calls"] == 1


def test_the_cache_is_keyed_by_temperature(server, config, tmp_path):
    server.scripts.update({"sedan": [(200, _answer(hyponyms=["car"]), {})],
                           "wheel": [(200, _answer(meronyms=["car"]), {})]})
    build_llm_lexicon(VOCAB, ["sedan", "wheel"], config, tmp_path)
    assert len(server.requests) == 2
    # the same temperature (an integer 0 as YAML gives it): every answer from the cache
    same = LLMConfig(**{**config.__dict__, "temperature": 0})
    _, summary = build_llm_lexicon(VOCAB, ["sedan", "wheel"], same, tmp_path)
    assert len(server.requests) == 2 and summary.cache_hits == 2 and summary.run_calls == 0
    # another temperature asks again, with that temperature, and records it
    warm = LLMConfig(**{**config.__dict__, "temperature": 0.7})
    lexicon, summary = build_llm_lexicon(VOCAB, ["sedan", "wheel"], warm, tmp_path)
    assert len(server.requests) == 4 and summary.cache_hits == 0 and summary.run_calls == 2
    assert [r["body"]["temperature"] for r in server.requests[2:]] == [0.7, 0.7]
    assert lexicon.builder["temperature"] == 0.7
    # both temperatures' answers are kept: neither asks again
    for settings in (config, warm):
        _, summary = build_llm_lexicon(VOCAB, ["sedan", "wheel"], settings, tmp_path)
        assert summary.cache_hits == 2
    assert len(server.requests) == 4


def test_a_server_that_never_answers_stops_the_build_after_a_few_nouns(server, config, tmp_path):
    """Connection refused, or a stream-only server whose 200 is no chat completion: a few nouns in a
    row given up after their retries stop the build (naming base_url), not every noun paying its
    retries; the answers got stay cached and a rerun asks only the rest."""
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    refused = dataclasses.replace(config, base_url=f"http://127.0.0.1:{port}/v1", max_concurrency=1)
    with pytest.raises(LLMError, match=rf"^3 nouns in a row unanswered after their retries \(the last: "
                                       rf"APIConnectionError\) from http://127.0.0.1:{port}/v1: .*lexicon.openai."
                                       r"base_url .*The build stopped: 200 noun\(s\) not answered"):
        build_llm_lexicon(VOCAB, MANY, refused, tmp_path / "refused")
    sse = (b'data: {"id":"c","object":"chat.completion.chunk","created":0,"model":"gpt-test","choices":'
           b'[{"index":0,"delta":{"content":"{}"},"finish_reason":null}]}\n\ndata: [DONE]\n\n')
    server.scripts.update({noun: [(200, _answer(hyponyms=["car"]), {})] for noun in MANY[:2]})
    server.scripts.update({noun: [(200, sse, {})] for noun in MANY[2:]})
    with pytest.raises(LLMError, match=r"nouns in a row unanswered after their retries \(the last: JSONDecodeError\)"):
        build_llm_lexicon(VOCAB, MANY, config, tmp_path / "cache")
    asked = len(server.requests)
    assert asked <= 2 + (config.max_concurrency + 2 + config.max_concurrency) * (config.max_retries + 1) < 200
    server.scripts.update({noun: [(200, _answer(synonyms=["road"]), {})] for noun in MANY[2:]})
    server.requests.clear()
    lexicon, summary = build_llm_lexicon(VOCAB, MANY, config, tmp_path / "cache")
    assert sorted(r["noun"] for r in server.requests) == sorted(MANY[2:]) and summary.cache_hits == 2
    assert next(e for e in lexicon.entries if e.name == "car").hyponym == MANY[:2]


def test_a_noun_given_up_between_answers_does_not_stop_the_build(server, config, tmp_path):
    """Nouns that fail now and then, with answers between them, are recorded as failed; the others
    are all asked."""
    nouns = [f"noun{i}" for i in range(12)]
    server.scripts.update({noun: [(500, "oops", {})] for noun in nouns[::3]})
    with pytest.raises(LLMError, match=r"^4 noun\(s\) unanswered"):
        build_llm_lexicon(VOCAB, nouns, dataclasses.replace(config, max_concurrency=1), tmp_path)
    assert {r["noun"] for r in server.requests} == set(nouns)


@pytest.mark.parametrize("url", ["localhost:8000/v1", "127.0.0.1:8000/v1", "htp://x/v1", "http:///v1", " ",
                                 "http://127.0.0.1:8000/v1\n", "http://127.0.0.1:8000/v1 ", "http://my host/v1",
                                 "http://127.0.0.1:99999/v1", "http://127.0.0.1:80a/v1", "http://[::1/v1",
                                 "http://user:s3cret@127.0.0.1:99999/v1"])
def test_a_base_url_that_is_no_http_url_is_named(url):
    """A base_url without http(s):// would fail every request as a dropped connection, retried; one
    with a space or line end, a port that is no number up to 65535 or a broken IPv6 address
    would fail with the HTTP library's traceback or every request's retries: each is an InputError
    naming the key (never the URL's password)."""
    with pytest.raises(InputError, match=r"^lexicon.openai.base_url: ") as raised:
        LLMConfig.from_dict({"base_url": url, "model": "m"})
    assert "s3cret" not in str(raised.value)
    assert LLMConfig.from_dict({"base_url": "HTTPS://api.example.org/v1", "model": "m"}).model == "m"


def test_a_cache_folder_shared_by_two_model_names_is_an_error_not_a_wrong_answer(server, config, tmp_path):
    """"org/m" and "org_m" (or "M" and "m" on a case-insensitive disk) share a cache folder: the
    answer of one is never taken for the other's."""
    server.scripts["sedan"] = [(200, _answer(hyponyms=["car"]), {})]
    build_llm_lexicon(VOCAB, ["sedan"], dataclasses.replace(config, model="org/m"), tmp_path)
    with pytest.raises(InputError, match=r"\.json: the cached answer of 'sedan' is of model 'org/m' at temperature "
                                         r"0\.0, not of 'org_m' at 0\.0: .*lexicon.openai.cache_dir"):
        build_llm_lexicon(VOCAB, ["sedan"], dataclasses.replace(config, model="org_m"), tmp_path)
    assert server.asked("sedan") == 1


def test_a_corrupted_cache_file_names_its_noun_and_what_to_do(server, config, tmp_path):
    build_llm_lexicon(VOCAB, ["sedan"], config, tmp_path)
    path = AnswerCache(tmp_path, config.model, prompt_sha256(VOCAB), config.temperature).path("sedan")
    for text in ('{"noun": "sedan", "cont', ""):
        path.write_text(text)
        with pytest.raises(InputError, match=r"\.json:1:\d+: invalid JSON: .*: the cached answer of 'sedan' is "
                                             r"unreadable \(remove it to ask again\)$"):
            build_llm_lexicon(VOCAB, ["sedan"], config, tmp_path)
    path.unlink()
    build_llm_lexicon(VOCAB, ["sedan"], config, tmp_path)
    assert server.asked("sedan") == 2


def _completion(content: str | None, finish_reason: str = "stop") -> bytes:
    """A verbatim chat completion body with this content and finish_reason."""
    return json.dumps({"id": "c1", "object": "chat.completion", "created": 0, "model": "gpt-test",
                       "choices": [{"index": 0, "finish_reason": finish_reason,
                                    "message": {"role": "assistant", "content": content}}],
                       "usage": {"prompt_tokens": 100, "completion_tokens": 10}}).encode()


def test_the_json_object_of_a_chatty_answer_is_read(server, config, tmp_path):
    """A model that wraps its JSON in prose or in a fence with text around it answered: its relations
    are kept; two objects (which one is meant?) or a cut one stay malformed."""
    server.scripts.update({
        "sedan": [(200, _answer(hyponyms=["car"]) + "\nI hope this helps.", {})],
        "wheel": [(200, "Here is the JSON:\n```json\n" + _answer(meronyms=["car"]) + "\n```\nLet me know!", {})],
        "bike": [(200, "```\n" + _answer(synonyms=["bicycle"]) + "\n```", {})],
        "lorry": [(200, "Sure! " + _answer(synonyms=["truck"]), {})],
        "tram": [(200, _answer(synonyms=["train"]) + " or maybe " + _answer(synonyms=["bus"]), {})],
        "van": [(200, "```json\n" + _answer(hyponyms=["car"]) + "\n```\n```json\n{}\n```", {})],
    })
    nouns = ["sedan", "wheel", "bike", "lorry", "tram", "van"]
    lexicon, summary = build_llm_lexicon(VOCAB, nouns, dataclasses.replace(config, max_malformed_share=1.0), tmp_path)
    entry = {e.name: e for e in lexicon.entries}
    assert entry["car"].hyponym == ["sedan"] and entry["car"].meronym == ["wheel"]
    assert entry["bicycle"].synonym == ["bike"] and entry["truck"].synonym == ["lorry"]
    assert summary.malformed_nouns == ["tram", "van"] and not entry["train"].synonym and not entry["bus"].synonym


def test_unlisted_names_are_named_and_plurals_resolved(server, config, tmp_path, caplog):
    """Items naming no category are dropped, each named in the summary and a warning with how often
    (an answer giving ids or placeholders would otherwise empty the lexicon with a count alone);
    a category's plural, or its words joined by "_", is that category."""
    server.scripts.update({
        "sedan": [(200, _answer(hyponyms=["cars", "Traffic_Light", "13", "category_13", "spaceship"]), {})],
        "coach": [(200, _answer(hyponyms=["buses", "persons", "spaceship"]).replace('"persons"', '"persons", 11'),
                   {})],
    })
    lexicon, summary = build_llm_lexicon(VOCAB, ["sedan", "coach"], config, tmp_path)
    entry = {e.name: e for e in lexicon.entries}
    assert entry["car"].hyponym == ["sedan"] and entry["traffic light"].hyponym == ["sedan"]
    assert entry["bus"].hyponym == ["coach"] and entry["person"].hyponym == ["coach"]
    assert summary.unlisted_names == {"spaceship": 2, "11": 1, "13": 1, "category_13": 1}
    assert summary.dropped_categories == 5
    assert ("5 answer item(s) dropped: names of no category of vocabulary cityscapes (times): 'spaceship' (2), "
            "'11' (1), '13' (1), 'category_13' (1)") in caplog.text


def test_an_answer_cut_at_the_token_limit_is_named_as_such(server, config, tmp_path):
    """finish_reason "length": the answer is kept in the cache with its finish_reason, and the
    malformed answers' message says which were cut at the server's token limit."""
    server.scripts.update({
        "sedan": [(200, _completion('{"synonyms": [], "hyponyms": ["car", "tru', "length"), {})],
        "wheel": [(200, _completion(_answer(meronyms=["car"])), {})],
    })
    with pytest.raises(LLMError, match=r"1 of 2 answer\(s\) malformed .*'sedan'.*; 1 of them cut at the server's "
                                       r"limit on answer tokens \(finish_reason 'length'\): 'sedan' \(lexicon.openai."
                                       r"max_tokens set higher than the limit they were cut at, or unset where "
                                       r"they were cut at a set one, asks them again\); more than"):
        build_llm_lexicon(VOCAB, ["sedan", "wheel"], dataclasses.replace(config, max_malformed_share=0.1),
                          tmp_path / "cache")
    record = AnswerCache(tmp_path / "cache", config.model, prompt_sha256(VOCAB), config.temperature).get("sedan")
    assert record["finish_reason"] == "length"
    _, summary = build_llm_lexicon(VOCAB, ["sedan", "wheel"], dataclasses.replace(config, max_malformed_share=1.0),
                                   tmp_path / "cache")
    assert summary.truncated_nouns == ["sedan"] and summary.malformed_nouns == ["sedan"]
    assert server.asked("sedan") == 1
    # a limit set higher than the one the answer was cut at asks it again, with that limit, once
    server.scripts["sedan"] = [(200, _completion(_answer(hyponyms=["car", "truck"])), {})]
    longer = dataclasses.replace(config, max_tokens=400)
    for _ in range(2):
        lexicon, summary = build_llm_lexicon(VOCAB, ["sedan", "wheel"], longer, tmp_path / "cache")
    assert server.asked("sedan") == 2 and server.asked("wheel") == 1
    assert server.requests[-1]["body"]["max_tokens"] == 400 and summary.truncated_nouns == []
    assert next(e for e in lexicon.entries if e.name == "truck").hyponym == ["sedan"]
    assert summary.calls == 3  # the cut answer's call counted with the new one


def test_an_answer_cut_at_a_set_limit_is_asked_again_once_the_limit_is_unset(server, config, tmp_path):
    """An answer cut at a set max_tokens is asked again, without a limit, once max_tokens is unset
    (the server's own limit, usually higher); one cut at the server's own limit is not asked again."""
    cut = (200, _completion('{"synonyms": [], "hyponyms": ["car", "tru', "length"), {})
    server.scripts["sedan"] = [cut]
    loose = dataclasses.replace(config, max_malformed_share=1.0)
    _, summary = build_llm_lexicon(VOCAB, ["sedan"], dataclasses.replace(loose, max_tokens=20), tmp_path)
    assert server.asked("sedan") == 1 and summary.truncated_nouns == ["sedan"]
    assert server.requests[-1]["body"]["max_tokens"] == 20
    for _ in range(2):  # cut again, now at the server's own limit: asked once, not on every run
        _, summary = build_llm_lexicon(VOCAB, ["sedan"], loose, tmp_path)
    assert server.asked("sedan") == 2 and "max_tokens" not in server.requests[-1]["body"]
    assert summary.truncated_nouns == ["sedan"] and summary.calls == 2
    record = AnswerCache(tmp_path, config.model, prompt_sha256(VOCAB), config.temperature).get("sedan")
    assert record["finish_reason"] == "length" and record["max_tokens"] is None


@pytest.mark.parametrize("pasted", [API_KEY, "0123456789abcdef0123456789abcdef"])
def test_a_key_pasted_for_its_variable_name_is_never_echoed(server, config, tmp_path, caplog, pasted):
    """api_key_env given the key itself (a common slip) is an error that does not repeat it: the
    rule's log would keep it."""
    if "-" in pasted:
        with pytest.raises(InputError, match="^lexicon.openai.api_key_env: not the name of an environment") as raised:
            LLMConfig.from_dict({"base_url": server.base_url, "model": "m", "api_key_env": pasted})
        assert pasted not in str(raised.value)
    with pytest.raises(InputError, match="is not set") as raised:
        build_llm_lexicon(VOCAB, ["sedan"], dataclasses.replace(config, api_key_env=pasted), tmp_path)
    assert pasted not in str(raised.value) and pasted not in caplog.text and not server.requests
    with pytest.raises(InputError, match="^environment variable UNSET_TEST_LLM_KEY is not set"):
        build_llm_lexicon(VOCAB, ["sedan"], dataclasses.replace(config, api_key_env="UNSET_TEST_LLM_KEY"), tmp_path)


def test_the_key_from_netrc_when_the_variable_is_unset(server, config, tmp_path, monkeypatch, caplog):
    """Without the environment variable, the password of base_url's host in ~/.netrc ($NETRC) is
    the key; a netrc file that does not parse is named, its line too, never its text."""
    caplog.set_level(logging.DEBUG)
    monkeypatch.delenv("TEST_LLM_KEY")
    netrc = tmp_path / "netrc"
    monkeypatch.setenv("NETRC", str(netrc))
    with pytest.raises(InputError, match=rf"^environment variable TEST_LLM_KEY is not set and {netrc} holds no "
                                         r"password for `machine 127.0.0.1`"):
        build_llm_lexicon(VOCAB, ["sedan"], config, tmp_path / "cache")
    monkeypatch.setenv("TEST_LLM_KEY", " \r")  # set, but to nothing: said so, not "not set"
    with pytest.raises(InputError, match=rf"^environment variable TEST_LLM_KEY is empty and {netrc} holds no "):
        build_llm_lexicon(VOCAB, ["sedan"], config, tmp_path / "cache")
    netrc.write_text(f"machine example.org login a password other\nmachine 127.0.0.1 login me password {API_KEY}\n")
    netrc.chmod(0o600)
    server.scripts["sedan"] = [(200, _answer(hyponyms=["car"]), {})]
    lexicon, _ = build_llm_lexicon(VOCAB, ["sedan"], config, tmp_path / "cache")
    assert server.auth == {f"Bearer {API_KEY}"} and next(e for e in lexicon.entries if e.name == "car").hyponym
    netrc.write_text(f"machine 127.0.0.1 login me password {API_KEY} bogus {API_KEY}\n")
    with pytest.raises(InputError, match=rf"^{netrc}:1: not a readable netrc file") as raised:
        build_llm_lexicon(VOCAB, ["wheel"], config, tmp_path / "cache")
    assert API_KEY not in str(raised.value) and API_KEY not in caplog.text


def test_errors_about_a_key_from_netrc_name_the_netrc_file(server, config, tmp_path, monkeypatch):
    """A key read from ~/.netrc that the server refuses, or that no HTTP header can carry, is named
    as the netrc file's password, not as the (unset) environment variable's value."""
    monkeypatch.delenv("TEST_LLM_KEY")
    netrc = tmp_path / "netrc"
    monkeypatch.setenv("NETRC", str(netrc))
    netrc.write_text(f"machine 127.0.0.1 login me password {API_KEY}\n")
    server.scripts["sedan"] = [_error(401, "Invalid key.", "invalid_request_error", "invalid_api_key")]
    with pytest.raises(LLMError) as raised:
        build_llm_lexicon(VOCAB, ["sedan"], config, tmp_path / "cache")
    assert f"check the API key in the password of `machine 127.0.0.1` in {netrc}" in str(raised.value)
    assert "TEST_LLM_KEY" not in str(raised.value) and API_KEY not in str(raised.value)
    netrc.write_text(f'machine 127.0.0.1 login me password "{API_KEY[:4]} {API_KEY[4:]}"\n')
    with pytest.raises(InputError, match=rf"^the password of `machine 127.0.0.1` in {netrc} holds a space") as bad:
        build_llm_lexicon(VOCAB, ["wheel"], config, tmp_path / "cache")
    assert API_KEY[4:] not in str(bad.value) and server.asked("wheel") == 0


def test_answers_of_two_served_models_in_one_cache_are_counted_and_warned(server, config, tmp_path, caplog):
    """A server that answers with whatever model it has loaded (the reply's `model`) fills one cache
    folder with two models' answers: the summary counts each and the build warns."""
    server.served_model = "loaded-a"
    _, first = build_llm_lexicon(VOCAB, ["sedan"], config, tmp_path)
    assert first.served_models == {"loaded-a": 1}
    server.served_model = "loaded-b"
    with caplog.at_level(logging.WARNING, logger="oeseg.lexicon.llm"):
        _, both = build_llm_lexicon(VOCAB, ["sedan", "wheel"], config, tmp_path)
    assert server.asked("sedan") == 1 and both.served_models == {"loaded-a": 1, "loaded-b": 1}
    assert "the answers come from 2 models" in caplog.text and "'loaded-b' (1)" in caplog.text


def test_a_cache_folder_that_cannot_be_written_stops_before_any_request(server, config, tmp_path):
    """The answers of paid requests would be lost: the cache is tried before the first one."""
    (tmp_path / "cache").write_text("a file, not a folder", encoding="utf-8")
    with pytest.raises(InputError, match=r"cache.*: the answer cache cannot be written \(Not a directory\); no noun was asked"):
        build_llm_lexicon(VOCAB, ["sedan"], config, tmp_path / "cache")
    assert server.requests == []


def test_a_server_going_down_mid_build_resumes_to_the_uninterrupted_lexicon(server, config, tmp_path):
    """The server stops answering after some nouns (its connections drop): the build stops naming
    base_url, the answers got stay cached, and once it is back a rerun asks only the other nouns and
    writes the very lexicon an uninterrupted build writes."""
    nouns = [f"noun{i}" for i in range(12)]
    levels = ("synonyms", "hyponyms", "meronyms")
    answers = {noun: _answer(**{levels[i % 3]: [VOCAB.categories[i % 19].name.split(",")[0]]})
               for i, noun in enumerate(nouns)}
    server.scripts.update({noun: [(200, answer, {})] for noun, answer in answers.items()})
    whole, _ = build_llm_lexicon(VOCAB, nouns, config, tmp_path / "whole")
    server.requests.clear()
    server.answers_left = 5
    with pytest.raises(LLMError, match=rf"unanswered after their retries \(the last: APIConnectionError\) from "
                                       rf"{server.base_url}: .*noun\(s\) not answered; the 5 answer\(s\) got are cached"):
        build_llm_lexicon(VOCAB, nouns, config, tmp_path / "cache")
    answered = {r["noun"] for r in server.requests[:5]}
    server.answers_left = None
    server.requests.clear()
    resumed, summary = build_llm_lexicon(VOCAB, nouns, config, tmp_path / "cache")
    assert sorted(r["noun"] for r in server.requests) == sorted(set(nouns) - answered)  # once each
    assert summary.cache_hits == 5 and not summary.failed_nouns
    assert resumed.to_json() == whole.to_json()


def test_nouns_unanswered_after_their_retries_name_the_server_and_its_message(server, config, tmp_path):
    """The error of nouns given up names the server (without the key) and what it last said (the
    key masked), not only the error's type."""
    server.scripts["sedan"] = [(200, _answer(hyponyms=["car"]), {})]
    server.scripts["pavement"] = [(500, f"the GPU fell over (key {API_KEY})", {})]
    with pytest.raises(LLMError) as raised:
        build_llm_lexicon(VOCAB, ["sedan", "pavement"], config, tmp_path)
    message = str(raised.value)
    assert message.startswith(f"1 noun(s) unanswered by {server.base_url} after their retries (e.g. 'pavement' "
                              "(InternalServerError (HTTP 500): the GPU fell over (key ***), after 4 call(s)))")
    assert API_KEY not in message
    for path in tmp_path.rglob("*.json"):
        assert API_KEY not in path.read_text(encoding="utf-8")


def test_a_reply_stopped_by_the_content_filter_is_a_refusal_not_a_malformed_answer(server, config, tmp_path):
    """A 200 whose finish_reason is "content_filter" (Azure OpenAI's filtered output, its content
    empty or cut) is that noun's refusal, as a content filter's 400 is: no relation, cached, named
    in `refused_nouns`, not counted against max_malformed_share."""
    strict = dataclasses.replace(config, max_malformed_share=0.0)
    server.scripts["sedan"] = [(200, _answer(hyponyms=["car"]), {})]
    server.scripts["grenade"] = [(200, _completion(None, "content_filter"), {})]
    server.scripts["rifle"] = [(200, _completion('{"synonyms": ["car"], "hyp', "content_filter"), {})]
    nouns = ["sedan", "grenade", "rifle"]
    lexicon, summary = build_llm_lexicon(VOCAB, nouns, strict, tmp_path)
    assert summary.refused_nouns == ["grenade", "rifle"] and not summary.malformed_nouns
    assert next(e for e in lexicon.entries if e.name == "car").synonym == []
    server.requests.clear()
    again, summary = build_llm_lexicon(VOCAB, nouns, strict, tmp_path)
    assert not server.requests and summary.refused_nouns == ["grenade", "rifle"] and again.entries == lexicon.entries


def test_the_reasoning_of_a_thinking_model_is_skipped(server, config, tmp_path):
    """A reasoning model served without a reasoning parser (DeepSeek-R1, Qwen3) writes its thoughts
    before the answer, up to "</think>" (its "<think>" sometimes in the prompt's template): the
    answer after them is read, whatever braces the thoughts hold."""
    thoughts = 'The format is {"synonyms": [...]}. A sedan is a kind of car, {maybe} a "vehicle".\n</think>\n\n'
    server.scripts.update({
        "sedan": [(200, "<think>\n" + thoughts + _answer(hyponyms=["car"]), {})],
        "wheel": [(200, thoughts + "```json\n" + _answer(meronyms=["car"]) + "\n```", {})],
    })
    strict = dataclasses.replace(config, max_malformed_share=0.0)
    lexicon, summary = build_llm_lexicon(VOCAB, ["sedan", "wheel"], strict, tmp_path)
    car = next(e for e in lexicon.entries if e.name == "car")
    assert car.hyponym == ["sedan"] and car.meronym == ["wheel"] and not summary.malformed_nouns
    assert parse_answer("<think>\nHmm, " + _answer(synonyms=["car"]), VOCAB) == (None, [], [])  # cut mid-thought


def test_a_server_that_times_out_is_retried_by_us_alone_then_named(server, config, tmp_path):
    """Requests past timeout_s are retried max_retries times, by the builder only (the openai client's
    own retries would multiply them), then the noun is given up naming the server."""
    server.delay_s = 0.5
    slow = dataclasses.replace(config, timeout_s=0.1, max_retries=2)
    with pytest.raises(LLMError, match=rf"^1 noun\(s\) unanswered by {server.base_url} after their retries \(e.g. "
                                       r"'sedan' \(APITimeoutError, after 3 call\(s\)\)\)"):
        build_llm_lexicon(VOCAB, ["sedan"], slow, tmp_path)
    deadline = time.monotonic() + 5
    while (server.in_flight or len(server.requests) < 3) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.asked("sedan") == 3


@pytest.mark.parametrize("reply, says", [
    ((429, "Rate limit reached", {"retry-after": "0"}),
     "kept refusing them with rate limits (HTTP 429): lower lexicon.openai.requests_per_minute or max_concurrency"),
    ((503, "overloaded", {}), "kept failing on them (HTTP 503): check the server's own logs"),
])
def test_nouns_given_up_in_a_row_are_diagnosed_by_their_last_error(server, config, tmp_path, reply, says):
    """Nouns given up in a row on rate limits or server errors stop the build with what to do about
    those, not as a server unreachable (it answered every request)."""
    _everyone(server, reply)
    with pytest.raises(LLMError) as raised:
        build_llm_lexicon(VOCAB, MANY, dataclasses.replace(config, max_concurrency=1), tmp_path)
    message = str(raised.value)
    assert message.startswith("3 nouns in a row unanswered after their retries (the last: ") and says in message
    assert "unreachable" not in message and len(server.requests) == 3 * (config.max_retries + 1)
