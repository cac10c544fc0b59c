"""Launching a training stage as several processes: one SLURM task each, started by srun inside
a SLURM job (tested on the local SLURM cluster, tools/start-slurm.sh), or torchrun elsewhere.
Several processes with the same global batch train the same model as one process (gradients
averaged; each process's micro-batches are the ones one process would take in turn)."""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from oeseg.io import InputError
from oeseg.models.job import OpalJob
from oeseg.models.launch import STOPPED_STATUS, launch_command, launch_stage, rank_from_slurm
from opal_sigterm import child
from opal_synthetic import TINY_MODEL, make_split


def stage_job(root, name: str, train_dir, gpus: int = 0) -> OpalJob:
    """A stage-1 job (projector, generative loss) of 3 steps at global batch 16, micro-batch 8."""
    section = {"model": TINY_MODEL, "seed": 0, "save_every": 10, "llm_tuning": "full",
               "stages": {"stage1": {"lr": 3e-3, "global_batch": 16, "micro_batch": 8, "epochs": 1, "max_steps": 3}}}
    return OpalJob(section=section, stage=1, train_split_dirs=[str(train_dir)], init_dir=None,
                   out_dir=str(root / name / "model"), checkpoint_dir=str(root / name / "ckpt"),
                   contrastive_weight=0.0, gpus=gpus)


def assert_same_weights(a, b, job: OpalJob) -> None:
    """Both runs trained the job's 3 steps, away from the initial projector, to the same weights."""
    from oeseg.models.data import record_texts
    from oeseg.models.train import stage_records
    from oeseg.models.weights import initial_model

    wa, wb = load_file(f"{a}/model.safetensors"), load_file(f"{b}/model.safetensors")
    assert wa.keys() == wb.keys()
    initial, _ = initial_model(job.section, record_texts(stage_records(job.section, 2, job.train_split_dirs)))
    moved = [k for k in wa if k.startswith("model.mm_projector.")]
    assert moved and not all(torch.equal(wa[k], initial.state_dict()[k]) for k in moved)  # it trained
    for run in (a, b):
        assert len((Path(run) / "train_log.jsonl").read_text().splitlines()) == 3
    for k in wa:
        assert torch.allclose(wa[k], wb[k], rtol=1e-4, atol=1e-6), k


@pytest.fixture(scope="module")
def train_dir(tmp_path_factory):
    return make_split(tmp_path_factory.mktemp("launch") / "train", 16, seed=0)


def test_launch_commands():
    here = launch_command("job.json", 4, 1, None)
    assert here == [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=4",
                    "--shutdown-timeout=600", "-m", "oeseg.models.launch", "job.json"]
    slurm = launch_command("job.json", 8, 2, "1234", cpus_per_process=6)
    assert slurm == ["srun", "--nodes=2", "--ntasks=16", "--ntasks-per-node=8", "--cpus-per-task=6",
                     "--kill-on-bad-exit=1", sys.executable, "-m", "oeseg.models.launch", "job.json"]
    with pytest.raises(InputError, match="2 nodes runs inside a SLURM job"):
        launch_command("job.json", 8, 2, None)


def test_tasks_take_their_rank_from_slurm():
    env = {"SLURM_PROCID": "5", "SLURM_NTASKS": "8", "SLURM_LOCALID": "1"}
    rank_from_slurm(env)
    assert (env["RANK"], env["WORLD_SIZE"], env["LOCAL_RANK"]) == ("5", "8", "1")
    env = {"RANK": "0", "SLURM_PROCID": "5", "SLURM_NTASKS": "8", "SLURM_LOCALID": "1"}  # torchrun's win
    rank_from_slurm(env)
    assert env["RANK"] == "0" and "WORLD_SIZE" not in env


def test_an_untrained_stage_runs_in_the_launching_process(train_dir, tmp_path, monkeypatch):
    """Stage 1 with `train_stage1: false` (a released projector, as the paper config): no process
    per GPU, each of which would build the whole model; the model is saved all the same. The job
    comes as rule opal_train passes it (its `to_dict` data); data that is no job is named."""
    from oeseg.models import launch
    from oeseg.models.weights import initial_model

    job = stage_job(tmp_path, "given", train_dir, gpus=4)
    donor, _ = initial_model(job.section, ["x"])
    torch.save({f"model.mm_projector.{k}": v for k, v in donor.model.mm_projector.state_dict().items()},
               tmp_path / "mm_projector.bin")
    job.section.update(train_stage1=False, projector_weights=str(tmp_path / "mm_projector.bin"))
    monkeypatch.setattr(launch, "run_logged", lambda *a, **k: pytest.fail(f"launched {a}"))
    launch_stage(job.to_dict())
    assert (tmp_path / "given" / "model" / "model.safetensors").exists()
    with pytest.raises(InputError, match="^rule opal_train: job: .*'gpu'"):
        launch_stage({**job.to_dict(), "gpu": 4})


@pytest.mark.slow
@pytest.mark.skipif(0 < torch.cuda.device_count() < 2, reason="two processes take two GPUs where there are GPUs")
def test_two_processes_train_the_model_of_one(train_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    launch_stage(stage_job(tmp_path, "one", train_dir))
    log = tmp_path / "opal_train.log"
    launch_stage(stage_job(tmp_path, "two", train_dir, gpus=2), log)  # torchrun: two CPU processes (gloo)
    assert "INFO:oeseg.opal:stage 1 step 3/3 " in log.read_text()  # the processes' progress, in the rule's log
    assert_same_weights(tmp_path / "one" / "model", tmp_path / "two" / "model",
                        stage_job(tmp_path, "one", train_dir))
    # the job file the processes read (launch.json) went with the checkpoints once the model was saved
    assert not (tmp_path / "two" / "ckpt").exists() and not (tmp_path / "one" / "ckpt").exists()


#: one of a stage's processes (oeseg.models.launch), rank 1 getting SIGTERM during step 0
PROCESS_UNTIL_SIGTERM = """
import os, sys
from oeseg.models import launch
from opal_sigterm import sigterm_during_step
if os.environ["RANK"] == "1":
    sigterm_during_step(0)
launch.main(sys.argv[1])
"""


@pytest.mark.skipif(0 < torch.cuda.device_count() < 2, reason="two processes take two GPUs where there are GPUs")
def test_a_sigterm_to_one_process_stops_every_process_at_the_same_step(train_dir, tmp_path):
    """Two processes of a stage (gloo), only rank 1 signalled (SIGTERM during step 0 of 3): both end
    step 0, checkpoint step 1 together (save_every is 10) and fail; the rerun, here one process,
    resumes there and trains the model of an uninterrupted run."""
    job = stage_job(tmp_path, "two", train_dir, gpus=2)
    job_file = tmp_path / "launch.json"
    job.write(job_file)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ranks = [child(PROCESS_UNTIL_SIGTERM, str(job_file),
                   env={**os.environ, "RANK": str(rank), "WORLD_SIZE": "2", "LOCAL_RANK": str(rank),
                        "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}) for rank in (0, 1)]
    try:
        stderr = [process.communicate(timeout=120)[1] for process in ranks]
    finally:
        for process in ranks:
            process.kill()  # one left waiting in a collective, where the test fails
    # each exits with the status launch_stage reads as a stop (srun passes on its tasks' highest)
    assert [process.returncode for process in ranks] == [STOPPED_STATUS] * 2, [e[-3000:] for e in stderr]
    assert "stage 1: stopped by SIGTERM at step 1/3, its checkpoint saved in " in stderr[0]  # rank 0 tells
    assert not any("Traceback" in e for e in stderr)
    (checkpoint,) = (tmp_path / "two" / "ckpt").glob("*/last.pt")
    assert torch.load(checkpoint, weights_only=False)["step"] == 1
    launch_stage(stage_job(tmp_path, "two", train_dir))  # the rerun: steps 1 and 2
    launch_stage(stage_job(tmp_path, "one", train_dir))
    assert_same_weights(tmp_path / "one" / "model", tmp_path / "two" / "model", job)


#: a launcher: a command run by `run_logged` (SIGTERM passed on), the JobStopped it raises printed
LAUNCHER = """
import sys
from oeseg.workflow import JobStopped, run_logged
try:
    run_logged([sys.executable, "-c", sys.argv[1]], sys.argv[2], forward_sigterm=True)
except JobStopped as stop:
    print(stop)
"""
#: the command: ready once it handles SIGTERM, then it stops with status 3 on SIGTERM (or 0 after 30 s)
COMMAND = """
import signal, sys, time
signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(3))
print("ready", flush=True)
time.sleep(30)
"""


def test_a_sigterm_to_the_launcher_is_passed_on_and_the_command_waited_for(tmp_path):
    """The launcher of a stage's processes (torchrun) passes a SIGTERM on to them and waits for
    them: it neither dies leaving them training nor kills them; their failure then is a stop
    (JobStopped: the rule ends with its message, no traceback)."""
    log = tmp_path / "launch.log"
    launcher = child(LAUNCHER, COMMAND, str(log))
    deadline = time.monotonic() + 60
    while "ready" not in (log.read_text() if log.exists() else "") and time.monotonic() < deadline:
        time.sleep(0.05)
    launcher.send_signal(signal.SIGTERM)
    stdout, stderr = launcher.communicate(timeout=60)
    assert launcher.returncode == 0, (stdout, stderr)
    assert stdout.strip() == (f"{Path(sys.executable).name} stopped on the SIGTERM passed on to it (exit status 3); "
                              f"its output is in {log}")


#: a rule's process running a command (`run_logged`, nothing passed on) that writes its pid and waits
RULE_RUNNING_A_COMMAND = """
import signal, sys
from oeseg.workflow import run_logged
signal.signal(signal.SIGINT, signal.default_int_handler)  # pytest-xdist's workers ignore it, and so their children
run_logged(["bash", "-c", f"echo $$ > {sys.argv[1]}; exec sleep 60"], sys.argv[2])
"""


def test_a_command_is_not_left_running_when_the_rule_process_is_interrupted(tmp_path):
    """Ctrl-C (SIGINT) to a rule's process alone, while it runs a command: the command is killed,
    as subprocess.run kills it, not left running without its job (a rerun would run beside it)."""
    pid_file = tmp_path / "pid"
    rule = child(RULE_RUNNING_A_COMMAND, str(pid_file), str(tmp_path / "rule.log"))
    deadline = time.monotonic() + 60
    while not (pid_file.exists() and pid_file.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.05)
    command = int(pid_file.read_text())
    rule.send_signal(signal.SIGINT)
    _, stderr = rule.communicate(timeout=60)
    assert rule.returncode != 0 and "KeyboardInterrupt" in stderr
    deadline = time.monotonic() + 10
    while Path(f"/proc/{command}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not Path(f"/proc/{command}").exists(), "the command is still running"


@pytest.mark.slurm
@pytest.mark.slow
def test_two_slurm_tasks_train_the_model_of_one_process(cluster, train_dir, tmp_path):
    """launch_stage inside a SLURM job of two tasks (on the test cluster's one node, without
    GPUs): srun starts two tasks, whose ranks come from SLURM, world size 2."""
    launch_stage(stage_job(tmp_path, "one", train_dir))
    job = tmp_path / "job.json"
    stage_job(tmp_path, "slurm", train_dir, gpus=2).write(job)
    code = ("import logging; from oeseg.models.job import OpalJob; from oeseg.models.launch import launch_stage; "
            f"logging.basicConfig(level=logging.INFO); launch_stage(OpalJob.read({str(job)!r}))")
    log = tmp_path / "slurm.log"
    done = subprocess.run(["sbatch", "--wait", "--ntasks=2", "--cpus-per-task=1", "--mem-per-cpu=1500",
                           f"--output={log}", "--wrap", f"{shlex.quote(sys.executable)} -c {shlex.quote(code)}"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600)
    output = log.read_text() if log.exists() else ""
    assert done.returncode == 0, (done.stdout, done.stderr, output[-3000:])
    assert "srun --nodes=1 --ntasks=2 --ntasks-per-node=2" in output
    assert_same_weights(tmp_path / "one" / "model", tmp_path / "slurm" / "model",
                        stage_job(tmp_path, "one", train_dir))
