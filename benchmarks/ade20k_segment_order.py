"""Which segment order the paper's published ADE20K descriptions follow: run `python benchmarks/ade20k_segment_order.py`.

`oeseg import --format lac` gives an image's descriptions to its segments in ascending id, so the
ADE20K converter must number the segments in the order the paper's harness described them: the
ascending ids Mask2Former's preparation gives them (`oeseg.data.ade20k.panoptic_palette_id`: the
category's palette colour as R + 256 G + 256² B), not category id order. Without the ground truth,
the benchmark maps every published ADE20K description (the paper's GPT-4 lexicon, exact level,
no ground truth) and, within each image, counts the neighbouring described regions of two
different stuff categories (one segment per stuff category, no random instance ids) whose
categories come in ascending order under each candidate order. The true order gives the largest
share; mapping errors keep it below 1, and 0.5 is no order at all. It prints the share under the
palette order (ours), under category ids and under the colour read as B + 256 G + 256² R, and the
ratio of ours to the best other.

    PYTHONPATH=src python benchmarks/ade20k_segment_order.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from oeseg.data.ade20k import panoptic_palette_id
from oeseg.data.vocabularies import ADE20K
from oeseg.io import InputError, exit_status, read_json
from oeseg.lexicon.lexicon import load_lexicon
from oeseg.mapping import map_regions

from reference_data import add_data_argument  # benchmarks/, the folder of this script


def _colour_as_bgr(category_id: int) -> int:
    """The palette colour read with the channels the other way round (B + 256 G + 256² R)."""
    rgb = panoptic_palette_id(category_id)
    return (rgb // 65536) + 256 * ((rgb // 256) % 256) + 65536 * (rgb % 256)


#: candidate orders of an image's segments: category id -> sort key
ORDERS: dict[str, Callable[[int], int]] = {
    "palette (ours)": panoptic_palette_id,
    "category id": lambda category_id: category_id,
    "colour as BGR": _colour_as_bgr,
}


def ascending_shares(descriptions_json: Path, lexicon_json: Path) -> tuple[int, dict[str, float]]:
    """(pairs, share ascending under each order) of neighbouring described stuff regions of two categories."""
    entries = read_json(descriptions_json)
    texts = [text.strip() or "-" for entry in entries for text in entry["descriptions"]]
    mapped = map_regions(texts, [None] * len(texts), ADE20K, "lexical", load_lexicon(lexicon_json, ADE20K),
                         levels=("exact",))["exact"]
    stuff = {c.id for c in ADE20K if not c.isthing}
    ascending = dict.fromkeys(ORDERS, 0)
    pairs, start = 0, 0
    for entry in entries:
        categories = [c for c in mapped[start:start + len(entry["descriptions"])] if c in stuff]
        start += len(entry["descriptions"])
        for a, b in zip(categories, categories[1:]):
            if a != b:
                pairs += 1
                for name, key in ORDERS.items():
                    ascending[name] += key(a) < key(b)
    return pairs, {name: n / pairs for name, n in ascending.items()}


def main(argv: list[str] | None = None) -> int:
    """Print, per published method, the share of ascending stuff pairs under each candidate order."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_data_argument(parser)
    args = parser.parse_args(argv)
    paper = args.data / "paper"
    files = sorted((paper / "outputs").glob("*/ade20k/descriptions.json"))
    if not files:
        raise InputError(f"{paper / 'outputs'}: no published ADE20K description files "
                         "(<method>/ade20k/descriptions.json) there; --data names the paper's published data folder")
    print(f"{'method':14} {'pairs':>6} " + " ".join(f"{name:>15}" for name in ORDERS) + f" {'ratio':>6}")
    worst = float("inf")
    for descriptions in files:
        pairs, shares = ascending_shares(descriptions, paper / "output_semantics_gpt4_ade20k.json")
        ours = shares["palette (ours)"]
        ratio = ours / max(v for k, v in shares.items() if k != "palette (ours)")
        worst = min(worst, ratio)
        print(f"{descriptions.parent.parent.name:14} {pairs:6d} " + " ".join(f"{v:15.3f}" for v in shares.values()) + f" {ratio:6.3f}")
    print(f"worst ratio of ours to the best other order: {worst:.3f} (> 1: ours is the published order's best fit)")
    return 0


if __name__ == "__main__":
    sys.exit(exit_status(main))
