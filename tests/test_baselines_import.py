"""`oeseg import`: the paper's 18 published description files and the detectron2 format."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

import argparse

from oeseg.baselines import command
from oeseg.baselines.importers import convert
from oeseg.data.panoptic import PanopticImage, Segment, panoptic_json, write_segment_ids
from oeseg.data.predictions import read_predictions
from oeseg.data.vocabularies import ADE20K, CITYSCAPES
from oeseg.io import InputError, atomic_write_json

METHODS = ["ferret", "gpt4roi", "maskclip", "masqclip", "masqclip_tags", "opal", "osprey-7b", "ovseg", "shikra"]
VOCABULARIES = {"ade20k": ADE20K, "cityscapes": CITYSCAPES}


def write_split(root, vocabulary, counts: dict[str, int]):
    """A panoptic.json with `counts[image]` segments per image (ids 5, 10, 15, ...; PNGs not needed),
    each of the first thing category (a stuff category has one segment per image)."""
    thing = next(c.id for c in vocabulary if c.isthing)
    images = [PanopticImage(k, f"{k}.jpg", f"{k}.png", 4, 4, [Segment(5 * (j + 1), thing) for j in range(n)])
              for k, n in counts.items()]
    atomic_write_json(root / "panoptic.json", panoptic_json(vocabulary, images), indent=None)
    return root


@pytest.mark.parametrize("dataset", ["ade20k", "cityscapes"])
def test_all_published_files_convert(shared_data, tmp_path, dataset):
    for method in METHODS:
        path = shared_data / "paper" / "outputs" / method / dataset / "descriptions.json"
        published = json.loads(path.read_text())
        counts = {e["image_id"]: len(e["descriptions"]) for e in published}
        split = write_split(tmp_path / method, VOCABULARIES[dataset], counts)
        predictions, summary = convert("lac", path, split)
        assert summary.converted == len(published) and not summary.missing and not summary.mismatched
        non_blank = sum(1 for e in published for d in e["descriptions"] if d.strip())
        assert len(predictions) == non_blank
        first = published[0]
        got = [p for p in predictions if p.image_id == first["image_id"]]
        assert [p.segment_id for p in got] == [5 * (j + 1) for j in range(len(first["descriptions"]))]
        assert [p.description for p in got] == [d.strip() for d in first["descriptions"]]


def test_missing_images_and_count_mismatches_are_reported(shared_data, tmp_path):
    outputs = shared_data / "paper" / "outputs"
    full = {e["image_id"]: len(e["descriptions"])
            for e in json.loads((outputs / "opal" / "cityscapes" / "descriptions.json").read_text())}
    split = write_split(tmp_path, CITYSCAPES, full)
    # masqclip covers 267 of the 500 images: the rest are counted as missing
    _, summary = convert("lac", outputs / "masqclip" / "cityscapes" / "descriptions.json", split)
    assert summary.converted == 267 and len(summary.missing) == 233 and not summary.mismatched
    # a perturbed split: one image with an extra segment is a count mismatch named in the error
    perturbed = dict(full)
    victim = next(iter(perturbed))
    perturbed[victim] += 1
    split = write_split(tmp_path / "perturbed", CITYSCAPES, perturbed)
    with pytest.raises(InputError, match=rf"1 images with a count mismatch: {victim} \(\d+ descriptions, \d+ segments\)"):
        convert("lac", outputs / "opal" / "cityscapes" / "descriptions.json", split)
    predictions, summary = convert("lac", outputs / "opal" / "cityscapes" / "descriptions.json", split,
                                   on_mismatch="skip")
    assert list(summary.mismatched) == [victim] and summary.converted == 499
    assert victim not in {p.image_id for p in predictions}
    # an image the split lacks is an error naming it
    del perturbed[victim]
    split = write_split(tmp_path / "fewer", CITYSCAPES, perturbed)
    with pytest.raises(InputError, match=rf"1 images not in the split: {victim}"):
        convert("lac", outputs / "opal" / "cityscapes" / "descriptions.json", split)


def main(argv: list[str]) -> int:
    """`oeseg import ARGV` as the console script runs it (exit 2 on bad input)."""
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    try:
        return command.run(parser.parse_args(argv))
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def test_import_command_writes_predictions_and_exits_2_on_bad_input(tmp_path, capsys):
    split = write_split(tmp_path / "split", CITYSCAPES, {"a": 2, "b": 1})
    src = tmp_path / "d.json"
    src.write_text(json.dumps([{"image_id": "a", "descriptions": ["a red car", "the road"]}]))
    out = tmp_path / "pred.jsonl"
    assert main(["--format", "lac", "--dataset", str(split), str(src), "-o", str(out)]) == 0
    assert [(p.image_id, p.segment_id, p.description) for p in read_predictions(out)] == [
        ("a", 5, "a red car"), ("a", 10, "the road")]
    assert "1 images of the split have no output: b" in capsys.readouterr().out
    src.write_text(json.dumps([{"image_id": "a", "descriptions": "a red car"}]))
    assert main(["--format", "lac", "--dataset", str(split), str(src), "-o", str(out)]) == 2
    assert "entry 0 (a): 'descriptions' must be a list of strings" in capsys.readouterr().err
    # a null or a number among an image's descriptions is named by its index, not the whole list
    src.write_text(json.dumps([{"image_id": "a", "descriptions": ["a red car", None]}]))
    assert main(["--format", "lac", "--dataset", str(split), str(src), "-o", str(out)]) == 2
    assert "entry 0 (a): descriptions[1] must be a string, got None" in capsys.readouterr().err


@pytest.mark.parametrize("fmt, option, message", [
    ("lac", ["--nouns", "nouns.txt"], "--nouns is read by --format detectron2-semseg only (the format here is lac)"),
    ("jsonl", ["--on-mismatch", "skip"], "--on-mismatch is read by --format lac only (the format here is jsonl)"),
    ("detectron2-semseg", ["--nouns", "nouns.txt", "--on-mismatch", "error"],
     "--on-mismatch is read by --format lac only (the format here is detectron2-semseg)"),
])
def test_import_command_refuses_an_option_its_format_ignores(tmp_path, capsys, fmt, option, message):
    split = write_split(tmp_path / "split", CITYSCAPES, {"a": 2})
    src = tmp_path / "d.json"
    src.write_text(json.dumps([{"image_id": "a", "descriptions": ["a red car", "the road"]}]))
    (tmp_path / "nouns.txt").write_text("car\nroad\n")
    option = [str(tmp_path / v) if v == "nouns.txt" else v for v in option]
    out = tmp_path / "pred.jsonl"
    assert main(["--format", fmt, "--dataset", str(split), *option, str(src), "-o", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_detectron2_semseg_majority_noun_per_segment(tmp_path):
    from pycocotools import mask as mask_util

    ids = np.zeros((6, 8), np.uint32)
    ids[:, :4], ids[:, 4:] = 1, 2
    split = tmp_path / "split"
    write_segment_ids(split / "panoptic" / "x.png", ids)
    images = [PanopticImage("x", "x.png", "x.png", 8, 6, [Segment(1, 0), Segment(2, 13)])]
    atomic_write_json(split / "panoptic.json", panoptic_json(CITYSCAPES, images))
    sem = np.zeros((6, 8), np.uint8)
    sem[:, 3:] = 2  # noun 2 covers 1/4 of segment 1 and all of segment 2
    rows = []
    for label in np.unique(sem):
        rle = mask_util.encode(np.asfortranarray((sem == label).astype(np.uint8)))
        rows.append({"file_name": "/data/images/x.png", "category_id": int(label),
                     "segmentation": {"size": rle["size"], "counts": rle["counts"].decode()}})
    src = tmp_path / "sem_seg_predictions.json"
    src.write_text(json.dumps(rows))
    predictions, _ = convert("detectron2-semseg", src, split, nouns=["road", "tree", "sedan"])
    assert [(p.segment_id, p.description, p.score) for p in predictions] == [(1, "road", 0.75), (2, "sedan", 1.0)]
    rows[0]["category_id"] = 7
    src.write_text(json.dumps(rows))
    with pytest.raises(InputError, match=r"entry 0: category_id 7 is not an index of the 3 nouns"):
        convert("detectron2-semseg", src, split, nouns=["road", "tree", "sedan"])
    # nothing matched (an empty file, or masks on no segment): an error with the summary, not an empty file
    src.write_text("[]")
    with pytest.raises(InputError, match=r"sem_seg_predictions.json: no description to import \(.*1 image"):
        convert("detectron2-semseg", src, split, nouns=["road", "tree", "sedan"])
    empty = mask_util.encode(np.zeros((6, 8), np.uint8, order="F"))
    src.write_text(json.dumps([{**rows[1], "segmentation": {"size": empty["size"], "counts": empty["counts"].decode()}}]))
    with pytest.raises(InputError, match=r"sem_seg_predictions.json: no description to import"):
        convert("detectron2-semseg", src, split, nouns=["road", "tree", "sedan"])
