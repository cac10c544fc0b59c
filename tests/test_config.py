"""The workflow config as every rule sees it (oeseg.workflow.check_config on the repository's schemas)."""

from pathlib import Path

import pytest
import yaml
from snakemake.exceptions import WorkflowError

from oeseg.io import InputError
from oeseg.models.config import config_from_section
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
    del config["mapping"]
    check_config(config, REPO / "schemas")
    assert config["nouns"]["category_names"] is False and config["nouns"]["min_wordnet_count"] == 0
    assert config["mapping"]["sbert"]["template"]  # the mapping section's defaults, from its schema


@pytest.mark.parametrize("section", ["opal", "evaluation", "figures", "human_study"])
def test_a_section_left_out_whose_schema_requires_keys_is_named(section):
    """Nothing can fill such a section: the check names it (a rule would stop on a bare KeyError)."""
    config = demo_config()
    del config[section]
    with pytest.raises(InputError, match=rf"config: section '{section}' is missing \(it needs "):
        check_config(config, REPO / "schemas")


def test_a_misspelt_opal_model_key_is_named():
    """OpalConfig, a transformers config, would keep an unknown key as an attribute nothing reads."""
    config = demo_config()
    config["opal"]["model"]["hiden_size"] = 32
    check_config(config, REPO / "schemas")  # the schema lists OpalConfig's fields in no closed set
    with pytest.raises(InputError, match=r"opal.model: unknown key\(s\) 'hiden_size'"):
        config_from_section(config["opal"]["model"])
    del config["opal"]["model"]["hiden_size"]
    assert config_from_section(config["opal"]["model"]).hidden_size == config["opal"]["model"]["hidden_size"]


def test_a_misspelt_key_of_an_opal_data_source_is_named():
    config = yaml.safe_load((REPO / "configs" / "paper.yaml").read_text())
    config["opal"]["data"]["stage2"][0]["regions_per_samples"] = 5
    with pytest.raises(WorkflowError, match="regions_per_samples"):
        check_config(config, REPO / "schemas")


def test_a_bad_value_inside_a_section_names_it():
    config = demo_config()
    config["nouns"]["category_names"] = "yes"
    with pytest.raises(WorkflowError, match="category_names"):
        check_config(config, REPO / "schemas")


def test_a_partial_lora_section_takes_the_other_keys_defaults():
    from oeseg.models.train import LORA_DEFAULTS, StageSettings

    config = demo_config()
    config["opal"]["lora"] = {"r": 8}
    check_config(config, REPO / "schemas")
    assert StageSettings.from_section(config["opal"], 3).lora == {**LORA_DEFAULTS, "r": 8}
    del config["opal"]["lora"]
    assert StageSettings.from_section(config["opal"], 3).lora == LORA_DEFAULTS

