"""The workflow config as every rule sees it (oeseg.workflow.check_config on the repository's schemas)."""

from pathlib import Path

import pytest
import yaml
from snakemake.exceptions import WorkflowError

from oeseg.workflow import check_config

REPO = Path(__file__).resolve().parents[1]


def demo_config() -> dict:
    return yaml.safe_load((REPO / "config.yaml").read_text())


def test_sections_of_their_own_schema_get_its_defaults():
    """A key left out of a section whose schema is a file of its own takes that schema's default
    (the rules read it plainly); a section left out is filled only when its schema requires nothing."""
    config = demo_config()
    for key in ("category_names", "min_wordnet_count"):
        del config["nouns"][key]
    del config["mapping"], config["opal"]
    check_config(config, REPO / "schemas")
    assert config["nouns"]["category_names"] is False and config["nouns"]["min_wordnet_count"] == 0
    assert config["mapping"]["sbert"]["template"]  # the mapping section's defaults, from its schema
    assert "opal" not in config  # its schema requires keys: nothing to fill it with


def test_a_bad_value_inside_a_section_names_it():
    config = demo_config()
    config["nouns"]["category_names"] = "yes"
    with pytest.raises(WorkflowError, match="category_names"):
        check_config(config, REPO / "schemas")
