"""Shared fixtures: the paper's published data folder (../shared/data) that CI provides."""

from __future__ import annotations

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
