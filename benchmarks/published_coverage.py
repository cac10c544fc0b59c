"""Which images each published description file covers: run `python benchmarks/published_coverage.py`.

The paper's released evaluation script looks every image of the dataset up in a method's
descriptions (an image the file lacks is a KeyError) and gives an image's i-th description to its
i-th segment by segment id (a description count other than the segment count fails its per-image
tensor product), so it can only have scored a file on the images it describes in full. This prints,
per published file (`paper/outputs/<method>/<dataset>/descriptions.json`), the images and
descriptions it holds, the images whose description count differs from the count the other files
agree on (the image's segments), and whether the images a file describes in full are one common
set. Those are the images the paper config scores such a method on (`scored_images: described`,
with `on_mismatch: skip` for a file with count mismatches).

    python benchmarks/published_coverage.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from oeseg.io import read_json

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def description_counts(path: Path) -> dict[str, int]:
    """image id -> number of descriptions in one published file."""
    return {entry["image_id"]: len(entry["descriptions"]) for entry in read_json(path)}


def main() -> None:
    """Print the coverage table of every published file, dataset by dataset."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="the reference data folder")
    args = parser.parse_args()
    outputs = args.data / "paper" / "outputs"
    for dataset in sorted({p.parent.name for p in outputs.glob("*/*/descriptions.json")}):
        files = {p.parent.parent.name: description_counts(p) for p in sorted(outputs.glob(f"*/{dataset}/descriptions.json"))}
        images = set().union(*files.values())
        # an image's segment count: the count most files give it
        segments = {i: Counter(c[i] for c in files.values() if i in c).most_common(1)[0][0] for i in images}
        print(f"{dataset}: {len(images)} images, {sum(segments.values())} segments")
        print(f"    {'method':<14} {'images':>6} {'descriptions':>12} {'count differs':>13} {'described in full':>17} "
              f"{'ratio to all':>12}")
        full_sets = {}
        for method, counts in files.items():
            differs = sum(1 for i, n in counts.items() if n != segments[i])
            full_sets[method] = frozenset(i for i, n in counts.items() if n == segments[i])
            print(f"    {method:<14} {len(counts):>6} {sum(counts.values()):>12} {differs:>13} {len(full_sets[method]):>17} "
                  f"{len(full_sets[method]) / len(images):>12.3f}")
        partial = {m: s for m, s in full_sets.items() if len(s) < len(images)}
        if partial:
            common = frozenset.intersection(*partial.values())
            largest = max(partial.values(), key=len)
            print(f"    files described in full on part of the images: {', '.join(sorted(partial))}; "
                  f"{len(largest)} images the largest set, {len(common)} common to all; every set within the "
                  f"largest: {all(s <= largest for s in partial.values())}")


if __name__ == "__main__":
    main()
