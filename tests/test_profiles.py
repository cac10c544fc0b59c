"""Profiles: `--profile slurm` typed at the repository root finds profiles/slurm, the workflow
profile profiles/default is loaded with it, partition and account come from the environment."""

from __future__ import annotations

import re

import yaml
from small_workflow import REPO, repo_copy, small, snakemake


def job_resources(dry_run_log: str, rule: str, wildcards: str = "") -> dict[str, str]:
    """The resources line of the first job of `rule` (whose wildcards line holds `wildcards`) in a dry run."""
    for block in re.finditer(rf"^(local)?rule {rule}:\n((?:\s+\S.*\n)*)", dry_run_log, flags=re.MULTILINE):
        lines = dict(line.strip().split(": ", 1) for line in block.group(2).splitlines() if ": " in line)
        if wildcards in lines.get("wildcards", "") and "resources" in lines:
            return dict(item.split("=", 1) for item in lines["resources"].split(", "))
    raise AssertionError(f"no job of rule {rule} ({wildcards}) in the dry run")


def test_profile_slurm_is_found_at_the_repository_root(tmp_path, monkeypatch):
    root = repo_copy(tmp_path / "repo")
    monkeypatch.setenv("SBATCH_PARTITION", "gpu-a100")
    monkeypatch.setenv("SBATCH_ACCOUNT", "proj42")
    done = small(root, "--profile", "slurm", "-n", "all")
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-3000:]
    assert "Using profiles slurm and workflow specific profile profiles/default" in log
    # the rule's own resources, site settings of the cluster profile
    assert job_resources(log, "provenance").items() >= {
        "slurm_partition": "gpu-a100", "slurm_account": "proj42", "cpus_per_task": "1",
        "mem_mb": "1000", "runtime": "10"}.items()
    assert job_resources(log, "scores").items() >= {
        "slurm_partition": "gpu-a100", "slurm_account": "proj42", "mem_mb": "4000",
        "runtime": "60"}.items()
    # a --set-resources for one rule (README, Running on SLURM) leaves every other rule's as it was
    done = small(root, "--profile", "slurm", "-n", "all", "--set-resources", "scores:slurm_partition=gpu-long")
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-3000:]
    assert job_resources(log, "scores")["slurm_partition"] == "gpu-long"
    assert job_resources(log, "provenance").items() >= {
        "slurm_partition": "gpu-a100", "cpus_per_task": "1", "mem_mb": "1000", "runtime": "10"}.items()


def test_profiles_keep_site_settings_out_of_the_workflow_profile():
    workflow = yaml.safe_load((REPO / "profiles" / "default" / "config.yaml").read_text())
    cluster = (REPO / "profiles" / "slurm" / "config.yaml").read_text()
    # its keys would replace the cluster profile's, and a command line's the same keys of its own:
    # resuming only
    assert workflow == {"rerun-incomplete": True}
    assert "executor: slurm" in cluster and "SBATCH_PARTITION" in cluster
    assert (REPO / "slurm").resolve() == (REPO / "profiles" / "slurm").resolve()


SLOW_SNAKEFILE = """\
rule all:
    input: "out/a.txt"

rule slow:
    output: "out/a.txt"
    shell: "echo partial > {output}; sleep ${{SLOW_S:-0}}; echo done >> {output}"
"""


def test_a_killed_run_resumes_after_unlock(tmp_path):
    """A run killed mid-job: the next run asks for --unlock; after it a plain run (the default
    profile's rerun-incomplete) redoes the incomplete output instead of stopping."""
    import os
    import signal
    import subprocess
    import time

    from small_workflow import SNAKEMAKE

    root = repo_copy(tmp_path / "repo", small=False)
    (root / "slow.smk").write_text(SLOW_SNAKEFILE)
    output = root / "out" / "a.txt"
    running = subprocess.Popen([SNAKEMAKE, "-s", "slow.smk", "--cores", "1"], cwd=root, start_new_session=True,
                               env={**os.environ, "SLOW_S": "120"}, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not output.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert output.exists()
    os.killpg(running.pid, signal.SIGKILL)
    running.wait()
    assert output.read_text() == "partial\n"
    locked = snakemake(root, "-s", "slow.smk", "--cores", "1")
    assert locked.returncode != 0 and "--unlock" in locked.stderr
    assert snakemake(root, "-s", "slow.smk", "--unlock").returncode == 0
    without = snakemake(root, "-s", "slow.smk", "--cores", "1", "--workflow-profile", "none")
    assert without.returncode != 0 and "IncompleteFilesException" in without.stderr
    resumed = snakemake(root, "-s", "slow.smk", "--cores", "1")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert output.read_text() == "partial\ndone\n"


def test_paper_gpu_jobs_on_slurm(tmp_path):
    """The paper config's GPU jobs: training one task per GPU on a 200 GB node, describing one GPU
    and its own memory (opal.resources.describe_mem_mb), CPU jobs no GPU."""
    root = repo_copy(tmp_path / "repo", small=False)
    done = snakemake(root, "--profile", "slurm", "-n", "all", "--configfile", "configs/paper.yaml")
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-3000:]
    for stage in (2, 3):
        assert job_resources(log, "opal_train", f"stage={stage}").items() >= {
            "gres": "gpu:4", "tasks_per_node": "4", "nodes": "1", "mem_mb": "200000", "runtime": "4320"}.items()
    # stage 1 (train_stage1: false) only assembles the initial model: a CPU job
    assembly = job_resources(log, "opal_train", "stage=1")
    assert not {"gpu", "gres", "tasks_per_node", "mpi"} & set(assembly)
    assert assembly.items() >= {"mem_mb": "64000", "runtime": "60"}.items()  # a describe job's
    assert job_resources(log, "opal_describe").items() >= {"gpu": "1", "mem_mb": "64000", "runtime": "60"}.items()
    assert not {"gpu", "gres"} & set(job_resources(log, "evaluate"))
