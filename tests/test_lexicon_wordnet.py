"""Nouns (Tag2Text list, WordNet lemmas), the WordNet reader and the WordNet lexicon builder."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from oeseg.data.vocabularies import get_vocabulary
from oeseg.io import InputError
from oeseg.lexicon import LEVELS, load_lexicon
from oeseg.lexicon.lexicon import nouns_sha256
from oeseg.lexicon.nouns import nouns_from_tags, read_nouns, singular_noun, wordnet_nouns, write_noun_list
from oeseg.lexicon.wordnet import (LEXNAMES_MANPAGE, SYNSET_FILES, WORDNET_DIR, _lexnames_from_data,
                                   _lexnames_from_manpage, build_wordnet_lexicon, load_synset_choices,
                                   open_wordnet, synset_choices, written_terms)


def test_open_wordnet_reads_the_system_database():
    wn = open_wordnet()
    assert wn.get_version() == "3.0" and open_wordnet() is wn
    assert wn.synset("pole.n.01").definition().startswith("a long (usually round) rod")
    assert wn.synset("pole.n.02").lexname() == "noun.person"
    assert wn.synset("car.n.01") in wn.synset("sedan.n.01").closure(lambda s: s.hypernyms())


def test_lexnames_built_without_the_manual_page():
    from_data = _lexnames_from_data(WORDNET_DIR).splitlines()
    assert len(from_data) == 45 and from_data[6] == "06\tnoun.06\t1" and from_data[44].endswith("\t3")
    if LEXNAMES_MANPAGE.exists():
        manpage = _lexnames_from_manpage(LEXNAMES_MANPAGE).splitlines()
        assert manpage[6] == "06\tnoun.artifact\t1"
        assert [line.split("\t")[2] for line in manpage] == [line.split("\t")[2] for line in from_data]


def test_lexnames_manual_page_with_a_gap_is_not_used(tmp_path):
    """A lexnames page whose table skips a file number cannot give the numbered file: None (the data
    files' numbers serve instead)."""
    import gzip

    page = tmp_path / "lexnames.5WN.gz"
    with gzip.open(page, "wt") as f:
        f.write("00\tadj.all\t\tall adjective clusters\n02\tadv.all\t\tall adverbs\n")
    assert _lexnames_from_manpage(page) is None
    with gzip.open(page, "wt") as f:
        f.write("00\tadj.all\t\tall adjective clusters\n01\tadj.pert\t\trelational adjectives\n")
    assert _lexnames_from_manpage(page) == "00\tadj.all\t3\n01\tadj.pert\t3\n"


def test_missing_database_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="missing .*data.noun.*wordnet-base"):
        open_wordnet(tmp_path)


def test_nouns_from_tags(tmp_path):
    tags = tmp_path / "tags.txt"
    tags.write_text("Traffic Lights\nsit on\nzebras\nbus\nwatercolor illustration\nbuses\nsmartphone\n"
                    "beautiful\ntree\nTree", encoding="utf-8")
    assert nouns_from_tags(tags) == ["traffic light", "zebra", "bus", "watercolor illustration",
                                     "smartphone", "tree"]
    assert singular_noun("women") == "woman" and singular_noun("quickly") is None


def test_a_compound_whose_head_wordnet_lacks_is_a_noun_unless_the_head_is_a_function_word():
    """"mountain biker": WordNet knows "mountain", not "biker"; "lead to", "run with": verbs with a
    particle, whose last word is a function word (WordNet lacks "to" and "with")."""
    assert singular_noun("Mountain Biker") == "mountain biker"
    assert singular_noun("lead to") is None and singular_noun("run with") is None
    assert singular_noun("sit") is None and singular_noun("to") is None


def test_nouns_from_several_tag_lists_and_every_tag(tmp_path):
    """Several lists: their nouns in the lists' order, each once; `only_nouns` false keeps the other
    tags too, in lower case, as written (the paper's list holds "sit on" and "cloudy")."""
    first, second = tmp_path / "first.txt", tmp_path / "second.txt"
    first.write_text("cars\nSit On\ntree\n", encoding="utf-8")
    second.write_text("Cloudy\ntree\nmountain biker\ncar\n", encoding="utf-8")
    assert nouns_from_tags(first, second) == ["car", "tree", "mountain biker"]
    assert nouns_from_tags(first, second, only_nouns=False) == ["car", "sit on", "tree", "cloudy", "mountain biker"]
    (tmp_path / "verbs.txt").write_text("sit on\ncloudy\n", encoding="utf-8")
    assert nouns_from_tags(tmp_path / "verbs.txt", only_nouns=False) == ["sit on", "cloudy"]
    with pytest.raises(InputError, match=r"verbs.txt: no nouns found"):
        nouns_from_tags(first, tmp_path / "verbs.txt")
    (tmp_path / "blank.txt").write_text("\n\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"blank.txt: no tags found"):
        nouns_from_tags(tmp_path / "blank.txt", only_nouns=False)
    with pytest.raises(InputError, match="no tag list given"):
        nouns_from_tags()


@pytest.mark.parametrize("content, message", [(b"\xff\xfe\x00bad", r":1:1: not UTF-8 text \(byte 0xff\)"), (b"sit\nquickly\n", "no nouns"),
                                              (b"car\tbus\n", ":1: expected one tag per line")])
def test_bad_tag_list(tmp_path, content, message):
    path = tmp_path / "tags.txt"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        nouns_from_tags(path)
    with pytest.raises(InputError, match="not found"):
        nouns_from_tags(tmp_path / "missing.txt")


def test_tag2text_nouns(shared_data):
    nouns = nouns_from_tags(shared_data / "tag2text" / "tag2text_ori_tag_list.txt")
    assert 3000 < len(nouns) < 3313 and len(set(nouns)) == len(nouns)
    assert {"traffic light", "bicycle", "street light", "zebra", "smartphone", "mountain biker"} <= set(nouns)
    assert not {"sit", "zebras", "sit on"} & set(nouns)
    assert all(n == n.lower() for n in nouns)


def test_wordnet_nouns():
    nouns = wordnet_nouns()
    assert len(nouns) == 117798 and {"traffic light", "pole", "car"} <= set(nouns)
    assert all(n == n.lower() and "_" not in n for n in nouns)


def test_wordnet_nouns_by_sense_count():
    frequent = wordnet_nouns(min_count=1)
    assert len(frequent) == 11908 and {"car", "sidewalk", "sedan", "jazz", "pants"} <= set(frequent)
    assert len(wordnet_nouns(min_count=3)) == 4867
    assert not {"hatchback", "bumper"} & set(frequent) and set(frequent) <= set(wordnet_nouns())


def test_noun_list_with_the_vocabularies_category_names(tmp_path):
    """WordNet's sense counts miss names the Tag2Text list has: category_names adds them, once, last."""
    plain = write_noun_list(tmp_path / "plain.txt", source="wordnet", min_wordnet_count=3)
    nouns = write_noun_list(tmp_path / "nouns.txt", source="wordnet", min_wordnet_count=3,
                            vocabularies=["demo-city", "demo-ade"])
    assert not {"bus", "motorcycle", "traffic light", "traffic sign"} & set(plain)
    assert nouns[:len(plain)] == plain and len(nouns) == len(set(nouns))
    assert set(nouns[len(plain):]) == {n for v in ("demo-city", "demo-ade") for c in get_vocabulary(v)
                                       for n in c.names} - set(plain)
    assert read_nouns(tmp_path / "nouns.txt") == nouns


@pytest.mark.parametrize("text, line", [("car\nsedan\t12\n", 2), ("car\n\nbus\x00\n", 3),
                                        ("car\x0cbus\nvan\nx\x00y\n", 1), ("car\u2028bus\nvan\n", 1)])
def test_a_noun_list_line_that_is_not_one_noun_names_the_line(tmp_path, text, line):
    """A table (noun and count) or a control character would make the whole line one noun: one
    lexicon term nobody writes, and with the openai builder one paid request."""
    (tmp_path / "nouns.txt").write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=rf"nouns.txt:{line}: expected one noun per line, got "):
        read_nouns(tmp_path / "nouns.txt")
    (tmp_path / "nouns.txt").write_text("  car \r\n\nbus\n", encoding="utf-8")
    assert read_nouns(tmp_path / "nouns.txt") == ["car", "bus"]


def test_synset_files_are_valid_for_their_vocabularies():
    wn = open_wordnet()
    served = {}
    for path in SYNSET_FILES.iterdir():
        if path.name.endswith(".yaml"):
            vocabularies, choices = load_synset_choices(path)
            names = set()
            for name in vocabularies:
                served[name] = choices
                vocabulary_names = {c.name.lower() for c in get_vocabulary(name)}
                assert vocabulary_names <= set(choices), f"{path.name}: {vocabulary_names - set(choices)}"
                names |= vocabulary_names
            assert set(choices) <= names, f"{path.name}: unknown categories {set(choices) - names}"
            for choice in choices.values():
                for synset in (*choice.synsets, *choice.hyponyms, *choice.meronyms, *choice.excludes):
                    wn.synset(synset)
    assert {"cityscapes", "demo-city", "ade20k", "demo-ade"} <= set(served)
    assert synset_choices(get_vocabulary("cityscapes"))["pole"].synsets == ("pole.n.01",)


def test_bad_synset_file(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("vocabularies: [x]\ncategories:\n  pole: {synsets: [pole.n.01], hyponym: []}\n")
    with pytest.raises(InputError, match=r"categories.pole: unknown keys \['hyponym'\]"):
        load_synset_choices(path)


@pytest.mark.parametrize("text, message", [
    ("categories:\n  Rider: {synsets: [rider.n.03]}\n  rider: {synsets: [rider.n.01]}\n",
     r"own.yaml: categories.rider: names the same category as another key"),
    ("vocabularies: [cityscapes]\ncategories:\n  rider: {synsets: [rider.n.03]}\n",
     r"own.yaml: vocabularies: \['cityscapes'\] does not name vocabulary 'street'"),
    ("vocabularies: street\ncategories:\n  rider: {synsets: [rider.n.03]}\n",
     r"own.yaml: vocabularies: expected a list of vocabulary names, got 'street'"),
    ("categories:\n  car,auto: {synsets: [car.n.01]}\n  car, auto: {synsets: [car.n.02]}\n",
     r"own.yaml: categories: two keys name category 'car, auto'"),
    ("categories:\n  rider: {synsets: [rider.n.09]}\n", r"own.yaml: categories.rider: no WordNet synset 'rider.n.09'"),
    ("vocabulary: [cityscapes]\ncategories:\n  rider: {synsets: [rider.n.03]}\n",
     r"own.yaml: unknown keys \['vocabulary'\] \(a synset file has 'vocabularies' and 'categories'\)"),
    ("vocabularies: [street]\ncategorie:\n  rider: {synsets: [rider.n.03]}\n", r"own.yaml: unknown keys \['categorie'\]"),
    ("vocabularies: [street]\n", r"own.yaml: categories: expected a mapping of category names to their synsets, "
                                 r"got None"),
    ("- rider\n", r"own.yaml: expected a mapping of 'vocabularies' and 'categories', got list"),
], ids=["keys-one-category", "another-vocabulary", "vocabularies-a-string", "spellings-one-category", "no-synset",
        "misspelt-vocabularies", "misspelt-categories", "no-categories", "a-list"])
def test_a_synset_file_of_ones_own_names_its_fault(tmp_path, text, message):
    """A synset file for a vocabulary of one's own: each fault names the file and the key."""
    from oeseg.data.vocabularies import Vocabulary

    street = Vocabulary.from_json("street", [{"id": 0, "name": "rider", "isthing": 1},
                                             {"id": 1, "name": "car, auto", "isthing": 1}])
    (tmp_path / "own.yaml").write_text(text)
    with pytest.raises(InputError, match=message):
        build_wordnet_lexicon(street, ["cyclist"], tmp_path / "own.yaml")


def test_guessed_senses_are_each_taken_once(caplog):
    """Two names of one sense ("car, auto": car.n.01) record it once."""
    from oeseg.data.vocabularies import Vocabulary

    street = Vocabulary.from_json("street", [{"id": 0, "name": "car, auto", "isthing": 1}])
    lexicon = build_wordnet_lexicon(street, ["sedan"])
    assert lexicon.builder["synsets"] == {"car, auto": ["car.n.01"]}
    assert "street: 1 category takes each name's most frequent WordNet noun sense, which may not be the dataset's: " \
           "'car, auto': car.n.01; write" in caplog.text


def test_wordnet_lexicon_relations():
    nouns = ["pole", "telephone pole", "pole vault", "polack", "car", "sedan", "automobile", "wheel",
             "windshield", "van", "truck", "pickup", "light", "traffic signal", "person", "pedestrian",
             "arm", "streetlight", "street light", "people"]
    lexicon = build_wordnet_lexicon(get_vocabulary("cityscapes"), nouns)
    entry = {e.name: e for e in lexicon.entries}
    # "post": the lemma of a written sense (post.n.04), kept though the nouns lack it
    assert entry["pole"].hyponym == ["post", "telephone pole"]
    # "streetlight" and "street light" spell one term: the noun list's first spelling is kept
    assert entry["pole"].meronym == ["streetlight", "street lamp"]
    assert "polack" not in json.dumps(entry["pole"].__dict__)  # pole.n.02, the Pole, is not chosen
    assert "polack" in entry["person"].hyponym and "pole" not in entry["person"].hyponym  # rare sense
    assert entry["car"].synonym == ["auto", "automobile", "machine", "motorcar"]  # car.n.01's lemmas, written
    assert "sedan" in entry["car"].hyponym
    assert "van" in entry["car"].hyponym and "van" not in entry["truck"].hyponym  # Cityscapes: vans are cars
    assert {"wheel", "windshield"} <= set(entry["car"].meronym)  # parts of motor vehicles
    assert entry["traffic light"].synonym == ["traffic signal", "stoplight", "light"]
    assert "pedestrian" in entry["person"].hyponym and "arm" in entry["person"].meronym
    assert "people" in entry["person"].meronym  # the group persons form (member holonym)
    assert "light" not in entry["person"].hyponym  # a rare sense of "light" is a person
    wn, choices = open_wordnet(), synset_choices(get_vocabulary("cityscapes"))
    for e in lexicon.entries:
        assert e.exact == e.name.split(", ") or e.exact == [e.name]
        terms = [t for level in LEVELS[1:] for t in e.terms(level)]
        written = written_terms(wn, choices[e.name], e.name)
        assert len(terms) == len(set(terms)) and set(terms) <= set(nouns) | written
    builder = lexicon.builder
    assert builder["kind"] == "wordnet" and builder["wordnet_version"] == "3.0"
    assert builder["nouns_sha256"] == nouns_sha256(nouns) == hashlib.sha256(
        "".join(n + "\n" for n in nouns).encode()).hexdigest()


def test_wordnet_meronyms_are_parts_not_parts_of_kinds_of_parts():
    """A wall's door has a kind "screen door", whose screen has a kind "windshield": no part of a wall."""
    nouns = ["windshield", "wheel", "door", "window", "bed", "tub", "oak", "maple", "liver"]
    entry = {e.name: e for e in build_wordnet_lexicon(get_vocabulary("cityscapes"), nouns).entries}
    assert {"wheel", "windshield"} <= set(entry["car"].meronym)
    assert "window" in entry["building"].meronym and "door" in entry["wall"].meronym
    assert "liver" in entry["person"].meronym  # a part of a body
    for name in ("building", "wall", "fence"):
        assert not {"windshield", "bed", "tub", "oak", "maple", "liver"} & set(entry[name].meronym), name
    assert "liver" not in entry["vegetation"].meronym


def test_wordnet_lexicon_round_trip_and_other_vocabularies(tmp_path):
    nouns = wordnet_nouns()
    for name in ("demo-city", "demo-ade"):
        lexicon = build_wordnet_lexicon(get_vocabulary(name), nouns)
        lexicon.save(tmp_path / f"{name}.json")
        again = load_lexicon(tmp_path / f"{name}.json")
        assert again.to_json() == lexicon.to_json()
        related = [e for e in lexicon.entries if e.synonym or e.hyponym or e.meronym]
        assert len(related) >= 0.9 * len(lexicon.entries), name


def test_wordnet_lexicon_is_the_same_in_every_process():
    """nltk returns related synsets in the order of a set, which Python's string hashing changes
    from one process to the next; the lexicon (its file's bytes) must not change with it."""
    script = ("from oeseg.data.vocabularies import get_vocabulary; from oeseg.lexicon.nouns import wordnet_nouns; "
              "from oeseg.lexicon.wordnet import build_wordnet_lexicon; "
              "import json; print(json.dumps(build_wordnet_lexicon(get_vocabulary('cityscapes'), "
              "wordnet_nouns()).to_json()))")
    runs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONHASHSEED": seed}) for seed in ("1", "2")]
    first, second = [json.loads(run.communicate(timeout=300)[0])["categories"] for run in runs]
    assert [a["name"] for a, b in zip(first, second) if a != b] == [] and len(first) == len(second) == 19


@pytest.fixture(scope="module")
def offline_default():
    """The offline default's lexicons: WordNet over the frequent nouns plus the category names."""
    from oeseg.lexicon.nouns import OFFLINE_MIN_WORDNET_COUNT, with_category_names

    out = {}
    for name in ("cityscapes", "ade20k"):
        vocabulary = get_vocabulary(name)
        nouns, _ = with_category_names(wordnet_nouns(OFFLINE_MIN_WORDNET_COUNT), [vocabulary])
        out[name] = {e.name: e for e in build_wordnet_lexicon(vocabulary, nouns).entries}
    return out


def test_written_senses_are_kept_whatever_the_noun_list(offline_default):
    """Senses chosen by hand in synsets/<vocabulary>.yaml: their lemmas stay although WordNet's
    sense counts leave them out of the frequent nouns (van, tram, hedge, scooter, street light)."""
    city = offline_default["cityscapes"]
    assert not {"van", "tram", "hedge", "scooter", "streetlight"} & set(wordnet_nouns(3))
    assert "van" in city["car"].hyponym and "trailer" in city["truck"].hyponym
    assert {"tram", "trolley", "locomotive"} <= set(city["train"].hyponym)
    assert "hedge" in city["vegetation"].hyponym and "scooter" in city["motorcycle"].hyponym
    assert {"streetlight", "street lamp"} <= set(city["pole"].meronym)
    assert "traffic signal" in city["traffic light"].synonym


def test_cyclists_are_riders_not_persons(offline_default):
    city = offline_default["cityscapes"]
    assert {"cyclist", "bicyclist", "motorcyclist"} <= set(city["rider"].hyponym)
    assert not {"cyclist", "bicyclist", "motorcyclist"} & set(city["person"].hyponym + city["person"].synonym)


def test_structures_do_not_inherit_the_kinds_of_structural_members(offline_default):
    """Every structure has a "structural member", whose kinds (lamp post, telephone pole, sill,
    stilt) are parts of no particular building, wall or door."""
    for vocabulary, names in (("cityscapes", ("building", "wall", "fence")),
                              ("ade20k", ("wall", "building", "door", "bridge, span"))):
        for name in names:
            meronyms = set(offline_default[vocabulary][name].meronym)
            assert not {"lamppost", "telephone pole", "sill", "stilt", "post"} & meronyms, (vocabulary, name)
    assert "window" in offline_default["cityscapes"]["building"].meronym
    # the frequent nouns lack most kinds of structural member: a noun list that has them
    members = ["bollard", "crossbeam", "lamppost", "telephone pole", "sill"]
    entry = {e.name: e for e in build_wordnet_lexicon(get_vocabulary("cityscapes"), ["window", *members]).entries}
    assert "window" in entry["building"].meronym
    for name in ("building", "wall", "fence"):
        assert not set(members) & set(entry[name].meronym), name


def test_wordnet_relations_of_every_kind(offline_default):
    """Instances are kinds ("broadway" a road), substances are parts ("pavement" of a road); parts
    pass on only from hypernyms at INHERIT_PARTS_MIN_DEPTH or deeper (a hill's hypernym "natural
    elevation", depth 4, keeps its slope); a compound name's head is a synonym only where it names
    a hypernym ("light" for "traffic light", not "can" for "trash can": an ashcan is a bin)."""
    city, ade = offline_default["cityscapes"], offline_default["ade20k"]
    assert "broadway" in city["road"].hyponym and "pavement" in city["road"].meronym
    assert "slope" not in ade["hill"].meronym
    assert "light" in city["traffic light"].synonym and "can" not in ade["trash can"].synonym


def test_ade20k_motorbike_holds_motorcycles(offline_default):
    assert "motorcycle" in offline_default["ade20k"]["minibike, motorbike"].synonym


def test_offline_default_matches_the_embedded_config():
    """`oeseg map` without a lexicon builds the offline default's: config.yaml's noun settings."""
    import yaml

    from oeseg.lexicon.nouns import OFFLINE_MIN_WORDNET_COUNT

    config = Path(__file__).resolve().parents[1] / "config.yaml"
    nouns = yaml.safe_load(config.read_text())["nouns"]
    assert (nouns["source"], nouns["min_wordnet_count"], nouns["category_names"]) == \
        ("wordnet", OFFLINE_MIN_WORDNET_COUNT, True)
