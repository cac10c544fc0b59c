"""Bad input never becomes a wrong number: every malformed input of `oeseg evaluate` and `oeseg
import` is a clear error naming the file (and line or field), exit 2, and no output file."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from baselines_demo_split import make_split
from PIL import Image

from oeseg import cli
from oeseg.data.predictions import MAX_DESCRIPTION_CHARS
from oeseg.data.vocabularies import DEMO_ADE, DEMO_CITY
from oeseg.io import InputError, read_csv_rows, read_json

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def demo(tmp_path):
    """A demo-city split (3 images, real PNGs), its lexicon and one prediction per segment."""
    split = make_split(tmp_path / "split", 3, seed=5)
    lexicon = {"vocabulary": "demo-city", "builder": {"kind": "test"},
               "categories": [{"id": c.id, "name": c.name, "synonym": [], "hyponym": [], "meronym": []}
                              for c in DEMO_CITY]}
    (tmp_path / "lexicon.json").write_text(json.dumps(lexicon))
    rows = []
    for image in read_json(split / "panoptic.json")["annotations"]:
        for s in image["segments_info"]:
            name = DEMO_CITY.by_id(s["category_id"]).name
            rows.append({"image_id": image["image_id"], "segment_id": s["id"], "description": f"a {name}",
                         "score": 0.5})
    write_lines(tmp_path / "pred.jsonl", [json.dumps(r) for r in rows])
    return tmp_path


def write_lines(path: Path, lines: list[str | bytes]) -> None:
    path.write_bytes(b"".join((line if isinstance(line, bytes) else line.encode()) + b"\n" for line in lines))


def pred_lines(root: Path) -> list[str]:
    return (root / "pred.jsonl").read_text().splitlines()


def set_line(root: Path, n: int, text: str | bytes) -> None:
    """Replace line n (1-based) of pred.jsonl."""
    lines: list[str | bytes] = list(pred_lines(root))
    lines[n - 1] = text
    write_lines(root / "pred.jsonl", lines)


def score_line(root: Path, n: int, raw: str) -> None:
    """Line n with its score written verbatim (e.g. NaN, which json.dumps would not write)."""
    row = json.loads(pred_lines(root)[n - 1])
    set_line(root, n, json.dumps({**row, "score": 0.0}).replace("0.0}", raw + "}"))


def edit_json(path: Path, edit) -> None:
    obj = read_json(path)
    edit(obj)
    path.write_text(json.dumps(obj))


def first_png(root: Path) -> Path:
    return min((root / "split" / "panoptic").glob("*.png"))


def add_phantom_segment(obj: dict) -> None:
    obj["annotations"][0]["segments_info"].append({"id": 99, "category_id": 13, "iscrowd": 0, "area": 10,
                                                    "bbox": [0, 0, 1, 1]})


def shift_area(obj: dict) -> None:
    obj["annotations"][0]["segments_info"][0]["area"] += 1


def demo_ade_cut_to_city(root: Path) -> None:
    """demo-ade's categories under demo-city's name, ids renumbered into demo-city's 0-18."""
    cats = [{"id": i, "name": c.name} for i, c in enumerate(DEMO_ADE.categories[:19])]
    (root / "lexicon.json").write_text(json.dumps({"vocabulary": "demo-city", "categories": cats}))


def as_jpeg(path: Path) -> None:
    buf = io.BytesIO()
    Image.open(path).convert("RGB").save(buf, format="JPEG")
    path.write_bytes(buf.getvalue())


def as_16_bit(path: Path) -> None:
    """The PNG rewritten with 16 bits per channel, the same values (as cv2.imwrite writes a uint16 array)."""
    import struct
    import zlib

    rgb = np.asarray(Image.open(path).convert("RGB")).astype(">u2")
    height, width = rgb.shape[:2]
    raw = b"".join(b"\x00" + row.tobytes() for row in rgb)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def with_masks(root: Path) -> None:
    (root / "split" / "masks").mkdir()
    for png in (root / "split" / "panoptic").glob("*.png"):
        (root / "split" / "masks" / png.name).write_bytes(png.read_bytes())


def unlisted_gt_segment_with_masks(root: Path) -> None:
    """A segment of the ground-truth PNG left out of panoptic.json, scored with --masks."""
    with_masks(root)
    edit_json(root / "split" / "panoptic.json", lambda o: o["annotations"][0]["segments_info"].pop())


def empty_mask(root: Path) -> None:
    with_masks(root)
    (root / "split" / "masks" / first_png(root).name).write_bytes(b"")


LONG = "a " + "very " * (MAX_DESCRIPTION_CHARS // 5) + "long car"

#: (case id, how the demo input is broken, the error expected on stderr)
EVALUATE_CASES = [
    ("score-nan", lambda r: score_line(r, 2, "NaN"), r"pred.jsonl:2: 'score' must be a finite number, got nan"),
    ("score-inf", lambda r: score_line(r, 3, "Infinity"), r"pred.jsonl:3: 'score' must be a finite number"),
    ("score-minus-inf", lambda r: score_line(r, 3, "-Infinity"), r"pred.jsonl:3: 'score' must be a finite"),
    ("score-1e400", lambda r: score_line(r, 1, "1e400"), r"pred.jsonl:1: 'score' must be a finite number"),
    ("score-huge-int", lambda r: score_line(r, 1, "1" + "0" * 400), r"pred.jsonl:1: 'score' must be a finite"),
    ("score-string", lambda r: score_line(r, 1, '"0.5"'), r"pred.jsonl:1: 'score' must be a number"),
    ("not-utf8", lambda r: set_line(r, 4, b'{"image_id": "x\xff"}'), r"pred.jsonl:4:16: not UTF-8 text \(byte 0xff\)"),
    ("latin1-description", lambda r: set_line(r, 2, pred_lines(r)[1].replace("a ", "a caf\\u00e9 ").encode()
                                              .replace(b"\\u00e9", b"\xe9")), r"pred.jsonl:2:\d+: not UTF-8"),
    ("too-long-description", lambda r: set_line(r, 2, json.dumps({**json.loads(pred_lines(r)[1]), "description": LONG})),
     rf"pred.jsonl:2: description of {len(LONG):,} characters, over the limit of {MAX_DESCRIPTION_CHARS:,}"),
    ("lexicon-of-another-vocabulary", lambda r: edit_json(r / "lexicon.json", lambda o: o.update(vocabulary="demo-ade")),
     r"lexicon.json: a lexicon of vocabulary 'demo-ade', not of 'demo-city'"),
    ("lexicon-missing-a-category", lambda r: edit_json(r / "lexicon.json", lambda o: o.update(
        categories=[c for c in o["categories"] if c["id"] != 5])),
     r"lexicon.json: 1 category\(ies\) of vocabulary 'demo-city' missing \(5 'pole'\)"),
    ("lexicon-with-other-names", demo_ade_cut_to_city,
     r"lexicon.json: category id 0 is named 'wall', in vocabulary 'demo-city' it is 'road'"),
    ("lexicon-not-utf8", lambda r: (r / "lexicon.json").write_bytes(b'{"vocabulary": "d\xe9mo"}'),
     r"lexicon.json:1:18: not UTF-8 text \(byte 0xe9\)"),
    ("lexicon-not-a-lexicon", lambda r: (r / "lexicon.json").write_text('{"vocabulary": "demo-city", "categories": '
                                                                          '[{"id": "zero", "name": "road"}]}'),
     r"lexicon.json: categories\[0\].id: must be an integer, got 'zero'"),
    ("gt-segment-absent-from-png", lambda r: edit_json(r / "split" / "panoptic.json", add_phantom_segment),
     r"img5_000.png: segment 99 is listed in panoptic.json but absent from the PNG"),
    ("gt-area-differs", lambda r: edit_json(r / "split" / "panoptic.json", shift_area),
     r"img5_000.png: segment 1 has area \d+ in panoptic.json, \d+ pixels in the PNG"),
    ("gt-json-duplicate-segment", lambda r: edit_json(r / "split" / "panoptic.json", lambda o: o["annotations"][0][
        "segments_info"].append(dict(o["annotations"][0]["segments_info"][0]))),
     r"panoptic.json: annotations\[0\]: segment 1 is listed twice"),
    ("gt-json-image-listed-twice", lambda r: edit_json(r / "split" / "panoptic.json", lambda o: o["images"].append(
        dict(o["images"][0]))), r"panoptic.json: images\[3\]: image id 'img5_000' is listed twice"),
    ("gt-json-image-annotated-twice", lambda r: edit_json(r / "split" / "panoptic.json", lambda o: o["annotations"]
                                                          .append(dict(o["annotations"][0]))),
     r"panoptic.json: annotations\[3\]: image_id 'img5_000' is annotated twice \(also annotations\[0\]\)"),
    ("gt-json-unknown-image", lambda r: edit_json(r / "split" / "panoptic.json", lambda o: o["annotations"][0].update(
        image_id="nowhere")), r"panoptic.json: annotations\[0\]: image_id 'nowhere' is not among the images"),
    ("gt-json-bad-segment-id", lambda r: edit_json(r / "split" / "panoptic.json", lambda o: o["annotations"][1][
        "segments_info"][0].update(id="one")),
     r"panoptic.json: annotations\[1\].segments_info\[0\].id: must be an integer from 0 to 2\^63 - 1, got 'one'"),
    ("gt-json-fractional-segment-id", lambda r: edit_json(r / "split" / "panoptic.json", lambda o: o["annotations"][1][
        "segments_info"][0].update(id=1.7)),  # int() made it segment 1, silently
     r"panoptic.json: annotations\[1\].segments_info\[0\].id: must be an integer from 0 to 2\^63 - 1, got 1.7"),
    ("gt-json-category-name-for-id", lambda r: edit_json(r / "split" / "panoptic.json", lambda o: o["annotations"][0][
        "segments_info"][1].update(category_id="road")),  # the message once, not wrapped in "a malformed field (...)"
     r"error: \S*panoptic.json: annotations\[0\].segments_info\[1\].category_id: must be an integer from 0 to 2\^63 - 1, got 'road'"),
    ("gt-json-fractional-category-id", lambda r: edit_json(r / "split" / "panoptic.json", lambda o: o["annotations"][0][
        "segments_info"][1].update(category_id=10.9)),  # int() made it category 10, a wrong one
     r"panoptic.json: annotations\[0\].segments_info\[1\].category_id: must be an integer from 0 to 2\^63 - 1, got 10.9"),
    ("gt-json-infinite-area", lambda r: edit_json(r / "split" / "panoptic.json", lambda o: o["annotations"][2][
        "segments_info"][0].update(area=float("inf"))),  # int() raised an OverflowError naming no file
     r"panoptic.json: annotations\[2\].segments_info\[0\].area: must be an integer from 0 to 2\^63 - 1, got inf"),
    ("gt-json-area-past-64-bits", lambda r: edit_json(r / "split" / "panoptic.json", lambda o: o["annotations"][2][
        "segments_info"][0].update(area=2**63)),  # numpy's int64 raised an OverflowError naming no file
     r"panoptic.json: annotations\[2\].segments_info\[0\].area: must be an integer from 0 to 2\^63 - 1, "
     r"got 9223372036854775808"),
    ("gt-json-negative-area", lambda r: edit_json(r / "split" / "panoptic.json", lambda o: o["annotations"][0][
        "segments_info"][0].update(area=-3)),
     r"panoptic.json: annotations\[0\].segments_info\[0\].area: must be an integer from 0 to 2\^63 - 1, got -3"),
    ("gt-json-iscrowd-two", lambda r: edit_json(r / "split" / "panoptic.json", lambda o: o["annotations"][0][
        "segments_info"][0].update(iscrowd=2)),
     r"panoptic.json: annotations\[0\].segments_info\[0\].iscrowd: must be 0, 1, true or false, got 2"),
    ("gt-json-text-bbox", lambda r: edit_json(r / "split" / "panoptic.json", lambda o: o["annotations"][0][
        "segments_info"][0].update(bbox=[0, 0, "2", 4])),
     r"panoptic.json: annotations\[0\].segments_info\[0\].bbox: must be four numbers"),
    ("gt-json-fractional-area", lambda r: edit_json(r / "split" / "panoptic.json", lambda o: o["annotations"][0][
        "segments_info"][0].update(area=10.5)),
     r"panoptic.json: annotations\[0\].segments_info\[0\].area: must be an integer from 0 to 2\^63 - 1, got 10.5"),
    ("gt-json-fractional-width", lambda r: edit_json(r / "split" / "panoptic.json", lambda o: o["images"][1].update(
        width=287.5)), r"panoptic.json: images\[1\].width: must be an integer from 0 to 2\^63 - 1, got 287.5"),
    ("gt-json-not-an-object", lambda r: (r / "split" / "panoptic.json").write_text("[]"),
     r"panoptic.json: expected a JSON object with images, annotations, categories, got list"),
    ("gt-json-not-utf8", lambda r: (r / "split" / "panoptic.json").write_bytes(b'{"info": "\x80"}'),
     r"panoptic.json:1:11: not UTF-8 text"),
    ("gt-stuff-category-split", lambda r: edit_json(r / "split" / "panoptic.json", lambda o: o["annotations"][0][
        "segments_info"][1].update(category_id=10)),  # the road band relabelled sky: two sky segments
     r"panoptic.json: annotations\[0\]: segments 1 and 2 are both of stuff category 10 'sky'; a stuff "
     r"category has one segment per image"),
    ("gt-image-not-annotated", lambda r: edit_json(r / "split" / "panoptic.json", lambda o: o["annotations"].pop()),
     r"panoptic.json: images\[2\]: image id 'img5_002' has no annotation"),
    ("gt-negative-category-id", lambda r: edit_json(r / "split" / "panoptic.json", lambda o: o["categories"][0]
                                                    .update(id=-1)),
     r"panoptic.json: categories\[0\].id: must be an integer from 0 to 2\^63 - 1, got -1"),
    ("gt-isthing-a-string", lambda r: edit_json(r / "split" / "panoptic.json", lambda o: o["categories"][13]
                                                .update(isthing="false")),
     r"panoptic.json: categories\[13\]: 'isthing' must be 0, 1, true or false, got 'false'"),
    ("gt-png-empty", lambda r: first_png(r).write_bytes(b""), r"img5_000.png: not a readable PNG image \(the file is empty\)"),
    ("gt-png-is-text", lambda r: first_png(r).write_text("not an image"), r"img5_000.png: not a readable PNG image"),
    ("gt-png-is-jpeg", lambda r: as_jpeg(first_png(r)), r"img5_000.png: not a PNG image \(a JPEG file\)"),
    ("gt-png-16-bit", lambda r: as_16_bit(first_png(r)),  # Pillow reads the high bytes alone: every id 0
     r"img5_000.png: a PNG of 16 bits per channel; a panoptic PNG has 8"),
    ("mask-png-16-bit", lambda r: (with_masks(r), as_16_bit(r / "split" / "masks" / first_png(r).name)),
     r"masks/img5_000.png: a PNG of 16 bits per channel; a panoptic PNG has 8"),
    ("gt-png-truncated", lambda r: first_png(r).write_bytes(first_png(r).read_bytes()[:120]),
     r"img5_000.png: not a readable PNG image"),
    ("gt-png-unlisted-id-with-masks", unlisted_gt_segment_with_masks,  # the GT PNG named, not the mask
     r"split/panoptic/img5_000.png: segment id \d+ is in the PNG but not in panoptic.json"),
    ("mask-png-empty", empty_mask, r"masks/img5_000.png: not a readable PNG image \(the file is empty\)"),
    ("score-misspelt", lambda r: set_line(r, 1, pred_lines(r)[0].replace('"score"', '"Score"')),
     r"pred.jsonl:1: unknown field 'Score' \(fields: image_id, segment_id, description, score\)"),
    ("key-given-twice", lambda r: set_line(r, 2, pred_lines(r)[1].replace("}", ', "score": 0.9}')),
     r"pred.jsonl:2: malformed JSON line: key 'score' appears twice"),
    ("description-lone-surrogate", lambda r: set_line(r, 2, pred_lines(r)[1].replace('", "score"', ' \\ud800", "score"')),
     r"pred.jsonl:2: 'description' holds an unpaired surrogate '\\ud800' at character \d+: not Unicode text"),
    ("predictions-a-json-array", lambda r: (r / "pred.jsonl").write_text(json.dumps(
        [json.loads(line) for line in pred_lines(r)], indent=1)),  # json.dump(rows, f, indent=1)
     r"pred.jsonl:1:2: malformed JSON line: .* \(JSON Lines holds one JSON object per line, not a JSON array\)"),
    ("predictions-a-one-line-json-array", lambda r: (r / "pred.jsonl").write_text(json.dumps(
        [json.loads(line) for line in pred_lines(r)])),
     r"pred.jsonl:1: expected a JSON object, got list \(JSON Lines holds one JSON object per line, not a JSON array\)"),
    ("predictions-pretty-printed", lambda r: (r / "pred.jsonl").write_text("\n".join(
        json.dumps(json.loads(line), indent=1) for line in pred_lines(r))),
     r"pred.jsonl:1:2: malformed JSON line: .* \(JSON Lines holds each object whole on one line\)"),
    # a file cut inside a description (a crashed writer): the line end is not "an invalid control character"
    ("predictions-truncated", lambda r: set_line(r, 3, pred_lines(r)[2][:pred_lines(r)[2].index('"description": "') + 20]),
     r"pred.jsonl:3:\d+: malformed JSON line: Unterminated string \(JSON Lines holds each object whole on one line\)$"),
    ("predictions-truncated-crlf", lambda r: set_line(r, 2, pred_lines(r)[1][:-3].encode() + b"\r"),
     r"pred.jsonl:2:\d+: malformed JSON line: Expecting .* \(JSON Lines holds each object whole on one line\)$"),
    ("predictions-a-csv", lambda r: write_lines(r / "pred.jsonl", ["image_id,segment_id,description", "img5_000,1,a road"]),
     r"pred.jsonl:1:1: malformed JSON line: Expecting value \(JSON Lines holds one JSON object per line, "
     r"not CSV or other text\)$"),
    ("predictions-empty", lambda r: write_lines(r / "pred.jsonl", ["", "  "]),
     r"pred.jsonl: no predictions: the file holds no prediction line"),
    ("lexicon-level-misspelt", lambda r: edit_json(r / "lexicon.json", lambda o: o["categories"][0].update(
        synonyms=o["categories"][0].pop("synonym"))),
     r"lexicon.json: categories\[0\]: unknown field 'synonyms' \(fields: id, name, exact, synonym, hyponym, meronym\)"),
    ("lexicon-key-given-twice", lambda r: (r / "lexicon.json").write_text(
        (r / "lexicon.json").read_text().replace('"vocabulary": "demo-city"', '"vocabulary": "demo-city", "vocabulary": "x"')),
     r"lexicon.json: invalid JSON: key 'vocabulary' appears twice in one object"),
    ("lexicon-term-lone-surrogate", lambda r: (r / "lexicon.json").write_text(
        (r / "lexicon.json").read_text().replace('"synonym": []', '"synonym": ["st\\ud800reet"]', 1)),
     r"lexicon.json: categories\[0\].synonym\[0\]: the term holds an unpaired surrogate '\\ud800' at character 3"),
    ("gt-category-name-lone-surrogate", lambda r: edit_json(r / "split" / "panoptic.json", lambda o: o["categories"][2]
                                                            .update(name="buil\udc00ding")),
     r"panoptic.json: categories\[2\]: 'name' holds an unpaired surrogate '\\udc00' at character 5"),
    ("gt-isthing-missing", lambda r: edit_json(r / "split" / "panoptic.json", lambda o: o["categories"][13]
                                               .pop("isthing")),
     r"panoptic.json: categories\[13\]: missing field 'isthing' \(0 or 1\)"),
    ("gt-category-named-twice", lambda r: edit_json(r / "split" / "panoptic.json", lambda o: o["categories"][1]
                                                    .update(name=" Road")),
     r"panoptic.json: categories\[1\]: name 'Road' is also the name of .*categories\[0\]"),
    # json raises a bare ValueError (a traceback once) for an integer over Python's int-string digit limit
    ("score-integer-of-5000-digits", lambda r: score_line(r, 2, "1" * 5000),
     r"pred.jsonl:2: malformed JSON line: an integer of more than [\d,]+ digits"),
    ("lexicon-integer-of-5000-digits", lambda r: (r / "lexicon.json").write_text(
        (r / "lexicon.json").read_text().replace('"id": 0,', '"id": ' + "1" * 5000 + ",", 1)),
     r"lexicon.json: invalid JSON: an integer of more than [\d,]+ digits"),
    ("gt-json-integer-of-5000-digits", lambda r: (r / "split" / "panoptic.json").write_text(
        (r / "split" / "panoptic.json").read_text().replace('"width": ', '"width": ' + "9" * 5000, 1)),
     r"panoptic.json: invalid JSON: an integer of more than [\d,]+ digits"),
    ("image-id-null", lambda r: set_line(r, 3, json.dumps({**json.loads(pred_lines(r)[2]), "image_id": None})),
     r"pred.jsonl:3: 'image_id' must be a string or an integer, got None"),  # not "image_id 'None' is not an image"
    ("image-id-a-list", lambda r: set_line(r, 1, json.dumps({**json.loads(pred_lines(r)[0]), "image_id": ["img5_000"]})),
     r"pred.jsonl:1: 'image_id' must be a string or an integer, got \['img5_000'\]"),
]


@pytest.mark.parametrize("case", EVALUATE_CASES, ids=[c[0] for c in EVALUATE_CASES])
def test_evaluate_rejects_bad_input(demo, case, capsys):
    _, breakage, message = case
    out = demo / "RESULTS.json"
    argv = ["evaluate", "--dataset", str(demo / "split"), "--predictions", str(demo / "pred.jsonl"),
            "--lexicon", str(demo / "lexicon.json"), "-o", str(out)]
    assert cli.main(argv) == 0 and out.exists()  # the intact input scores
    out.unlink()
    capsys.readouterr()
    breakage(demo)
    if (demo / "split" / "masks").exists():
        argv += ["--masks", str(demo / "split" / "masks")]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("oeseg evaluate: error: ") and "Traceback" not in err
    assert _search(message, err), err
    assert not out.exists()


@pytest.mark.parametrize("option", ["--dataset", "--predictions", "--lexicon"])
def test_an_input_path_under_a_file_names_that_file(demo, option, capsys):
    """`--dataset split/panoptic.json` (the split's file for its folder), `--predictions pred.jsonl/x`:
    an error naming the file in the way, not a NotADirectoryError traceback."""
    paths = {"--dataset": demo / "split", "--predictions": demo / "pred.jsonl", "--lexicon": demo / "lexicon.json"}
    above = demo / "split" / "panoptic.json" if option == "--dataset" else paths[option]
    paths[option] = above if option == "--dataset" else above / "x"
    out = demo / "RESULTS.json"
    argv = ["evaluate", *(str(x) for option_path in paths.items() for x in option_path), "-o", str(out)]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("oeseg evaluate: error: ") and "Traceback" not in err
    assert f"not found: {above} is a file, not a folder" in err, err
    assert not out.exists()


def test_a_yaml_value_that_cannot_be_constructed_names_the_file(tmp_path):
    """A date such as 2024-13-01, or an integer over Python's digit limit, in a config: yaml's
    constructor raised a bare ValueError."""
    from oeseg.io import read_yaml

    for n, text in enumerate(["model: 2024-13-01\n", "seed: " + "1" * 5000 + "\n"]):
        path = tmp_path / f"c{n}.yaml"
        path.write_text(text)
        with pytest.raises(InputError, match=rf"{path}: not valid YAML: a value that cannot be read"):
            read_yaml(path)


@pytest.mark.parametrize("text, error", [
    ("base_url: [x\n", r"2:1: not valid YAML: expected ',' or '\]', but got '<stream end>' \(while parsing a flow "
                        r"sequence\)$"),
    ("a: 1\n b: 2\n", r"2:3: not valid YAML: mapping values are not allowed here$"),
    ("model: !!python/object:os.system x\n", r"1:8: not valid YAML: could not determine a constructor for the tag"),
    ("a: 1\nb: x\x07y\n", r"2:5: not valid YAML: character U\+0007: special characters are not allowed$"),
])
def test_a_yaml_syntax_error_is_one_line_naming_file_line_and_column(tmp_path, text, error):
    """PyYAML's own message spans several lines and names "<unicode string>", not the file."""
    from oeseg.io import read_yaml

    path = tmp_path / "settings.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as raised:
        read_yaml(path)
    assert "\n" not in str(raised.value) and _search(rf"^{path}:{error}", str(raised.value)), str(raised.value)


def test_an_output_named_dash_is_refused_before_the_work(demo, capsys):
    """`-o -` wrote a file named "-"; standard output is /dev/stdout."""
    argv = ["evaluate", "--dataset", str(demo / "split"), "--predictions", str(demo / "pred.jsonl"),
            "--lexicon", str(demo / "lexicon.json"), "-o", "-"]
    assert cli.main(argv) == 2
    assert capsys.readouterr().err == ("oeseg evaluate: error: -: give the output as a file path (standard output "
                                       "is /dev/stdout)\n")


@pytest.mark.parametrize("stdout_is", ["pipe", "appended file"])
def test_an_output_to_dev_stdout_goes_to_the_pipe_or_the_redirected_file(demo, tmp_path, stdout_is):
    """`-o /dev/stdout` writes the results where standard output goes, through its descriptor: into
    a pipe, or at the end of a file opened for appending (`>> log`: neither replaced, which left the
    output on a deleted file, nor reopened, which truncated it); the summary line goes to stderr."""
    argv = [sys.executable, "-m", "oeseg.cli", "evaluate", "--dataset", str(demo / "split"), "--predictions",
            str(demo / "pred.jsonl"), "--lexicon", str(demo / "lexicon.json"), "-o", "/dev/stdout"]
    env = {"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"}
    if stdout_is == "pipe":
        done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300, check=False)
        written = done.stdout
    else:
        log = tmp_path / "log.txt"
        log.write_text("earlier lines\n")
        inode = log.stat().st_ino
        with open(log, "a") as out:
            done = subprocess.run(argv, stdout=out, stderr=subprocess.PIPE, text=True, env=env, timeout=300,
                                  check=False)
        header, written = log.read_text().split("\n", 1)
        assert header == "earlier lines" and log.stat().st_ino == inode
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(written)["lac"]["PQ"] == pytest.approx(100.0)  # every region named by its category
    assert "LAC: PQ 100.0" in done.stderr and "-> /dev/stdout" in done.stderr


def test_an_output_to_a_closed_standard_output_is_refused_before_the_work(demo):
    """With standard output closed (`>&-`), descriptor 1 would be the next file the command opens
    (a data file it reads): refused up front."""
    argv = [sys.executable, "-m", "oeseg.cli", "evaluate", "--dataset", str(demo / "split"), "--predictions",
            str(demo / "pred.jsonl"), "--lexicon", str(demo / "lexicon.json"), "-o", "/dev/stdout"]
    env = {"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(["bash", "-c", '"$@" >&-', "bash", *argv], stderr=subprocess.PIPE, text=True, env=env,
                          timeout=300, check=False)
    assert done.returncode == 2 and done.stderr == ("oeseg evaluate: error: /dev/stdout: file descriptor 1 is not "
                                                    "open\n"), done.stderr


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")
def test_an_output_onto_a_full_disk_is_one_line_naming_the_file(demo, capsys):
    """/dev/full answers every write with ENOSPC, as a full disk does: one line, exit 2, no traceback."""
    argv = ["evaluate", "--dataset", str(demo / "split"), "--predictions", str(demo / "pred.jsonl"),
            "--lexicon", str(demo / "lexicon.json"), "-o", "/dev/full"]
    assert cli.main(argv) == 2
    assert capsys.readouterr().err.splitlines()[-1] == ("oeseg evaluate: error: /dev/full: cannot write the file: "
                                                        "No space left on device")


def test_a_write_over_the_file_size_limit_keeps_the_file_and_leaves_no_temporary_file(tmp_path):
    """A file-size limit (`ulimit -f`, a quota) stops the write itself: the error names the file, the
    earlier file is kept whole and the temporary file is removed."""
    import resource

    target = tmp_path / "results.json"
    target.write_text("the earlier results\n")
    script = ("import sys\nfrom oeseg.io import atomic_write_bytes, exit_status\n"
              f"sys.exit(exit_status(lambda: atomic_write_bytes({str(target)!r}, bytes(100_000)), 'write'))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False,
                          env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"},
                          preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (8192, 8192)))
    assert (done.returncode, done.stderr) == (2, f"write: error: {target}: cannot write the file: File too large\n")
    assert target.read_text() == "the earlier results\n" and sorted(tmp_path.iterdir()) == [target]


def test_ctrl_c_while_the_commands_load_is_one_line_too(monkeypatch, capsys):
    """The sub-commands' modules load before the arguments are read: Ctrl-C there exits 130 in one line."""
    def loading(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli.importlib, "import_module", loading)
    assert cli.main(["evaluate", "--help"]) == 130
    assert capsys.readouterr().err == "oeseg: interrupted; an output is written whole or not at all\n"


def test_an_output_onto_a_loop_of_links_is_refused(demo, capsys):
    """A link to itself was replaced by a regular file, the link lost."""
    import os

    os.symlink("loop.json", demo / "loop.json")
    argv = ["evaluate", "--dataset", str(demo / "split"), "--predictions", str(demo / "pred.jsonl"),
            "--lexicon", str(demo / "lexicon.json"), "-o", str(demo / "loop.json")]
    assert cli.main(argv) == 2
    assert capsys.readouterr().err == (f"oeseg evaluate: error: {demo / 'loop.json'}: cannot write the output: a loop "
                                       "of symbolic links\n")
    assert (demo / "loop.json").is_symlink()


def test_an_output_onto_a_folder_is_refused_before_the_work(demo, capsys):
    """Checked first: the error is the folder's, though the predictions named do not exist."""
    (demo / "out").mkdir()
    argv = ["evaluate", "--dataset", str(demo / "split"), "--predictions", str(demo / "absent.jsonl"),
            "--lexicon", str(demo / "lexicon.json"), "-o", str(demo / "out")]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err == f"oeseg evaluate: error: {demo / 'out'}: output is a folder, not a file\n"
    assert list((demo / "out").iterdir()) == []


@pytest.mark.parametrize("option", ["--predictions", "--lexicon"])
def test_an_output_that_is_an_input_is_refused(demo, option, capsys):
    """`-o` naming an input would replace it with the results: refused, the input kept."""
    inputs = {"--predictions": demo / "pred.jsonl", "--lexicon": demo / "lexicon.json"}
    before = inputs[option].read_bytes()
    argv = ["evaluate", "--dataset", str(demo / "split"), "--predictions", str(inputs["--predictions"]),
            "--lexicon", str(inputs["--lexicon"]), "-o", str(inputs[option])]
    assert cli.main(argv) == 2
    assert capsys.readouterr().err == (f"oeseg evaluate: error: {inputs[option]}: the output is also the input "
                                       f"given as {option}; writing it would replace that input\n")
    assert inputs[option].read_bytes() == before


@pytest.mark.parametrize("name", ["panoptic.json", "new.json"])
def test_an_output_in_an_input_folder_is_refused(demo, capsys, name):
    """In a split's folder an output would replace its ground truth, or add a file to the dataset."""
    ground_truth, output = demo / "split" / "panoptic.json", demo / "split" / name
    before = sorted((p.name, p.read_bytes()) for p in (demo / "split").iterdir() if p.is_file())
    argv = ["evaluate", "--dataset", str(demo / "split"), "--predictions", str(demo / "pred.jsonl"),
            "--lexicon", str(demo / "lexicon.json"), "-o", str(output)]
    assert cli.main(argv) == 2
    assert capsys.readouterr().err == (f"oeseg evaluate: error: {output}: the output lies in the folder given as "
                                       "--dataset, an input; write it elsewhere\n")
    assert sorted((p.name, p.read_bytes()) for p in (demo / "split").iterdir() if p.is_file()) == before
    assert ground_truth.exists()


def test_an_output_under_a_file_is_refused_before_the_work(demo, capsys):
    out = demo / "pred.jsonl" / "RESULTS.json"
    argv = ["evaluate", "--dataset", str(demo / "split"), "--predictions", str(demo / "absent.jsonl"),
            "--lexicon", str(demo / "lexicon.json"), "-o", str(out)]
    assert cli.main(argv) == 2
    assert capsys.readouterr().err == (f"oeseg evaluate: error: {out}: cannot write the output: "
                                       f"{demo / 'pred.jsonl'} is a file, not a folder\n")


@pytest.mark.parametrize("method, option", [("lexical", "--sbert-classes"), ("sbert", "--lexicon")])
def test_an_option_the_mapping_does_not_read_is_refused(demo, method, option, capsys):
    """Given with the other mapping, it would be ignored, and its file never checked."""
    (demo / "classes.txt").write_text("".join(f"{c.id}:{c.name}\n" for c in DEMO_CITY))
    argv = ["evaluate", "--dataset", str(demo / "split"), "--predictions", str(demo / "pred.jsonl"),
            "--method", method, "-o", str(demo / "RESULTS.json")]
    argv += ["--lexicon", str(demo / "lexicon.json")] if method == "lexical" else []
    argv += {"--sbert-classes": ["--sbert-classes", str(demo / "classes.txt")],
             "--lexicon": ["--lexicon", str(demo / "lexicon.json")]}[option]
    assert cli.main(argv) == 2
    assert capsys.readouterr().err == (f"oeseg evaluate: error: {option} is read by --method "
                                       f"{'sbert' if method == 'lexical' else 'lexical'} only (the mapping here "
                                       f"is {method})\n")
    assert not (demo / "RESULTS.json").exists()


def test_negative_finite_scores_stay_legal(demo):
    """Log-probabilities are negative: they score like any other number."""
    score_line(demo, 1, "-12.75")
    assert cli.main(["evaluate", "--dataset", str(demo / "split"), "--predictions", str(demo / "pred.jsonl"),
                     "--lexicon", str(demo / "lexicon.json"), "-o", str(demo / "r.json")]) == 0
    assert read_json(demo / "r.json")["regions"]["predicted"] == len(pred_lines(demo))


def test_ap_ties_rank_by_image_and_segment_not_by_line_order(demo, caplog):
    """Equal scores: the results do not depend on the order of the lines, and a warning says how
    AP ranked them; distinct scores draw no warning."""
    argv = ["evaluate", "--dataset", str(demo / "split"), "--predictions", str(demo / "pred.jsonl"),
            "--lexicon", str(demo / "lexicon.json"), "-o"]
    rows = [json.loads(line) for line in pred_lines(demo)]
    for k, row in enumerate(rows):  # every car right but one, so that the rank order matters
        if row["description"] == "a car":
            row["description"] = "a car" if k % 3 else "a truck"
    write_lines(demo / "pred.jsonl", [json.dumps(r) for r in rows])
    assert cli.main([*argv, str(demo / "a.json")]) == 0
    assert "every prediction has the score 0.5; AP ranks them in panoptic.json's image order" in caplog.text
    write_lines(demo / "pred.jsonl", [json.dumps(r) for r in reversed(rows)])
    assert cli.main([*argv, str(demo / "b.json")]) == 0
    a, b = read_json(demo / "a.json"), read_json(demo / "b.json")
    assert a["metrics"] == b["metrics"] and a["per_category"] == b["per_category"]
    write_lines(demo / "pred.jsonl", [json.dumps({**r, "score": k / 10}) for k, r in enumerate(rows)])
    caplog.clear()
    assert cli.main([*argv, str(demo / "c.json")]) == 0
    assert "every prediction has the score" not in caplog.text


# ------------------------------------------------------------------------------------- import
def lac_file(root: Path, descriptions_of=lambda k, segs: [f"thing {s['id']}" for s in segs]) -> Path:
    anns = read_json(root / "split" / "panoptic.json")["annotations"]
    path = root / "descriptions.json"
    path.write_text(json.dumps([{"image_id": a["image_id"], "descriptions": descriptions_of(k, a["segments_info"])}
                                for k, a in enumerate(anns)]))
    return path


def semseg_file(root: Path, size=None, counts=None) -> Path:
    """One detectron2 class mask covering the first image, with its RLE size or counts overridden."""
    from pycocotools import mask as mask_util

    png = first_png(root)
    h, w = np.asarray(Image.open(png)).shape[:2]
    rle = mask_util.encode(np.asfortranarray(np.ones((h, w), np.uint8)))
    entry = {"file_name": png.name, "category_id": 0,
             "segmentation": {"size": size or rle["size"], "counts": counts or rle["counts"].decode()}}
    path = root / "sem_seg_predictions.json"
    path.write_text(json.dumps([entry]))
    (root / "nouns.txt").write_text("road\ncar\n")
    return path


def semseg_edited(root: Path, edit) -> Path:
    """semseg_file's entries, changed in place by `edit`."""
    path = semseg_file(root)
    entries = json.loads(path.read_text())
    edit(entries)
    path.write_text(json.dumps(entries))
    return path


def written(path: Path, data: bytes) -> Path:
    """Write `data` to `path` and return the path."""
    path.write_bytes(data)
    return path


def semseg_with_nouns(root: Path, nouns: bytes) -> Path:
    source = semseg_file(root)
    written(root / "nouns.txt", nouns)
    return source


def jsonl_with(root: Path, edit) -> Path:
    edit(root)
    return root / "pred.jsonl"


def duplicate_first(root: Path) -> None:
    lines = pred_lines(root)
    write_lines(root / "pred.jsonl", lines + [lines[0]])


def unknown_segment(root: Path) -> None:
    row = json.loads(pred_lines(root)[1])
    set_line(root, 2, json.dumps({**row, "segment_id": 77}))


#: (case id, format, write the input (returns its path), the error expected on stderr)
IMPORT_CASES = [
    ("jsonl-score-nan", "jsonl", lambda r: jsonl_with(r, lambda r: score_line(r, 2, "NaN")),
     r"pred.jsonl:2: 'score' must be a finite number"),
    ("jsonl-unknown-segment", "jsonl", lambda r: jsonl_with(r, unknown_segment),
     r"pred.jsonl:2: segment_id 77 is not among the ground-truth segments of image 'img5_000'"),
    ("jsonl-duplicate-region", "jsonl", lambda r: jsonl_with(r, duplicate_first),
     r"pred.jsonl:\d+: duplicate region \(image 'img5_000', segment \d+\), first given on line 1"),
    ("jsonl-not-utf8", "jsonl", lambda r: jsonl_with(r, lambda r: set_line(r, 3, b"\xc3(")),
     r"pred.jsonl:3:1: not UTF-8 text \(byte 0xc3\)"),
    ("lac-not-utf8", "lac", lambda r: written(r / "d.json", b'[{"image_id": "\xff"}]'),
     r"d.json:1:16: not UTF-8 text"),
    ("lac-too-long", "lac", lambda r: lac_file(r, lambda k, segs: [LONG] * len(segs)),
     r"descriptions.json: entry 0 \(img5_000\): descriptions\[0\]: description of [\d,]+ characters, over the limit"),
    ("semseg-huge-rle-size", "detectron2-semseg", lambda r: semseg_file(r, size=[999999, 999999]),
     r"entry 0 \(img5_000\): RLE size \[999999, 999999\] differs from the ground truth's \[64, 96\]"),
    ("semseg-runs-overflow", "detectron2-semseg", lambda r: semseg_file(r, counts="0" + "ooooo1" * 3),
     r"entry 0 \(img5_000\): bad RLE segmentation: its runs cover \d+ pixels, the image has 6144"),
    ("semseg-counts-garbage", "detectron2-semseg", lambda r: semseg_file(r, counts="\x01\x02"),
     r"entry 0 \(img5_000\): bad RLE segmentation: not a compressed RLE string"),
    ("semseg-runs-short", "detectron2-semseg", lambda r: semseg_file(r, counts="0i0"),
     r"bad RLE segmentation: its runs cover 25 pixels, the image has 6144"),
    ("semseg-counts-not-ascii", "detectron2-semseg", lambda r: semseg_file(r, counts="0\u00e9"),
     r"bad RLE segmentation: not a compressed RLE string \(a character that is not ASCII\)"),
    ("semseg-size-not-a-pair", "detectron2-semseg", lambda r: semseg_file(r, size=[64]),
     r"entry 0 \(img5_000\): bad RLE segmentation: size \[64\] is not \[height, width\]"),
    ("semseg-class-twice", "detectron2-semseg", lambda r: semseg_edited(r, lambda e: e.append(dict(e[0]))),
     r"entry 1: image 'img5_000', category_id 0 is given twice \(also entry 0\)"),
    ("semseg-unknown-file", "detectron2-semseg",
     lambda r: semseg_edited(r, lambda e: e.append({**e[0], "file_name": "nowhere.png"})),
     r"sem_seg_predictions.json: 1 file name\(s\) name no image of \S*panoptic.json: nowhere.png$"),
    ("lac-empty-list", "lac", lambda r: written(r / "d.json", b"[]"), r"d.json: no description to import"),
    ("lac-unknown-field", "lac",
     lambda r: written(r / "d.json", b'[{"image_id": "img5_000", "descriptions": ["a car"], "scores": [0.9]}]'),
     r"d.json: entry 0: unknown field 'scores' \(fields: image_id, descriptions\)"),
    ("lac-image-id-null", "lac", lambda r: written(r / "d.json", b'[{"image_id": null, "descriptions": ["a car"]}]'),
     r"d.json: entry 0: 'image_id' must be a string or an integer, got None"),
    ("lac-integer-of-5000-digits", "lac",
     lambda r: written(r / "d.json", b'[{"image_id": ' + b"7" * 5000 + b', "descriptions": ["a car"]}]'),
     r"d.json: invalid JSON: an integer of more than [\d,]+ digits"),
    ("semseg-nouns-not-utf8", "detectron2-semseg",
     lambda r: semseg_with_nouns(r, b"road\ncar\xa0s\n"),
     r"nouns.txt:2:4: not UTF-8 text \(byte 0xa0\)"),
]


def run_import(root: Path, fmt: str, source: Path) -> subprocess.CompletedProcess:
    """`oeseg import` in a process of its own: a crash (a segfault: rc 139) cannot pass for an error."""
    argv = [sys.executable, "-m", "oeseg.cli", "import", "--format", fmt, "--dataset", str(root / "split"),
            str(source), "-o", str(root / "out.jsonl")]
    if fmt == "detectron2-semseg":
        argv += ["--nouns", str(root / "nouns.txt")]
    env = {"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"}
    return subprocess.run(argv, check=False, capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.parametrize("case", IMPORT_CASES, ids=[c[0] for c in IMPORT_CASES])
def test_import_rejects_bad_input(demo, case):
    _, fmt, write, message = case
    source = write(demo)
    done = run_import(demo, fmt, source)
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    assert "Traceback" not in done.stderr and _search(message, done.stderr), done.stderr
    assert not (demo / "out.jsonl").exists()


def test_import_jsonl_validates_like_evaluate_and_writes_json(demo):
    done = run_import(demo, "jsonl", demo / "pred.jsonl")
    assert done.returncode == 0, done.stderr
    assert "3 images converted" in done.stdout
    assert [json.loads(line) for line in (demo / "out.jsonl").read_text().splitlines()] == \
        [json.loads(line) for line in pred_lines(demo)]


def test_import_lac_counts_empty_descriptions(demo):
    source = lac_file(demo, lambda k, segs: ["" if k == 1 and j < 2 else f"thing {s['id']}" for j, s in enumerate(segs)])
    done = run_import(demo, "lac", source)
    assert done.returncode == 0, done.stderr
    assert "2 empty descriptions dropped (regions left undescribed) in 1 images: img5_001 (2)" in done.stdout
    total = sum(len(a["segments_info"]) for a in read_json(demo / "split" / "panoptic.json")["annotations"])
    assert len((demo / "out.jsonl").read_text().splitlines()) == total - 2


def test_a_noun_list_with_a_byte_order_mark_keeps_its_first_noun(demo):
    """A Windows editor's byte-order mark would otherwise stick to the first noun ("\\ufeffroad")."""
    semseg_with_nouns(demo, b"\xef\xbb\xbfroad\ncar\n")
    done = run_import(demo, "detectron2-semseg", demo / "sem_seg_predictions.json")
    assert done.returncode == 0, done.stderr
    descriptions = {json.loads(line)["description"] for line in (demo / "out.jsonl").read_text().splitlines()}
    assert descriptions == {"road"}


def test_a_sentence_bert_class_list_is_read_as_text_with_its_errors_named(tmp_path):
    from oeseg.mapping.sbert import read_class_names

    path = tmp_path / "classes.txt"
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join(f"{c.id}:{c.name}" for c in DEMO_CITY).encode())
    assert read_class_names(path, DEMO_CITY)[0] == ["road"]  # the byte-order mark skipped
    path.write_bytes(b"0:caf\xe9\n")
    with pytest.raises(InputError, match=r"classes.txt:1:6: not UTF-8 text \(byte 0xe9\)"):
        read_class_names(path, DEMO_CITY)
    with pytest.raises(InputError, match=r"tmp.*: class list is a folder, not a file"):
        read_class_names(tmp_path, DEMO_CITY)


@pytest.mark.parametrize("end", ["\n", "\r\n", "\r"])
def test_a_csv_reads_alike_whatever_its_line_ends(tmp_path, end):
    """A lone carriage return (old Mac editors) ends a line as "\\n" does; a quoted line break stays as written."""
    path = tmp_path / "a.csv"
    path.write_bytes(end.join(["description,gt", "a red car,car", '"two', 'lines",road', ""]).encode())
    header, rows = read_csv_rows(path)
    assert header == ["description", "gt"]
    assert [row for _, row in rows] == [{"description": "a red car", "gt": "car"},
                                        {"description": f"two{end}lines", "gt": "road"}]


def test_csv_not_utf8_names_line_and_column(tmp_path):
    path = tmp_path / "descriptions.csv"
    path.write_bytes(b"description,gt\na car,car\na caf\xe9,road\n")
    with pytest.raises(InputError, match=r"descriptions.csv:3:6: not UTF-8 text \(byte 0xe9\)"):
        read_csv_rows(path, ["description"])


def _search(pattern: str, text: str) -> bool:
    import re

    return re.search(pattern, text) is not None


def test_rle_runs_match_the_mask():
    """The pre-decoding check reads a compressed RLE string's runs exactly as pycocotools encodes them."""
    from pycocotools import mask as mask_util

    from oeseg.baselines.importers import rle_runs

    rng = np.random.default_rng(4)
    for trial in range(60):
        h, w = (int(v) for v in rng.integers(1, 200, 2))
        mask = (rng.random((h, w)) < rng.random()).astype(np.uint8)
        if trial % 2:
            mask = np.zeros((h, w), np.uint8)
            mask[rng.integers(0, h):, rng.integers(0, w):] = 1
        flat = mask.ravel(order="F")
        change = np.flatnonzero(np.diff(flat)) + 1
        edges = np.concatenate([[0], change, [flat.size]])
        expected = np.diff(edges).tolist()
        if flat[0] == 1:
            expected = [0] + expected  # runs start with the zeros
        counts = mask_util.encode(np.asfortranarray(mask))["counts"].decode()
        assert rle_runs(counts).tolist() == expected


def test_areas_and_boxes_written_as_floats_score_as_their_integers(demo, capsys):
    """Some writers give a pixel count as 1234.0 and a box in floats: read as the same split."""
    argv = ["evaluate", "--dataset", str(demo / "split"), "--predictions", str(demo / "pred.jsonl"),
            "--lexicon", str(demo / "lexicon.json"), "-o", str(demo / "a.json")]
    assert cli.main(argv) == 0

    def as_floats(obj: dict) -> None:
        for image in obj["annotations"]:
            for s in image["segments_info"]:
                s["area"], s["bbox"] = float(s["area"]), [float(v) + 0.5 for v in s["bbox"]]

    edit_json(demo / "split" / "panoptic.json", as_floats)
    assert cli.main([*argv[:-1], str(demo / "b.json")]) == 0, capsys.readouterr().err
    assert read_json(demo / "a.json")["metrics"] == read_json(demo / "b.json")["metrics"]
