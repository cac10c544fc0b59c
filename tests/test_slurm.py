"""The workflow on a real single-node SLURM cluster (tools/start-slurm.sh) through
`snakemake --profile slurm`: every job goes through sbatch, and the datasets and tracked
artifacts equal a local run's. Needs root (the cluster's daemons run as root); CI runs it."""

from __future__ import annotations

import fcntl
import re
import subprocess
from pathlib import Path

import pytest
from small_workflow import REPO, planned_jobs, repo_copy, snakemake

from oeseg.io import read_json, sha256_file
from oeseg.provenance import audit_report

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

#: the plugin waits this long before its first status check (default 40 s)
FAST_STATUS = ("--slurm-init-seconds-before-status-checks", "2")
#: the demo made small: Demo-City only (trained on and scored; a few images per split), two of the
#: three variance runs (Figure 11's spread needs two), few classifier epochs and few pretraining
#: and OPAL training steps; every rule of the demo's `all` still runs
REDUCED_DEMO = """\
datasets:
  demo-city: {splits: {train: 6, val: 3}}
evaluation_datasets: [demo-city]
training_datasets: [demo-city]
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
  stages:  # 6 train images: a global batch of at most 6 samples
    stage1: {max_steps: 2, global_batch: 4, micro_batch: 4}
    stage2: {max_steps: 2, global_batch: 4, micro_batch: 4}
    stage3: {max_steps: 6, global_batch: 4, micro_batch: 4}
"""
CONFIGFILES = ["config.yaml", "reduced.yaml"]
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


def local_job_rules(log: str) -> list[str]:
    """Rules of the jobs that a local run (`--cores`) ran (from its own log)."""
    return sorted(re.findall(r"^(?:local)?rule (\w+):$", log, flags=re.MULTILINE))


def test_demo_all_on_slurm_equals_local_run(cluster, tmp_path):
    """The demo's real `all` target (reduced in size) locally and through sbatch: every job but
    the target `all` goes to SLURM, and the datasets and the tracked artifacts are the same bytes."""
    local, on_slurm = tmp_path / "local", tmp_path / "slurm"
    for root in (local, on_slurm):
        repo_copy(root, small=False)
        (root / "reduced.yaml").write_text(REDUCED_DEMO)
    config = ("--configfile", *CONFIGFILES)
    env = {"SOURCE_DATE_EPOCH": "1767225600"}  # matplotlib's PDFs carry no wall-clock date
    done = snakemake(local, "all", "--cores", "2", *config, env=env, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    ran_locally = local_job_rules(done.stderr)
    assert {"generate_synthetic", "opal_train", "evaluate", "table1", "provenance"} <= set(ran_locally)
    done = snakemake(on_slurm, "all", "--profile", "slurm", *FAST_STATUS, *config, env=env,
                     timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Using profiles slurm and workflow specific profile profiles/default" in done.stderr
    assert submitted_rules(done.stderr) == [r for r in ran_locally if r != "all"]
    made = tracked(local, "data")
    assert len([f for f in made if f.endswith("panoptic.json")]) == 2
    assert made == tracked(on_slurm, "data")
    artifacts = tracked(local)
    assert artifacts and artifacts == tracked(on_slurm)
    for root in (local, on_slurm):
        records = read_json(root / "results" / "provenance.json")["artifacts"]
        assert {k: r["sha256"] for k, r in records.items()} == artifacts
        # a job on a node records the config files it was given, as a local job does
        assert {tuple(f["path"] for f in r["config_files"]) for r in records.values()} == {tuple(CONFIGFILES)}
        assert audit_report(root / "results", root, CONFIGFILES).problems == []
    # a figure's style edit plans that figure (and the provenance check) only
    rule, edit = FIGURE_EDIT
    (local / "edit.yaml").write_text(edit)
    dry = snakemake(local, "all", "-n", *config, "edit.yaml")
    assert dry.returncode == 0, (dry.stdout + dry.stderr)[-3000:]
    assert planned_jobs(dry.stdout + dry.stderr) == {rule: 1, "provenance": 1, "all": 1}


def test_start_slurm_waits_for_a_concurrent_caller(cluster):
    """Two callers of tools/start-slurm.sh at once (two test workers, CI and a user) must not both
    start the daemons (a second munged fails on the first one's socket lock): the second waits for
    the first's lock, then finds the cluster up."""
    lock = Path("/run/lock/oeseg-start-slurm.lock")
    with lock.open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        second = subprocess.Popen(["bash", str(REPO / "tools" / "start-slurm.sh")], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        with pytest.raises(subprocess.TimeoutExpired):
            second.wait(timeout=3)
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    assert "ready" in out
