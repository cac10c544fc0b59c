"""Mapping speed: run `python benchmarks/mapping_speed.py` (target: lexical >= 5,000 descriptions/s
on 2 cores, and faster than the Sentence-BERT mapping).

100,000 descriptions at ADE20K-val scale with realistic repetition: the region descriptions that
the paper published for ADE20K val (../shared/data/paper/outputs/<method>/ade20k/, or --data DIR),
method after method (OPAL, Osprey-7B, GPT4RoI, Ferret: 30,250 regions each), cut at --n. Both
mappings start cold (no description cached) with their models already loaded; the lexical mapping
uses the paper's GPT-4 ADE20K lexicon and maps at all four levels with ground truth None.
Wall-clock rates depend on what else runs on the machine (the load average is printed); the
CPU-time rates do not.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from oeseg.data.vocabularies import ADE20K
from oeseg.io import exit_status, read_json
from oeseg.lexicon.lexicon import load_lexicon
from oeseg.mapping import lexical_mapper, map_regions, sbert_mapper
from oeseg.mapping.subject import load_spacy

from reference_data import add_data_argument  # benchmarks/, the folder of this script

METHODS = ("opal", "osprey-7b", "gpt4roi", "ferret")
TARGET = 5000.0


def descriptions(data: Path, n: int) -> list[str]:
    """The first `n` published ADE20K-val descriptions of METHODS, in order."""
    out: list[str] = []
    for method in METHODS:
        for image in read_json(data / "paper" / "outputs" / method / "ade20k" / "descriptions.json"):
            out.extend(image["descriptions"])
        if len(out) >= n:
            break
    return out[:n]


def main(argv: list[str] | None = None) -> int:
    """Time both mappings and print descriptions per second and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_data_argument(parser)
    parser.add_argument("-n", type=int, default=100_000, help="number of descriptions")
    parser.add_argument("--lexical-only", action="store_true", help="time only the lexical mapping")
    args = parser.parse_args(argv)
    methods = ("lexical",) if args.lexical_only else ("lexical", "sbert")
    texts = descriptions(args.data, args.n)
    lexicon = load_lexicon(args.data / "paper" / "output_semantics_gpt4_ade20k.json", ADE20K)
    class_list = args.data / "paper" / "ade20k_150_with_prompt_eng.txt"
    load_spacy()
    lexical_mapper(lexicon, ADE20K)
    if "sbert" in methods:
        sbert_mapper(ADE20K, class_list)
    print(f"{len(texts)} descriptions, {len(set(texts))} unique")
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    rates, cpu_rates = {}, {}
    for method in methods:
        start, cpu = time.perf_counter(), time.process_time()
        map_regions(texts, None, ADE20K, method, lexicon, sbert_class_names=class_list)
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
        rates[method], cpu_rates[method] = len(texts) / seconds, len(texts) / cpu_seconds
        print(f"{method:<8} wall {seconds:7.1f} s {rates[method]:8.0f} descriptions/s | "
              f"CPU {cpu_seconds:7.1f} s {cpu_rates[method]:8.0f} descriptions per CPU-second")
    if "sbert" in methods:
        print(f"lexical / sbert speed ratio: {rates['lexical'] / rates['sbert']:.1f}x (wall), "
              f"{cpu_rates['lexical'] / cpu_rates['sbert']:.1f}x (CPU)")
    print(f"lexical / target ({TARGET:.0f}/s, wall): {rates['lexical'] / TARGET:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(exit_status(main))
