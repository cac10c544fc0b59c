"""Speed of the synthetic generator on the demo config's datasets (every split of config.yaml).

Run: PYTHONPATH=src python benchmarks/synthetic_generation.py [--config config.yaml]
Prints the seconds taken and the ratio to the budget of IMAGES_PER_SECOND (below 1.0 is within it).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from oeseg.data.synthetic import generate_split
from oeseg.data.vocabularies import get_vocabulary
from oeseg.io import exit_status
from oeseg.workflow import read_config_file

#: the budget on 2 cores: 20 s for the demo's 120 images when it had 48 train and 12 val images a dataset
IMAGES_PER_SECOND = 6.0


def main(argv: list[str] | None = None) -> int:
    """Generate every synthetic split of the config into a temporary folder and time it."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=Path(__file__).resolve().parents[1] / "config.yaml",
                        help="the config whose synthetic datasets are generated")
    args = parser.parse_args(argv)
    config = read_config_file(args.config)
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
    budget = n / IMAGES_PER_SECOND
    print(f"synthetic generation: {n} images in {seconds:.1f} s ({n / seconds:.1f} images/s); ratio to the "
          f"{budget:.0f} s budget ({IMAGES_PER_SECOND:g} images/s): {seconds / budget:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(exit_status(main))
