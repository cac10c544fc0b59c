"""Synthetic panoptic datasets: procedurally drawn scenes, deterministic from a seed.

`generate_split` draws `n_images` scenes of a builtin demo vocabulary (`demo-city`: street
scenes with the 19 Cityscapes categories; `demo-ade`: rooms, streets and landscapes with ADE20K
categories) and writes the split in the panoptic dataset format (docs/formats.md, "Datasets") plus
`regions.jsonl`, the reference descriptions of every segment (oeseg.data.wordings).

Regions look different by category: each category has its own colours and texture, and things
are drawn as recognisable shapes (cars with cabins, windows and wheels; people with heads, arms
and legs; ...) from parts coded in a layer: body, dark, glass, accent, white, red, amber, green.
Things come in several instances that occlude each other (painted far to near); some groups are
crowd segments (iscrowd=1); a few pixels are void (id 0): an ego-vehicle hood, clutter blobs and
segments too small to keep.

One module each:
- styles: part codes, each category's colours and texture, the texture fields
- scene: the canvas (colours, segment ids, categories) and the far-to-near painter
- drawers: one function per kind of thing, drawing part codes on a layer
- compositions: the scene kinds (a street, a room, a landscape) and SCENES per vocabulary
- split: rendering one image and writing a split
"""

from oeseg.data.synthetic.compositions import SCENES
from oeseg.data.synthetic.split import generate_split, render_image, split_seed
from oeseg.data.synthetic.styles import STYLES, Style

__all__ = ["SCENES", "STYLES", "Style", "generate_split", "render_image", "split_seed"]
