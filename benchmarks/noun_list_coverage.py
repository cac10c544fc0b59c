"""How much of the paper's noun list our noun list holds: run `python benchmarks/noun_list_coverage.py`.

The paper mines its nouns "from a large-scale image-text pair dataset" (it cites Tag2Text) and asks
GPT-4, noun by noun, which categories each relates to (its Figure 5), so every term of its published
GPT-4 lexicons is a noun of its list. The open-vocabulary methods of its Table 1 (MaskCLIP,
MasQCLIP, OVSeg) take the same "comprehensive noun list" as their input vocabulary, so each of
their published outputs is one too. This prints, for the noun lists that rule nouns makes of the
tag lists (`nouns.source: tag2text`, `nouns.tag_list` one list or both) and for configs/paper.yaml's
(both lists, `only_nouns: false`: every tag), the share of those terms and outputs that the noun
list holds, each compared as a noun list holds it (`oeseg.lexicon.nouns.noun_list_entry`: in its
singular form):

- the GPT-4 lexicons' terms of the four mapping levels (exact, synonyms, hyponyms, meronyms), and
  of `semantically_related` apart (the mapping does not read it), per dataset;
- the open-vocabulary methods' unique outputs, and their regions, per file.

It counts the category names of the two vocabularies that neither tag list holds and that are
open-vocabulary outputs (the paper's list held them: `nouns.category_names`). Of the
open-vocabulary outputs that the paper config's list lacks, it counts those that are terms of the
GPT-4 lexicons too (the two files then miss the same words of one list), and those that the
Baseline's outputs hold: the Baseline (MasQCLIP+tags) chooses among each image's GPT-4 tags (the
paper's Figure 9), so its outputs are some of those tags. It also lists the tags that the noun
filter drops (verbs, adjectives: "sit on", "sunny") and that the GPT-4 lexicons hold at a mapping
level: the paper's list kept them. The last line gives each list's worst share over the rows of
the mapping levels and the open-vocabulary regions, its ratio to the paper's list, which holds
them all.

    python benchmarks/noun_list_coverage.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from oeseg.data.vocabularies import get_vocabulary
from oeseg.io import exit_status, read_json
from oeseg.lexicon.nouns import noun_list_entry, nouns_from_tags

from reference_data import add_data_argument, paper_noun_list  # benchmarks/, the folder of this script

#: the GPT-4 lexicon's keys of the mapping's four levels
MAPPING_LEVELS = ("exact", "synonyms", "hyponyms", "meronyms")
#: the methods whose input vocabulary was the paper's noun list
OPEN_VOCABULARY_METHODS = ("maskclip", "masqclip", "ovseg")
#: the Baseline: MasQCLIP choosing among each image's GPT-4 tags (the paper's Figure 9)
BASELINE = "masqclip_tags"
DATASETS = ("cityscapes", "ade20k")
TAG2TEXT, RAM = "tag2text_ori_tag_list.txt", "ram_tag_list.txt"
#: name -> the tag lists of `<data>/tag2text/` (the recognize-anything repository's two) whose nouns it holds
NOUN_LISTS = {"Tag2Text": (TAG2TEXT,), "RAM": (RAM,), "Tag2Text + RAM": (TAG2TEXT, RAM)}


def lexicon_terms(path: Path, levels: tuple[str, ...]) -> set[str]:
    """The compared forms of the terms a GPT-4 lexicon file lists under `levels`, over all categories."""
    lexicon = read_json(path)
    return {noun_list_entry(term, only_nouns=False) for entry in lexicon.values() for level in levels
            for term in entry[level]}


def output_counts(path: Path) -> Counter[str]:
    """compared form -> regions, over the descriptions of one published file."""
    counts: Counter[str] = Counter()
    for entry in read_json(path):
        counts.update(noun_list_entry(text, only_nouns=False) for text in entry["descriptions"] if text.strip())
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_argument(parser)
    args = parser.parse_args(argv)
    paper, tags = args.data / "paper", args.data / "tag2text"
    lists = {name: set(nouns_from_tags(*(tags / f for f in files))) for name, files in NOUN_LISTS.items()}
    lists["paper.yaml"] = set(paper_noun_list(args.data))
    names = list(lists)
    print("nouns: " + ", ".join(f"{name} {len(nouns)}" for name, nouns in lists.items()))

    print("\nGPT-4 lexicon terms that the noun list holds (%)")
    print(f"    {'dataset':<11}{'terms':<22}{'count':>6}" + "".join(f"{n:>16}" for n in names))
    shares: dict[str, list[float]] = {name: [] for name in names}
    mapping_terms: set[str] = set()  # of both lexicons, at the mapping's levels
    every_term: set[str] = set()  # semantically_related too
    for dataset in DATASETS:
        path = paper / f"output_semantics_gpt4_{dataset}.json"
        for what, levels in (("mapping levels", MAPPING_LEVELS), ("semantically_related", ("semantically_related",))):
            terms = lexicon_terms(path, levels)
            every_term |= terms
            row = {name: 100 * len(terms & nouns) / len(terms) for name, nouns in lists.items()}
            if what == "mapping levels":
                mapping_terms |= terms
                for name in names:
                    shares[name].append(row[name])
            print(f"    {dataset:<11}{what:<22}{len(terms):>6}" + "".join(f"{row[n]:>16.1f}" for n in names))

    print("\nopen-vocabulary outputs that the noun list holds (% of unique outputs / of regions)")
    print(f"    {'file':<22}{'unique':>7}{'regions':>8}" + "".join(f"{n:>16}" for n in names))
    outputs: Counter[str] = Counter()
    for method in OPEN_VOCABULARY_METHODS:
        for dataset in DATASETS:
            counts = output_counts(paper / "outputs" / method / dataset / "descriptions.json")
            outputs.update(counts)
            total = sum(counts.values())
            cells = []
            for name, nouns in lists.items():
                held = [text for text in counts if text in nouns]
                regions = 100 * sum(counts[t] for t in held) / total
                cells.append(f"{100 * len(held) / len(counts):.1f} / {regions:.1f}")
                shares[name].append(regions)
            print(f"    {method + '/' + dataset:<22}{len(counts):>7}{total:>8}" + "".join(f"{c:>16}" for c in cells))

    baseline_tags = set().union(*(output_counts(paper / "outputs" / BASELINE / d / "descriptions.json")
                                  for d in DATASETS))
    rest = Counter({text: n for text, n in outputs.items() if text not in lists["paper.yaml"]})
    in_tags = [text for text in rest if text in baseline_tags]
    in_lexicons = [text for text in rest if text in every_term]
    print(f"\nopen-vocabulary outputs that paper.yaml's list lacks: {len(rest)} unique, {rest.total()} regions; "
          f"terms of the GPT-4 lexicons too: {len(in_lexicons)} unique, {sum(rest[t] for t in in_lexicons)} regions; "
          f"among the Baseline's ({BASELINE}) outputs, its GPT-4 image tags: {len(in_tags)} unique, "
          f"{sum(rest[t] for t in in_tags)} regions; the most frequent: "
          + ", ".join(f"{t} ({n})" for t, n in rest.most_common(8)))

    category_names = {noun_list_entry(name, only_nouns=False) for dataset in DATASETS
                      for category in get_vocabulary(dataset) for name in category.names}
    untagged = category_names - lists["Tag2Text + RAM"]
    as_outputs = {name: outputs[name] for name in sorted(untagged) if outputs[name]}
    print(f"\ncategory names (Cityscapes, ADE20K) that neither tag list holds: {len(untagged)}; open-vocabulary "
          f"outputs: {len(as_outputs)}, {sum(as_outputs.values())} regions: "
          + ", ".join(f"{name} ({n})" for name, n in sorted(as_outputs.items(), key=lambda item: -item[1])[:8]))

    dropped = set(nouns_from_tags(tags / TAG2TEXT, tags / RAM, only_nouns=False)) - lists["Tag2Text + RAM"]
    kept_by_paper = sorted(dropped & mapping_terms)
    print(f"\ntags the noun filter drops: {len(dropped)}; of them at a mapping level of the GPT-4 lexicons: "
          f"{len(kept_by_paper)}: {', '.join(kept_by_paper)}")
    worst = {name: min(values) for name, values in shares.items()}
    print("\nworst share over the rows above (mapping levels; open-vocabulary regions), ratio to the "
          "paper's list (1.0 = all): " + ", ".join(f"{name} {worst[name] / 100:.3f}" for name in names))
    return 0


if __name__ == "__main__":
    sys.exit(exit_status(main))
