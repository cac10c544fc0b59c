"""The reference data folder the benchmarks read: the paper's published data (README there says what
each file is), by default `../shared/data` next to the checkout, else `--data DIR`."""

from __future__ import annotations

import argparse
from pathlib import Path

#: the published data's folder next to the checkout (the benchmarks' default)
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def add_data_argument(parser: argparse.ArgumentParser) -> None:
    """Add option `--data` (a Path, by default DATA) to a benchmark's parser."""
    parser.add_argument("--data", type=Path, default=DATA, help="the reference data folder")
