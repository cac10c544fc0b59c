"""Launching a training stage: here in this process (CPU, one GPU), or one process per GPU
started by srun (inside a SLURM job) or torchrun (elsewhere), each running
`python -m oeseg.models.launch <checkpoint_dir>/launch.json`."""

from __future__ import annotations

import logging
import os
import socket
import sys
from collections.abc import MutableMapping
from pathlib import Path

import torch
import torch.distributed as dist

from oeseg.io import InputError
from oeseg.models.job import OpalJob
from oeseg.models.train import TrainingStopped, end_process_group, run_stage
from oeseg.models.workflow import STOP_GRACE_S, stage_trains
from oeseg.workflow import JobStopped, run_logged

log = logging.getLogger("oeseg.opal")
#: the exit status of a process whose stage SIGTERM stopped once it had saved its checkpoint (EX_TEMPFAIL)
STOPPED_STATUS = 75


def _init_distributed() -> None:
    """Join the process group of the launched processes (WORLD_SIZE > 1): NCCL on GPUs, else gloo."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        if torch.cuda.is_available():  # a task bound to its one GPU sees it as device 0
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")) % torch.cuda.device_count())
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")


def launch_command(job_file: str, processes_per_node: int, nodes: int, slurm_job: str | None,
                   cpus_per_process: int = 1) -> list[str]:
    """The command starting a stage's processes, each `python -m oeseg.models.launch job_file`:
    inside a SLURM job, srun starts one task per process (per GPU) on each of `nodes` nodes;
    elsewhere torchrun starts them on this machine, passing a SIGTERM on to them and giving them
    STOP_GRACE_S to stop."""
    program = ["-m", "oeseg.models.launch", job_file]
    if slurm_job:
        return ["srun", f"--nodes={nodes}", f"--ntasks={nodes * processes_per_node}",
                f"--ntasks-per-node={processes_per_node}", f"--cpus-per-task={cpus_per_process}",
                "--kill-on-bad-exit=1", sys.executable, *program]
    if nodes > 1:
        raise InputError(f"opal: training on {nodes} nodes runs inside a SLURM job (--profile slurm)")
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes_per_node}",
            f"--shutdown-timeout={STOP_GRACE_S}", *program]


def launch_stage(job: OpalJob | dict, log_file: str | os.PathLike | None = None) -> None:
    """Run the job's stage (an OpalJob, or its `to_dict` data: rule opal_train's params) here (CPU, one GPU: DeepSpeed in a process group of this process alone,
    `train_stage`) or as one process per GPU (one per node without GPUs) on each of `job.nodes`
    nodes: SLURM tasks started by srun in a SLURM job (ranks from SLURM_PROCID, meeting at this,
    the job's first node), torchrun elsewhere. The job file (`launch.json`) goes to the checkpoint
    folder, which every node sees (and which goes once the model is saved). A stage that trains
    nothing (stage 1 with `train_stage1: false`) runs here alone: each process would build the
    whole model. The launched processes' output is appended to `log_file` (the rule's log), their
    progress and a resumption kept there, not only in the scheduler's job log. A SIGTERM to this
    process is passed on to torchrun, which passes it on to the processes, and they are waited for;
    srun is not passed it, as srun answers SIGTERM by killing its tasks (SIGKILL): in a SLURM job
    the tasks get the job's signal from SLURM itself. Processes stopped so (STOPPED_STATUS, or a
    SIGTERM passed on) end in JobStopped."""
    job = job if isinstance(job, OpalJob) else OpalJob.from_dict(job, "rule opal_train: job")
    if (job.gpus <= 1 and job.nodes <= 1) or not stage_trains(job.section, job.stage):
        run_stage(job)
        return
    job_file = Path(job.checkpoint_dir) / "launch.json"
    job.write(job_file)
    slurm_job = os.environ.get("SLURM_JOB_ID")
    command = launch_command(str(job_file), max(1, job.gpus), job.nodes, slurm_job, job.cpus_per_process)
    env = dict(os.environ)
    if slurm_job:  # the rendezvous of the tasks' process group
        env.update(MASTER_ADDR=socket.gethostname(), MASTER_PORT=str(29400 + int(slurm_job) % 1000))
    log.info("stage %d: %s", job.stage, " ".join(command))
    status, tail = run_logged(command, log_file, env, forward_sigterm=not slurm_job)
    if status == STOPPED_STATUS:  # srun's: its tasks' highest
        raise JobStopped(f"stage {job.stage}: stopped by SIGTERM, its checkpoint saved in {job.checkpoint_dir}; "
                         "a rerun resumes from there")
    if status != 0:
        raise RuntimeError(f"stage {job.stage}: the launched processes exited with status {status}:\n{tail}")


def rank_from_slurm(env: MutableMapping[str, str]) -> None:
    """In a task that srun started: RANK, WORLD_SIZE and LOCAL_RANK from SLURM's task variables
    (torchrun sets them itself)."""
    if "RANK" not in env and "SLURM_PROCID" in env:
        env.update(RANK=env["SLURM_PROCID"], WORLD_SIZE=env["SLURM_NTASKS"], LOCAL_RANK=env["SLURM_LOCALID"])


def main(job_file: str) -> None:
    """One process of a launched stage: its rank (from SLURM or torchrun), the process group,
    then the stage of the job file; the process leaves the group before it exits (a gloo group's
    threads still alive at exit can abort the process: "terminate called without an active
    exception"). A stage stopped by SIGTERM exits with STOPPED_STATUS."""
    rank_from_slurm(os.environ)
    _init_distributed()
    try:
        run_stage(OpalJob.read(job_file))
    except TrainingStopped:  # rank 0 has said where the checkpoint is
        raise SystemExit(STOPPED_STATUS) from None
    finally:
        if dist.is_initialized():
            end_process_group()


if __name__ == "__main__":  # the per-GPU process of launch_stage
    logging.basicConfig(level=logging.INFO)
    main(sys.argv[1])
