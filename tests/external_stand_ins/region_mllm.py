"""Stands in for a region MLLM (Shikra, Ferret, GPT4RoI, Osprey) run by the paper's re-benchmarking
harness: answers, for each ground-truth segment in ascending id order, with the name of the segment's
mean colour in Shikra's answer style, and writes [{"image_id", "descriptions": [...]}]."""

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image

COLOURS = {"sky": (70, 130, 220), "road": (110, 110, 110), "car": (220, 30, 30),
           "tree": (30, 170, 40), "person": (230, 210, 40)}

parser = argparse.ArgumentParser()
parser.add_argument("--panoptic-json", required=True)
parser.add_argument("--images", required=True)
parser.add_argument("--output", required=True)
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--extra-description", action="store_true", help="one description too many")
args = parser.parse_args()

panoptic = json.loads(Path(args.panoptic_json).read_text())
root = Path(args.panoptic_json).parent / "panoptic"
names, palette = list(COLOURS), np.array(list(COLOURS.values()), dtype=float)
out = []
for ann in panoptic["annotations"]:
    rgb = np.asarray(Image.open(Path(args.images) / ann["file_name"]).convert("RGB"), dtype=float)
    pan = np.asarray(Image.open(root / ann["file_name"]).convert("RGB")).astype(np.uint32)
    ids = pan[..., 0] + 256 * pan[..., 1] + 65536 * pan[..., 2]
    descriptions = []
    for seg in sorted(ann["segments_info"], key=lambda s: s["id"]):
        mean = rgb[ids == seg["id"]].mean(0)
        descriptions.append(f" The answer is {names[int(((palette - mean) ** 2).sum(1).argmin())]}.")
    if args.extra_description:
        descriptions.append(" The answer is yes.")
    out.append({"image_id": ann["image_id"], "descriptions": descriptions})
Path(args.output).write_text(json.dumps(out, indent=1))
