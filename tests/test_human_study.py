"""The human verification study: selection, agreement, final labels, and the annotation page in
headless Chromium (choose answers, reload, export)."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from figure_fakes import fake_map_regions, make_split, write_region_predictions

from oeseg import mapping
from oeseg.data.vocabularies import DEMO_CITY
from oeseg.figures.accuracy import plot_fig8, write_fig3
from oeseg.human_study.agreement import write_agreement, write_annotated_study, write_reference_study
from oeseg.human_study.annotation import (
    ANNOTATION_FIELDS,
    NONE_OF_THE_ABOVE,
    annotation_page,
    write_annotation_page,
    write_second_stage_page,
)
from oeseg.human_study.selection import StudyItem, read_selection, select_study_descriptions, write_selection
from oeseg.human_study.table import STUDY_FIELDS, read_study
from oeseg.io import InputError
from oeseg.lexicon.lexicon import LEVELS
from oeseg.mapping import BACKGROUND

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def selection(tmp_path, monkeypatch):
    """Selected descriptions of two fake methods on a fake split (mapped by the stand-in mapping)."""
    monkeypatch.setattr(mapping, "map_regions", fake_map_regions, raising=False)
    split = make_split(tmp_path / "val", DEMO_CITY)
    # the stand-in's Sentence-BERT maps everything to road (id 0): "a grey road" agrees at every level
    preds = {"opal": write_region_predictions(tmp_path / "opal.jsonl", {1: "a grey road", 2: "an automobile",
                                                                        3: "a pedestrian"}),
             "osprey": write_region_predictions(tmp_path / "osprey.jsonl", {1: "a street", 2: "a wheel",
                                                                            3: "a corgi"})}
    out = tmp_path / "selection.csv"
    lexicon = tmp_path / "lexicon.json"  # read and checked for real; the stand-in mapping ignores its terms
    lexicon.write_text(json.dumps({"vocabulary": "demo-city",
                                   "categories": [{"id": c.id, "name": c.name} for c in DEMO_CITY]}))
    select_study_descriptions({m: str(p) for m, p in preds.items()}, str(split), "demo-city", str(lexicon), str(out))
    return out


def _lexicon(tmp_path: Path) -> str:
    """The lexicon the `selection` fixture selected with (in the test's tmp_path)."""
    return str(tmp_path / "lexicon.json")


def test_selection_keeps_only_disagreements(selection):
    items = read_selection(selection, DEMO_CITY)
    # "a grey road" -> road by both at every level; "a street" -> bg (exact) vs road: kept
    assert sorted({i.description for i in items}) == ["a corgi", "a pedestrian", "a street", "a wheel",
                                                      "an automobile"]
    wheel = next(i for i in items if i.description == "a wheel")
    assert wheel.gt == DEMO_CITY.by_name("car").id and wheel.lexical["meronym"] == wheel.gt
    assert wheel.lexical["exact"] == BACKGROUND and wheel.id == "osprey/im0/2"
    assert len(items) == 10                                     # 5 descriptions x 2 images


def test_a_region_described_twice_is_an_error_naming_the_line(selection, tmp_path):
    """Two descriptions of one region would share an id on the annotation page (the answer to one
    shown for both, an export that the agreement rejects after the work): the selection stops."""
    lines = (tmp_path / "opal.jsonl").read_text().splitlines()  # im0 segments 1-3, then im1's
    (tmp_path / "twice.jsonl").write_text("\n".join(lines + [lines[1].replace("an automobile", "a sedan")]) + "\n")
    with pytest.raises(InputError, match=r"twice.jsonl:7: duplicate region \(image 'im0', segment 2\), "
                                         r"first given on line 2"):
        select_study_descriptions({"opal": str(tmp_path / "twice.jsonl")}, str(tmp_path / "val"), "demo-city",
                                  str(tmp_path / "lexicon.json"), str(tmp_path / "again.csv"))
    assert not (tmp_path / "again.csv").exists()


def test_demo_reference_is_the_ground_truth_category(selection, tmp_path):
    write_reference_study(str(selection), "demo-city", tmp_path / "study.csv")
    rows = read_study(tmp_path / "study.csv", DEMO_CITY)
    corgi = next(r for r in rows if r.description == "a corgi")
    assert corgi.reference == DEMO_CITY.by_name("person").id   # the region's GT, not a human judgement
    # the reference is the region's ground truth: both lexical mappings are the selection's
    selected = {i.id: i.lexical for i in read_selection(selection, DEMO_CITY)}
    assert all(r.lexical == r.lexical_region_gt == selected[r.id] for r in rows) and len(rows) == len(selected)


def test_a_study_table_of_an_older_format_or_with_some_region_mappings_is_refused(selection, tmp_path):
    """A study table without the region_gt_<level> columns (an older format, whose level columns held
    the mapping with the region's ground-truth priority even where the reference is a human label) is
    an error saying to make it again; the columns empty in some rows only, one naming the line."""
    write_reference_study(str(selection), "demo-city", tmp_path / "study.csv")
    header, *rows = list(csv.reader(io.StringIO((tmp_path / "study.csv").read_text())))
    n = len(header) - len(LEVELS)
    (tmp_path / "old.csv").write_text("".join(",".join(r[:n]) + "\n" for r in [header] + rows))
    with pytest.raises(InputError, match=r"old.csv:1: no columns \['region_gt_exact', 'region_gt_synonym', "
                                         r"'region_gt_hyponym', 'region_gt_meronym'\] .* a study table of an older "
                                         r"format.* make it again \(snakemake --forcerun human_study_table"):
        read_study(tmp_path / "old.csv", DEMO_CITY)
    rows[1][n:] = [""] * len(LEVELS)
    (tmp_path / "some.csv").write_text("".join(",".join(r) + "\n" for r in [header] + rows))
    with pytest.raises(InputError, match=r"some.csv:3: the columns \['region_gt_exact', .* are empty in every row "
                                         r"\(the source has no region labels\) or in none"):
        read_study(tmp_path / "some.csv", DEMO_CITY)
    rows[0][n + 1] = ""
    (tmp_path / "part.csv").write_text("".join(",".join(r) + "\n" for r in [header] + rows))
    with pytest.raises(InputError, match=r"part.csv:2: the columns"):
        read_study(tmp_path / "part.csv", DEMO_CITY)


def test_a_category_id_outside_the_vocabulary_names_file_line_and_column(selection, tmp_path):
    """A study CSV of another vocabulary (19 in a Cityscapes study) or a misspelt id is an InputError
    when read, not a KeyError when a figure looks the category up."""
    write_reference_study(str(selection), "demo-city", tmp_path / "study.csv")
    lines = (tmp_path / "study.csv").read_text().splitlines()
    fields = lines[2].split(",")
    fields[STUDY_FIELDS.index("hyponym")] = str(len(DEMO_CITY) + 5)  # the hyponym column of the second row
    (tmp_path / "bad.csv").write_text("\n".join(lines[:2] + [",".join(fields)] + lines[3:]) + "\n")
    with pytest.raises(InputError, match=rf"bad.csv:3:hyponym: category id {len(DEMO_CITY) + 5} is not in "
                                         r"vocabulary demo-city \(nor -1: none\)"):
        read_study(tmp_path / "bad.csv", DEMO_CITY)
    with pytest.raises(InputError, match="bad.csv:3:hyponym: category id"):
        write_fig3({"x": str(tmp_path / "bad.csv")}, "demo-city", tmp_path / "f.pdf", tmp_path / "f.png",
                   tmp_path / "acc.json")
    assert [r.reference for r in read_study(tmp_path / "study.csv", DEMO_CITY)]  # -1 and vocabulary ids pass
    lines = selection.read_text().splitlines()
    fields = lines[1].split(",")
    fields[5] = "-7"  # gt
    (tmp_path / "bad-selection.csv").write_text("\n".join([lines[0], ",".join(fields)] + lines[2:]) + "\n")
    with pytest.raises(InputError, match="bad-selection.csv:2:gt: category id -7 is not in vocabulary demo-city"):
        read_selection(tmp_path / "bad-selection.csv", DEMO_CITY)
    fields[5] = "car"
    (tmp_path / "bad-selection.csv").write_text("\n".join([lines[0], ",".join(fields)] + lines[2:]) + "\n")
    with pytest.raises(InputError, match="bad-selection.csv:2:gt: category ids must be integers, not 'car'"):
        write_annotation_page(str(tmp_path / "bad-selection.csv"), "demo-city", [], "Study", str(tmp_path / "p.html"))


def _write_annotations(path, items, answers):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "description", "answer"])
        for i in items:
            w.writerow([i.id, i.description, answers(i)])


def test_agreement_disagreements_and_resolution(selection, tmp_path):
    items = read_selection(selection, DEMO_CITY)
    name = lambda cid: NONE_OF_THE_ABOVE if cid == BACKGROUND else DEMO_CITY.by_id(cid).display_name  # noqa: E731
    _write_annotations(tmp_path / "a1.csv", items, lambda i: name(i.gt))
    _write_annotations(tmp_path / "a2.csv", items,
                       lambda i: NONE_OF_THE_ABOVE if i.description == "a corgi" else name(i.gt))
    report = write_agreement(str(selection), [str(tmp_path / "a1.csv"), str(tmp_path / "a2.csv")], "demo-city",
                             tmp_path / "agreement.json", tmp_path / "disagreements.csv")
    assert report["n"] == 10 and report["agreed"] == 8 and report["agreement_percent"] == 80.0
    pending = list(csv.DictReader(open(tmp_path / "disagreements.csv")))
    assert [p["id"] for p in pending] == ["osprey/im0/3", "osprey/im1/3"]
    assert pending[0]["answer_1"] == "person" and pending[0]["answer_2"] == NONE_OF_THE_ABOVE
    annotators = [str(tmp_path / "a1.csv"), str(tmp_path / "a2.csv")]
    # unresolved: a clear error
    with open(tmp_path / "resolved.csv", "w") as f:
        f.write("id,description,answer\n")
    with pytest.raises(InputError, match="resolved.csv: 2 disagreements are not resolved"):
        write_annotated_study(str(selection), annotators, str(tmp_path / "resolved.csv"), "demo-city",
                              _lexicon(tmp_path), tmp_path / "study.csv")
    with open(tmp_path / "resolved.csv", "w") as f:
        f.write("id,description,answer\n" + "".join(f"{p['id']},a corgi,{NONE_OF_THE_ABOVE}\n" for p in pending))
    write_annotated_study(str(selection), annotators, str(tmp_path / "resolved.csv"), "demo-city",
                          _lexicon(tmp_path), tmp_path / "study.csv")
    rows = {r.id: r for r in read_study(tmp_path / "study.csv", DEMO_CITY)}
    assert rows["osprey/im0/3"].reference == BACKGROUND
    assert rows["opal/im0/2"].reference == DEMO_CITY.by_name("car").id


def test_figure_3_scores_the_human_labels_mapping_in_a_and_b_and_the_regions_in_c(selection, tmp_path):
    """With annotators, Figure 3(a), 3(b) and Figure 8 score the lexical mapping with the human label as
    the ground-truth priority (the paper's Section 5.1: right if the human category is valid at any
    level), Figure 3(c) the one with the region's ground-truth category as the priority. Counted by hand
    on the fixture's ten descriptions (automobile, pedestrian, street, wheel, corgi on two images; the
    stand-in's Sentence-BERT maps all to road, its lexical mapping takes "wheel" for a part of car and
    of bicycle): the annotators give the region's category except bicycle for the wheel osprey/im0/2
    (a car region) and None of the above for the corgis (person regions)."""
    items = read_selection(selection, DEMO_CITY)
    human = {"osprey/im0/2": "bicycle", "osprey/im0/3": NONE_OF_THE_ABOVE, "osprey/im1/3": NONE_OF_THE_ABOVE}
    for path in ("a1.csv", "a2.csv"):
        _write_annotations(tmp_path / path, items, lambda i: human.get(i.id, DEMO_CITY.by_id(i.gt).display_name))
    write_annotated_study(str(selection), [str(tmp_path / "a1.csv"), str(tmp_path / "a2.csv")], None, "demo-city",
                          _lexicon(tmp_path), tmp_path / "study.csv")
    rows = {r.id: r for r in read_study(tmp_path / "study.csv", DEMO_CITY)}
    car, bicycle = DEMO_CITY.by_name("car").id, DEMO_CITY.by_name("bicycle").id
    wheel = rows["osprey/im0/2"]
    assert wheel.reference == bicycle
    assert wheel.lexical == {"exact": BACKGROUND, "synonym": BACKGROUND, "hyponym": BACKGROUND, "meronym": bicycle}
    assert wheel.lexical_region_gt == {**wheel.lexical, "meronym": car}
    assert all(r.lexical == r.lexical_region_gt for i, r in rows.items() if i != "osprey/im0/2")
    acc = write_fig3({"ours": str(tmp_path / "study.csv")}, "demo-city", tmp_path / "f.pdf", tmp_path / "f.png",
                     tmp_path / "acc.json")["ours"]
    assert acc == json.loads((tmp_path / "acc.json").read_text())["ours"]
    # things: the automobiles, pedestrians and wheels (6); stuff: the streets and the corgis ("none", 4)
    assert acc["n"] == {"all": 10, "things": 6, "stuff": 4}
    assert acc["sbert"] == {"all": 20.0, "things": 0.0, "stuff": 50.0}  # road: the two streets
    # (a): with the human label as the priority the wheel is a bicycle: right on all ten
    assert acc["lexical"]["meronym"] == {"all": 100.0, "things": 100.0, "stuff": 100.0}
    # (c): with the region's ground truth as the priority the wheel of im0 is a car: 9 of 10, 5 of 6 things
    assert acc["lexical_region_gt"] == {
        "exact": {"all": 20.0, "things": 0.0, "stuff": 50.0},                 # the corgis ("none")
        "synonym": {"all": 80.0, "things": pytest.approx(400 / 6), "stuff": 100.0},  # all but the wheels
        "hyponym": {"all": 80.0, "things": pytest.approx(400 / 6), "stuff": 100.0},
        "meronym": {"all": 90.0, "things": pytest.approx(500 / 6), "stuff": 100.0}}
    # (b): the eight where the lexical mapping (meronym) and Sentence-BERT differ: all but the streets
    assert acc["differ"] == {"n": 8, "sbert": 0.0,
                             "lexical": {"exact": 25.0, "synonym": 75.0, "hyponym": 75.0, "meronym": 100.0}}
    fig = plot_fig8({"ours": [wheel]}, DEMO_CITY, n_examples=1)
    cells = fig.axes[0].tables[0].get_celld()
    assert [cells[1, c].get_text().get_text() for c in range(4)] == ["a wheel", "road", "bicycle", "bicycle"]


def _edit_rows(rows, line, **fields):
    """The rows of an annotation CSV with the row on file line `line` (header: line 1) changed."""
    rows[line - 2] = [fields.get(k, v) for k, v in zip(("id", "description", "answer"), rows[line - 2])]
    return rows


@pytest.mark.parametrize("edit, message", [
    (lambda rows: _edit_rows(rows, 4, answer="unicorn"), r"a1.csv:4: answer 'unicorn' is neither a category"),
    (lambda rows: _edit_rows(rows, 3, answer="None"), r"a1.csv:3: answer 'None' is neither a category of "
                                                      r"demo-city nor 'None of the above'"),
    (lambda rows: _edit_rows(rows, 5, answer=""), r"a1.csv:5: description '\S+' has no answer"),
    (lambda rows: rows + [rows[1]], r"a1.csv:12: id '\S+' appears twice"),
    # a CSV exported from the page of another selection: another id, another description, fewer ids
    (lambda rows: _edit_rows(rows, 6, id="opal/im7/1"), r"a1.csv:6: id 'opal/im7/1' is not one of the "
                                                        r"selection \S+selection.csv"),
    (lambda rows: _edit_rows(rows, 2, description="a bus"), r"a1.csv:2: description 'a bus' of '\S+' is not "
                                                            r"the one of the selection \S+selection.csv \('\w"),
    (lambda rows: rows[:-2], r"a1.csv: 2 of the 10 descriptions of the selection \S+selection.csv are missing, "
                             r"e.g. \['osprey/im1/2', 'osprey/im1/3'\]"),
])
def test_bad_annotator_csv_names_file_and_line(selection, tmp_path, edit, message):
    """An annotator's CSV answers exactly the selection's descriptions, each once, with a drop-down
    answer: two CSVs of another selection (both annotators on an older page) are not compared."""
    items = read_selection(selection, DEMO_CITY)
    annotators = [str(tmp_path / "a1.csv"), str(tmp_path / "a2.csv")]
    for path in annotators:
        with open(path, "w", newline="") as f:
            csv.writer(f).writerows([ANNOTATION_FIELDS] + edit([[i.id, i.description, "car"] for i in items]))
    with pytest.raises(InputError, match=message):
        write_agreement(str(selection), annotators, "demo-city", tmp_path / "r.json", tmp_path / "d.csv")
    with pytest.raises(InputError, match=message):
        write_annotated_study(str(selection), annotators, str(tmp_path / "a2.csv"), "demo-city", _lexicon(tmp_path),
                              tmp_path / "s.csv")
    assert not (tmp_path / "r.json").exists() and not (tmp_path / "s.csv").exists()


def test_one_annotator_csv_given_twice_is_refused(selection, tmp_path):
    """The same CSV as both annotators would agree with itself: 100 % and no second stage, in silence."""
    _write_annotations(tmp_path / "a1.csv", read_selection(selection, DEMO_CITY), lambda i: "car")
    twice = [str(tmp_path / "a1.csv"), str(tmp_path / "." / "a1.csv")]
    with pytest.raises(InputError, match=r"human_study.annotators: \S+a1.csv is given twice"):
        write_agreement(str(selection), twice, "demo-city", tmp_path / "r.json", tmp_path / "d.csv")
    with pytest.raises(InputError, match=r"human_study.annotators: \S+a1.csv is given twice"):
        write_annotated_study(str(selection), twice, None, "demo-city", _lexicon(tmp_path), tmp_path / "s.csv")
    assert not (tmp_path / "r.json").exists() and not (tmp_path / "s.csv").exists()


def test_resolved_csv_answers_the_disagreements_alone(selection, tmp_path):
    """The resolved CSV (the filled-in disagreements CSV) answers the descriptions on which the
    annotators differ, with their descriptions: a row for another one is an error, not ignored."""
    items = read_selection(selection, DEMO_CITY)
    _write_annotations(tmp_path / "a1.csv", items, lambda i: "car")
    _write_annotations(tmp_path / "a2.csv", items, lambda i: "bus" if i.id == "osprey/im0/3" else "car")
    annotators = [str(tmp_path / "a1.csv"), str(tmp_path / "a2.csv")]
    resolved = tmp_path / "resolved.csv"
    study = lambda: write_annotated_study(str(selection), annotators, str(resolved), "demo-city",  # noqa: E731
                                          _lexicon(tmp_path), tmp_path / "study.csv")
    resolved.write_text(f"id,description,answer\nosprey/im0/3,a corgi,{NONE_OF_THE_ABOVE}\nopal/im0/2,an automobile,bus\n")
    with pytest.raises(InputError, match=r"resolved.csv:3: id 'opal/im0/2' is not one of the disagreements of "
                                         r"\S+a1.csv and \S+a2.csv"):
        study()
    resolved.write_text(f"id,description,answer\nosprey/im0/3,a wheel,{NONE_OF_THE_ABOVE}\n")
    with pytest.raises(InputError, match=r"resolved.csv:2: description 'a wheel' of 'osprey/im0/3' is not the one"):
        study()
    resolved.write_text(f"id,description,answer\nosprey/im0/3,a corgi,{NONE_OF_THE_ABOVE}\n")
    study()
    references = {r.id: r.reference for r in read_study(tmp_path / "study.csv", DEMO_CITY)}
    assert references["osprey/im0/3"] == BACKGROUND and references["opal/im0/2"] == DEMO_CITY.by_name("car").id
    assert len(references) == len(items)


def _first_stage(selection, tmp_path) -> tuple[list[StudyItem], list[str]]:
    """The selection's items and two annotators' CSVs that disagree on the corgi (osprey/im0/3 and
    osprey/im1/3) and on osprey/im0/2 (the wheel): three disagreements."""
    items = read_selection(selection, DEMO_CITY)
    _write_annotations(tmp_path / "a1.csv", items, lambda i: "car")
    _write_annotations(tmp_path / "a2.csv", items, lambda i: {"osprey/im0/3": "person", "osprey/im1/3": "person",
                                                              "osprey/im0/2": "bicycle"}.get(i.id, "car"))
    return items, [str(tmp_path / "a1.csv"), str(tmp_path / "a2.csv")]


def _re_annotation(path, answers: dict[str, str]) -> str:
    """A re-annotation CSV of the disagreements: id -> answer, with the selection's descriptions."""
    descriptions = {"osprey/im0/3": "a corgi", "osprey/im1/3": "a corgi", "osprey/im0/2": "a wheel",
                    "opal/im0/2": "an automobile"}
    _write_annotations(path, [StudyItem(i, "m", "im", 0, descriptions[i], 0, 0, {}) for i in answers],
                       lambda i: answers[i.id])
    return str(path)


def test_independent_re_annotations_that_agree_give_the_final_labels(selection, tmp_path):
    """The paper's second stage: the disagreements re-annotated independently; where the
    re-annotations agree (here everywhere) that is the final label, and their agreement is reported."""
    items, annotators = _first_stage(selection, tmp_path)
    second = {"osprey/im0/3": NONE_OF_THE_ABOVE, "osprey/im1/3": "person", "osprey/im0/2": "car"}
    resolved = [_re_annotation(tmp_path / "r1.csv", second), _re_annotation(tmp_path / "r2.csv", second)]
    report = write_annotated_study(str(selection), annotators, resolved, "demo-city", _lexicon(tmp_path),
                                   tmp_path / "study.csv", tmp_path / "second_stage.json")
    references = {r.id: r.reference for r in read_study(tmp_path / "study.csv", DEMO_CITY)}
    assert references == {**{i.id: DEMO_CITY.by_name("car").id for i in items}, "osprey/im0/3": BACKGROUND,
                          "osprey/im1/3": DEMO_CITY.by_name("person").id}
    assert report == json.loads((tmp_path / "second_stage.json").read_text())
    assert report == {"annotators": resolved, "n": 3, "agreed": 3, "agreement_percent": 100.0, "disagreements": []}
    # three re-annotations: all three must agree
    resolved.append(_re_annotation(tmp_path / "r3.csv", second))
    assert write_annotated_study(str(selection), annotators, resolved, "demo-city", _lexicon(tmp_path),
                                 tmp_path / "study3.csv")["n"] == 3
    assert (tmp_path / "study3.csv").read_text() == (tmp_path / "study.csv").read_text()


def test_re_annotations_that_still_disagree_stop_naming_files_and_ids(selection, tmp_path):
    """The paper's final annotations agree 100 %: a description the re-annotations still differ on is
    an error naming the files, the disputed ids with their answers, and what to do; no table is written."""
    _, annotators = _first_stage(selection, tmp_path)
    first = {"osprey/im0/3": NONE_OF_THE_ABOVE, "osprey/im1/3": "person", "osprey/im0/2": "car"}
    resolved = [_re_annotation(tmp_path / "r1.csv", first),
                _re_annotation(tmp_path / "r2.csv", {**first, "osprey/im0/3": "person", "osprey/im0/2": "bicycle"})]
    with pytest.raises(InputError) as error:
        write_annotated_study(str(selection), annotators, resolved, "demo-city", _lexicon(tmp_path),
                              tmp_path / "study.csv", tmp_path / "second_stage.json")
    assert str(error.value) == (
        f"human_study.resolved: the re-annotations {resolved[0]}, {resolved[1]} still disagree on 2 of the 3 "
        f"disagreements (33.3 % agreement), e.g. 'osprey/im0/2' (car / bicycle), 'osprey/im0/3' (None of the above "
        f"/ person); the final annotations must agree: resolve these (give one consensus CSV as "
        f"human_study.resolved) or re-annotate them")
    assert not (tmp_path / "study.csv").exists() and not (tmp_path / "second_stage.json").exists()


@pytest.mark.parametrize("answers, message", [
    # an id the first stage agreed on: not one of the disagreements
    ({"osprey/im0/3": "car", "osprey/im1/3": "car", "osprey/im0/2": "car", "opal/im0/2": "bus"},
     r"r2.csv:5: id 'opal/im0/2' is not one of the disagreements of \S+a1.csv and \S+a2.csv"),
    ({"osprey/im0/3": "car", "osprey/im1/3": "car"}, r"r2.csv: 1 disagreements are not resolved, e.g. "
                                                     r"\['osprey/im0/2'\]"),
    ({"osprey/im0/3": "car", "osprey/im1/3": "car", "osprey/im0/2": "unicorn"},
     r"r2.csv:4: answer 'unicorn' is neither a category of demo-city"),
])
def test_a_re_annotation_answers_exactly_the_disagreements(selection, tmp_path, answers, message):
    """Each re-annotation is checked as the consensus CSV is (`read_answers`): every disagreement once,
    with a drop-down answer, and nothing else."""
    _, annotators = _first_stage(selection, tmp_path)
    resolved = [_re_annotation(tmp_path / "r1.csv", {"osprey/im0/3": "car", "osprey/im1/3": "car",
                                                     "osprey/im0/2": "car"}),
                _re_annotation(tmp_path / "r2.csv", answers)]
    with pytest.raises(InputError, match=message):
        write_annotated_study(str(selection), annotators, resolved, "demo-city", _lexicon(tmp_path),
                              tmp_path / "study.csv")
    assert not (tmp_path / "study.csv").exists()


def test_a_consensus_csv_keeps_its_meaning(selection, tmp_path):
    """human_study.resolved as one string is the consensus CSV, as before: its answers are final and
    its report has no second-stage agreement to give; a list of one is refused (a string says it)."""
    _, annotators = _first_stage(selection, tmp_path)
    consensus = _re_annotation(tmp_path / "resolved.csv", {"osprey/im0/3": NONE_OF_THE_ABOVE,
                                                           "osprey/im1/3": "person", "osprey/im0/2": "car"})
    report = write_annotated_study(str(selection), annotators, consensus, "demo-city", _lexicon(tmp_path),
                                   tmp_path / "study.csv", tmp_path / "second_stage.json")
    assert report == {"annotators": [consensus], "n": 3, "agreed": None, "agreement_percent": None,
                      "disagreements": []}
    references = {r.id: r.reference for r in read_study(tmp_path / "study.csv", DEMO_CITY)}
    assert references["osprey/im0/3"] == BACKGROUND and references["osprey/im1/3"] == DEMO_CITY.by_name("person").id
    with pytest.raises(InputError, match=r"human_study.resolved: a list names two or more .* not 1; give one "
                                         r"consensus CSV as a string"):
        write_annotated_study(str(selection), annotators, [consensus], "demo-city", _lexicon(tmp_path),
                              tmp_path / "study1.csv")


@pytest.mark.parametrize("resolved", [None, []])
def test_no_second_stage_where_the_first_agrees_on_everything(selection, tmp_path, resolved):
    """human_study.resolved unset (None or []): with no disagreements the study table is the
    annotators' answers and the report says there were none to re-annotate; with disagreements it is
    an error naming how many, the second stage's page and the key to set, and no table is written."""
    items = read_selection(selection, DEMO_CITY)
    _write_annotations(tmp_path / "a1.csv", items, lambda i: "car")
    _write_annotations(tmp_path / "a2.csv", items, lambda i: "car")
    agreeing = [str(tmp_path / "a1.csv"), str(tmp_path / "a2.csv")]
    report = write_annotated_study(str(selection), agreeing, resolved, "demo-city", _lexicon(tmp_path),
                                   tmp_path / "study.csv", tmp_path / "second_stage.json")
    assert report == json.loads((tmp_path / "second_stage.json").read_text()) == {
        "annotators": [], "n": 0, "agreed": None, "agreement_percent": None, "disagreements": [],
        "note": "no disagreements: the first stage's annotators agree on every description, none to re-annotate"}
    assert {r.reference for r in read_study(tmp_path / "study.csv", DEMO_CITY)} == {DEMO_CITY.by_name("car").id}
    _, annotators = _first_stage(selection, tmp_path)
    with pytest.raises(InputError) as error:
        write_annotated_study(str(selection), annotators, resolved, "demo-city", _lexicon(tmp_path),
                              tmp_path / "study2.csv", tmp_path / "second_stage2.json",
                              second_page="work/human_study/second_stage.html")
    assert str(error.value) == (
        f"human_study.resolved: not given, but the first stage's annotators disagree on 3 description(s) (the "
        f"disagreements of {annotators[0]} and {annotators[1]}): re-annotate them on the second stage's page "
        f"(snakemake human_study_second_page writes work/human_study/second_stage.html) and name its CSVs in "
        f"human_study.resolved (one consensus CSV, or a list of two or more independent re-annotations)")
    assert not (tmp_path / "study2.csv").exists() and not (tmp_path / "second_stage2.json").exists()


def _snakemake(workdir, *args) -> subprocess.CompletedProcess:
    """The repository's workflow run in `workdir` (its config.yaml)."""
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"), PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    return subprocess.run([sys.executable, "-m", "snakemake", "--cores", "1", "--directory", str(workdir),
                           "--snakefile", str(REPO / "Snakefile"), *args],
                          capture_output=True, text=True, env=env, timeout=600)


def _annotators_workflow(selection: Path, tmp_path: Path, annotators: list[str], resolved: list[str]) -> Path:
    """A config.yaml in tmp_path for the study with annotators and these second-stage CSVs, and its
    out folder holding the selection and its lexicon (the upstream rules' outputs) in place; the out folder."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["human_study"].update(reference="annotators", annotators=annotators, resolved=resolved)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    out = tmp_path / "work"
    (out / "human_study").mkdir(parents=True)
    (out / "lexicons").mkdir()
    shutil.copy(selection, out / "human_study" / "selection.csv")
    shutil.copy(_lexicon(tmp_path), out / "lexicons" / "demo-city.json")
    return out


@pytest.mark.slow
def test_study_table_rule_with_independent_re_annotations(selection, tmp_path):
    """Through Snakemake: human_study.resolved lists two re-annotations; the table rule writes the
    study table and the second stage's report, and stops, naming the ids, once they disagree."""
    _, annotators = _first_stage(selection, tmp_path)
    answers = {"osprey/im0/3": NONE_OF_THE_ABOVE, "osprey/im1/3": "person", "osprey/im0/2": "car"}
    resolved = [_re_annotation(tmp_path / "r1.csv", answers), _re_annotation(tmp_path / "r2.csv", answers)]
    out = _annotators_workflow(selection, tmp_path, annotators, resolved)
    run = ("--allowed-rules", "human_study_agreement", "human_study_table", "--config", f"out={out}",
           f"results={tmp_path / 'results'}")
    proc = _snakemake(tmp_path, f"{out}/human_study/study.csv", *run)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert json.loads((out / "human_study" / "second_stage.json").read_text())["agreement_percent"] == 100.0
    assert {r.id: r.reference for r in read_study(out / "human_study" / "study.csv", DEMO_CITY)}["osprey/im0/3"] \
        == BACKGROUND
    _re_annotation(tmp_path / "r2.csv", {**answers, "osprey/im1/3": "car"})
    proc = _snakemake(tmp_path, f"{out}/human_study/study.csv", *run)
    assert proc.returncode != 0
    log = (out / "logs" / "human_study" / "table.log").read_text()
    assert (f"the re-annotations {resolved[0]}, {resolved[1]} still disagree on 1 of the 3 disagreements "
            "(66.7 % agreement), e.g. 'osprey/im1/3' (person / car)") in log
    assert "Traceback" not in log and not (out / "human_study" / "study.csv").exists()


@pytest.mark.slow
def test_study_table_rule_without_a_second_stage(selection, tmp_path):
    """Through Snakemake: human_study.resolved left out of the config; annotators who agree on every
    description give the study table and a report saying there was nothing to re-annotate;
    annotators who disagree stop the rule, naming how many and the second stage's page."""
    items = read_selection(selection, DEMO_CITY)
    _write_annotations(tmp_path / "a1.csv", items, lambda i: "car")
    _write_annotations(tmp_path / "a2.csv", items, lambda i: "car")
    out = _annotators_workflow(selection, tmp_path, [str(tmp_path / "a1.csv"), str(tmp_path / "a2.csv")], [])
    config = yaml.safe_load((tmp_path / "config.yaml").read_text())
    del config["human_study"]["resolved"]
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    run = ("--allowed-rules", "human_study_agreement", "human_study_table", "--config", f"out={out}",
           f"results={tmp_path / 'results'}")
    proc = _snakemake(tmp_path, f"{out}/human_study/study.csv", *run)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert json.loads((out / "human_study" / "second_stage.json").read_text())["note"] == (
        "no disagreements: the first stage's annotators agree on every description, none to re-annotate")
    assert {r.reference for r in read_study(out / "human_study" / "study.csv", DEMO_CITY)} == \
        {DEMO_CITY.by_name("car").id}
    _first_stage(selection, tmp_path)  # the annotators' CSVs rewritten: three disagreements
    proc = _snakemake(tmp_path, f"{out}/human_study/study.csv", *run)
    assert proc.returncode != 0
    log = (out / "logs" / "human_study" / "table.log").read_text()
    assert ("human_study.resolved: not given, but the first stage's annotators disagree on 3 description(s)" in log
            and f"snakemake human_study_second_page writes {out}/human_study/second_stage.html" in log)
    assert "Traceback" not in log and not (out / "human_study" / "study.csv").exists()


def test_page_is_self_contained_with_instructions(selection, tmp_path):
    write_annotation_page(str(selection), "demo-city", [("Red car stopped at a traffic light", "car")], "Study",
                          str(tmp_path / "page.html"))
    page = (tmp_path / "page.html").read_text()
    assert "Red car stopped at a traffic light" in page and "traffic light, traffic sign" in page
    assert "None of the above" in page and "localStorage" in page
    assert not re.search(r"(src|href)=[\"']?(https?:)?//", page)        # nothing fetched from the network
    ids = [i.id for i in read_selection(selection, DEMO_CITY)]
    shown = re.findall(r'"id": "([^"]+)"', page)
    assert sorted(shown) == sorted(ids) and shown != ids  # every item, not in the selection's (method) order
    write_annotation_page(str(selection), "demo-city", [("Red car stopped at a traffic light", "car")], "Study",
                          str(tmp_path / "again.html"))
    assert (tmp_path / "again.html").read_text() == page  # the same order on a rerun
    with pytest.raises(InputError, match="answer 'kitten'"):
        annotation_page([("1", "x")], DEMO_CITY, [("a cat", "kitten")], "t", "k")


@pytest.fixture
def chromium(tmp_path):
    """Headless Chromium (selenium) with its own profile, saving downloads to tmp_path/downloads."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    assert shutil.which("chromium") and shutil.which("chromedriver"), "Debian chromium + chromium-driver needed"
    (tmp_path / "downloads").mkdir()
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run",
                f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(arg)
    options.add_experimental_option("prefs", {"download.default_directory": str(tmp_path / "downloads"),
                                              "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    yield driver
    driver.quit()


def _progress(driver) -> str:
    """The page's progress line."""
    return driver.find_element("id", "progress-text").text


def _answer(driver, item_id: str):
    """The drop-down (selenium Select) of a description."""
    from selenium.webdriver.support.ui import Select

    return Select(driver.find_element("css selector", f'select[data-id="{item_id}"]'))


def _wait_for_progress(driver, done: int, total: int, reload: bool = False) -> None:
    """Wait until the progress line reads done / total; with `reload`, reload the page until it does.

    Another tab sees a page's localStorage writes only once Chromium's storage process has them, so
    this waits for up to a minute. (A reload that found none of a page's answers once in CI, under
    load, is the symptom of that process restarting before it stored them: the page writes them
    again, test_answers_survive_a_restart_of_the_browsers_storage.)"""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    def shows(d) -> bool:
        if reload:
            d.refresh()
            WebDriverWait(d, 30).until(lambda _: f"/ {total}" in _progress(d))
        return _progress(d).startswith(f"{done} / {total}")

    try:
        WebDriverWait(driver, 60, poll_frequency=1.0).until(shows)
    except TimeoutException:
        raise AssertionError(f"progress {_progress(driver)!r} after a minute, not {done} / {total}") from None


def _downloaded(downloads: Path, name: str) -> Path:
    """The file `name` that Chromium saved to `downloads`, once complete (slow under load): it creates
    the file name at once and fills it from a .crdownload file; quitting before that ends cancels
    the download and deletes both."""
    path, deadline = downloads / name, time.monotonic() + 60
    while time.monotonic() < deadline:
        if path.exists() and path.stat().st_size and not list(downloads.glob("*.crdownload")):
            return path
        time.sleep(0.2)
    raise AssertionError(f"no download {name} after a minute: {sorted(p.name for p in downloads.iterdir())}")


def _sign_in(driver, name: str) -> None:
    """Enter an annotator's name on the page (as a person does: type it, press Enter)."""
    from selenium.webdriver.common.keys import Keys

    field = driver.find_element("id", "annotator")
    field.clear()
    field.send_keys(name + Keys.ENTER)
    assert driver.find_element("id", "who").text == f"answering as {name}"


def _exported(driver) -> list[tuple[str, str, str]]:
    """Press Export CSV: the (id, description, answer) rows of the CSV shown."""
    driver.find_element("id", "export").click()
    text = driver.find_element("id", "export-csv").get_property("value")
    return [(r["id"], r["description"], r["answer"]) for r in csv.DictReader(io.StringIO(text, newline=""))]


@pytest.mark.browser
def test_annotation_page_in_headless_chromium(tmp_path, chromium):
    # descriptions that CSV must quote, HTML must not interpret, and that are not ASCII
    items = [("opal/im0/2", 'a red car, "parked"'), ("osprey/im0/3", "a corgi <script>alert(1)</script> & co"),
             ("opal/im1/1", "the street\nin Zürich")]
    page = tmp_path / "annotation.html"
    page.write_text(annotation_page(items, DEMO_CITY, [("Sky with scattered clouds", "sky")], "Study", "test-key"))
    driver = chromium
    driver.get(page.as_uri() + "?annotator=A")
    _wait_for_progress(driver, 0, 3)
    assert [td.text for td in driver.find_elements("css selector", "#items td:nth-child(2)")] == [
        'a red car, "parked"', "a corgi <script>alert(1)</script> & co", "the street in Zürich"]
    _answer(driver, "opal/im0/2").select_by_visible_text("car")
    _answer(driver, "osprey/im0/3").select_by_visible_text(NONE_OF_THE_ABOVE)
    assert _progress(driver).startswith("2 / 3")
    _wait_for_progress(driver, 2, 3, reload=True)
    assert _answer(driver, "opal/im0/2").first_selected_option.text == "car"
    assert _answer(driver, "osprey/im0/3").first_selected_option.text == NONE_OF_THE_ABOVE
    _answer(driver, "opal/im1/1").select_by_visible_text("road")
    assert _exported(driver) == [(items[0] + ("car",)), (items[1] + (NONE_OF_THE_ABOVE,)), (items[2] + ("road",))]
    text = driver.find_element("id", "export-csv").get_property("value")
    exported = _downloaded(tmp_path / "downloads", "test-key-A.csv")
    assert list((tmp_path / "downloads").glob("*.csv")) == [exported]
    assert exported.read_text(encoding="utf-8") == text


@pytest.mark.browser
def test_two_tabs_of_the_page_keep_each_others_answers(tmp_path, chromium):
    """An answer given in one tab is not overwritten by another tab's save, shows in the other tab,
    and is in the other tab's export."""
    items = [("m/a/1", "a car"), ("m/a/2", "a dog"), ("m/a/3", "the street")]
    page = tmp_path / "annotation.html"
    page.write_text(annotation_page(items, DEMO_CITY, [], "Study", "test-key"))
    driver = chromium
    driver.get(page.as_uri() + "?annotator=A")
    first = driver.current_window_handle
    driver.switch_to.new_window("tab")
    driver.get(page.as_uri() + "?annotator=A")
    second = driver.current_window_handle
    driver.switch_to.window(first)
    _answer(driver, "m/a/1").select_by_visible_text("car")
    driver.switch_to.window(second)
    _wait_for_progress(driver, 1, 3)  # the first tab's answer arrives
    _answer(driver, "m/a/2").select_by_visible_text(NONE_OF_THE_ABOVE)
    driver.switch_to.window(first)
    _wait_for_progress(driver, 2, 3)
    assert [a for _, _, a in _exported(driver)] == ["car", NONE_OF_THE_ABOVE, ""]
    driver.switch_to.window(second)
    _wait_for_progress(driver, 2, 3, reload=True)
    assert _answer(driver, "m/a/1").first_selected_option.text == "car"


@pytest.mark.browser
def test_a_new_page_shows_the_stored_answers_of_its_own_descriptions(tmp_path, chromium):
    """A page written again for a new selection (the same path) shows the answers of the descriptions
    it shares with the old one, not an answer to another description of the same id."""
    def write_page(descriptions: dict[str, str]) -> None:
        write_selection(tmp_path / "selection.csv", [
            StudyItem(i, "m", "a", 1, d, 0, 0, {lv: BACKGROUND for lv in LEVELS}) for i, d in descriptions.items()])
        write_annotation_page(str(tmp_path / "selection.csv"), "demo-city", [], "Study", str(tmp_path / "page.html"))

    write_page({"m/a/1": "a car", "m/a/2": "a dog", "m/a/3": "the street"})
    driver = chromium
    driver.get((tmp_path / "page.html").as_uri() + "?annotator=A")
    for item_id, answer in (("m/a/1", "car"), ("m/a/2", NONE_OF_THE_ABOVE), ("m/a/3", "road")):
        _answer(driver, item_id).select_by_visible_text(answer)
    _wait_for_progress(driver, 3, 3, reload=True)
    # the method described m/a/1 again: the answer "car" belongs to "a car", not to "a bus"
    write_page({"m/a/1": "a bus", "m/a/2": "a dog", "m/a/3": "the street"})
    _wait_for_progress(driver, 2, 3, reload=True)
    assert sorted(_exported(driver)) == [("m/a/1", "a bus", ""), ("m/a/2", "a dog", NONE_OF_THE_ABOVE),
                                         ("m/a/3", "the street", "road")]
    # a selection with another description more keeps the answers of the ones it shares
    write_page({"m/a/2": "a dog", "m/a/3": "the street", "m/a/4": "a lamp post"})
    _wait_for_progress(driver, 2, 3, reload=True)
    assert sorted(_exported(driver)) == [("m/a/2", "a dog", NONE_OF_THE_ABOVE), ("m/a/3", "the street", "road"),
                                         ("m/a/4", "a lamp post", "")]


def _kill_storage_service(profile: Path) -> None:
    """Kill the storage service process of the Chromium that uses `profile` (as a crash would)."""
    import signal

    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().replace(b"\0", b" ").split()  # a zygote's child: one string
        except OSError:
            continue
        if f"--user-data-dir={profile}".encode() in args and b"--utility-sub-type=storage.mojom.StorageService" in args:
            os.kill(int(cmdline.parent.name), signal.SIGKILL)
            return
    raise AssertionError(f"no storage service process of the Chromium using {profile}")


@pytest.mark.browser
def test_answers_survive_a_restart_of_the_browsers_storage(tmp_path, chromium):
    """Chromium writes localStorage to disk seconds after setItem; when its storage process restarts
    before that, it drops the latest writes and tells the page by storage events without a url: the
    page writes its answers again, so that they are neither lost nor shown as unanswered."""
    from selenium.webdriver.support.ui import WebDriverWait

    page = tmp_path / "annotation.html"
    page.write_text(annotation_page([("m/a/1", "a car"), ("m/a/2", "a dog"), ("m/a/3", "the street")], DEMO_CITY,
                                    [], "Study", "test-key"))
    driver = chromium
    driver.get(page.as_uri() + "?annotator=A")
    _answer(driver, "m/a/1").select_by_visible_text("car")
    _answer(driver, "m/a/2").select_by_visible_text(NONE_OF_THE_ABOVE)
    driver.execute_script("window.lost = 0; window.addEventListener('storage', function (e) { lost += e.url === ''; });")
    _kill_storage_service(tmp_path / "profile")
    WebDriverWait(driver, 30).until(lambda d: d.execute_script("return lost") == 2)  # the restart told the page
    _wait_for_progress(driver, 2, 3, reload=True)
    assert [a for _, _, a in _exported(driver)] == ["car", NONE_OF_THE_ABOVE, ""]


@pytest.mark.browser
def test_an_answer_the_browser_does_not_save_is_told(tmp_path, chromium):
    """When the browser refuses to store an answer (storage full or turned off), the page says so
    at once, not only a console error while the row looks saved."""
    page = tmp_path / "annotation.html"
    page.write_text(annotation_page([("m/a/1", "a car"), ("m/a/2", "a dog")], DEMO_CITY, [], "Study", "test-key"))
    driver = chromium
    driver.get(page.as_uri() + "?annotator=A")
    warning = driver.find_element("id", "save-warning")
    assert not warning.is_displayed()
    driver.execute_script("Storage.prototype.setItem = function () {"
                          " throw new DOMException('full', 'QuotaExceededError'); };")
    _answer(driver, "m/a/1").select_by_visible_text("car")
    assert warning.is_displayed() and warning.get_attribute("role") == "alert"
    assert "NOT being saved" in warning.text and "QuotaExceededError" in warning.text
    assert _progress(driver).startswith("1 / 2")  # kept on the page, for the export the warning asks for
    assert _exported(driver)[0] == ("m/a/1", "a car", "car")


@pytest.mark.browser
def test_an_exported_csv_imports_into_a_fresh_page(tmp_path, chromium):
    """Another browser (or one whose data was cleared) continues from an exported CSV: Import CSV
    fills in the descriptions without an answer, row by row by id and description."""
    from selenium.webdriver.support.ui import WebDriverWait

    items = [("opal/im0/2", 'a red car, "parked"'), ("osprey/im0/3", "a corgi <b>&amp;</b> co"),
             ("opal/im1/1", "the street\nin Zürich"), ("opal/im1/2", "a bus"), ("opal/im1/3", "a tree")]
    page = tmp_path / "annotation.html"
    page.write_text(annotation_page(items, DEMO_CITY, [], "Study", "test-key"))
    exported = tmp_path / "exported.csv"
    with open(exported, "w", newline="", encoding="utf-8") as f:
        csv.writer(f, lineterminator="\r\n").writerows([
            ANNOTATION_FIELDS, items[0] + ("car",), items[1] + (NONE_OF_THE_ABOVE,), items[2] + ("road",),
            ("opal/im1/2", "a coach", "bus"),   # another description of the id: skipped
            ("opal/im1/3", "a tree", "tree"),   # not an answer of the drop-down: skipped
            ("opal/im9/9", "a cat", NONE_OF_THE_ABOVE),   # not on this page: skipped
            items[4][:2] + ("",)])              # unanswered
    driver = chromium
    driver.get(page.as_uri() + "?annotator=A")
    _answer(driver, "opal/im0/2").select_by_visible_text("bus")  # answered here already: kept
    driver.find_element("id", "import").send_keys(str(exported))
    status = driver.find_element("id", "status")
    _wait_for_progress(driver, 3, 5)
    assert status.text == ("exported.csv: 2 answers imported; 1 descriptions already answered otherwise here kept "
                           "their answer; 3 rows skipped (a description not on this page, or an answer not in the "
                           "list).")
    assert _exported(driver) == [items[0] + ("bus",), items[1] + (NONE_OF_THE_ABOVE,), items[2] + ("road",),
                                 items[3] + ("",), items[4] + ("",)]
    _wait_for_progress(driver, 3, 5, reload=True)  # imported answers are stored
    (tmp_path / "other.csv").write_text("name,label\na,b\n")
    driver.find_element("id", "import").send_keys(str(tmp_path / "other.csv"))
    status = driver.find_element("id", "status")
    WebDriverWait(driver, 30).until(lambda d: status.text.startswith("other.csv"))
    assert status.text == ("other.csv: not an exported CSV (it needs the columns id, description and answer); "
                           "nothing imported.")


def _page_items(page: Path) -> list[dict]:
    """The items (id, description and whatever else) a written page carries in its data."""
    data = re.search(r'<script type="application/json" id="study-data">(.*?)</script>', page.read_text(), re.S)
    return json.loads(data.group(1))["items"]


def test_second_stage_page_lists_the_disagreements_alone(selection, tmp_path):
    """The second stage's page: the disputed descriptions only (shuffled), without the first stage's
    answers, titled as the second stage, stored under a key of its own; no disagreements: an error."""
    _, annotators = _first_stage(selection, tmp_path)
    write_agreement(str(selection), annotators, "demo-city", tmp_path / "agreement.json", tmp_path / "d.csv")
    write_second_stage_page(str(tmp_path / "d.csv"), "demo-city", [("Sky with scattered clouds", "sky")], "Study",
                            str(tmp_path / "second.html"))
    items = _page_items(tmp_path / "second.html")
    assert sorted(items, key=lambda i: i["id"]) == [
        {"id": "osprey/im0/2", "description": "a wheel"}, {"id": "osprey/im0/3", "description": "a corgi"},
        {"id": "osprey/im1/3", "description": "a corgi"}]
    page = (tmp_path / "second.html").read_text()
    assert "<title>Study: second stage</title>" in page and "<h1>Study: second stage</h1>" in page
    assert "Sky with scattered clouds" in page and "answer_1" not in page and "bicycle" in page  # an option only
    write_annotation_page(str(selection), "demo-city", [], "Study", str(tmp_path / "first.html"))
    keys = [json.loads(re.search(r'id="study-data">(.*?)</script>', (tmp_path / name).read_text()).group(1))
            for name in ("first.html", "second.html")]
    assert keys[0]["storage_key"] == keys[0]["legacy_key"] == "oeseg-human-study-demo-city"
    assert keys[1]["storage_key"] == "oeseg-human-study-stage2-demo-city" and keys[1]["legacy_key"] is None
    (tmp_path / "none.csv").write_text("id,description,answer,answer_1,answer_2\n")
    with pytest.raises(InputError, match=r"none.csv: no disagreements .*: the second stage has nothing to "
                                         r"annotate; leave human_study.resolved unset \(null\)$"):
        write_second_stage_page(str(tmp_path / "none.csv"), "demo-city", [], "Study", str(tmp_path / "x.html"))


@pytest.mark.browser
def test_annotators_sharing_a_browser_and_the_two_stages_keep_apart(selection, tmp_path, chromium):
    """Two annotators in one browser profile: each name has its own answers (and export file name);
    the second stage's page does not show the first stage's answers of the same name, nor imports
    the first stage's export."""
    from selenium.webdriver.support.ui import WebDriverWait

    _, annotators = _first_stage(selection, tmp_path)
    write_agreement(str(selection), annotators, "demo-city", tmp_path / "agreement.json", tmp_path / "d.csv")
    write_annotation_page(str(selection), "demo-city", [], "Study", str(tmp_path / "first.html"))
    write_second_stage_page(str(tmp_path / "d.csv"), "demo-city", [], "Study", str(tmp_path / "second.html"))
    driver = chromium
    driver.get((tmp_path / "first.html").as_uri())
    assert _answer(driver, "osprey/im0/3")._el.get_property("disabled")  # no name yet: nothing to answer
    assert driver.find_element("id", "export").get_property("disabled")
    _sign_in(driver, "Alice")
    _answer(driver, "osprey/im0/3").select_by_visible_text("person")
    _wait_for_progress(driver, 1, 10, reload=True)  # this tab keeps its name on a reload
    _sign_in(driver, "Bob")
    assert _progress(driver).startswith("0 / 10") and _answer(driver, "osprey/im0/3").first_selected_option.text \
        == "-- choose --"
    _answer(driver, "osprey/im0/3").select_by_visible_text("car")
    driver.get((tmp_path / "second.html").as_uri() + "?annotator=Alice")
    assert driver.title == "Study: second stage"
    _wait_for_progress(driver, 0, 3)  # the first stage's answer to the corgi is not here
    _answer(driver, "osprey/im0/3").select_by_visible_text(NONE_OF_THE_ABOVE)
    assert ("osprey/im0/3", "a corgi", NONE_OF_THE_ABOVE) in _exported(driver)
    second = _downloaded(tmp_path / "downloads", "oeseg-human-study-stage2-demo-city-Alice.csv")
    driver.get((tmp_path / "first.html").as_uri() + "?annotator=Alice")
    _wait_for_progress(driver, 1, 10, reload=True)
    assert _answer(driver, "osprey/im0/3").first_selected_option.text == "person"
    _exported(driver)
    first = _downloaded(tmp_path / "downloads", "oeseg-human-study-demo-city-Alice.csv")
    # the second stage imports its own export, never the first stage's (its answers would come along)
    driver.get((tmp_path / "second.html").as_uri() + "?annotator=Carol")
    status = driver.find_element("id", "status")
    driver.find_element("id", "import").send_keys(str(first))
    WebDriverWait(driver, 30).until(lambda d: status.text.startswith(first.name))
    assert status.text == (f"{first.name}: 7 rows are of descriptions not on this page: an export of "
                           "another page (the first stage's?) would bring its answers into this independent "
                           "re-annotation; nothing imported.")
    driver.find_element("id", "import").send_keys(str(second))
    _wait_for_progress(driver, 1, 3)


@pytest.mark.browser
def test_answers_of_a_page_without_names_are_offered_once(tmp_path, chromium):
    """Answers an older page stored without a name (its key alone) are offered to the first name
    that takes them; taken, they fill in that name's unanswered descriptions and are offered no more."""
    items = [("m/a/1", "a car"), ("m/a/2", "a dog"), ("m/a/3", "the street")]
    page = tmp_path / "annotation.html"
    page.write_text(annotation_page(items, DEMO_CITY, [], "Study", "test-key", legacy_key="test-key"))
    driver = chromium
    driver.get(page.as_uri())
    for (item_id, description), answer in zip(items, ["car", NONE_OF_THE_ABOVE]):
        driver.execute_script("localStorage.setItem(arguments[0], arguments[1]);",
                              f"test-key\n{item_id}\n{description}", answer)
    legacy = driver.find_element("id", "legacy")
    assert not legacy.is_displayed()  # no name yet
    _sign_in(driver, "A")
    assert legacy.is_displayed() and driver.find_element("id", "legacy-text").text.startswith("2 answers")
    _answer(driver, "m/a/2").select_by_visible_text("road")
    driver.find_element("id", "legacy-take").click()
    assert driver.find_element("id", "status").text == ("1 answers of the earlier page taken over as A's; 1 "
                                                        "descriptions already answered otherwise here kept their "
                                                        "answer.")
    assert not legacy.is_displayed()
    assert [a for _, _, a in _exported(driver)] == ["car", "road", ""]
    _sign_in(driver, "B")
    assert not legacy.is_displayed() and _progress(driver).startswith("0 / 3")
    assert driver.execute_script("return Object.keys(localStorage).filter(k => k.startsWith('test-key\\n'))") == []


@pytest.mark.slow
@pytest.mark.browser
def test_second_stage_page_rule_and_its_exports_resolve_the_disagreements(selection, tmp_path, chromium):
    """Through Snakemake: human_study_second_page makes the page from the disagreements CSV; two
    annotators re-annotate on it in one browser; their two exports, as human_study.resolved, give
    the study table (the second stage agrees 100 %)."""
    _, annotators = _first_stage(selection, tmp_path)
    downloads = tmp_path / "downloads"
    resolved = [str(downloads / f"oeseg-human-study-stage2-demo-city-{name}.csv") for name in ("Alice", "Bob")]
    out = _annotators_workflow(selection, tmp_path, annotators, resolved)
    run = ("--allowed-rules", "human_study_agreement", "human_study_second_page", "human_study_table", "--config",
           f"out={out}", f"results={tmp_path / 'results'}")
    page = out / "human_study" / "second_stage.html"
    proc = _snakemake(tmp_path, str(page), *run)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    disputed = {r["id"]: r["description"] for r in csv.DictReader(open(out / "human_study" / "disagreements.csv"))}
    assert {i["id"]: i["description"] for i in _page_items(page)} == disputed and len(disputed) == 3
    driver = chromium
    driver.get(page.as_uri())
    answers = {"osprey/im0/3": NONE_OF_THE_ABOVE, "osprey/im1/3": "person", "osprey/im0/2": "car"}
    for name, path in zip(("Alice", "Bob"), resolved):
        _sign_in(driver, name)
        for item_id, answer in answers.items():
            _answer(driver, item_id).select_by_visible_text(answer)
        _exported(driver)
        _downloaded(downloads, Path(path).name)
    proc = _snakemake(tmp_path, f"{out}/human_study/study.csv", *run)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert json.loads((out / "human_study" / "second_stage.json").read_text()) == {
        "annotators": resolved, "n": 3, "agreed": 3, "agreement_percent": 100.0, "disagreements": []}
    assert {r.id: r.reference for r in read_study(out / "human_study" / "study.csv", DEMO_CITY)}["osprey/im0/3"] \
        == BACKGROUND
