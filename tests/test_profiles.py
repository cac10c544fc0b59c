"""Profiles: `--profile slurm` typed at the repository root finds profiles/slurm, the workflow
profile profiles/default is loaded with it, partition and account come from the environment."""

from __future__ import annotations

import re

import yaml
from small_workflow import REPO, repo_copy, small, snakemake


def job_resources(dry_run_log: str, rule: str) -> dict[str, str]:
    """The resources line of the first job of `rule` in a dry run."""
    block = re.search(rf"^(local)?rule {rule}:\n(.*\n)*?\s+resources: (.*)$", dry_run_log,
                      flags=re.MULTILINE)
    assert block, f"no job of rule {rule} in the dry run"
    return dict(item.split("=", 1) for item in block.group(3).split(", "))


def test_profile_slurm_is_found_at_the_repository_root(tmp_path, monkeypatch):
    root = repo_copy(tmp_path / "repo")
    monkeypatch.setenv("SBATCH_PARTITION", "gpu-a100")
    monkeypatch.setenv("SBATCH_ACCOUNT", "proj42")
    done = small(root, "--profile", "slurm", "-n", "all")
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-3000:]
    assert "Using profiles slurm and workflow specific profile profiles/default" in log
    # per-rule resources of the workflow profile, site settings of the cluster profile
    assert job_resources(log, "provenance").items() >= {
        "slurm_partition": "gpu-a100", "slurm_account": "proj42", "cpus_per_task": "1",
        "mem_mb": "1000", "runtime": "10"}.items()
    assert job_resources(log, "scores").items() >= {
        "slurm_partition": "gpu-a100", "slurm_account": "proj42", "mem_mb": "4000",
        "runtime": "60"}.items()


def test_profiles_keep_site_settings_out_of_the_workflow_profile():
    workflow = yaml.safe_load((REPO / "profiles" / "default" / "config.yaml").read_text())
    cluster = (REPO / "profiles" / "slurm" / "config.yaml").read_text()
    assert set(workflow) == {"set-resources"}  # its keys would replace the cluster profile's
    for resources in workflow["set-resources"].values():
        assert not {"slurm_partition", "slurm_account"} & set(resources)
        runtime = str(resources.get("runtime", "1h"))
        assert re.fullmatch(r"\d+[mhd]", runtime), f"runtime {runtime} without a unit"
    assert "executor: slurm" in cluster and "SBATCH_PARTITION" in cluster
    assert (REPO / "slurm").resolve() == (REPO / "profiles" / "slurm").resolve()


def test_every_rule_of_the_workflow_profile_exists(tmp_path):
    workflow = yaml.safe_load((REPO / "profiles" / "default" / "config.yaml").read_text())
    root = repo_copy(tmp_path / "repo", small=False)
    listed = snakemake(root, "--list-rules")
    assert listed.returncode == 0, listed.stderr[-3000:]
    assert set(workflow["set-resources"]) <= set(listed.stdout.split())
