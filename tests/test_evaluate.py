"""`oeseg evaluate` end to end (real lexical mapping) and its handling of bad input."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from metrics_cases import VOCAB, write_case

from oeseg import cli
from oeseg.data.panoptic import PanopticSplit
from oeseg.io import InputError, read_json
from oeseg.mapping import MAPPING_METHODS, map_regions
from oeseg.mapping import command as map_command
from oeseg.metrics.command import add_arguments
from oeseg.metrics.evaluator import evaluate_labels, evaluate_predictions
from oeseg.metrics.overlaps import category_positions, compute_overlaps
from oeseg.registry import exact_names_regex

#: (exact, synonym, hyponym, meronym) term of each category of VOCAB
TERMS = {3: ("road", "roadway", "highway", "pothole"), 7: ("car", "automobile", "sedan", "wheel"),
         8: ("person", "human", "pedestrian", "arm"), 11: ("sky", "heaven", "skyline", "cloud"),
         20: ("bus", "autobus", "minibus", "windshield"), 21: ("grass", "turf", "lawn", "blade")}
LEVELS = ("exact", "synonym", "hyponym", "meronym")


def main(argv):
    """`oeseg` with only this stage's sub-command registered (the others belong to other stages)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cli, "COMMANDS", {"evaluate": "oeseg.metrics.command"})
        return cli.main(argv)


@pytest.fixture
def dataset(tmp_path):
    """A random split, its lexicon, and predictions whose wording sets the level each becomes right."""
    rng = np.random.default_rng(7)
    write_case(tmp_path / "split", rng, 6)
    lexicon = {"vocabulary": "tiny", "builder": {"kind": "test"}, "categories": [
        {"id": cid, "name": t[0], "synonym": [t[1]], "hyponym": [t[2]], "meronym": [t[3]]} for cid, t in TERMS.items()]}
    (tmp_path / "lexicon.json").write_text(json.dumps(lexicon))
    split = PanopticSplit.load(tmp_path / "split")
    rows, first_level = [], []
    for im in split.images:
        for s in im.segments:
            level = int(rng.integers(0, 5))  # 4: a description that relates to nothing
            word = "dog" if level == 4 else TERMS[s.category_id][level]
            rows.append({"image_id": im.id, "segment_id": s.id, "description": f"a {word}",
                         "score": round(float(rng.random()), 3)})
            first_level.append(level)
    path = tmp_path / "pred.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return tmp_path, rows, np.array(first_level)


def test_cli_writes_results_matching_expected_labels(dataset, capsys):
    root, rows, first_level = dataset
    out = root / "results.json"
    assert main(["evaluate", "--dataset", str(root / "split"), "--predictions", str(root / "pred.jsonl"),
                 "--lexicon", str(root / "lexicon.json"), "--workers", "2", "-o", str(out)]) == 0
    results = read_json(out)
    assert results["levels"] == list(LEVELS)
    assert results["regions"] == {"total": len(rows), "predicted": len(rows), "missing": 0,
                                  "missing_policy": "background"}
    # the same numbers from labels written down directly: right from the description's level on
    split = PanopticSplit.load(root / "split")
    table = compute_overlaps(split)
    gt = table.region_gt_category()
    labels = {level: np.where(first_level <= i, gt, -1) for i, level in enumerate(LEVELS)}
    expected = evaluate_labels(table, split.vocabulary, labels, np.array([r["score"] for r in rows]))
    for key, values in expected["metrics"].items():
        assert results["metrics"][key] == pytest.approx(values), key
    assert results["lac"] == pytest.approx(expected["lac"])
    pq = [results["metrics"]["PQ"][lv] for lv in LEVELS]
    assert pq == sorted(pq) and pq[0] < pq[-1]
    assert set(results["per_category"]["meronym"][0]) >= {"id", "name", "isthing", "PQ", "SQ", "RQ", "TP", "FP",
                                                          "FN", "IoU", "AP"}
    assert "LAC: PQ" in capsys.readouterr().out


@pytest.mark.parametrize("own_masks", [False, True], ids=["gt-masks", "own-masks"])
def test_each_region_gets_its_own_ground_truth_priority(tmp_path, own_masks):
    """"a wheel" is a kind of car and a part of bus and of road (the first category of the
    vocabulary): with the ground-truth priority a region maps to its own ground truth where that is
    car (from the hyponym level) or bus or road (at the meronym level), else to car (the strongest
    relation), so the results show that each region reaches the mapping with its own ground truth
    (with a model's own masks: that of the segment it overlaps with IoU > 0.5)."""
    write_case(tmp_path / "split", np.random.default_rng(11), 6, own_masks=own_masks)
    meronyms = {c.id: [] for c in VOCAB}
    meronyms[20], meronyms[3] = ["wheel"], ["wheel"]
    lexicon = {"vocabulary": "tiny", "categories": [{"id": c.id, "name": c.name, "meronym": meronyms[c.id],
                                                     "hyponym": ["wheel"] if c.id == 7 else []} for c in VOCAB]}
    (tmp_path / "lexicon.json").write_text(json.dumps(lexicon))
    split = PanopticSplit.load(tmp_path / "split")
    masks = tmp_path / "split" / "masks" if own_masks else None
    table = compute_overlaps(split, masks)
    rows = [{"image_id": table.image_ids[table.region_image[r]], "segment_id": int(table.region_segment[r]),
             "description": "a wheel"} for r in range(table.num_regions)]
    (tmp_path / "pred.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    results = evaluate_predictions(tmp_path / "split", tmp_path / "pred.jsonl", tmp_path / "lexicon.json",
                                   masks_dir=masks)
    gt = table.region_gt_category()
    car, bus, road = (split.vocabulary.categories.index(split.vocabulary.by_id(i)) for i in (7, 20, 3))
    assert road == 0 and all((gt == c).any() for c in (car, bus, road)) and (~np.isin(gt, [car, bus, road])).any()
    none = np.full(table.num_regions, -1)
    labels = {"exact": none, "synonym": none, "hyponym": np.full(table.num_regions, car),
              "meronym": np.where(np.isin(gt, [car, bus, road]), gt, car)}
    expected = evaluate_labels(table, split.vocabulary, labels, np.ones(table.num_regions))
    for key, values in expected["metrics"].items():
        assert results["metrics"][key] == pytest.approx(values), key
    assert results["masks"] == (str(masks) if own_masks else "ground-truth")


def test_sbert_needs_no_lexicon_and_lexical_names_it(dataset, capsys):
    root, rows, _ = dataset
    args = ["evaluate", "--dataset", str(root / "split"), "--predictions", str(root / "pred.jsonl")]
    assert main([*args, "--method", "sbert", "-o", str(root / "sbert.json")]) == 0
    sbert = read_json(root / "sbert.json")
    assert sbert["mapping"] == "sbert" and sbert["regions"]["predicted"] == len(rows)
    assert len({json.dumps(sbert["metrics"]["PQ"][lv]) for lv in LEVELS}) == 1  # one mapping fills every level
    split = PanopticSplit.load(root / "split")
    table = compute_overlaps(split)
    scores = np.array([r["score"] for r in rows])

    def expected(**options):  # the numbers of the Sentence-BERT labels written down directly
        ids = map_regions([r["description"] for r in rows], None, VOCAB, "sbert", **options)["exact"]
        positions = category_positions(split.vocabulary, np.asarray(ids, np.int64))
        return evaluate_labels(table, split.vocabulary, {lv: positions for lv in LEVELS}, scores)["metrics"]

    def same(got, want):
        return got.keys() == want.keys() and all(got[k] == pytest.approx(want[k]) for k in want)

    assert same(sbert["metrics"], expected())
    # a class list (the paper's prompt-engineered names) reaches the mapping: car is called "dog" here
    classes = root / "classes.txt"
    classes.write_text("3:road\n7:dog\n8:person\n11:sky\n20:bus\n21:grass\n")
    assert main([*args, "--method", "sbert", "--sbert-classes", str(classes), "-o", str(root / "named.json")]) == 0
    named = read_json(root / "named.json")["metrics"]
    assert same(named, expected(sbert_class_names=classes)) and named != sbert["metrics"]
    assert main([*args, "-o", str(root / "lexical.json")]) == 2
    assert "the lexical mapping needs the lexicon of the dataset's vocabulary (--lexicon)" in capsys.readouterr().err
    assert not (root / "lexical.json").exists()


def test_missing_region_policy(dataset):
    root, rows, first_level = dataset
    (root / "pred.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[1:]))
    results = evaluate_predictions(root / "split", root / "pred.jsonl", root / "lexicon.json")
    assert results["regions"]["missing"] == 1 and results["regions"]["predicted"] == len(rows) - 1
    # the region without a prediction is BACKGROUND at every level (no category, no score); the
    # others are right from their description's level on
    split = PanopticSplit.load(root / "split")
    table = compute_overlaps(split)
    gt = table.region_gt_category()
    labels = {level: np.where(first_level <= i, gt, -1) for i, level in enumerate(LEVELS)}
    for level_labels in labels.values():
        level_labels[0] = -1
    scores = np.array([0.0] + [r["score"] for r in rows[1:]])
    expected = evaluate_labels(table, split.vocabulary, labels, scores)
    for key, values in expected["metrics"].items():
        assert results["metrics"][key] == pytest.approx(values), key
    with pytest.raises(InputError, match=rf"pred.jsonl: no prediction for 1 region\(s\), e.g. image "
                                         rf"'{rows[0]['image_id']}' segment {rows[0]['segment_id']}"):
        evaluate_predictions(root / "split", root / "pred.jsonl", root / "lexicon.json", missing_regions="error")


def test_scored_images_described_leaves_out_the_images_without_a_prediction(dataset):
    """--scored-images described scores a file that describes part of a split (as published files
    do) as if the split held only those images; "all" counts the others' regions as background."""
    root, rows, _ = dataset
    left_out = rows[0]["image_id"]
    kept = [r for r in rows if r["image_id"] != left_out]
    (root / "pred.jsonl").write_text("".join(json.dumps(r) + "\n" for r in kept))
    out = root / "described.json"
    assert main(["evaluate", "--dataset", str(root / "split"), "--predictions", str(root / "pred.jsonl"),
                 "--lexicon", str(root / "lexicon.json"), "--scored-images", "described", "-o", str(out)]) == 0
    described = read_json(out)
    everything = evaluate_predictions(root / "split", root / "pred.jsonl", root / "lexicon.json")
    assert described["images"] == {"total": 6, "scored": 5, "policy": "described"}
    assert described["regions"]["missing"] == 0 and described["regions"]["total"] == len(kept)
    assert everything["images"] == {"total": 6, "scored": 6, "policy": "all"}
    assert everything["regions"]["missing"] == len(rows) - len(kept)
    # the same numbers as a split that holds only the described images
    smaller = root / "smaller"
    shutil.copytree(root / "split", smaller)
    panoptic = read_json(smaller / "panoptic.json")
    panoptic["images"] = [im for im in panoptic["images"] if im["id"] != left_out]
    panoptic["annotations"] = [a for a in panoptic["annotations"] if a["image_id"] != left_out]
    (smaller / "panoptic.json").write_text(json.dumps(panoptic))
    alone = evaluate_predictions(smaller, root / "pred.jsonl", root / "lexicon.json")
    assert described["metrics"] == alone["metrics"] and described["lac"] == alone["lac"]
    assert described["lac"]["PQ"] > everything["lac"]["PQ"]
    with pytest.raises(InputError, match=r"scored images must be one of all, described, got 'some'"):
        evaluate_predictions(root / "split", root / "pred.jsonl", root / "lexicon.json", scored_images="some")


@pytest.mark.parametrize("edit, message", [
    (lambda rows: rows.__setitem__(2, {**rows[2], "image_id": "nope"}),
     r"pred.jsonl:3: image_id 'nope' is not an image of"),
    (lambda rows: rows.__setitem__(2, {**rows[2], "segment_id": 12345}),
     r"pred.jsonl:3: segment_id 12345 is not among the ground-truth segments of image"),
    (lambda rows: rows.insert(4, dict(rows[1])), r"pred.jsonl:5: duplicate region .*first given on line 2"),
    (lambda rows: rows.__setitem__(0, {**rows[0], "description": "  "}), r"pred.jsonl:1: 'description' is empty"),
    (lambda rows: rows.__setitem__(1, {**rows[1], "description": ["a car"]}),
     r"pred.jsonl:2: 'description' must be a string"),
    (lambda rows: rows.__setitem__(3, "{not json"), r"pred.jsonl:4:2: malformed JSON line"),
], ids=["unknown-image", "unknown-segment", "duplicate", "empty", "not-a-string", "malformed"])
def test_bad_predictions_name_file_and_line(dataset, edit, message, capsys):
    root, rows, _ = dataset
    rows = list(rows)
    edit(rows)
    (root / "pred.jsonl").write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    with pytest.raises(InputError, match=message):
        evaluate_predictions(root / "split", root / "pred.jsonl", root / "lexicon.json")
    code = main(["evaluate", "--dataset", str(root / "split"), "--predictions", str(root / "pred.jsonl"),
                 "--lexicon", str(root / "lexicon.json"), "-o", str(root / "r.json")])
    assert code == 2 and "pred.jsonl:" in capsys.readouterr().err and not (root / "r.json").exists()


def test_ctrl_c_exits_130_in_one_line_and_keeps_the_previous_results(dataset, capsys, monkeypatch):
    """Ctrl-C during a rerun: no traceback, exit 130, and the first run's RESULTS.json as it was."""
    root, _, _ = dataset
    argv = ["evaluate", "--dataset", str(root / "split"), "--predictions", str(root / "pred.jsonl"),
            "--lexicon", str(root / "lexicon.json"), "-o", str(root / "r.json")]
    assert main(argv) == 0
    before = (root / "r.json").read_bytes()
    capsys.readouterr()

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("oeseg.metrics.evaluator.compute_overlaps", interrupted)
    assert main(argv) == 130
    assert capsys.readouterr().err == "oeseg evaluate: interrupted; an output is written whole or not at all\n"
    assert (root / "r.json").read_bytes() == before


def test_own_masks_unknown_segment_and_missing_folder(tmp_path):
    case = write_case(tmp_path / "split", np.random.default_rng(3), 3, own_masks=True)
    lexicon = {"vocabulary": "tiny", "categories": [{"id": c.id, "name": c.name} for c in VOCAB]}
    (tmp_path / "lexicon.json").write_text(json.dumps(lexicon))
    region = int(np.unique(case.mask_maps[0])[-1])
    lines = [{"image_id": "im000", "segment_id": region, "description": "a car"},
             {"image_id": "im000", "segment_id": 999_999_999, "description": "a car"}]
    (tmp_path / "pred.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    with pytest.raises(InputError, match=r"pred.jsonl:2: segment_id 999999999 is not among the segments of the mask PNG of image"):
        evaluate_predictions(tmp_path / "split", tmp_path / "pred.jsonl", tmp_path / "lexicon.json",
                             masks_dir=tmp_path / "split" / "masks")
    with pytest.raises(InputError, match="nowhere: mask folder not found"):
        evaluate_predictions(tmp_path / "split", tmp_path / "pred.jsonl", tmp_path / "lexicon.json",
                             masks_dir=tmp_path / "nowhere")
    with pytest.raises(InputError, match="pred.jsonl: a file, not a folder of region mask PNGs"):
        evaluate_predictions(tmp_path / "split", tmp_path / "pred.jsonl", tmp_path / "lexicon.json",
                             masks_dir=tmp_path / "pred.jsonl")
    (tmp_path / "pred.jsonl").write_text(json.dumps(lines[0]) + "\n")
    mask = next((tmp_path / "split" / "masks").glob("*.png"))
    mask.rename(tmp_path / "aside.png")
    with pytest.raises(InputError, match=rf"{mask}: region mask PNG not found"):
        evaluate_predictions(tmp_path / "split", tmp_path / "pred.jsonl", tmp_path / "lexicon.json",
                             masks_dir=tmp_path / "split" / "masks")
    (tmp_path / "aside.png").rename(mask)
    results = evaluate_predictions(tmp_path / "split", tmp_path / "pred.jsonl", tmp_path / "lexicon.json",
                                   masks_dir=tmp_path / "split" / "masks")
    assert results["regions"]["predicted"] == 1 and results["regions"]["missing"] == results["regions"]["total"] - 1


def test_lexicon_of_another_vocabulary_is_rejected(dataset):
    root, _, _ = dataset
    (root / "other.json").write_text(json.dumps({"vocabulary": "x", "categories": [{"id": 99, "name": "dog"}]}))
    with pytest.raises(InputError, match=r"other.json: a lexicon of vocabulary 'x', not of 'tiny' \(a dataset's "
                                         r"vocabulary is named by its panoptic.json's info.vocabulary; without one"):
        evaluate_predictions(root / "split", root / "pred.jsonl", root / "other.json")
    (root / "other.json").write_text(json.dumps({"vocabulary": "tiny", "categories": [{"id": 99, "name": "dog"}]}))
    with pytest.raises(InputError, match=r"other.json: category id 99 is not in the dataset's vocabulary 'tiny'"):
        evaluate_predictions(root / "split", root / "pred.jsonl", root / "other.json")


def test_gt_png_id_missing_from_json_is_named(dataset):
    root, _, _ = dataset
    obj = read_json(root / "split" / "panoptic.json")
    dropped = obj["annotations"][0]["segments_info"].pop()
    (root / "split" / "panoptic.json").write_text(json.dumps(obj))
    with pytest.raises(InputError, match=rf"im000.png: segment id {dropped['id']} is in the PNG but not in panoptic"):
        compute_overlaps(PanopticSplit.load(root / "split"))


def test_schemas_and_cli_offer_exactly_the_mapping_methods():
    schemas = Path(__file__).resolve().parents[1] / "schemas"
    evaluate = yaml.safe_load((schemas / "evaluate.schema.yaml").read_text())
    figures = yaml.safe_load((schemas / "figures.schema.yaml").read_text())
    assert evaluate["properties"]["mappings"]["items"]["enum"] == MAPPING_METHODS.names()
    assert figures["properties"]["mapping"]["enum"] == MAPPING_METHODS.names()
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    mapping = next(a for a in parser._actions if a.dest == "mapping")
    assert mapping.option_strings == ["--method"] and mapping.choices == MAPPING_METHODS.names()
    parser = argparse.ArgumentParser()
    map_command.add_arguments(parser)
    assert next(a for a in parser._actions if a.dest == "method").choices == MAPPING_METHODS.names()
    assert exact_names_regex(MAPPING_METHODS) == "lexical|sbert"  # the workflow's `mapping` wildcard (rules/common.smk)
    with pytest.raises(InputError, match=r"^unknown mapping method 'opal' \(known: lexical, sbert\)$"):
        evaluate_predictions("split", "pred.jsonl", None, mapping="opal")


@pytest.mark.parametrize("workers", ["0", "-2", "two"])
def test_cli_refuses_a_worker_count_below_one(dataset, capsys, workers):
    """--workers 0 (or -2, or a word) is a usage error naming the option, not one worker in silence."""
    root, _, _ = dataset
    with pytest.raises(SystemExit) as stop:
        main(["evaluate", "--dataset", str(root / "split"), "--predictions", str(root / "pred.jsonl"),
              "--lexicon", str(root / "lexicon.json"), "--workers", workers, "-o", str(root / "r.json")])
    assert stop.value.code == 2
    assert f"--workers: expected a whole number of 1 or more, got '{workers}'" in capsys.readouterr().err
    assert not (root / "r.json").exists()
