"""Training stages stopped by SIGTERM, as a SLURM time limit or scancel stops them, for the OPAL
tests: a child process that signals itself during a chosen optimizer step."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from oeseg.models import train


def sigterm_during_step(step: int) -> None:
    """Have this process send itself SIGTERM during optimizer step `step` of the stages it trains
    (from each of the step's micro-batches, before its losses)."""
    losses = train.step_losses

    def signalling(model, batch, weights, at, *rest):
        if at == step:
            os.kill(os.getpid(), signal.SIGTERM)
        return losses(model, batch, weights, at, *rest)

    train.step_losses = signalling


def child(code: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """A python process running `code` (logging at INFO to stderr) with `args`, on this process's
    sys.path; its output captured as text."""
    prelude = "import logging; logging.basicConfig(level=logging.INFO)\n"
    env = {**(os.environ if env is None else env), "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen([sys.executable, "-c", prelude + code, *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
