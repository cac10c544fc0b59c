"""The reference data folder the benchmarks read: the paper's published data (README there says what
each file is), by default `../shared/data` next to the checkout, else `--data DIR`; its files lie
at their `downloads` names of configs/paper.yaml (paper/..., tag2text/...)."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import yaml

from oeseg.lexicon.nouns import write_noun_list
from oeseg.workflow import check_config, noun_list_vocabularies, tag_list_names

REPO = Path(__file__).resolve().parents[1]
#: the published data's folder next to the checkout (the benchmarks' default)
DATA = REPO.parent / "shared" / "data"


def add_data_argument(parser: argparse.ArgumentParser) -> None:
    """Add option `--data` (a Path, by default DATA) to a benchmark's parser."""
    parser.add_argument("--data", type=Path, default=DATA, help="the reference data folder")


def paper_noun_list(data: Path) -> list[str]:
    """The noun list that rule nouns makes with configs/paper.yaml, its tag lists read from `data`."""
    config = yaml.safe_load((REPO / "configs" / "paper.yaml").read_text(encoding="utf-8"))
    check_config(config, REPO / "schemas")
    nouns = config["nouns"]
    with tempfile.TemporaryDirectory() as tmp:
        return write_noun_list(nouns["source"], Path(tmp) / "nouns.txt",
                               tag_lists=[data / name for name in tag_list_names(nouns)],
                               min_wordnet_count=nouns["min_wordnet_count"],
                               vocabularies=noun_list_vocabularies(config), only_nouns=nouns["only_nouns"])
