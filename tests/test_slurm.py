"""The workflow on a real single-node SLURM cluster (tools/start-slurm.sh) through
`snakemake --profile slurm`: every job goes through sbatch, and the tracked artifacts equal a
local run's. Needs root (the cluster's daemons run as root); CI runs it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from small_workflow import SMALL_CONFIGFILES, planned_jobs, repo_copy, small, snakemake

from oeseg.io import read_json, sha256_file
from oeseg.provenance import audit

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

#: the plugin waits this long before its first status check (default 40 s)
FAST_STATUS = ("--slurm-init-seconds-before-status-checks", "2")
#: the demo with a few images per split (valid against this branch's schemas)
REDUCED_DATA = """\
datasets:
  demo-city: {splits: {train: 6, val: 3}}
  demo-ade: {splits: {train: 6, val: 3}}
"""
#: ... few classifier epochs, few pretraining and OPAL training steps and two of the three variance
#: runs (Figure 11's spread needs two), for the whole DAG.
REDUCED_DEMO = REDUCED_DATA + """\
variance:
  runs:
    - {name: s0-t0.2, seed: 0, temperature: 0.2, top_p: 1.0}
    - {name: s2-t0.5, seed: 2, temperature: 0.5, top_p: 0.9}
methods:
  ovclassifier: {epochs: 2}
  tags: {epochs: 2}
opal:
  tower_pretraining: {steps: 10}
  llm_pretraining: {steps: 10}
  stages:
    stage1: {max_steps: 2}
    stage2: {max_steps: 2}
    stage3: {max_steps: 6}
"""
#: a figure's style edit (config overlay) and the one figure rule it must rerun
FIGURE_EDIT = ("fig11", "figures:\n  fig11: {metric: mIoU}\n")


def tracked(root: Path, folder: str = "results") -> dict[str, str]:
    """sha256 of every file in a folder of the run (provenance.json and dot files aside)."""
    results = root / folder
    return {p.relative_to(results).as_posix(): sha256_file(p) for p in sorted(results.rglob("*"))
            if p.is_file() and not p.name.startswith(".") and p.name != "provenance.json"}


def submitted_rules(log: str) -> list[str]:
    """Rules of the jobs that Snakemake submitted to SLURM (from its own log)."""
    return sorted(re.findall(r"has been submitted with SLURM jobid \d+ \(log: \S*/rule_(\w+)/", log))


def assert_same_results(local: Path, cluster_run: Path) -> None:
    artifacts = tracked(local)
    assert artifacts and artifacts == tracked(cluster_run)
    for root in (local, cluster_run):
        records = read_json(root / "results" / "provenance.json")["artifacts"]
        assert {k: r["sha256"] for k, r in records.items()} == artifacts
        assert audit(root / "results", root, SMALL_CONFIGFILES) == []


def test_small_dag_on_slurm_equals_local_run(cluster, tmp_path):
    local, on_slurm = repo_copy(tmp_path / "local"), repo_copy(tmp_path / "slurm")
    done = small(local, "--cores", "2", "all")
    assert done.returncode == 0, done.stderr[-3000:]
    done = small(on_slurm, "--profile", "slurm", *FAST_STATUS, "all", timeout=280)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Using profiles slurm and workflow specific profile profiles/default" in done.stderr
    assert submitted_rules(done.stderr) == sorted(
        ["scores", "scores", "table1", "small_figure", "small_figure", "human_study", "provenance"])
    assert_same_results(local, on_slurm)


def test_demo_data_rules_on_slurm_equal_local_run(cluster, tmp_path):
    """The data stage's real rules (generate_synthetic, via demo_data) on SLURM and locally."""
    roots = {}
    for name in ("local", "slurm"):
        roots[name] = repo_copy(tmp_path / name, small=False)
        (roots[name] / "reduced.yaml").write_text(REDUCED_DATA)
    config = ("--configfile", "config.yaml", "reduced.yaml")
    done = snakemake(roots["local"], "demo_data", "--cores", "2", *config)
    assert done.returncode == 0, done.stderr[-3000:]
    done = snakemake(roots["slurm"], "demo_data", "--profile", "slurm", *FAST_STATUS, *config,
                     timeout=280)
    assert done.returncode == 0, done.stderr[-3000:]
    assert submitted_rules(done.stderr) == ["generate_synthetic"] * 4
    made = tracked(roots["local"], "data")
    assert len([f for f in made if f.endswith("panoptic.json")]) == 4
    assert made == tracked(roots["slurm"], "data")


def test_demo_all_on_slurm_equals_local_run(cluster, tmp_path):
    """The real `all` target of the demo (reduced in size) on SLURM and locally."""
    local, on_slurm = tmp_path / "local", tmp_path / "slurm"
    for root in (local, on_slurm):
        repo_copy(root, small=False)
        (root / "reduced.yaml").write_text(REDUCED_DEMO)
    config = ("--configfile", "config.yaml", "reduced.yaml")
    dry = snakemake(local, "all", "-n")  # the embedded config: the overlay needs every stage
    if "MissingInputException" in dry.stdout + dry.stderr:  # a stage whose rules are not merged yet
        missing = re.findall(r"^ {8}(\S+)$", dry.stdout + dry.stderr, flags=re.MULTILINE)
        pytest.skip(f"the demo DAG is incomplete: no rule makes {', '.join(missing[:5])} ...")
    assert dry.returncode == 0, (dry.stdout + dry.stderr)[-3000:]
    dry = snakemake(local, "all", "-n", *config)
    assert dry.returncode == 0, (dry.stdout + dry.stderr)[-3000:]
    env = {"SOURCE_DATE_EPOCH": "1767225600"}  # matplotlib's PDFs carry no wall-clock date
    done = snakemake(local, "all", "--cores", "2", *config, env=env, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    done = snakemake(on_slurm, "all", "--profile", "slurm", *FAST_STATUS, *config, env=env,
                     timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "provenance" in submitted_rules(done.stderr)
    assert_same_results(local, on_slurm)
    # a figure's style edit plans that figure (and the provenance check) only
    rule, edit = FIGURE_EDIT
    (local / "edit.yaml").write_text(edit)
    dry = snakemake(local, "all", "-n", *config, "edit.yaml")
    assert dry.returncode == 0, (dry.stdout + dry.stderr)[-3000:]
    assert planned_jobs(dry.stdout + dry.stderr) == {rule: 1, "provenance": 1, "all": 1}
