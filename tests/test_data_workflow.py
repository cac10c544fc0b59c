"""The data stage's rules: Snakemake dry runs in a temporary copy of the workflow."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from oeseg.data.panoptic import PanopticImage, Segment, panoptic_json
from oeseg.data.vocabularies import CITYSCAPES, Category, Vocabulary
from oeseg.io import InputError, atomic_write_json
from oeseg.workflow import check_folder_datasets, dataset_split_dir, split_folder

from download_server import Remote, serve

REPO = Path(__file__).resolve().parents[1]


def _workflow_copy(tmp_path: Path) -> Path:
    root = tmp_path / "wf"
    root.mkdir()
    for name in ("Snakefile", "config.yaml"):
        shutil.copy(REPO / name, root / name)
    for name in ("rules", "schemas", "configs", "scripts", "envs"):
        shutil.copytree(REPO / name, root / name)
    return root


def _snakemake(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return subprocess.run([sys.executable, "-m", "snakemake", "--cores", "1", *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)


def test_demo_data_dry_run_plans_every_synthetic_split(tmp_path):
    root = _workflow_copy(tmp_path)
    run = _snakemake(root, "-n", "demo_data")
    assert run.returncode == 0, run.stderr
    config = yaml.safe_load((root / "config.yaml").read_text())
    splits = [(d, s) for d, e in config["datasets"].items() if e["source"] == "synthetic" for s in e["splits"]]
    assert len(splits) >= 4
    for d, s in splits:
        assert f"data/{d}/{s}/regions.jsonl" in run.stdout
    assert "download" not in run.stdout  # the demo is offline


def test_paper_dry_run_downloads_and_converts(tmp_path):
    root = _workflow_copy(tmp_path)
    targets = ["data/ade20k/val/panoptic.json", "data/cityscapes/val/panoptic.json",
               "work/paper/downloads/paper/outputs/opal/cityscapes/descriptions.json"]
    run = _snakemake(root, "-n", *targets, "--configfile", "configs/paper.yaml")
    assert run.returncode == 0, run.stderr
    for rule in ("convert_ade20k", "convert_cityscapes", "download_cityscapes", "download"):
        assert f"rule {rule}:" in run.stdout
    assert "work/paper/downloads/ade20k/annotations_instance.tar" in run.stdout


def test_a_malformed_download_entry_stops_the_run(tmp_path):
    root = _workflow_copy(tmp_path)
    config = yaml.safe_load((root / "config.yaml").read_text())
    config["downloads"] = {"paper/x.json": {"url": "https://example.org/x.json", "sha256": "abc"}}
    (root / "bad.yaml").write_text(yaml.safe_dump(config))
    run = _snakemake(root, "-n", "demo_data", "--configfile", "bad.yaml")
    assert run.returncode != 0
    out = run.stdout + run.stderr
    assert """config: downloads["paper/x.json"].sha256: 'abc' does not match""" in out, out[-2000:]


def test_pinning_a_downloaded_file_checks_it_again_without_downloading_it(tmp_path):
    """The README's way: download unpinned, pin the logged hash. Pinning reruns the verify job only,
    which hashes the file already fetched (no request); a wrong pin fails naming the file, both hashes
    and what to do, and keeps the fetched file; a changed URL fetches again."""
    root = _workflow_copy(tmp_path)
    first, second = b"a list of words\n" * 100, b"another list\n" * 50
    with serve({"/words.txt": (first, None, None), "/other.txt": (second, None, None)}) as files_server:
        config = yaml.safe_load((root / "config.yaml").read_text())
        name, target = "lists/words.txt", f"{config['out']}/downloads/lists/words.txt"
        fetched, log = root / config["out"] / "downloads/.fetched/lists/words.txt", root / config["out"] / "logs"

        def run(url: str, sha256: str | None) -> subprocess.CompletedProcess:
            config["downloads"] = {name: {"url": f"{files_server}{url}", "sha256": sha256}}
            (root / "run.yaml").write_text(yaml.safe_dump(config))
            return _snakemake(root, target, "--configfile", "run.yaml")

        done = run("/words.txt", None)
        assert done.returncode == 0, done.stderr
        sha256 = hashlib.sha256(first).hexdigest()
        assert f"its sha256 is {sha256}: pin it there" in (log / "verify_download/lists/words.txt.log").read_text()
        done = run("/words.txt", sha256)
        assert done.returncode == 0, done.stderr
        assert "rule verify_download:" in done.stderr and "rule download:" not in done.stderr
        assert [path for path, _, _ in Remote.seen] == ["/words.txt"] and (root / target).read_bytes() == first
        assert (root / target).samefile(fetched)
        done = run("/words.txt", "0" * 64)
        assert done.returncode != 0
        assert (f'{target}: sha256 mismatch: downloads["lists/words.txt"].sha256 pins {"0" * 64}, the downloaded '
                f"{fetched.relative_to(root)} has {sha256}; if the pin is right (the file changed on the server, or "
                f"arrived damaged), delete {fetched.relative_to(root)} to download it again, else correct "
                'downloads["lists/words.txt"].sha256') in (log / "verify_download/lists/words.txt.log").read_text()
        assert [path for path, _, _ in Remote.seen] == ["/words.txt"] and fetched.read_bytes() == first
        done = run("/other.txt", hashlib.sha256(second).hexdigest())
        assert done.returncode == 0, done.stderr
        assert [path for path, _, _ in Remote.seen] == ["/words.txt", "/other.txt"] and (root / target).read_bytes() == second


def test_a_split_folder_is_data_root_dataset_split():
    """The one path convention of a split's folder, which the rules, the OPAL stage and the start-up check
    share; the scripts find it from the split's panoptic.json."""
    assert dataset_split_dir("data", "demo-city", "val") == "data/demo-city/val"
    assert dataset_split_dir(Path("/d"), "ade", "train") == "/d/ade/train"
    assert split_folder("data/demo-city/val/panoptic.json") == "data/demo-city/val"  # a rule's `split` input
    assert split_folder(Path("/d/ade/train/panoptic.json")) == "/d/ade/train"


def test_the_start_up_check_keeps_a_folder_splits_categories_until_its_file_changes(tmp_path):
    """The start-up check of a `source: folder` split reads its panoptic.json (categories after the
    annotations) once and keeps its info and categories in `<out>/cache/`, read instead while the
    file keeps its size, mtime and ctime; a changed file is read again (also one of the same size
    and mtime), so a wrong vocabulary stops the run, cached or not. A file changed within the last
    second (its mtime's or ctime's tick could hold another change) is not kept."""
    config = {"data_root": str(tmp_path / "data"), "out": str(tmp_path / "out"),
              "datasets": {"mine": {"source": "folder", "vocabulary": "cityscapes"}}}
    path = tmp_path / "data" / "mine" / "val" / "panoptic.json"
    cache = tmp_path / "out" / "cache" / "split_vocabularies" / "mine" / "val.json"
    images = [PanopticImage(str(i), f"{i}.png", f"{i}.png", 8, 8, [Segment(1, 13, 0, 64, [0, 0, 8, 8])])
              for i in range(50)]
    hour_ago = time.time_ns() - 3600 * 10**9

    def write(vocabulary: Vocabulary) -> None:
        """Write the split's panoptic.json of `vocabulary`, its mtime an hour old (a copy that keeps
        the mtime), and wait until its ctime is past the second within which nothing is kept."""
        atomic_write_json(path, panoptic_json(vocabulary, images))
        os.utime(path, ns=(hour_ago, hour_ago))
        time.sleep(1.05)

    atomic_write_json(path, panoptic_json(CITYSCAPES, images))
    check_folder_datasets(config)
    assert not cache.exists()  # just written
    write(CITYSCAPES)
    check_folder_datasets(config)
    assert json.loads(cache.read_text())["categories"] == CITYSCAPES.to_json()
    kept = json.loads(cache.read_text())
    cache.write_text(json.dumps({**kept, "info": {"vocabulary": "other"}}))  # shows what is read
    with pytest.raises(InputError, match="but the split is of vocabulary 'other'"):
        check_folder_datasets(config)
    # the same size and mtime, other bytes (a copy that keeps the mtime): read again
    renamed = Vocabulary("cityscapes", tuple(Category(c.id, "cab" if c.name == "car" else c.name, c.isthing, c.color)
                                             for c in CITYSCAPES))
    write(renamed)
    assert path.stat().st_size == kept["key"]["size"]
    for _ in range(2):  # read, then kept
        with pytest.raises(InputError, match=r"first the split's \(13, 'cab', True\) against the vocabulary's "
                                             r"\(13, 'car', True\)"):
            check_folder_datasets(config)
    assert json.loads(cache.read_text())["key"]["size"] == path.stat().st_size
