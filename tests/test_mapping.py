"""The mapping stage: subject extraction, lexical and Sentence-BERT mappings, `oeseg map`, and the
quality of both mappings against the paper's human study."""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import pytest

from oeseg.data.vocabularies import ADE20K, CITYSCAPES, DEMO_ADE, DEMO_CITY
from oeseg.io import InputError
from oeseg.lexicon.lexicon import LEVELS, Lexicon, LexiconEntry, load_lexicon
from oeseg.mapping import BACKGROUND, map_regions
from oeseg.mapping import command as map_command
from oeseg.mapping import subject as subject_module
from oeseg.mapping.sbert import SbertMapper, read_class_names
from oeseg.human_study.published import agreement_table, load_user_study, map_user_study, remap_user_study
from oeseg.mapping.subject import parse_subjects

CAR, BICYCLE, ROAD, SIDEWALK, PERSON = 13, 18, 0, 1, 11


@pytest.fixture(scope="session")
def toy_lexicon() -> Lexicon:
    """A hand-made Cityscapes lexicon with one relation of each kind and a meronym tie (every other
    category with its name alone, as a lexicon lists every category)."""
    entries = {e.id: e for e in [
        LexiconEntry(ROAD, "road", ["road"], ["street"], ["highway"], []),
        LexiconEntry(SIDEWALK, "sidewalk", ["sidewalk"], ["pavement"], [], ["curb", "street"]),
        LexiconEntry(PERSON, "person", ["person"], ["people"], ["man", "woman"], []),
        LexiconEntry(CAR, "car", ["car"], ["automobile"], ["taxi", "sedan"], ["wheel", "tire"]),
        LexiconEntry(BICYCLE, "bicycle", ["bicycle"], ["bikes"], [], ["wheel", "pedal"]),
    ]}
    return Lexicon("cityscapes", {"kind": "test"}, [entries.get(c.id) or LexiconEntry(c.id, c.name, [c.name], [], [], [])
                                                    for c in CITYSCAPES])


@pytest.fixture(scope="session")
def paper_files(shared_data: Path) -> Path:
    return shared_data / "paper"


@pytest.fixture(scope="session")
def gpt4_cityscapes(paper_files: Path) -> Lexicon:
    return load_lexicon(paper_files / "output_semantics_gpt4_cityscapes.json", CITYSCAPES)


@pytest.mark.parametrize("description, subject", [
    ("the wheel of a bicycle", "wheel"),                    # prepositional phrase dropped
    ("A Traffic Light on a pole", "traffic light"),         # capitals, compound kept
    ("street lamps along the road", "street lamp"),         # plural compound, singular head
    ("people walking on the sidewalk", "person"),           # irregular plural, participle clause
    ("The buses are parked near the station", "bus"),       # clause subject
    ("a tall green tree that is next to the house", "tree"),  # adjectives, relative clause
    ("this is a car", "car"),                               # pronoun subject: the attribute
    ("The answer is lawn.", "lawn"),                        # meta noun: the attribute
    ("leaves on the ground", "leaf"),                       # fragment the tagger takes for a verb
    ("A WHITE SEDAN PARKED ON THE STREET", "sedan"),
    ("two men standing", "man"),
    ("Trees.", "tree"),
    ("there are trees", "tree"),                            # expletive subject: the attribute, not "are trees"
    ("set of street lights", "street light"),               # first noun a compound: its head with it
    # a noun right after the head that the parser hangs below it is the head
    ("a stop light on a pole", "stop light"),
    ("handle bars of a bicycle", "handle bar"),
    ("", ""),
    # bare noun outputs of classifiers and taggers, whatever the tagger makes of them alone
    ("building", "building"),                               # a lone "building" is tagged VBG
    ("painting", "painting"),
    ("bookshelf", "bookshelf"),                             # tagged PRP alone
    ("streetlight", "streetlight"),                         # tagged JJ alone
    ("stop sign", "stop sign"),                             # compound kept ("stop" is not a verb)
    ("green metal trash can", "metal trash can"),           # four words are still a bare phrase
    ("trash can", "trash can"),                             # "can" is not a modal
    ("blue sky", "sky"),                                    # adjective dropped
    ("parked cars", "car"),
    ("sitting on a bench", "bench"),                        # not a bare phrase: the noun
    # bare phrases that no parse reads as one noun phrase: whole, the last word the head
    ("room divider", "room divider"),                       # "divider" tagged RBR
    ("beer can", "beer can"),                               # "can" a modal even in the carrier
    ("fire extinguisher", "fire extinguisher"),
    ("clothes rack", "clothes rack"),
    ("pick up", "pick"),                                    # a particle: not a noun phrase
    ("man wearing blue shirt", "man"),                      # a participle inside: not either
    ("bike leaning", "bike"),                               # a participle last: not either
    ("car parked", "car"),                                  # "parked" tagged as a past tense
    ("boat docked", "boat"),
    # hyphen-joined words stay one word, whatever the parser made of their parts
    ("high-rise", "high rise"),                             # "high" an adjective of "rise"
    ("a tall high-rise next to the road", "high rise"),
    ("an e-bike on the sidewalk", "e bike"),
    ("a well - lit street", "street"),                       # spaced hyphens join nothing
    # the tagger may read a lone hyphen as a noun, the parser make it the root: it is never the head
    ("x-ray", "x ray"),
    ("e-bike", "e bike"),
    ("e-bike parked on the sidewalk", "e bike"),
    ("anti-semitism", "anti semitism"),                     # the hyphen parsed as the root
    ("- - -", ""),
    ("-", ""),
])
def test_subject_phrase(description: str, subject: str) -> None:
    assert parse_subjects([description])[0].phrase == subject


@pytest.mark.parametrize("description, groups", [
    ("falls", (("falls", "fall"),)),                        # the written form too: plural-only names
    ("the clothes.", (("clothes", "clothe"),)),
    ("crt screen", (("crt screen",), ("screen",))),         # the whole description, then the subject
    ("the trash cans", (("trash cans", "trash can"),)),
    ("a hardwood floor", (("hardwood floor", "floor"),)),   # with an article: one group, strongest wins
    ("people walking on the sidewalk", (("people walking on the sidewalk",), ("people", "person"))),
    ("The answer is pillow.", (("answer is pillow", "pillow"),)),  # meta noun: the attribute, any tag
])
def test_subject_term_groups(description: str, groups: tuple) -> None:
    assert parse_subjects([description])[0].term_groups == groups


def test_parse_subjects_context_nouns() -> None:
    row, sign, taxi = parse_subjects(["a row of cars", "a sign on a building", "a yellow taxi cab"])
    assert (row.phrase, row.of_complement) == ("row", "car")
    assert sign.attachments == ("building",)
    assert (taxi.phrase, taxi.head, taxi.parts) == ("taxi cab", "cab", ("taxi", "cab"))


def test_parse_subjects_caches_unique_descriptions(monkeypatch: pytest.MonkeyPatch) -> None:
    first = parse_subjects(["a parked scooter", "a parked scooter", "an old tram"])
    assert [s.phrase for s in first] == ["scooter", "scooter", "tram"]

    def no_parser():
        raise AssertionError("cached descriptions must not be parsed again")

    monkeypatch.setattr(subject_module, "load_spacy", no_parser)
    assert parse_subjects(["an old tram", "a parked scooter"]) == [first[2], first[0]]


def test_parse_subjects_shares_one_parse_per_normal_text() -> None:
    parsed = parse_subjects(["A Green Kiosk", " a green  kiosk", "a green kiosk", "a green kiosk."])
    assert parsed[0] is parsed[1] is parsed[2] and parsed[3] is not parsed[0]
    assert parsed[0].phrase == "kiosk" and parsed[0].whole == "green kiosk"


def _lexical(descriptions, gts, lexicon):
    return map_regions(descriptions, gts, CITYSCAPES, "lexical", lexicon)


def test_lexical_levels_are_cumulative(toy_lexicon: Lexicon) -> None:
    out = _lexical(["a white sedan", "an automobile", "the car is red", "a purple elephant"],
                   None, toy_lexicon)
    assert [out[level][0] for level in LEVELS] == [BACKGROUND, BACKGROUND, CAR, CAR]
    assert [out[level][1] for level in LEVELS] == [BACKGROUND, CAR, CAR, CAR]
    assert [out[level][2] for level in LEVELS] == [CAR] * 4
    assert [out[level][3] for level in LEVELS] == [BACKGROUND] * 4


def test_a_degenerate_repetition_maps_without_exhausting_the_recursion(toy_lexicon: Lexicon) -> None:
    """"car car car ..." (an MLLM's repetition, within the 10,000-character limit) parses as a chain
    of thousands of compounds; the compound walk stops at MAX_COMPOUND_DEPTH and the head counts."""
    repeated = ("car " * 2499).strip()
    (subject,) = parse_subjects([repeated])
    assert subject.head == "car" and len(subject.phrase.split()) == subject_module.MAX_COMPOUND_DEPTH + 1
    out = _lexical([repeated], [CAR], toy_lexicon)
    assert [out[level][0] for level in LEVELS] == [CAR] * 4


def test_lexical_ground_truth_priority_and_strongest_relation(toy_lexicon: Lexicon) -> None:
    descriptions = ["the street is wet", "the street is wet", "the wheel of a bicycle", "the wheel of a bicycle"]
    out = _lexical(descriptions, [SIDEWALK, None, BICYCLE, None], toy_lexicon)
    # "street": synonym of road, meronym of sidewalk: the ground truth wins from its level on
    assert [out[level][0] for level in LEVELS] == [BACKGROUND, ROAD, ROAD, SIDEWALK]
    assert [out[level][1] for level in LEVELS] == [BACKGROUND, ROAD, ROAD, ROAD]
    assert out["meronym"][2] == BICYCLE
    # without a ground truth, the tie between car and bicycle (both meronyms) goes to the first in
    # vocabulary order
    assert out["meronym"][3] == CAR and out["hyponym"][3] == BACKGROUND


def test_lexical_context_nouns_only_confirm_the_ground_truth(toy_lexicon: Lexicon) -> None:
    out = _lexical(["a row of cars", "a row of cars", "a yellow taxi cab", "a yellow taxi cab",
                    "a blue bike"], [CAR, None, CAR, None, None], toy_lexicon)
    assert [out[level][0] for level in LEVELS] == [BACKGROUND, BACKGROUND, CAR, CAR]
    assert [out[level][1] for level in LEVELS] == [BACKGROUND] * 4
    assert [out[level][2] for level in LEVELS] == [BACKGROUND, BACKGROUND, BACKGROUND, CAR]
    assert [out[level][3] for level in LEVELS] == [BACKGROUND] * 4
    # the lexicon's plural term "bikes" is normalised like subjects are
    assert out["synonym"][4] == BICYCLE


def test_lexical_shorter_phrase_only_confirms_the_ground_truth() -> None:
    # "city taxi cab" is no term and "cab" relates to nothing: the phrase without its first word
    # ("taxi cab": synonym of car) confirms the ground truth at its own level, and without a
    # ground truth chooses nothing
    lexicon = Lexicon("cityscapes", {"kind": "test"}, [
        LexiconEntry(CAR, "car", ["car"], ["taxi cab"], [], []),
        LexiconEntry(PERSON, "person", ["person"], [], ["taxi driver"], []),
    ])
    out = _lexical(["a city taxi cab", "a city taxi cab", "a taxi driver"], [CAR, None, CAR], lexicon)
    assert [out[level][0] for level in LEVELS] == [BACKGROUND, CAR, CAR, CAR]
    assert [out[level][1] for level in LEVELS] == [BACKGROUND] * 4
    # a phrase that relates to another category keeps it ("taxi driver": a person, not a car)
    assert [out[level][2] for level in LEVELS] == [BACKGROUND, BACKGROUND, PERSON, PERSON]
    # a phrase that relates to the ground truth itself is not confirmed earlier by a shorter one
    # ("taxi cab": a meronym of car here, "cab" a synonym)
    lexicon = Lexicon("cityscapes", {"kind": "test"}, [LexiconEntry(CAR, "car", ["car"], ["cab"], [], ["taxi cab"])])
    out = _lexical(["a taxi cab"], [CAR], lexicon)
    assert [out[level][0] for level in LEVELS] == [BACKGROUND, BACKGROUND, BACKGROUND, CAR]


def test_singular_imports_inflect_without_typeguard_checks() -> None:
    """inflect imported with a pass-through `typechecked` gives inflect's own singular forms."""
    import subprocess
    import sys

    words = ["people", "buses", "stairs", "leaves", "mice", "clothes", "glasses", "car", "falls"]
    script = ("import sys, inflect; e = inflect.engine(); "
              f"print([e.singular_noun(w) or w for w in {words!r}])")
    reference = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    typeguard_before = sys.modules.get("typeguard")
    subject_module._inflect_engine.cache_clear()
    subject_module.singular.cache_clear()
    sys.modules.pop("inflect", None)
    assert str([subject_module.singular(w) for w in words]) == reference.stdout.strip()
    assert sys.modules.get("typeguard") is typeguard_before  # the stand-in is gone again


def test_spacy_loads_without_importing_torch() -> None:
    """spaCy imported with torch hidden parses as with torch loaded first, and torch still imports."""
    import subprocess
    import sys

    descriptions = ["a building", "the red cars parked on the street", "trash can", "people walking"]
    parse = ("from oeseg.mapping.subject import parse_subjects; "
             f"print([(s.phrase, s.written) for s in parse_subjects({descriptions!r})]); ")
    with_torch = subprocess.run([sys.executable, "-c", "import torch; " + parse], capture_output=True,
                                text=True, check=True)
    hidden = subprocess.run([sys.executable, "-c", parse + "import sys; print('torch' in sys.modules); "
                             "import torch; print(torch.ones(1).item())"], capture_output=True, text=True, check=True)
    assert hidden.stdout.splitlines() == [with_torch.stdout.strip(), "False", "1.0"]


@pytest.mark.parametrize("description, modifiers, last_group", [
    ("a white lamp shade", 1, ("lamp shade",)),               # a colour taken for a compound noun
    ("a silver car parked on the street", 1, ("car",)),
    ("a green grassy field", 1, ("field",)),                   # "green" an adjective, "grassy" a compound
    ("white kitchen cabinets", 1, ("kitchen cabinets", "kitchen cabinet")),
    ("a high-rise building", 0, None),                         # hyphen-joined words stay one word
    ("a waiting room", 0, None),                               # -ing forms name a purpose
    ("an orange ball", 0, None),                               # WordNet reads "orange" mostly as a noun
    ("white", 0, None),                                        # never the last word
    ("a black leather brown chair", 0, None),                  # only leading words: "brown" follows a noun
])
def test_subject_leading_adjectives(description: str, modifiers: int, last_group: tuple | None) -> None:
    subject = parse_subjects([description])[0]
    assert subject.modifiers == modifiers
    assert (subject.term_groups[-1] if modifiers else None) == last_group


def test_lexical_phrase_without_leading_adjectives_where_it_relates_to_nothing() -> None:
    """"a silver car" maps to car without a ground truth (before: background); a phrase that the
    lexicon knows with its adjective keeps its own relation ("white van": a car here, though "van"
    alone is a person)."""
    lexicon = Lexicon("cityscapes", {"kind": "test"}, [
        LexiconEntry(CAR, "car", ["car"], ["automobile"], ["white van"], []),
        LexiconEntry(PERSON, "person", ["person"], [], ["van"], []),
    ])
    out = _lexical(["a silver car parked on the street", "a white van", "a silver automobile", "a red van"],
                   None, lexicon)
    assert [out[level][0] for level in LEVELS] == [CAR] * 4
    assert [out[level][1] for level in LEVELS] == [BACKGROUND, BACKGROUND, CAR, CAR]
    assert [out[level][2] for level in LEVELS] == [BACKGROUND, CAR, CAR, CAR]
    assert [out[level][3] for level in LEVELS] == [BACKGROUND, BACKGROUND, PERSON, PERSON]
    # with a ground truth too: "silver sedan" relates (a hyponym of car), so "sedan" (a synonym)
    # does not confirm car earlier than that
    lexicon = Lexicon("cityscapes", {"kind": "test"}, [LexiconEntry(CAR, "car", ["car"], ["sedan"], ["silver sedan"], [])])
    out = _lexical(["a silver sedan", "a silver sedan", "a white sedan"], [CAR, None, CAR], lexicon)
    assert [out[level][0] for level in LEVELS] == [out[level][1] for level in LEVELS] == [BACKGROUND, BACKGROUND, CAR, CAR]
    assert [out[level][2] for level in LEVELS] == [BACKGROUND, CAR, CAR, CAR]


def test_the_adjective_list_is_wordnets() -> None:
    """The committed list is what tools/make_adjective_list.py writes from the system's WordNet 3.0."""
    from oeseg.lexicon.wordnet import adjective_words, open_wordnet

    words = adjective_words(open_wordnet())
    assert subject_module.ADJECTIVES_FILE.read_text(encoding="utf-8") == subject_module.adjective_list_text(words)
    assert {"white", "silver", "grassy"} <= set(words) and not {"orange", "gold", "waiting", "car"} & set(words)


def test_normalize_terms_singularises_plural_last_words_only() -> None:
    """A lexicon term's normal form makes its last word singular only where the tagger reads it as a
    plural: "bus" stays (inflect alone would make it "bu"), "traffic lights" becomes singular."""
    assert subject_module.normalize_terms(["bus", "city bus", "Traffic-Lights", "cars", "car"]) == {
        "bus": "bus", "city bus": "city bus", "Traffic-Lights": "traffic light", "cars": "car", "car": "car"}


def test_subject_suffixes() -> None:
    lamp, car = parse_subjects(["a white lamp shade", "the car"])
    assert lamp.suffixes == ("lamp shade", "shade") and car.suffixes == ("car",)


def test_lexical_of_complement_chooses_from_hyponym_level(toy_lexicon: Lexicon) -> None:
    # "wheel" is a meronym of car and bicycle (car first); the complement "bicycle" relates more
    # strongly and chooses from the hyponym level on, where the paper's published human-study
    # mapping shows the complement acting
    out = _lexical(["a wheel of a bicycle", "a row of bicycles", "the wheel"], None, toy_lexicon)
    assert [out[level][0] for level in LEVELS] == [BACKGROUND, BACKGROUND, BICYCLE, BICYCLE]
    assert [out[level][1] for level in LEVELS] == [BACKGROUND] * 4   # "row" relates to nothing
    assert out["meronym"][2] == CAR
    # a complement that relates only as strongly as the subject chooses nothing earlier
    lexicon = Lexicon("cityscapes", {"kind": "test"}, [LexiconEntry(CAR, "car", ["car"], [], [], ["wheel", "tire"])])
    out = _lexical(["a wheel of a tire"], None, lexicon)
    assert [out[level][0] for level in LEVELS] == [BACKGROUND, BACKGROUND, BACKGROUND, CAR]


def test_lexical_levels_subset_and_errors(toy_lexicon: Lexicon) -> None:
    out = map_regions(["a sedan"], [None], CITYSCAPES, "lexical", toy_lexicon, levels=["hyponym"])
    assert out == {"hyponym": [CAR]}
    with pytest.raises(ValueError, match="unknown level"):
        map_regions(["a sedan"], None, CITYSCAPES, "lexical", toy_lexicon, levels=["hypernym"])
    with pytest.raises(ValueError, match="needs a lexicon"):
        map_regions(["a sedan"], None, CITYSCAPES, "lexical")
    with pytest.raises(ValueError, match="unknown mapping method"):
        map_regions(["a sedan"], None, CITYSCAPES, "clip", toy_lexicon)
    with pytest.raises(ValueError, match="ground-truth ids"):
        map_regions(["a sedan", "a bus"], [None], CITYSCAPES, "lexical", toy_lexicon)


@pytest.mark.parametrize("vocabulary, lexicon_file", [
    (CITYSCAPES, "output_semantics_gpt4_cityscapes.json"), (ADE20K, "output_semantics_gpt4_ade20k.json")])
def test_every_category_name_maps_to_its_category(paper_files: Path, vocabulary, lexicon_file: str) -> None:
    """Each comma-separated name, bare, plural, with "a"/"the": its category at the exact level,
    with the ground-truth priority, and without it where the form names one category only."""
    import inflect

    engine = inflect.engine()
    lexicon = load_lexicon(paper_files / lexicon_file, vocabulary)
    owners: dict[str, set[int]] = {}
    for c in vocabulary:
        for n in c.names:
            owners.setdefault(n, set()).add(c.id)
    forms, gts, unique = [], [], []
    for c in vocabulary:
        for n in c.names:
            plural = n if engine.singular_noun(n.split()[-1]) else engine.plural_noun(n)  # "falls" stays
            for form, bare in ((n, n), (plural, plural), (engine.a(n), n), (f"the {n}", n),
                               (f"the {plural}", plural)):
                forms.append(form)
                gts.append(c.id)
                # one category only: its name is no other's, nor is the form ("stairs" of "step, stair")
                unique.append(owners[n] == {c.id} and owners.get(bare, {c.id}) == {c.id})
    assert len(forms) == 5 * sum(len(c.names) for c in vocabulary)
    with_gt = map_regions(forms, gts, vocabulary, "lexical", lexicon, levels=["exact"])["exact"]
    assert [(f, m) for f, g, m in zip(forms, gts, with_gt) if m != g] == []
    without = map_regions(forms, None, vocabulary, "lexical", lexicon, levels=["exact"])["exact"]
    assert sum(unique) > 0.9 * len(forms)
    assert [(f, m) for f, g, m, u in zip(forms, gts, without, unique) if u and m != g] == []


def test_noun_outputs_keep_their_regions(paper_files: Path) -> None:
    """Nouns that classifiers output map without ground truth (none is lost to an empty subject)."""
    lexicon = load_lexicon(paper_files / "output_semantics_gpt4_ade20k.json", ADE20K)
    nouns = ["building", "painting", "railing", "bookshelf", "seating", "bedding", "tub", "blind",
             "plaything", "trash can", "falls", "crt screen", "stairs", "clothes"]
    assert all(s.phrase for s in parse_subjects(nouns))
    exact = map_regions(nouns, None, ADE20K, "lexical", lexicon, levels=["exact"])["exact"]
    names = [noun for noun in nouns if ADE20K.named(noun)]  # all but railing, bookshelf, seating, bedding
    assert len(names) == 10
    assert [cid for noun, cid in zip(nouns, exact) if noun in names] == [ADE20K.by_name(n).id for n in names]
    meronym = map_regions(nouns, None, ADE20K, "lexical", lexicon, levels=["meronym"])["meronym"]
    assert BACKGROUND not in meronym
    city = load_lexicon(paper_files / "output_semantics_gpt4_cityscapes.json", CITYSCAPES)
    assert map_regions(["building", "stop sign"], None, CITYSCAPES, "lexical", city,
                       levels=["exact", "hyponym"]) == {"exact": [2, BACKGROUND], "hyponym": [2, 7]}


def test_read_class_names(paper_files: Path, tmp_path: Path) -> None:
    city = read_class_names(paper_files / "cityscapes_with_prompt_eng.txt", CITYSCAPES)
    assert list(city) == list(range(19)) and "bike" in city[BICYCLE]
    ade = read_class_names(paper_files / "ade20k_150_with_prompt_eng.txt", ADE20K)
    assert len(ade) == 150 and ade[0][0] == "wall" and ade[149][0] == "flag"
    bad = tmp_path / "bad.txt"
    bad.write_text("0:road\n1 sidewalk\n")
    with pytest.raises(InputError, match=r"bad.txt:2"):
        read_class_names(bad, CITYSCAPES)
    # a file numbering the categories 1..K is read by number, in vocabulary order, whatever its line
    # order; names are split at commas and stripped
    bad.write_text("".join(f"{k}:{c.name}\n" for k, c in reversed(list(enumerate(CITYSCAPES, start=1))))
                   .replace("1:road", "1:road, street ,lane"))
    numbered = read_class_names(bad, CITYSCAPES)
    assert numbered[ROAD] == ["road", "street", "lane"] and numbered[SIDEWALK] == ["sidewalk"]
    assert numbered[BICYCLE] == ["bicycle"]
    bad.write_text("0:road\n")
    with pytest.raises(InputError, match="1 classes"):
        read_class_names(bad, CITYSCAPES)
    lines = (paper_files / "cityscapes_with_prompt_eng.txt").read_text().splitlines()
    bad.write_text("\n".join(lines).replace("14:truck", "41:truck"))  # a typo must not shift the classes
    with pytest.raises(InputError, match=r"bad.txt:15: class 41 is not a category id of vocabulary cityscapes"):
        read_class_names(bad, CITYSCAPES)
    bad.write_text("\n".join(lines[:14] + ["13:truck"] + lines[15:]))
    with pytest.raises(InputError, match=r"bad.txt:15: class 13 is listed twice \(line 14\)"):
        read_class_names(bad, CITYSCAPES)


def test_sbert_forced_choice(paper_files: Path) -> None:
    descriptions = ["a tall palm tree", "a purple elephant", "a red double-decker bus", "a tall palm tree"]
    prompt = map_regions(descriptions, None, CITYSCAPES, "sbert",
                         sbert_class_names=paper_files / "cityscapes_with_prompt_eng.txt")
    assert prompt["exact"] == prompt["meronym"]                       # one mapping fills every level
    assert prompt["exact"][0] == 8 and prompt["exact"][2] == 15 and prompt["exact"][3] == 8
    assert BACKGROUND not in prompt["exact"]                          # forced choice
    plain = map_regions(["a parked sedan", "a wooden bed with pillows"], None, DEMO_ADE, "sbert",
                        levels=["meronym"])["meronym"]
    assert plain == [ADE20K.by_name("car").id, ADE20K.by_name("bed").id]
    # a class scores its best name, not the mean of its names: "car" wins for a car though its other
    # names are unrelated (their mean would lose to "road")
    names = {CAR: ["car", "banana", "violin", "sunset"], ROAD: ["road"]}
    assert SbertMapper(names).map(["a red car"]) == [CAR]


def _run_map(tmp_path: Path, rows: list[dict], *args: str) -> list[dict]:
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    with open(src, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    parser = argparse.ArgumentParser()
    map_command.add_arguments(parser)
    assert map_command.run(parser.parse_args([*args, str(src), "-o", str(dst)])) == 0
    with open(dst, newline="") as f:
        return list(csv.DictReader(f))


def test_map_command(tmp_path: Path, paper_files: Path) -> None:
    rows = [{"description": "the wheel of a bicycle", "gt": "bicycle"},
            {"description": "the wheel of a bicycle", "gt": ""},
            {"description": "a tall palm tree", "gt": "8"},
            {"description": "a purple elephant", "gt": ""}]
    lexicon = str(paper_files / "output_semantics_gpt4_cityscapes.json")
    out = _run_map(tmp_path, rows, "--vocabulary", "cityscapes", "--method", "lexical", "--lexicon", lexicon)
    assert [r["category"] for r in out] == ["bicycle", "car", "vegetation", "background"]
    assert [r["gt"] for r in out] == ["bicycle", "", "8", ""]
    exact = _run_map(tmp_path, rows, "--vocabulary", "demo-city", "--method", "lexical", "--level", "exact",
                     "--lexicon", lexicon)
    assert [r["category"] for r in exact] == ["background"] * 4
    sbert = _run_map(tmp_path, rows[2:], "--vocabulary", "cityscapes", "--method", "sbert",
                     "--sbert-classes", str(paper_files / "cityscapes_with_prompt_eng.txt"))
    assert sbert[0]["category"] == "vegetation" and sbert[1]["category"] != "background"


def test_map_command_ground_truth_names(tmp_path: Path, paper_files: Path) -> None:
    """A full name wins over a category that lists it among others; ids always work."""
    rows = [{"description": "a screen", "gt": gt} for gt in ("screen", "Screen Door, Screen", "58", "63", "pot")]
    out = _run_map(tmp_path, rows, "--vocabulary", "ade20k", "--method", "lexical", "--level", "exact",
                   "--lexicon", str(paper_files / "output_semantics_gpt4_ade20k.json"))
    assert [r["category"] for r in out] == ["screen", "screen door, screen", "screen door, screen",
                                            "blind, screen", "screen door, screen"]  # pot: unrelated
    assert ADE20K.by_name("pot").id == 125 and ADE20K.by_name("toilet").id == 65
    assert [c.id for c in ADE20K.named("ground")] == [13, 94]
    with pytest.raises(KeyError, match="13 'earth, ground'; 94 'land, ground, soil'"):
        ADE20K.by_name("ground")


def test_map_command_ade_lexicon_serves_demo_ade(tmp_path: Path, paper_files: Path) -> None:
    rows = [{"description": d} for d in ("a double bed", "a palm tree", "a wooden armchair")]
    lexicon = str(paper_files / "output_semantics_gpt4_ade20k.json")
    ade = _run_map(tmp_path, rows, "--vocabulary", "ade20k", "--method", "lexical", "--lexicon", lexicon)
    assert [r["category"] for r in ade] == ["bed", "palm, palm tree", "armchair"]
    # the demo's ADE20K subset lacks palm and armchair: the next relation in the lexicon decides
    demo = _run_map(tmp_path, rows, "--vocabulary", "demo-ade", "--method", "lexical", "--lexicon", lexicon)
    assert [r["category"] for r in demo] == ["bed", "tree", "chair"]


def test_map_command_rejects_a_lexicon_of_another_vocabulary(tmp_path: Path, paper_files: Path) -> None:
    """ADE20K's lexicon serves its subset demo-ade, but its ids 0-18 are not Cityscapes' categories."""
    (tmp_path / "in.csv").write_text("description\na wall\n")
    parser = argparse.ArgumentParser()
    map_command.add_arguments(parser)
    ns = parser.parse_args(["--vocabulary", "cityscapes", "--method", "lexical", "--lexicon",
                            str(paper_files / "output_semantics_gpt4_ade20k.json"), str(tmp_path / "in.csv"),
                            "-o", str(tmp_path / "out.csv")])
    with pytest.raises(InputError, match=r"output_semantics_gpt4_ade20k.json: category id 0 is named 'wall', "
                                         r"in vocabulary 'cityscapes' it is 'road'"):
        map_command.run(ns)
    assert not (tmp_path / "out.csv").exists()


def test_map_command_uses_the_workflow_lexicon(tmp_path: Path, toy_lexicon: Lexicon,
                                               monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    (tmp_path / "config.yaml").write_text("out: built\n")
    toy_lexicon.save(tmp_path / "built" / "lexicons" / "cityscapes.json")
    monkeypatch.chdir(tmp_path)
    out = _run_map(tmp_path, [{"description": "an automobile"}], "--vocabulary", "cityscapes",
                   "--method", "lexical", "--level", "synonym")
    assert out[0]["category"] == "car"
    assert ("1 descriptions mapped (lexical, level synonym; lexicon: built/lexicons/cityscapes.json "
            "(the workflow's, `out` of ./config.yaml))") in capsys.readouterr().out


@pytest.mark.parametrize("content, args, message", [
    ("text\nsedan\n", ["--vocabulary", "cityscapes"], r"in.csv:1: missing column 'description'"),
    ("description,gt\na sedan,car\na bus,zebra\n", ["--vocabulary", "cityscapes"],
     r"in.csv:3: field 'gt': vocabulary cityscapes has no category named 'zebra'"),
    ("description,gt\na sedan,42\n", ["--vocabulary", "cityscapes"], r"in.csv:2: field 'gt': '42' is not a category id"),
    pytest.param("description,gt\na sedan,\u00b2\n", ["--vocabulary", "cityscapes"],
                 r"in.csv:2: field 'gt': vocabulary cityscapes has no category named '\u00b2'", id="gt-superscript-two"),
    pytest.param("description,gt\na sedan,--3\n", ["--vocabulary", "cityscapes"],
                 r"in.csv:2: field 'gt': vocabulary cityscapes has no category named '--3'", id="gt-two-minus-signs"),
    ("description,gt\nmud,earth\nmud,ground\n", ["--vocabulary", "ade20k"],
     (r"in.csv:3: field 'gt': 'ground' names several categories of vocabulary ade20k "
     r"\(13 'earth, ground'; 94 'land, ground, soil'\): give a full name or an id")),
    ("description\na sedan\n", ["--vocabulary", "no-such-vocabulary"], "unknown vocabulary"),
    ("description,description\na sedan,a bus\n", ["--vocabulary", "cityscapes"],
     r"in.csv:1: column 'description' appears more than once"),
    ("id,description,category\n1,a sedan,vehicle\n", ["--vocabulary", "cityscapes"],
     r"in.csv:1: has a column 'category', which the output's mapped category would overwrite"),
    ("description,gt\na sedan,car\n ,car\n", ["--vocabulary", "cityscapes"], r"in.csv:3: 'description' is empty"),
    pytest.param("description,gt\n", ["--vocabulary", "cityscapes"], r"in.csv: no descriptions: the header line alone",
                 id="header-alone"),
    pytest.param(f"description\na {'very ' * 2001}long car\n", ["--vocabulary", "cityscapes"],
                 r"in.csv:2: description of 10,015 characters, over the limit of 10,000", id="too-long"),
    pytest.param(f"description\na sedan\n{'x' * 140_000}\n", ["--vocabulary", "cityscapes"],
                 r"in.csv:3: field larger than field limit", id="over-the-csv-field-limit"),
    pytest.param('description\na sedan\n"a bus, red\na car\na van\n', ["--vocabulary", "cityscapes"],
                 r"in.csv:3: unexpected end of data \(in the row that starts on this line\)", id="quote-left-open"),
    pytest.param('description\na sedan\n\n\n"a bus, red\na car\n', ["--vocabulary", "cityscapes"],
                 r"in.csv:5: unexpected end of data \(in the row that starts on this line\)",
                 id="quote-left-open-after-empty-lines"),
    ("description\na sedan\n", ["--vocabulary", "cityscapes", "--level", "hypernym"], "--level 'hypernym'"),
    # an empty level (--level "$LEVEL" with the variable unset) is no level, not the default
    ("description\na sedan\n", ["--vocabulary", "cityscapes", "--level", ""], "--level '': not one of"),
])
def test_map_command_errors(tmp_path: Path, toy_lexicon: Lexicon, content: str, args: list[str],
                            message: str) -> None:
    toy_lexicon.save(tmp_path / "lex.json")
    (tmp_path / "in.csv").write_text(content)
    parser = argparse.ArgumentParser()
    map_command.add_arguments(parser)
    ns = parser.parse_args([*args, "--method", "lexical", "--lexicon", str(tmp_path / "lex.json"),
                            str(tmp_path / "in.csv"), "-o", str(tmp_path / "out.csv")])
    with pytest.raises(InputError, match=message):
        map_command.run(ns)
    assert not (tmp_path / "out.csv").exists()


def test_map_command_refuses_a_level_with_sbert(tmp_path: Path) -> None:
    """Sentence-BERT has no levels: `--level exact` with it would be ignored while the summary named
    the level, so it is refused as `--lexicon` is."""
    (tmp_path / "in.csv").write_text("description\na sedan\n")
    parser = argparse.ArgumentParser()
    map_command.add_arguments(parser)
    ns = parser.parse_args(["--vocabulary", "cityscapes", "--method", "sbert", "--level", "exact",
                            str(tmp_path / "in.csv"), "-o", str(tmp_path / "out.csv")])
    with pytest.raises(InputError, match=r"^--level is read by --method lexical only \(the mapping here is sbert\)$"):
        map_command.run(ns)
    assert not (tmp_path / "out.csv").exists()


def test_user_study_quality(paper_files: Path, gpt4_cityscapes: Lexicon) -> None:
    """Our mappings reproduce the paper's on >= 95 % of the 1,181 human-labelled
    descriptions at every level, on all of them and on each half of a fixed hash split; the
    lexical mapping agrees with the human label at the meronym level on >= 91.5 %."""
    items = load_user_study(paper_files / "user_study_results.json", CITYSCAPES)
    assert len(items) == 1181
    rows = map_user_study(items, CITYSCAPES, gpt4_cityscapes, paper_files / "cityscapes_with_prompt_eng.txt")
    halves = [[r for r in rows if r["held_out"] == h] for h in (0, 1)]
    assert all(len(h) > 400 for h in halves)
    for subset in (rows, *halves):
        table = {(r["mapping"], r["level"]): r for r in agreement_table(subset)}
        for level in LEVELS:
            assert table["lexical", level]["reproduces_paper"] >= 95.0, (level, table["lexical", level])
        assert table["sbert", "-"]["reproduces_paper"] >= 95.0
    table = {(r["mapping"], r["level"]): r for r in agreement_table(rows)}
    assert table["lexical", "meronym"]["agrees_with_human"] >= 91.5
    assert 60.0 <= table["sbert", "-"]["agrees_with_human"] <= 64.0


def test_remap_user_study_writes_csv(tmp_path: Path, toy_lexicon: Lexicon) -> None:
    study = [{"description": "a white sedan", "human_label": CAR, "sentence_bert": CAR,
              "our_mapping": {"exact": 19, "synonyms": 19, "hyponyms": CAR, "meronyms": CAR}},
             {"description": "a purple elephant", "human_label": 19, "sentence_bert": ROAD,
              "our_mapping": {"exact": 19, "synonyms": 19, "hyponyms": 19, "meronyms": 19}}]
    (tmp_path / "study.json").write_text(json.dumps(study))
    toy_lexicon.save(tmp_path / "lex.json")
    table = remap_user_study(tmp_path / "study.json", tmp_path / "lex.json", tmp_path / "out" / "m.csv")
    with open(tmp_path / "out" / "m.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["lexical_hyponym"] for r in rows] == [str(CAR), str(BACKGROUND)]
    assert [r["human"] for r in rows] == [str(CAR), str(BACKGROUND)]
    assert {(r["mapping"], r["level"]): r["reproduces_paper"] for r in table}["lexical", "meronym"] == 100.0
    study[1]["human_label"] = 42
    (tmp_path / "study.json").write_text(json.dumps(study))
    with pytest.raises(InputError, match=r"study.json: \[1\].human_label"):
        load_user_study(tmp_path / "study.json", DEMO_CITY)
