"""Speed of the synthetic generator on the demo config's datasets (every split of config.yaml).

Run: PYTHONPATH=src python benchmarks/synthetic_generation.py
Prints the seconds taken and the ratio to the reference budget (below 1.0 is within budget).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import yaml

from oeseg.data.synthetic import generate_split
from oeseg.data.vocabularies import get_vocabulary

REFERENCE_SECONDS = 20.0  # "seconds" on 2 cores for the whole demo: both datasets, all splits


def main() -> None:
    """Generate every synthetic split of config.yaml into a temporary folder and time it."""
    config = yaml.safe_load((Path(__file__).resolve().parents[1] / "config.yaml").read_text())
    start = time.perf_counter()
    n = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, entry in config["datasets"].items():
            if entry["source"] != "synthetic":
                continue
            for split, count in entry["splits"].items():
                generate_split(Path(tmp) / name / split, get_vocabulary(entry["vocabulary"]), split, count,
                               tuple(entry["image_size"]), entry["seed"])
                n += count
    seconds = time.perf_counter() - start
    print(f"synthetic generation: {n} images in {seconds:.1f} s; "
          f"ratio to the {REFERENCE_SECONDS:.0f} s reference: {seconds / REFERENCE_SECONDS:.2f}")


if __name__ == "__main__":
    main()
