"""Multi-GPU jobs: the resources of oeseg.workflow.gpu_job_resources become the sbatch flags of
one SLURM task per GPU on every node (SLURM plugin 2.8)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from snakemake_executor_plugin_slurm.submit_string import get_submit_command
from snakemake_executor_plugin_slurm.utils import set_gres_string
from snakemake_executor_plugin_slurm_jobstep import get_cpu_setting, get_gpu_setting

from oeseg.workflow import gpu_job_resources

PARAMS = {"run_uuid": "u", "slurm_logfile": "log", "comment_str": "rule_train", "account": "",
          "partition": "", "workdir": ""}


class Resources(dict):
    """A job's resources: mapping and attribute access, as Snakemake's."""

    __getattr__ = dict.__getitem__


def sbatch_flags(resources: dict) -> set[str]:
    job = SimpleNamespace(resources=Resources({"mem_mb": 1000, **resources}), threads=1)
    call = get_submit_command(job, PARAMS) + set_gres_string(job)
    return {f for f in call.split() if f.startswith("--") and f != "--parsable"}


def test_one_node_several_gpus_is_one_task_per_gpu():
    resources = gpu_job_resources(gpus_per_node=4, nodes=1, cpus_per_gpu=8)
    flags = sbatch_flags(resources)
    assert {"--nodes=1", "--gres=gpu:4", "--ntasks-per-node=4", "--cpus-per-task=8"} <= flags
    assert not [f for f in flags if f.startswith(("--ntasks-per-gpu", "--gpus", "--ntasks="))]
    assert resources["mpi"] == "srun"  # the job runs in the batch shell; launch_stage's srun starts the tasks


def test_several_nodes_run_one_task_per_gpu_on_each():
    flags = sbatch_flags(gpu_job_resources(gpus_per_node=8, nodes=2, cpus_per_gpu=4))
    assert {"--nodes=2", "--gres=gpu:8", "--ntasks-per-node=8", "--cpus-per-task=4"} <= flags
    flags = sbatch_flags(gpu_job_resources(gpus_per_node=1, nodes=3, cpus_per_gpu=4))
    assert {"--nodes=3", "--gres=gpu:1", "--ntasks=3", "--cpus-per-task=4"} <= flags


def test_one_gpu_is_a_plain_job_whose_step_holds_it():
    resources = gpu_job_resources(gpus_per_node=1, cpus_per_gpu=6)
    assert {"--gpus=1", "--cpus-per-task=6"} <= sbatch_flags(resources) and "mpi" not in resources
    job = SimpleNamespace(resources=Resources(resources), threads=1)
    assert (get_gpu_setting(job), get_cpu_setting(job, True)) == ("--gpus=1", "--cpus-per-task=6")


def test_cpu_only_jobs_ask_for_no_gpu():
    assert gpu_job_resources(gpus_per_node=0) == {}
    assert "--gpus" not in " ".join(sbatch_flags(gpu_job_resources(0)))
    with pytest.raises(ValueError, match="several nodes need GPUs"):
        gpu_job_resources(gpus_per_node=0, nodes=2)
