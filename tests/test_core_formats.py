"""Vocabularies, the panoptic format, region predictions and lexicon files."""

import json
import re

import numpy as np
import pytest

from oeseg.data.panoptic import (PanopticImage, PanopticSplit, Segment, id2rgb, panoptic_json, read_segment_ids,
                                 segments_from_ids, write_segment_ids)
from oeseg.data.predictions import RegionPrediction, read_predictions, write_predictions
from oeseg.data.vocabularies import ADE20K, CITYSCAPES, DEMO_ADE, DEMO_CITY, Vocabulary, get_vocabulary
from oeseg.io import InputError, atomic_write_json
from oeseg.lexicon import LEVELS, load_lexicon
from oeseg.lexicon.lexicon import check_lexicon


def test_builtin_vocabularies_match_detectron2_counts():
    assert len(CITYSCAPES) == 19 and sum(c.isthing for c in CITYSCAPES) == 8
    assert len(ADE20K) == 150 and sum(c.isthing for c in ADE20K) == 100
    assert CITYSCAPES.by_id(13).name == "car"
    assert ADE20K.by_name("route").id == 6
    assert ADE20K.by_id(8).name == "window"
    assert len(DEMO_ADE) >= 30 and {c.isthing for c in DEMO_ADE} == {True, False}
    assert all(ADE20K.by_id(c.id) == c for c in DEMO_ADE)


def test_unknown_vocabulary_is_a_clear_error():
    with pytest.raises(InputError, match="unknown vocabulary 'nope'"):
        get_vocabulary("nope")


@pytest.mark.parametrize("categories, message", [
    (["road", "car"], r"mine.json: categories\[0\]: a category is an object \{id, name, isthing\}, got 'road'"),
    ([{"id": 0, "isthing": 0}], r"mine.json: categories\[0\]: missing field 'name'"),
    ([{"id": 0, "name": "road", "isthing": 0, "color": "red"}], r"mine.json: categories\[0\]: bad 'color'"),
    ([{"id": 0, "name": None, "isthing": 0}], r"mine.json: categories\[0\]: 'name' must be a string .*, got None"),
    ([{"id": 0, "name": ["road", "street"], "isthing": 0}], r"categories\[0\]: 'name' must be a string"),
    ([{"id": 0, "name": "road", "isthing": 0}, {"id": 1, "name": "ground, Background", "isthing": 0}],
     r"mine.json: categories\[1\]: 'Background' names no category here: a description that maps to no "
     r"category is background"),
    ({"categories": []}, r"mine.json: categories: no categories$"),
    ([{"id": 0, "name": ",", "isthing": 0}], r"mine.json: categories\[0\]: category 0's name ',' has an empty name "
                                             r"between its commas"),
    ([{"id": 0, "name": "car,,auto", "isthing": 1}], r"categories\[0\]: category 0's name 'car,,auto' has an empty"),
], ids=["names-only", "no-name", "color-a-word", "name-null", "name-a-list", "named-background", "no-categories",
        "name-only-a-comma", "empty-name-between-commas"])
def test_a_vocabulary_file_of_ones_own_names_the_bad_entry(tmp_path, categories, message):
    """A user's vocabulary file: a bad entry is named by its index and field, not by Python's message."""
    (tmp_path / "mine.json").write_text(json.dumps(categories))
    with pytest.raises(InputError, match=message):
        get_vocabulary(str(tmp_path / "mine.json"))


def test_segment_ids_round_trip_through_a_panoptic_png(tmp_path):
    """id = R + 256 G + 256^2 B (the COCO panoptic convention), every 24-bit id kept."""
    assert id2rgb(np.array([[1 + 2 * 256 + 3 * 256**2]], np.uint32)).tolist() == [[[1, 2, 3]]]
    ids = np.random.default_rng(0).integers(0, 256**3, size=(7, 5), dtype=np.uint32)
    write_segment_ids(tmp_path / "a.png", ids)
    assert np.array_equal(read_segment_ids(tmp_path / "a.png"), ids)


def test_panoptic_split_round_trip(tmp_path):
    ids = np.zeros((10, 12), np.uint32)
    ids[:5] = 3
    ids[5:, :6] = 70000
    segs = segments_from_ids(ids, {3: 10, 70000: 13}, crowd={70000})
    assert [(s.id, s.area, s.bbox, s.iscrowd) for s in segs] == [(3, 60, [0, 0, 12, 5], 0),
                                                                (70000, 30, [0, 5, 6, 5], 1)]
    write_segment_ids(tmp_path / "panoptic" / "a.png", ids)
    im = PanopticImage("a", "a.jpg", "a.png", 12, 10, segs)
    atomic_write_json(tmp_path / "panoptic.json", panoptic_json(CITYSCAPES, [im]))
    split = PanopticSplit.load(tmp_path)
    assert split.vocabulary.by_id(13).name == "car"
    assert np.array_equal(split.segment_ids(split.image("a")), ids)


@pytest.mark.parametrize("vocabulary, folder, expected", [
    (CITYSCAPES, "mydata", "cityscapes"), (DEMO_CITY, "demo-city", "demo-city"), (DEMO_ADE, "mydata", "demo-ade"),
    (Vocabulary("mine", CITYSCAPES.categories[:3]), "mydata", "mydata")])
def test_a_split_without_info_vocabulary_is_named_by_its_categories_or_folder(tmp_path, vocabulary, folder, expected):
    """`info` is optional: a built-in vocabulary's categories take its name (so its lexicons check
    out; of two with the same categories, the dataset folder's), other categories the dataset
    folder's (<data_root>/<dataset>/<split>), never "val"."""
    root = tmp_path / folder / "val"
    write_segment_ids(root / "panoptic" / "a.png", np.zeros((2, 2), np.uint32))
    obj = panoptic_json(vocabulary, [PanopticImage("a", "a.jpg", "a.png", 2, 2, [])])
    obj.pop("info", None)
    atomic_write_json(root / "panoptic.json", obj)
    assert PanopticSplit.load(root).vocabulary.name == expected


@pytest.mark.parametrize("info, message", [
    ({"vocabulary": 5}, r"info.vocabulary must be the vocabulary's name, got 5"),
    ({"vocabulary": " "}, r"info.vocabulary must be the vocabulary's name, got ' '"),
    ("cityscapes", r"'info' must be an object, got 'cityscapes'"),
])
def test_a_bad_info_vocabulary_names_the_split_file(tmp_path, info, message):
    """Not an error blaming the lexicon later ("a lexicon of vocabulary 'x', not of 5")."""
    root = tmp_path / "mydata" / "val"
    write_segment_ids(root / "panoptic" / "a.png", np.zeros((2, 2), np.uint32))
    atomic_write_json(root / "panoptic.json", {**panoptic_json(CITYSCAPES, [PanopticImage("a", "a.jpg", "a.png", 2, 2,
                                                                                          [])]), "info": info})
    with pytest.raises(InputError, match=rf"{root}/panoptic.json: {message}$"):
        PanopticSplit.load(root)


@pytest.mark.parametrize("mode", ["L", "I;16"])
def test_a_one_channel_panoptic_png_is_refused_naming_the_encoding(tmp_path, mode):
    from PIL import Image

    Image.fromarray(np.full((2, 3), 7, np.uint8)).convert(mode).save(tmp_path / "grey.png")
    with pytest.raises(InputError, match=rf"grey.png: a '{re.escape(mode)}' PNG \(grey levels, not colours\); a panoptic PNG "
                                         r"holds segment ids as RGB"):
        read_segment_ids(tmp_path / "grey.png")


def test_an_image_is_its_file_name_else_its_id_png_and_a_missing_one_names_it(tmp_path):
    """images/<file_name>, or images/<id>.png where the record has none (absent or empty); read as
    RGB with the file closed; a missing or unreadable file is an InputError naming it (and the image)."""
    from PIL import Image

    from oeseg.data.panoptic import read_rgb

    images = [PanopticImage(i, name, f"{i}.png", 2, 1, []) for i, name in (("a", "a.jpg"), ("b", ""), ("c", "c.png"))]
    obj = panoptic_json(CITYSCAPES, images)
    del obj["images"][1]["file_name"]
    atomic_write_json(tmp_path / "panoptic.json", obj)
    (tmp_path / "images").mkdir()
    Image.fromarray(np.array([[[255, 0, 0], [0, 0, 255]]], np.uint8)).save(tmp_path / "images" / "a.jpg", "PNG")
    Image.fromarray(np.array([[7, 9]], np.uint8)).save(tmp_path / "images" / "b.png")  # greyscale
    (tmp_path / "images" / "c.png").write_bytes(b"")
    split = PanopticSplit.load(tmp_path)
    assert split.image_path(split.image("a")) == tmp_path / "images" / "a.jpg"
    assert split.image_path(split.image("b")) == tmp_path / "images" / "b.png"
    assert read_rgb(split.image_path(split.image("a"))).tolist() == [[[255, 0, 0], [0, 0, 255]]]
    assert read_rgb(split.image_path(split.image("b"))).tolist() == [[[7, 7, 7], [9, 9, 9]]]
    with pytest.raises(InputError, match=r"images/c.png: not a readable image \(the file is empty\)"):
        read_rgb(split.image_path(split.image("c")))
    (tmp_path / "images" / "c.png").unlink()
    with pytest.raises(InputError, match=r"images/c.png: the file of image 'c' of .*panoptic.json not found"):
        split.image_path(split.image("c"))
    (tmp_path / "images" / "c.png").mkdir()  # a folder is not the image's file either
    with pytest.raises(InputError, match=r"images/c.png: the file of image 'c' of .*panoptic.json not found"):
        split.image_path(split.image("c"))
    with pytest.raises(InputError, match=r"images/d.png: image not found"):
        read_rgb(tmp_path / "images" / "d.png")


def _regions_split(root, lines):
    """A split of image "a" (segments 3: car, 5: road) whose regions.jsonl holds `lines`."""
    segs = [Segment(3, 13), Segment(5, 0)]
    atomic_write_json(root / "panoptic.json", panoptic_json(CITYSCAPES, [PanopticImage("a", "a.png", "a.png", 4, 4, segs)]))
    (root / "regions.jsonl").write_text("".join(line + "\n" for line in lines))
    return PanopticSplit.load(root)


def test_regions_jsonl_reads_into_typed_records(tmp_path):
    """One record per line, in file order; category_id optional; texts of the descriptions."""
    from oeseg.data.regions import DescribedRegion, read_regions

    split = _regions_split(tmp_path, [
        json.dumps({"image_id": "a", "segment_id": 5, "category_id": 0,
                    "descriptions": [{"text": "a road", "wording": "name"}, {"text": "street", "wording": "synonym"}]}),
        "",
        json.dumps({"image_id": "a", "segment_id": 3, "descriptions": [{"text": "a car"}]})])
    assert read_regions(split) == [DescribedRegion("a", 5, 0, ("a road", "street")),
                                   DescribedRegion("a", 3, None, ("a car",))]


GOOD_REGION = {"image_id": "a", "segment_id": 3, "category_id": 13, "descriptions": [{"text": "a car"}]}


def _region(drop: str = "", **change) -> dict:
    """GOOD_REGION with fields changed and one (`drop`) left out."""
    return {k: v for k, v in {**GOOD_REGION, **change}.items() if k != drop}


@pytest.mark.parametrize("row, error", [
    (_region(image_id=None), "'image_id' must be a string or an integer, got None"),
    (_region(image_id=True), "'image_id' must be a string or an integer, got True"),
    (_region(image_id="b"), r"image_id 'b' is not an image of .*panoptic.json"),
    (_region(segment_id="3"), "segment_id must be an integer, got '3'"),
    (_region(segment_id=4), "segment_id 4 is not a segment of image 'a'"),
    (_region(category_id=0), r"category_id 0 is not the category of segment 3 \(13\)"),
    (_region(category_id="car"), "category_id must be an integer, got 'car'"),
    (_region(descriptions=[]), r"descriptions must be a non-empty list of \{\"text\": ...\} objects, got \[\]"),
    (_region(descriptions="a car"), r"descriptions must be a non-empty list .*, got 'a car'"),
    (_region(descriptions=["a car"]), r"descriptions\[0\] must be an object with a non-empty string 'text', got 'a car'"),
    (_region(descriptions=[{"text": "a car"}, {"text": " "}]), r"descriptions\[1\] must be an object with a non-empty"),
    (_region(descriptions=[{"wording": "name"}]), r"descriptions\[0\] must be an object with a non-empty"),
    (_region(drop="segment_id"), "missing field 'segment_id'"),
])
def test_a_bad_regions_jsonl_line_names_the_file_line_and_field(tmp_path, row, error):
    from oeseg.data.regions import read_regions

    split = _regions_split(tmp_path, [json.dumps({**GOOD_REGION, "segment_id": 5, "category_id": 0}), json.dumps(row)])
    with pytest.raises(InputError, match=rf"regions.jsonl:2: {error}"):
        read_regions(split)


def test_a_region_listed_twice_or_a_line_not_json_is_an_error(tmp_path):
    from oeseg.data.regions import read_regions

    split = _regions_split(tmp_path, [json.dumps(GOOD_REGION)] * 2)
    with pytest.raises(InputError, match=r"regions.jsonl:2: segment 3 of image 'a' is listed twice \(also line 1\)"):
        read_regions(split)
    split = _regions_split(tmp_path, [json.dumps(GOOD_REGION), "[1]"])
    with pytest.raises(InputError, match=r"regions.jsonl:2: expected a JSON object, got list"):
        read_regions(split)
    (tmp_path / "regions.jsonl").unlink()
    with pytest.raises(InputError, match=r"regions.jsonl: file not found"):
        read_regions(split)


def test_panoptic_json_unknown_category_names_file(tmp_path):
    obj = panoptic_json(CITYSCAPES, [PanopticImage("a", "a.jpg", "a.png", 1, 1, [])])
    obj["annotations"][0]["segments_info"] = [{"id": 1, "category_id": 99}]
    (tmp_path / "panoptic.json").write_text(json.dumps(obj))
    with pytest.raises(InputError, match=r"panoptic.json: annotations\[0\]: segment 1 has unknown category_id 99"):
        PanopticSplit.load(tmp_path)


def test_predictions_round_trip_and_errors(tmp_path):
    path = tmp_path / "p.jsonl"
    preds = [RegionPrediction("img", 3, "a white sedan", 0.5), RegionPrediction("img", 4, "sky")]
    write_predictions(path, preds)
    assert read_predictions(path) == preds
    path.write_text('{"image_id": "a", "segment_id": 1, "description": "x"}\n{"image_id": "a", "segment_id": 2, "description": ""}\n')
    with pytest.raises(InputError, match=r"p.jsonl:2: 'description' is empty"):
        read_predictions(path)
    path.write_text('{"image_id": "a", "segment_id": 1, "description": 5}\n')
    with pytest.raises(InputError, match=r"p.jsonl:1: 'description' must be a string"):
        read_predictions(path)
    path.write_text('{"image_id": "a", "segment_id": 1,\n')
    with pytest.raises(InputError, match=r"p.jsonl:1:\d+: malformed JSON"):
        read_predictions(path)


def test_paper_lexicon_loads_with_levels(shared_data):
    lex = load_lexicon(shared_data / "paper" / "output_semantics_gpt4_cityscapes.json", CITYSCAPES)
    assert [e.id for e in lex.entries] == list(range(19))
    car = lex.entries[13]
    assert car.name == "car" and "car" in car.exact and "automobile" in car.synonym
    index = lex.term_index()
    assert index["car"][13] == LEVELS.index("exact")


def test_lexicon_terms_are_normalised_and_checked(tmp_path):
    """Terms are lower case with single spaces (WordNet's underscores as spaces), once each; the
    category's own names are exact terms; a name differing only in case is the vocabulary's; an id
    listed twice is an error; a GPT-4 lexicon's entries come in id order, each name first."""
    categories = [{"id": c.id, "name": c.name} for c in CITYSCAPES]
    categories[0] = {"id": 0, "name": "Road", "synonym": ["Traffic_Lane", "street", " Street "], "hyponym": ["street"]}
    path = tmp_path / "ours.json"
    path.write_text(json.dumps({"vocabulary": "cityscapes", "categories": categories}))
    lexicon = load_lexicon(path, CITYSCAPES)
    road = lexicon.entries[0]
    assert (road.exact, road.synonym, road.hyponym) == (["road"], ["traffic lane", "street"], ["street"])
    assert lexicon.term_index()["street"] == {0: LEVELS.index("synonym")}
    check_lexicon(lexicon, CITYSCAPES, path)
    path.write_text(json.dumps({"vocabulary": "cityscapes", "categories": [*categories, {"id": 0, "name": "road"}]}))
    with pytest.raises(InputError, match=r"ours.json: category id 0 is listed twice"):
        check_lexicon(load_lexicon(path, CITYSCAPES), CITYSCAPES, path)
    # a larger vocabulary's lexicon serves a subset, but not one that shares no category with it
    path.write_text(json.dumps({"vocabulary": "other", "categories": [{"id": 99, "name": "zebra"}]}))
    with pytest.raises(InputError, match=r"ours.json: no category id of vocabulary 'cityscapes'"):
        check_lexicon(load_lexicon(path), CITYSCAPES, path, larger=True)
    path = tmp_path / "paper.json"
    path.write_text(json.dumps({"sidewalk": {"id": 1, "synonyms": ["pavement"]}, "road": {"id": 0, "exact": ["roadway"]}}))
    paper = load_lexicon(path, CITYSCAPES)
    assert [(e.id, e.exact) for e in paper.entries] == [(0, ["road", "roadway"]), (1, ["sidewalk"])]


def test_lexicon_round_trip(tmp_path, shared_data):
    lex = load_lexicon(shared_data / "paper" / "output_semantics_gpt4_ade20k.json", ADE20K)
    lex.save(tmp_path / "l.json")
    again = load_lexicon(tmp_path / "l.json")
    assert again.entries == lex.entries and again.vocabulary == "ade20k"


def test_csv_text_quotes_what_needs_it_and_reads_back(tmp_path):
    from oeseg.io import csv_text, read_csv_rows

    rows = [["a, comma", 'a "quote"', "two\nlines"], ["plain", None, 0.5]]
    text = csv_text(("x", "y", "z"), rows)
    assert text == 'x,y,z\n"a, comma","a ""quote""","two\nlines"\nplain,,0.5\n'
    assert csv_text(["x"], []) == "x\n"
    (tmp_path / "t.csv").write_text(text)
    header, read = read_csv_rows(tmp_path / "t.csv")
    assert header == ["x", "y", "z"] and [list(r.values()) for _, r in read] == [rows[0], ["plain", "", "0.5"]]


def test_atomic_write_gives_the_mode_of_a_plain_open(tmp_path):
    import os
    from oeseg.io import atomic_write_text

    atomic_write_text(tmp_path / "a.txt", "x")
    (tmp_path / "b.txt").write_text("x")
    assert os.stat(tmp_path / "a.txt").st_mode == os.stat(tmp_path / "b.txt").st_mode


def test_atomic_write_follows_a_link_and_refuses_a_folder(tmp_path):
    """`-o` onto a symbolic link replaces the file it points to, the link stays; onto a folder it is
    an error naming it; the temporary file never stays behind."""
    import os
    from oeseg.io import atomic_write_text

    (tmp_path / "target.json").write_text("old")
    os.symlink("target.json", tmp_path / "link.json")
    atomic_write_text(tmp_path / "link.json", "new")
    assert (tmp_path / "link.json").is_symlink() and (tmp_path / "target.json").read_text() == "new"
    (tmp_path / "folder").mkdir()
    with pytest.raises(InputError, match=r"folder: output is a folder, not a file"):
        atomic_write_text(tmp_path / "folder", "x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder", "link.json", "target.json"]


@pytest.mark.parametrize("remove", [False, True])
def test_a_file_lock_waits_for_another_process_and_is_kept_or_removed(tmp_path, remove):
    """A second process's `file_lock` calls `on_wait` once and gets the lock when the first releases
    it; with `remove` the lock file is gone after each holder, else it stays."""
    import subprocess
    import sys

    lock = tmp_path / "x.lock"
    script = (f"import sys\nfrom oeseg.io import file_lock\nwith file_lock(sys.argv[1], remove={remove}):\n"
              "    print('locked', flush=True)\n    sys.stdin.read()\n")
    holder = subprocess.Popen([sys.executable, "-c", script, str(lock)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline() == "locked\n"
    waits = []

    def release():  # the first holder ends while this process waits
        waits.append(1)
        holder.stdin.close()

    from oeseg.io import file_lock

    with file_lock(lock, remove=remove, on_wait=release):
        assert holder.wait(timeout=60) == 0 and lock.exists()
    assert waits == [1] and lock.exists() is not remove


def test_atomic_write_writes_into_a_fifo_instead_of_replacing_it(tmp_path):
    """A file that is not a regular one (a FIFO, /dev/null) is written in place, not destroyed."""
    import os
    import stat
    import threading
    from oeseg.io import atomic_write_text

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    atomic_write_text(fifo, "through the pipe")
    reader.join(timeout=10)
    assert got == [b"through the pipe"] and stat.S_ISFIFO(os.stat(fifo).st_mode)


@pytest.mark.parametrize("content, error", [
    ({"categories": 5}, r"bad.json: 'categories' must be a list, got int"),
    ({"categories": {"0": "road"}}, r"bad.json: 'categories' must be a list, got dict"),
    ({"categories": [{"id": 0, "name": "road"}], "builder": ["x"]}, r"bad.json: 'builder' must be an object, got list"),
    ({"vocabulary": 5, "categories": [{"id": 0, "name": "road"}]}, r"bad.json: 'vocabulary' must be a string, got int"),
    ({"categories": [5]}, r"bad.json: categories\[0\]: needs 'id' and 'name'"),
    ({"categories": [{"name": "road"}]}, r"bad.json: categories\[0\]: needs 'id' and 'name'"),
    ({"categories": [{"id": 1.9, "name": "road"}]}, r"bad.json: categories\[0\].id: must be an integer, got 1.9"),
    ({"categories": [{"id": True, "name": "road"}]}, r"bad.json: categories\[0\].id: must be an integer, got True"),
    ({"categories": [{"id": "1", "name": "road"}]}, r"bad.json: categories\[0\].id: must be an integer, got '1'"),
    ({"road": {"id": 1.9}}, r"bad.json: \['road'\].id: must be an integer, got 1.9"),
    ({"road": {"id": True, "synonyms": []}}, r"bad.json: \['road'\].id: must be an integer, got True"),
    ({"road": {"id": "0"}}, r"bad.json: \['road'\].id: must be an integer, got '0'"),
    ({"vocabulary": "cityscapes", "categories": []}, r"bad.json: 'categories' is empty: a lexicon with no categories"),
    ({}, r"bad.json: an empty JSON object: a lexicon with no categories"),
    ({"categories": [{"id": 0, "name": None}]}, r"bad.json: categories\[0\].name: must be a string, got None"),
    ({"categories": [{"id": 0, "name": ["road"]}]}, r"bad.json: categories\[0\].name: must be a string"),
    ({"road": {"id": 0}, "sidewalk": {"synonyms": []}}, r"bad.json: \['sidewalk'\]: a GPT-4 lexicon's entry is an "
                                                        r"object with 'id' and the levels"),
    ({"road": {"id": 0}, "sidewalk": ["pavement"]}, r"bad.json: \['sidewalk'\]: a GPT-4 lexicon's entry"),
])
def test_malformed_lexicon_names_file_and_field(tmp_path, content, error):
    (tmp_path / "bad.json").write_text(json.dumps(content))
    with pytest.raises(InputError, match=error):
        load_lexicon(tmp_path / "bad.json", CITYSCAPES)


def test_a_leading_byte_order_mark_is_skipped(tmp_path):
    """Windows editors save UTF-8 with a BOM: JSON and JSON-lines files read as without one; a BOM
    further on is still an error naming the line."""
    from oeseg.io import iter_jsonl, read_json

    (tmp_path / "a.json").write_bytes(b'\xef\xbb\xbf{"x": 1}\n')
    assert read_json(tmp_path / "a.json") == {"x": 1}
    (tmp_path / "a.jsonl").write_bytes(b'\xef\xbb\xbf{"x": 1}\n{"x": 2}\n')
    assert list(iter_jsonl(tmp_path / "a.jsonl")) == [(1, {"x": 1}), (2, {"x": 2})]
    (tmp_path / "b.jsonl").write_bytes(b'{"x": 1}\n\xef\xbb\xbf{"x": 2}\n')
    # (as files joined with cat leave it): said so, not taken for CSV or other text
    with pytest.raises(InputError, match=r"b.jsonl:2:1: malformed JSON line: .*BOM.* \(a byte-order mark begins this "
                                         r"line: only the file's start may hold one, as joining files leaves it\)$"):
        list(iter_jsonl(tmp_path / "b.jsonl"))
    # a bad byte after a leading BOM: named by its own value and its column in the text, as read_json does
    (tmp_path / "c.jsonl").write_bytes(b'\xef\xbb\xbf{"a\xff": 1}\n')
    (tmp_path / "c.json").write_bytes(b'\xef\xbb\xbf{"a\xff": 1}\n')
    for name in ("c.jsonl", "c.json"):
        with pytest.raises(InputError, match=rf"{name}:1:4: not UTF-8 text \(byte 0xff\)"):
            list(iter_jsonl(tmp_path / name)) if name.endswith("l") else read_json(tmp_path / name)
    (tmp_path / "d.jsonl").write_bytes(b'{"x": 1}\n\n{"x\x80": 2}\n')
    with pytest.raises(InputError, match=r"d.jsonl:3:4: not UTF-8 text \(byte 0x80\)"):
        list(iter_jsonl(tmp_path / "d.jsonl"))


def test_an_image_of_another_size_than_its_panoptic_png_names_both_files(tmp_path):
    """The region crops of the baselines and Figure 10 and OPAL's masks need the image and its
    panoptic PNG of one size; OPAL's image reader names a corrupt image instead of PIL's traceback."""
    from PIL import Image

    from oeseg.data.panoptic import check_image_size, read_rgb
    from oeseg.models.data import demo_region_records
    from oeseg.models.inference import load_regions, split_images

    images = [PanopticImage("a", "a.png", "a.png", 4, 2, [Segment(1, 13)])]
    atomic_write_json(tmp_path / "panoptic.json", panoptic_json(CITYSCAPES, images))
    write_segment_ids(tmp_path / "panoptic" / "a.png", np.ones((2, 4), np.uint32))
    (tmp_path / "images").mkdir()
    Image.fromarray(np.zeros((2, 4, 3), np.uint8)).save(tmp_path / "images" / "a.png")
    split = PanopticSplit.load(tmp_path)
    assert split.rgb(split.image("a")).shape == (2, 4, 3)
    Image.fromarray(np.zeros((4, 8, 3), np.uint8)).save(tmp_path / "images" / "a.png")
    message = r"images/a.png: the image is 8x4 pixels, its panoptic PNG .*panoptic/a.png 4x2"
    with pytest.raises(InputError, match=message):
        split.rgb(split.image("a"))
    with pytest.raises(InputError, match=message):
        check_image_size(tmp_path / "images" / "a.png", tmp_path / "panoptic" / "a.png", (2, 4))
    (tmp_path / "regions.jsonl").write_text(json.dumps(
        {"image_id": "a", "segment_id": 1, "category_id": 13, "descriptions": [{"text": "a car", "wording": "name"}]})
        + "\n")
    with pytest.raises(InputError, match=message):  # OPAL's training records of the split
        demo_region_records(tmp_path)
    with pytest.raises(InputError, match=message):  # OPAL's inference
        load_regions(split_images(tmp_path)[0], 8)
    (tmp_path / "images" / "a.png").write_bytes(b"not a png")
    with pytest.raises(InputError, match=r"images/a.png: not a readable image"):
        read_rgb(tmp_path / "images" / "a.png")  # OPAL's training samples read images with it


def test_exit_status_names_bad_input_on_stderr_and_gives_2(capsys):
    from oeseg.io import exit_status

    def bad() -> int:
        raise InputError("x.json: line 3: not JSON")

    assert exit_status(bad, "prog") == 2
    assert capsys.readouterr().err == "prog: error: x.json: line 3: not JSON\n"
    assert exit_status(lambda: None) == 0 and exit_status(lambda: 3) == 3
    with pytest.raises(KeyError):  # only bad input is reported; a defect keeps its traceback
        exit_status(lambda: {}["k"])


def test_error_summary_is_the_first_line_of_the_message_or_the_type():
    from oeseg.io import error_summary

    assert error_summary(OSError("file cut short\nat byte 40")) == "file cut short"
    assert error_summary(ValueError("")) == "ValueError"
