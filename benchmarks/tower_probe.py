"""How much class information the demo's frozen vision tower gives OPAL and Osprey: a linear probe.

OPAL's and Osprey's region (mask) token is a linear function of the region's average of each of
the tower's feature maps (res2..res5; `oeseg.models.mask_extractor`), so a multinomial logistic
regression on those averages, fitted on the train split's regions and scored on the val split's,
bounds what the mask token can tell the LLM about a region's class. The benchmark loads a tower
checkpoint (open_clip format, as `opal.vision_weights`) at an input size, probes every demo dataset
and prints the val accuracy with its ratio to a reference checkpoint's (default: the same).

    python benchmarks/tower_probe.py work/demo/models/clip_tower.bin --size 192 \\
        [--reference OTHER.bin --reference-size 128]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from oeseg.io import exit_status  # noqa: E402
from oeseg.models.config import config_from_section  # noqa: E402
from oeseg.models.data import demo_region_records  # noqa: E402
from oeseg.models.inference import load_regions, split_images  # noqa: E402
from oeseg.models.mask_extractor import mask_pool  # noqa: E402
from oeseg.models.vision import FEATURE_NAMES, CLIPVisionTower  # noqa: E402
from oeseg.workflow import read_config_file  # noqa: E402


def region_features(tower: CLIPVisionTower, split_dir: Path, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per region of the split: its average of every feature map, concatenated, and its category id."""
    category = {(r.image_id, r.segment_id): int(r.category) for r in demo_region_records(split_dir)}
    features, labels = [], []
    for image in split_images(split_dir):
        pixels, masks = load_regions(image, size)
        _, maps = tower(pixels[None])
        features.append(torch.cat([mask_pool(maps[name][0], masks) for name in FEATURE_NAMES], 1))
        labels += [category[(image.image_id, s)] for s in image.segment_ids]
    return torch.cat(features), torch.tensor(labels)


def probe_accuracy(train: tuple[torch.Tensor, torch.Tensor], val: tuple[torch.Tensor, torch.Tensor],
                   l2: float = 1e-3) -> tuple[float, float]:
    """Train and val accuracy of an L2-regularised logistic regression on standardised features."""
    (x, y), (xv, yv) = train, val
    mean, std = x.mean(0), x.std(0).clamp(min=1e-6)
    x, xv = (x - mean) / std, (xv - mean) / std
    classes = int(max(y.max(), yv.max())) + 1
    linear = torch.nn.Linear(x.shape[1], classes)
    optimizer = torch.optim.LBFGS(linear.parameters(), max_iter=500, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(linear(x), y) + l2 * linear.weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        return float((linear(x).argmax(1) == y).float().mean()), float((linear(xv).argmax(1) == yv).float().mean())


def probe(checkpoint: Path, size: int, model: dict, data_root: Path, datasets: list[str]) -> dict[str, tuple]:
    """{dataset: (train accuracy, val accuracy)} of the checkpoint's tower at input size `size`."""
    torch.manual_seed(0)
    tower = CLIPVisionTower(config_from_section(model))
    tower.load_open_clip_weights(checkpoint)
    return {d: probe_accuracy(region_features(tower, data_root / d / "train", size),
                              region_features(tower, data_root / d / "val", size)) for d in datasets}


def main() -> None:
    """Probe the checkpoint (and the reference) on every training dataset and print the val accuracies' ratio."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--size", type=int, required=True, help="the tower's input size (opal.model.image_size)")
    parser.add_argument("--reference", type=Path, help="another checkpoint to compare with")
    parser.add_argument("--reference-size", type=int)
    parser.add_argument("--config", type=Path, default=ROOT / "config.yaml")
    args = parser.parse_args()
    config = read_config_file(args.config)
    datasets, root, model = config["training_datasets"], ROOT / config["data_root"], config["opal"]["model"]
    torch.set_num_threads(1)
    result = probe(args.checkpoint, args.size, model, root, datasets)
    reference = result if args.reference is None else probe(args.reference, args.reference_size or args.size,
                                                            model, root, datasets)
    for d, (train, val) in result.items():
        print(f"{d:<10} train {100 * train:5.1f} %  val {100 * val:5.1f} %  "
              f"(reference val {100 * reference[d][1]:5.1f} %: ratio {val / reference[d][1]:.2f})")


if __name__ == "__main__":
    sys.exit(exit_status(main))
