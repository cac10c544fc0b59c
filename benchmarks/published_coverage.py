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

`--where-short METHOD` then locates the missing descriptions of METHOD's short Cityscapes images.
Each position's category is the one at least two of OPAL, GPT4RoI-7B and Ferret-7B map it to (the
paper's GPT-4 lexicon, hyponym level, no ground truth). The benchmark prints how often METHOD's
mapping agrees with that consensus, on stuff and on thing positions: on its complete images,
then on its short images read in place and shifted by the shortfall. Where a file leaves out
segments between the stuff and the instances (where crowd segments sort: their id is their
label id, below 1000), stuff agrees in place and things shifted.

    python benchmarks/published_coverage.py [--data ../shared/data] [--where-short maskclip]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from oeseg.data.vocabularies import get_vocabulary
from oeseg.io import InputError, exit_status, read_json
from oeseg.lexicon.lexicon import load_lexicon
from oeseg.mapping import map_regions

from reference_data import add_data_argument  # benchmarks/, the folder of this script


def description_counts(path: Path) -> dict[str, int]:
    """image id -> number of descriptions in one published file."""
    return {entry["image_id"]: len(entry["descriptions"]) for entry in read_json(path)}


def mapped_categories(paper: Path, method: str) -> dict[str, list[int | None]]:
    """image id -> the category of each of a method's Cityscapes descriptions (hyponym level, no ground truth)."""
    vocabulary = get_vocabulary("cityscapes")
    lexicon = load_lexicon(paper / "output_semantics_gpt4_cityscapes.json", vocabulary)
    entries = read_json(paper / "outputs" / method / "cityscapes" / "descriptions.json")
    texts = [text.strip() or "-" for entry in entries for text in entry["descriptions"]]
    mapped = map_regions(texts, [None] * len(texts), vocabulary, "lexical", lexicon,
                         levels=("exact", "synonym", "hyponym"))["hyponym"]
    out, start = {}, 0
    for entry in entries:
        out[entry["image_id"]] = [c if c is not None and c >= 0 else None
                                  for c in mapped[start:start + len(entry["descriptions"])]]
        start += len(entry["descriptions"])
    return out


def where_short(paper: Path, method: str) -> None:
    """Print METHOD's agreement with the consensus of three MLLMs, in place and shifted (module docstring)."""
    things = {c.id for c in get_vocabulary("cityscapes") if c.isthing}
    references = [mapped_categories(paper, m) for m in ("opal", "gpt4roi", "ferret")]
    ours = mapped_categories(paper, method)
    agree: Counter = Counter()
    for image, categories in ours.items():
        votes = [Counter(c for c in position if c is not None).most_common(1)
                 for position in zip(*(r[image] for r in references))]
        consensus = [v[0][0] if v and v[0][1] >= 2 else None for v in votes]
        short = len(consensus) - len(categories)
        readings = [("complete", 0)] if short == 0 else [("short, in place", 0), ("short, shifted", short)]
        for reading, shift in readings:
            for i, category in enumerate(categories):
                reference = consensus[i + shift]
                if category is not None and reference is not None:
                    agree[(reading, reference in things, category == reference)] += 1
    print(f"where {method}'s short Cityscapes images miss descriptions: agreement with the consensus")
    for reading in ("complete", "short, in place", "short, shifted"):
        shares = []
        for thing in (False, True):
            same, total = agree[(reading, thing, True)], agree[(reading, thing, True)] + agree[(reading, thing, False)]
            shares.append(f"{'things' if thing else 'stuff'} {same / total:.3f} ({total})" if total else "-")
        print(f"    {reading:<16} {'   '.join(shares)}")


def main(argv: list[str] | None = None) -> int:
    """Print the coverage table of every published file, dataset by dataset."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_data_argument(parser)
    parser.add_argument("--where-short", metavar="METHOD", help="locate the missing descriptions of METHOD's "
                        "short Cityscapes images (maskclip)")
    args = parser.parse_args(argv)
    outputs = args.data / "paper" / "outputs"
    datasets = sorted({p.parent.name for p in outputs.glob("*/*/descriptions.json")})
    if not datasets:
        raise InputError(f"{outputs}: no published description files (<method>/<dataset>/descriptions.json) "
                         "there; --data names the paper's published data folder")
    for dataset in datasets:
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
    if args.where_short:
        where_short(args.data / "paper", args.where_short)
    return 0


if __name__ == "__main__":
    sys.exit(exit_status(main))
