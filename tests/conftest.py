"""Shared fixtures: the paper's published data folder (../shared/data) that CI provides."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The reference data folder; every test that reads it fails loudly if it is missing."""
    if not (SHARED_DATA / "README.md").exists():
        raise RuntimeError(f"reference data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def cluster() -> str:
    """Start (or find running) the single-node SLURM cluster of tools/start-slurm.sh; its `sinfo` line."""
    done = subprocess.run(["bash", str(REPO / "tools" / "start-slurm.sh")], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, f"tools/start-slurm.sh failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout
