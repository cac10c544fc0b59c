"""The data stage's rules: Snakemake dry runs in a temporary copy of the workflow."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

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
