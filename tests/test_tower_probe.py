"""benchmarks/tower_probe.py: the linear probe separates what is separable and not what is not, and
probes a pretrained tower checkpoint on a split end to end."""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from opal_synthetic import TINY_MODEL, make_split

from oeseg.models.pretrain import run_tower_pretraining

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import tower_probe  # noqa: E402


def test_probe_accuracy_tells_class_features_from_noise():
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(200) % 4
    informative = torch.randn(200, 8, generator=g) * 0.1
    informative[torch.arange(200), labels] += 1.0  # one feature per class
    train, val = (informative[:100], labels[:100]), (informative[100:], labels[100:])
    assert tower_probe.probe_accuracy(train, val) == (1.0, 1.0)
    noise = torch.randn(200, 8, generator=g)
    fit, held_out = tower_probe.probe_accuracy((noise[:100], labels[:100]), (noise[100:], labels[100:]))
    assert fit > held_out and held_out < 0.45  # chance is 0.25: nothing carries over


def test_probe_of_a_pretrained_tower_checkpoint(tmp_path):
    make_split(tmp_path / "data" / "toy" / "train", 8, seed=0)
    make_split(tmp_path / "data" / "toy" / "val", 4, seed=1)
    checkpoint = tmp_path / "tower.bin"
    run_tower_pretraining([str(tmp_path / "data" / "toy" / "train")], TINY_MODEL,
                          {"steps": 20, "images_per_step": 4, "seed": 0, "text_width": 32, "levels": ["res4", "res5"]},
                          checkpoint)
    result = tower_probe.probe(checkpoint, TINY_MODEL["image_size"], TINY_MODEL, tmp_path / "data", ["toy"])
    train, val = result["toy"]
    assert train >= 0.9 and 0.5 <= val <= 1.0, result  # three colours: the features separate them
