"""Mapping quality against the paper's human study: run `python benchmarks/mapping_quality.py`.

Maps the 1,181 human-labelled Cityscapes descriptions (../shared/data/paper/, or --data DIR) with
our lexical mapping (the paper's GPT-4 lexicon, or with --lexicon wordnet the offline WordNet
builder's from the paper config's noun list; ground-truth priority from the human label, the
region's own ground truth not being published) and our Sentence-BERT mapping (the
prompt-engineered class lists and template of prior work), and prints per level how often each
reproduces the paper's own mapping and agrees with the human label, on all descriptions and on
the two halves of a fixed hash split (held out = 1).
"""

from __future__ import annotations

import argparse
import sys

from oeseg.data.vocabularies import get_vocabulary
from oeseg.lexicon.lexicon import load_lexicon
from oeseg.lexicon.wordnet import build_wordnet_lexicon
from oeseg.human_study.published import agreement_table, load_user_study, map_user_study
from oeseg.io import exit_status

from reference_data import add_data_argument, paper_noun_list  # benchmarks/, the folder of this script


def main(argv: list[str] | None = None) -> int:
    """Print the agreement table (reproduction of the paper's mappings, agreement with humans)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_data_argument(parser)
    parser.add_argument("--ground-truth", choices=["human", "none"], default="human")
    parser.add_argument("--lexicon", choices=["paper", "wordnet"], default="paper",
                        help="the paper's GPT-4 lexicon, or the offline WordNet builder's with the paper config's nouns")
    args = parser.parse_args(argv)
    paper = args.data / "paper"
    vocabulary = get_vocabulary("cityscapes")
    items = load_user_study(paper / "user_study_results.json", vocabulary)
    if args.lexicon == "paper":
        lexicon = load_lexicon(paper / "output_semantics_gpt4_cityscapes.json", vocabulary)
    else:
        lexicon = build_wordnet_lexicon(vocabulary, paper_noun_list(args.data))
    rows = map_user_study(items, vocabulary, lexicon, paper / "cityscapes_with_prompt_eng.txt",
                          ground_truth=args.ground_truth)
    subsets = {"all": rows, "held_out=0": [r for r in rows if not r["held_out"]],
               "held_out=1": [r for r in rows if r["held_out"]]}
    print(f"lexicon: {args.lexicon}; ground truth for the lexical priority: {args.ground_truth}")
    print(f"{'subset':<11} {'n':>5} {'mapping':<8} {'level':<8} {'reproduces paper %':>19} "
          f"{'ours = human %':>15} {'paper = human %':>16}")
    for name, subset in subsets.items():
        for r in agreement_table(subset):
            print(f"{name:<11} {len(subset):>5} {r['mapping']:<8} {r['level']:<8} "
                  f"{r['reproduces_paper']:>19.1f} {r['agrees_with_human']:>15.1f} "
                  f"{r['paper_agrees_with_human']:>16.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(exit_status(main))
