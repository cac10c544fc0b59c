"""Shared fixtures: the paper's published data folder (../shared/data) that CI provides."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

if os.environ.get("PYTEST_XDIST_WORKER"):
    # `make test`'s two workers share two cores: torch (and the jobs a test starts) compute in one
    # thread each, as OpenMP threads of two processes contending for the same cores spin and stall
    os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The reference data folder; every test that reads it fails loudly if it is missing."""
    if not (SHARED_DATA / "README.md").exists():
        raise RuntimeError(f"reference data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def server():
    """A local OpenAI-compatible server on 127.0.0.1 (tests/openai_server.py), stopped after the test."""
    from openai_server import FakeOpenAI

    fake = FakeOpenAI()
    fake.thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


@pytest.fixture(scope="session")
def cluster() -> str:
    """Start (or find running) the single-node SLURM cluster of tools/start-slurm.sh; its `sinfo` line."""
    done = subprocess.run(["bash", str(REPO / "tools" / "start-slurm.sh")], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, f"tools/start-slurm.sh failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _uses_cluster(item: pytest.Item) -> bool:
    return "cluster" in getattr(item, "fixturenames", ())


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's hook reads the xdist_group markers
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Longest first: the SLURM tests, then the other slow ones, then the rest (each in file order),
    so that `make test`'s two workers (pytest-xdist, `--dist loadgroup`) finish together; the
    tests that use the one SLURM cluster share a worker (group "slurm")."""
    for item in filter(_uses_cluster, items):
        item.add_marker(pytest.mark.xdist_group("slurm"))
    items.sort(key=lambda item: 0 if item.get_closest_marker("slurm") or _uses_cluster(item)
               else 1 if item.get_closest_marker("slow") else 2)
