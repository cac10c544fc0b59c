"""The reference data folder the benchmarks read: the paper's published data (README there says what
each file is), by default `../shared/data` next to the checkout, else `--data DIR`; its files lie
at their `downloads` names of configs/paper.yaml (paper/..., tag2text/...)."""

from __future__ import annotations

import argparse
from pathlib import Path

from oeseg.lexicon.nouns import make_noun_list
from oeseg.workflow import check_config, noun_list_settings, read_config_file, tag_list_names

REPO = Path(__file__).resolve().parents[1]
#: the published data's folder next to the checkout (the benchmarks' default)
DATA = REPO.parent / "shared" / "data"


def add_data_argument(parser: argparse.ArgumentParser) -> None:
    """Add option `--data` (a Path, by default DATA) to a benchmark's parser."""
    parser.add_argument("--data", type=Path, default=DATA, help="the reference data folder")


def paper_noun_list(data: Path) -> list[str]:
    """The noun list that rule nouns makes with configs/paper.yaml, its tag lists read from `data`."""
    config = read_config_file(REPO / "configs" / "paper.yaml")
    check_config(config, REPO / "schemas")
    return make_noun_list(tag_lists=[data / name for name in tag_list_names(config["nouns"])],
                          **noun_list_settings(config))
