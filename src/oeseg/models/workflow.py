"""Helpers of rules/opal.smk: which methods are OPAL variants and what each rule needs."""

from __future__ import annotations

from oeseg.registry import methods_of_rule


def opal_methods(config: dict) -> list[str]:
    """Config methods that rules/opal.smk trains: those whose kind's train rule is opal_train
    (kinds opal and osprey, unless taken as published)."""
    return methods_of_rule(config["methods"], "opal_train")


def contrastive_weight(config: dict, method: str) -> float:
    """opal.loss.contrastive_weight for kind opal; 0 for the Osprey baseline."""
    return float(config["opal"]["loss"]["contrastive_weight"]) if config["methods"][method]["kind"] == "opal" else 0.0


def train_inputs(config: dict, out: str, method: str, stage: int, train_split_dirs: list[str]) -> list[str]:
    """Inputs of a training stage: the demo splits (their panoptic.json, written with regions.jsonl
    by the data stage), opal.data's annotation files for the stage, and the previous stage's model."""
    files = [f"{d}/panoptic.json" for d in train_split_dirs]
    files += [s["ann_file"] for s in (config["opal"].get("data") or {}).get(f"stage{stage}", [])]
    if stage > 1:
        files.append(f"{out}/models/{method}/stage{stage - 1}")
    return files


def user_provided_files(config: dict) -> list[str]:
    """Training annotation files that the user provides (opal.data), for the rule that names them."""
    stages = (config["opal"].get("data") or {}).values() if opal_methods(config) else []
    return sorted({source["ann_file"] for sources in stages for source in sources})


def inference_settings(config: dict, run: dict) -> dict:
    """Sampling settings of a run: opal.inference overridden by the run's seed/temperature/top_p."""
    return {**config["opal"]["inference"], **{k: run[k] for k in ("seed", "temperature", "top_p") if k in run}}
