"""External methods through command templates: stand-in projects write their own formats, which the
converters turn into region predictions; malformed output and failing commands are clear errors."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from baselines_demo_split import NOUNS, make_split, true_nouns

from oeseg.baselines.external import ExternalCommandError, render_command, run_external
from oeseg.data.panoptic import PanopticSplit
from oeseg.data.predictions import read_predictions
from oeseg.io import InputError

STAND_INS = Path(__file__).parent / "external_stand_ins"
SEMSEG = (f"{sys.executable} {STAND_INS / 'detectron2_semseg_model.py'} --images {{images_dir}} "
          f"--classes {{nouns}} --output-dir {{output_dir}}")
MLLM = (f"{sys.executable} {STAND_INS / 'region_mllm.py'} --panoptic-json {{panoptic_json}} "
        f"--images {{images_dir}} --output {{output}} --seed {{seed}}")


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    root = tmp_path_factory.mktemp("ext")
    (root / "nouns.txt").write_text("\n".join(NOUNS) + "\n")
    return make_split(root / "val", 3, seed=5), root / "nouns.txt"


def correct(predictions, split_dir):
    truth = true_nouns(split_dir)
    assert {(p.image_id, p.segment_id) for p in predictions} == set(truth)
    return sum(truth[(p.image_id, p.segment_id)] in p.description for p in predictions) / len(truth)


@pytest.mark.parametrize("method", ["ovseg", "maskclip", "masqclip"])
def test_detectron2_projects_through_their_template(split, tmp_path, method):
    val, nouns = split
    summary = run_external(method, {"kind": "external", "command": SEMSEG}, val, nouns, tmp_path / "raw",
                           tmp_path / "pred.jsonl", dataset="demo", log_file=tmp_path / "log")
    assert summary.converted == 3 and (tmp_path / "raw" / "sem_seg_predictions.json").exists()
    predictions = read_predictions(tmp_path / "pred.jsonl")
    assert correct(predictions, val) == 1.0
    assert all(0.5 < p.score <= 1.0 for p in predictions)


@pytest.mark.parametrize("method", ["shikra", "ferret", "gpt4roi", "osprey-7b"])
def test_region_mllms_through_their_template(split, tmp_path, method):
    val, nouns = split
    run_external(method, {"kind": "external", "command": MLLM}, val, nouns, tmp_path / "raw",
                 tmp_path / "pred.jsonl", settings={"seed": 3})
    predictions = read_predictions(tmp_path / "pred.jsonl")
    assert correct(predictions, val) == 1.0
    assert predictions[0].description.startswith("The answer is ")


def test_malformed_external_output_names_the_file_and_line(split, tmp_path):
    val, nouns = split
    with pytest.raises(InputError, match=r"raw/sem_seg_predictions.json:1:\d+: invalid JSON"):
        run_external("ovseg", {"command": SEMSEG + " --truncate"}, val, nouns, tmp_path / "raw", tmp_path / "p.jsonl")
    with pytest.raises(InputError, match=r"descriptions.json: does not match .*panoptic.json: "
                                         r"0 images converted; 3 images with a count mismatch: img5_000 \(6 descriptions, 5 segments\)"):
        run_external("shikra", {"command": MLLM + " --extra-description"}, val, nouns, tmp_path / "raw",
                     tmp_path / "p.jsonl")
    (tmp_path / "bad.jsonl").write_text('{"image_id": "img5_000", "segment_id": 1, "description": "sky"}\n{"image_id"\n')
    with pytest.raises(InputError, match=r"raw/out.jsonl:2:\d+: malformed JSON line"):
        run_external("mine", {"command": f"cp {tmp_path / 'bad.jsonl'} {{output}}", "format": "jsonl",
                              "output": "out.jsonl"}, val, None, tmp_path / "raw", tmp_path / "p.jsonl")
    assert not (tmp_path / "p.jsonl").exists()


def test_failing_or_silent_commands_and_bad_templates(split, tmp_path):
    val, nouns = split
    with pytest.raises(ExternalCommandError, match=r"exited with status 3(.|\n)*CUDA out of memory"):
        run_external("gpt4roi", {"command": "echo 'CUDA out of memory' >&2; exit 3"}, val, nouns,
                     tmp_path / "raw", tmp_path / "p.jsonl")
    with pytest.raises(InputError, match=r"raw/descriptions.json: methods.ferret: the command finished but did not"
                                         r" write this file \(what the command should be: a checkout and environment "
                                         r"of Ferret-7B"):
        run_external("ferret", {"command": "true"}, val, nouns, tmp_path / "raw", tmp_path / "p.jsonl")
    with pytest.raises(InputError, match=r"^methods.x.command: unknown placeholder \{checkpoint\} \(known: [^()]*; "
                                         r"a literal brace is written \{\{ or \}\}\)$"):  # said once, not wrapped again
        render_command("run --ckpt {checkpoint}", {"split_dir": "/d"}, where="methods.x.command")
    with pytest.raises(InputError, match=r"^methods.x.command: placeholder \{seed\} takes no format spec "
                                         r"or conversion \(its value is inserted shell-quoted\)$"):
        render_command("run --seed {seed:03d}", {"seed": 1}, where="methods.x.command")
    with pytest.raises(InputError, match=r"^methods.x.command: unknown placeholder \{print \$1\} .*; "
                                         r"a literal brace is written \{\{ or \}\}\)$"):
        render_command("awk '{print $1}' {split_dir}", {"split_dir": "/d"}, where="methods.x.command")
    assert render_command("awk '{{print $1}}' {split_dir}", {"split_dir": "/d"}) == "awk '{print $1}' /d"
    log = tmp_path / "run.log"  # the command's output reaches the log as it runs, stderr included
    with pytest.raises(ExternalCommandError, match=r"status 2(.|\n)*second"):
        run_external("gpt4roi", {"command": "echo first; echo second >&2; exit 2"}, val, nouns, tmp_path / "raw",
                     tmp_path / "p.jsonl", log_file=log)
    assert log.read_text() == "first\nsecond\n"
    with pytest.raises(InputError, match=r"methods.newnet: an external method not in the registry"):
        run_external("newnet", {"command": "true"}, val, nouns, tmp_path / "raw", tmp_path / "p.jsonl")
    assert render_command("ls {split_dir}", {"split_dir": "/a b/c"}) == "ls '/a b/c'"


def test_osprey_weights_run_through_our_model_code(split, tmp_path, monkeypatch):
    """A checkpoint folder (here a tiny saved model) is described by our inference with the run's
    settings: the same file as describe_split writes from it directly."""
    from opal_synthetic import TINY_MODEL

    from oeseg.models import inference
    from oeseg.models.inference import describe_split
    from oeseg.models.weights import initial_model, save_model

    val, nouns = split
    with pytest.raises(InputError, match=r"ckpt: not a checkpoint folder \(config.json missing\)"):
        run_external("osprey-7b", {"weights": str(tmp_path / "ckpt")}, val, nouns, tmp_path / "raw", tmp_path / "p.jsonl")
    model, tokenizer = initial_model({"model": TINY_MODEL, "seed": 0}, ["a grey road", "a red car", "the blue sky"])
    save_model(model, tokenizer, tmp_path / "ckpt", [])
    settings = {"seed": 2, "temperature": 0.5, "top_p": 0.9, "batch_size": 64, "max_new_tokens": 6}
    run_external("osprey-7b", {"weights": str(tmp_path / "ckpt")}, val, nouns, tmp_path / "raw", tmp_path / "p.jsonl",
                 settings=settings)
    describe_split(str(tmp_path / "ckpt"), val, tmp_path / "direct.jsonl", **settings)
    assert (tmp_path / "p.jsonl").read_bytes() == (tmp_path / "direct.jsonl").read_bytes()
    regions = {(r.image_id, r.segment_id) for r in read_predictions(tmp_path / "p.jsonl")}
    split_regions = {(im.id, s.id) for im in PanopticSplit.load(val).images for s in im.segments}
    assert regions and regions <= split_regions
    describe_split(str(tmp_path / "ckpt"), val, tmp_path / "other.jsonl", **{**settings, "seed": 3})
    assert (tmp_path / "other.jsonl").read_bytes() != (tmp_path / "p.jsonl").read_bytes()  # the seed reaches it
    # the job's threads (the rule passes them) load the images and masks
    loaded = []
    monkeypatch.setattr(inference, "describe_split", lambda *a, **k: loaded.append(k["workers"]) or [])
    run_external("osprey-7b", {"weights": str(tmp_path / "ckpt")}, val, nouns, tmp_path / "raw", tmp_path / "w.jsonl",
                 settings=settings, workers=4)
    assert loaded == [4]
