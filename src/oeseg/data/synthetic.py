"""Synthetic panoptic datasets: procedurally drawn scenes, deterministic from a seed.

`generate_split` draws `n_images` scenes of a builtin demo vocabulary (`demo-city`: street
scenes with the 19 Cityscapes categories; `demo-ade`: rooms, streets and landscapes with ADE20K
categories) and writes the split in the panoptic format of DESIGN.md plus `regions.jsonl`, the
reference descriptions of every segment (oeseg.data.wordings).

Regions look different by category: each category has its own colours and texture, and things
are drawn as recognisable shapes (cars with cabins, windows and wheels; people with heads, arms
and legs; ...) from parts coded in a layer: body, dark, glass, accent, white, red, amber, green.
Things come in several instances that occlude each other (painted far to near); some groups are
crowd segments (iscrowd=1); a few pixels are void (id 0): an ego-vehicle hood, clutter blobs and
segments too small to keep.
"""

from __future__ import annotations

import io
import shutil
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from oeseg.data.panoptic import PanopticImage, panoptic_json, segments_from_ids, write_segment_ids
from oeseg.data.vocabularies import Vocabulary
from oeseg.data.wordings import describe
from oeseg.io import InputError, atomic_write_bytes, atomic_write_json, atomic_write_jsonl

# part codes of a drawing layer (0 = not drawn)
BODY, DARK, GLASS, ACCENT, WHITE, RED, AMBER, GREEN = range(1, 9)
_FIXED_PART_COLOURS = {DARK: (35, 35, 38), GLASS: (165, 195, 215), WHITE: (245, 245, 240),
                       RED: (215, 35, 30), AMBER: (240, 175, 20), GREEN: (40, 190, 80)}
MIN_SEGMENT_AREA = 24  # smaller remnants of occluded segments become void


@dataclass(frozen=True)
class Style:
    """How a category looks: body colours (one per image or instance), accent, texture."""

    colours: tuple[tuple[int, int, int], ...]
    texture: str = "smooth"
    strength: float = 0.12
    scale: int = 8
    accent: tuple[int, int, int] = (200, 160, 130)


# fmt: off
STYLES: dict[str, Style] = {
    "road": Style(((88, 86, 92), (100, 98, 100)), "grain", 0.10),
    "sidewalk": Style(((190, 175, 170), (205, 190, 180)), "checker", 0.07, 10),
    "building": Style(((150, 120, 100), (175, 165, 150), (120, 110, 120), (200, 190, 170)), "windows", 0.35, 14),
    "wall": Style(((170, 170, 160), (150, 140, 130)), "bricks", 0.18, 6),
    "fence": Style(((120, 100, 80), (160, 160, 165)), "vstripes", 0.25, 4),
    "pole": Style(((130, 130, 135), (95, 95, 100)), "plain", 0.05),
    "traffic light": Style(((40, 40, 40), (55, 60, 55)), "plain", 0.05),
    "traffic sign": Style(((30, 80, 190), (215, 40, 35)), "plain", 0.05),
    "vegetation": Style(((60, 120, 40), (80, 140, 50), (45, 100, 45)), "leaves", 0.45, 5, (90, 65, 40)),
    "terrain": Style(((150, 170, 90), (160, 150, 100)), "grain", 0.25),
    "sky": Style(((120, 170, 230), (150, 190, 235), (180, 190, 200)), "gradient", 0.25),
    "person": Style(((200, 40, 50), (40, 70, 160), (230, 200, 60), (60, 60, 60), (240, 240, 240)), "plain", 0.06),
    "rider": Style(((250, 120, 20), (20, 150, 140), (150, 40, 160)), "plain", 0.06),
    "car": Style(((0, 40, 150), (180, 20, 30), (220, 220, 225), (25, 25, 30), (140, 145, 150)), "plain", 0.05, 8, (250, 230, 150)),
    "truck": Style(((230, 230, 230), (60, 100, 60), (200, 120, 20)), "hstripes", 0.06, 12, (200, 40, 40)),
    "bus": Style(((240, 190, 30), (30, 110, 180), (200, 30, 40)), "plain", 0.05, 8, (255, 255, 255)),
    "train": Style(((210, 215, 225), (40, 90, 160)), "hstripes", 0.05, 16, (220, 30, 30)),
    "motorcycle": Style(((30, 30, 30), (180, 20, 20), (60, 60, 160)), "plain", 0.05, 8, (190, 190, 200)),
    "bicycle": Style(((20, 90, 200), (200, 30, 60), (30, 160, 60)), "plain", 0.03),
    "floor": Style(((150, 105, 65), (190, 180, 170), (120, 80, 60)), "planks", 0.18, 12),
    "tree": Style(((40, 110, 35), (70, 130, 40)), "leaves", 0.5, 4, (100, 70, 40)),
    "ceiling": Style(((235, 232, 225), (220, 215, 205)), "smooth", 0.04, 30),
    "bed": Style(((140, 90, 50), (90, 60, 40)), "smooth", 0.05, 8, (120, 150, 210)),
    "window": Style(((245, 245, 245), (130, 90, 55)), "plain", 0.03),
    "grass": Style(((70, 160, 50), (100, 170, 60)), "grain", 0.35),
    "cabinet": Style(((160, 110, 70), (225, 225, 220), (110, 75, 50)), "vstripes", 0.04, 20, (200, 200, 200)),
    "door": Style(((120, 75, 45), (230, 230, 225), (150, 50, 40)), "smooth", 0.05, 10, (0, 0, 0)),
    "table": Style(((130, 85, 50), (90, 60, 35), (220, 220, 220)), "planks", 0.08, 6),
    "mountain": Style(((110, 115, 135), (120, 110, 95)), "smooth", 0.3, 6, (240, 240, 250)),
    "plant": Style(((30, 140, 60), (60, 150, 40)), "leaves", 0.5, 3, (180, 90, 50)),
    "curtain": Style(((170, 30, 50), (225, 200, 150), (60, 90, 150)), "vstripes", 0.3, 5),
    "chair": Style(((170, 60, 30), (90, 60, 40), (60, 60, 65)), "plain", 0.05),
    "water": Style(((40, 110, 170), (50, 130, 150)), "waves", 0.2, 5),
    "painting": Style(((190, 150, 60), (60, 40, 30)), "plain", 0.05, 8, (70, 100, 160)),
    "sofa": Style(((120, 120, 130), (150, 60, 50), (60, 90, 70)), "smooth", 0.1, 5, (200, 200, 190)),
    "shelf": Style(((185, 140, 90), (240, 240, 240)), "plain", 0.05),
    "sea": Style(((20, 70, 140), (30, 90, 150)), "waves", 0.3, 7),
    "mirror": Style(((200, 170, 90), (60, 50, 45)), "plain", 0.05),
    "rug": Style(((150, 40, 40), (60, 70, 130), (190, 150, 80)), "checker", 0.25, 5, (230, 210, 160)),
    "rock": Style(((125, 120, 115), (100, 95, 90)), "grain", 0.35),
    "lamp": Style(((240, 225, 170), (230, 230, 230)), "plain", 0.04, 8, (60, 60, 60)),
    "bench": Style(((140, 95, 50), (40, 90, 50)), "hstripes", 0.2, 3),
    "boat": Style(((240, 240, 240), (170, 40, 30), (40, 70, 140)), "plain", 0.05),
    "street lamp": Style(((45, 50, 55), (80, 80, 85)), "plain", 0.04),
    "flower": Style(((230, 40, 80), (250, 200, 40), (180, 80, 200), (250, 250, 250)), "plain", 0.05),
    "clock": Style(((60, 40, 30), (180, 180, 185)), "plain", 0.03),
    "flag": Style(((200, 30, 40), (30, 60, 160), (30, 130, 60)), "plain", 0.04),
    "bottle": Style(((40, 120, 60), (110, 60, 20), (170, 200, 210)), "plain", 0.05),
}
# fmt: on


def _smooth_noise(shape: tuple[int, int], cell: int, rng: np.random.Generator) -> np.ndarray:
    """Noise in [-1, 1] that varies over about `cell` pixels (bilinear upsampling of a grid)."""
    h, w = shape
    grid = rng.uniform(0, 255, (h // cell + 2, w // cell + 2)).astype(np.uint8)
    big = Image.fromarray(grid).resize((w + 2 * cell, h + 2 * cell), Image.BILINEAR)
    return np.asarray(big, np.float32)[cell:cell + h, cell:cell + w] / 127.5 - 1.0


def texture(kind: str, shape: tuple[int, int], scale: int, rng: np.random.Generator) -> np.ndarray:
    """A texture field in [-1, 1] of one kind (smooth, grain, stripes, bricks, windows, ...)."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w]
    grain = rng.uniform(-1, 1, shape).astype(np.float32)
    if kind == "plain":
        return grain * 0.3
    if kind == "smooth":
        return _smooth_noise(shape, scale, rng)
    if kind == "grain":
        return 0.4 * _smooth_noise(shape, scale, rng) + 0.6 * grain
    if kind == "leaves":
        blobs = _smooth_noise(shape, scale, rng)
        return np.clip(1.8 * blobs + 0.4 * grain, -1, 1)
    if kind == "hstripes":
        return np.sin(2 * np.pi * yy / scale).astype(np.float32)
    if kind == "vstripes":
        return np.sin(2 * np.pi * (xx + rng.integers(scale)) / scale).astype(np.float32)
    if kind == "checker":
        return (((yy // scale + xx // scale) % 2) * 2 - 1).astype(np.float32) * 0.6 + 0.2 * grain
    if kind == "planks":
        plank = xx // scale
        shade = rng.uniform(-0.6, 0.6, plank.max() + 1)[plank]
        return np.where(xx % scale == 0, -1.0, shade + 0.2 * grain).astype(np.float32)
    if kind == "bricks":
        row = yy // scale
        mortar = (yy % scale == 0) | ((xx + (row % 2) * scale) % (2 * scale) == 0)
        return np.where(mortar, 1.0, 0.3 * grain).astype(np.float32)
    if kind == "windows":
        lit = rng.random(((h // scale) + 1, (w // scale) + 1)) < 0.3
        window = ((yy % scale) > scale * 0.35) & ((xx % scale) > scale * 0.4)
        values = np.where(lit[yy // scale, xx // scale], 0.8, -1.0)
        return np.where(window, values, 0.15 * grain).astype(np.float32)
    if kind == "waves":
        return np.sin(2 * np.pi * (yy + 2.5 * np.sin(2 * np.pi * xx / (5 * scale))) / scale).astype(np.float32)
    if kind == "gradient":
        return (yy / max(h - 1, 1) * 2 - 1 + 0.3 * _smooth_noise(shape, 24, rng)).astype(np.float32)
    raise ValueError(f"unknown texture {kind!r}")


class Scene:
    """A canvas being painted: colours, the segment-id map and each segment's category."""

    def __init__(self, vocabulary: Vocabulary, height: int, width: int, rng: np.random.Generator):
        self.vocabulary, self.height, self.width, self.rng = vocabulary, height, width, rng
        self.ids = np.zeros((height, width), np.uint32)
        self.rgb = np.zeros((height, width, 3), np.float32)
        self.categories: dict[int, int] = {}
        self.crowd: set[int] = set()
        self._stuff: dict[int, int] = {}
        self._stuff_colour: dict[str, tuple] = {}
        self._textures: dict[str, np.ndarray] = {}
        self._next_id = 1

    def layer(self) -> tuple[Image.Image, ImageDraw.ImageDraw]:
        """A blank part-code layer and its drawing context."""
        img = Image.new("L", (self.width, self.height), 0)
        return img, ImageDraw.Draw(img)

    def new_segment(self, name: str, crowd: bool = False) -> int:
        """A fresh segment id of category `name` (for a thing instance or a crowd)."""
        sid = self._next_id
        self._next_id += 1
        self.categories[sid] = self.vocabulary.by_name(name).id
        if crowd:
            self.crowd.add(sid)
        return sid

    def _segment_for(self, name: str) -> int:
        category = self.vocabulary.by_name(name)
        if category.isthing:
            return self.new_segment(name)
        if category.id not in self._stuff:  # stuff: one segment per category and image
            self._stuff[category.id] = self.new_segment(name)
        return self._stuff[category.id]

    def _texture(self, name: str) -> np.ndarray:
        if name not in self._textures:
            style = STYLES[name]
            self._textures[name] = texture(style.texture, (self.height, self.width), style.scale, self.rng)
        return self._textures[name]

    def body_colour(self, name: str) -> tuple[int, int, int]:
        """A body colour for a new instance (things) or the image's colour (stuff)."""
        style = STYLES[name]
        if self.vocabulary.by_name(name).isthing:
            return style.colours[self.rng.integers(len(style.colours))]
        if name not in self._stuff_colour:
            self._stuff_colour[name] = style.colours[self.rng.integers(len(style.colours))]
        return self._stuff_colour[name]

    def paint(self, name: str, layer: Image.Image, segment: int | None = None,
              colour: tuple[int, int, int] | None = None) -> int:
        """Paint every drawn pixel of `layer` as a segment of `name` (over what is there)."""
        codes = np.asarray(layer)
        drawn = codes > 0
        sid = segment if segment is not None else self._segment_for(name)
        if not drawn.any():
            return sid
        style = STYLES[name]
        body = np.array(colour or self.body_colour(name), np.float32)
        tex = self._texture(name)[drawn]
        parts = codes[drawn]
        out = body * (1 + style.strength * tex)[:, None]
        out[parts == ACCENT] = style.accent
        for code, rgb in _FIXED_PART_COLOURS.items():
            out[parts == code] = rgb
        self.rgb[drawn] = out
        self.ids[drawn] = sid
        return sid

    def void(self, layer: Image.Image, colour: tuple[int, int, int]) -> None:
        """Mark the drawn pixels of `layer` as void (id 0) with a colour."""
        drawn = np.asarray(layer) > 0
        self.ids[drawn] = 0
        self.rgb[drawn] = colour

    def image(self) -> np.ndarray:
        """The finished RGB image (with sensor noise and a global brightness)."""
        gain = self.rng.uniform(0.85, 1.1)
        noise = self.rng.normal(0, 3.0, self.rgb.shape)
        return np.clip(self.rgb * gain + noise, 0, 255).astype(np.uint8)

    def drop_small_segments(self) -> None:
        """Turn segments smaller than MIN_SEGMENT_AREA pixels into void."""
        ids, counts = np.unique(self.ids, return_counts=True)
        small = ids[(counts < MIN_SEGMENT_AREA) & (ids != 0)]
        if len(small):
            self.ids[np.isin(self.ids, small)] = 0


# --- shapes: each draws part codes on a layer; (x, y) is the bottom centre on the ground ---

def _box(x0, y0, x1, y1):
    return [min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)]


def draw_car(d: ImageDraw.ImageDraw, x: float, y: float, w: float) -> None:
    """Body, cabin with windows, wheels and lights."""
    h = 0.45 * w
    r = 0.12 * w
    d.rounded_rectangle(_box(x - w / 2, y - 0.6 * h, x + w / 2, y - 0.18 * h), radius=max(1, int(0.08 * h)), fill=BODY)
    d.polygon([(x - 0.32 * w, y - 0.58 * h), (x - 0.18 * w, y - h), (x + 0.2 * w, y - h), (x + 0.36 * w, y - 0.58 * h)], fill=BODY)
    d.polygon([(x - 0.27 * w, y - 0.62 * h), (x - 0.15 * w, y - 0.93 * h), (x + 0.17 * w, y - 0.93 * h), (x + 0.3 * w, y - 0.62 * h)], fill=GLASS)
    d.line([(x, y - 0.62 * h), (x, y - 0.95 * h)], fill=BODY, width=max(1, int(0.03 * w)))
    for cx in (x - 0.3 * w, x + 0.3 * w):
        d.ellipse(_box(cx - r, y - 2 * r, cx + r, y), fill=DARK)
        d.ellipse(_box(cx - 0.4 * r, y - 1.4 * r, cx + 0.4 * r, y - 0.6 * r), fill=WHITE)
    d.rectangle(_box(x + 0.44 * w, y - 0.5 * h, x + 0.5 * w, y - 0.38 * h), fill=ACCENT)
    d.rectangle(_box(x - 0.5 * w, y - 0.5 * h, x - 0.45 * w, y - 0.38 * h), fill=RED)


def draw_truck(d: ImageDraw.ImageDraw, x: float, y: float, w: float) -> None:
    """A cargo box, a cab with a window, three wheels."""
    h = 0.65 * w
    r = 0.09 * w
    d.rectangle(_box(x - w / 2, y - h, x + 0.22 * w, y - 0.22 * h), fill=BODY)
    d.rectangle(_box(x + 0.24 * w, y - 0.7 * h, x + w / 2, y - 0.22 * h), fill=ACCENT)
    d.rectangle(_box(x + 0.3 * w, y - 0.64 * h, x + 0.46 * w, y - 0.45 * h), fill=GLASS)
    for cx in (x - 0.35 * w, x - 0.15 * w, x + 0.35 * w):
        d.ellipse(_box(cx - r, y - 2 * r, cx + r, y), fill=DARK)


def draw_bus(d: ImageDraw.ImageDraw, x: float, y: float, w: float) -> None:
    """A long box with a row of windows, a door and wheels."""
    h = 0.42 * w
    r = 0.07 * w
    d.rounded_rectangle(_box(x - w / 2, y - h, x + w / 2, y - 0.15 * h), radius=max(1, int(0.08 * h)), fill=BODY)
    n = 6
    for i in range(n):
        x0 = x - 0.45 * w + i * 0.9 * w / n
        d.rectangle(_box(x0, y - 0.88 * h, x0 + 0.12 * w, y - 0.55 * h), fill=GLASS)
    d.rectangle(_box(x + 0.38 * w, y - 0.5 * h, x + 0.46 * w, y - 0.18 * h), fill=DARK)
    d.rectangle(_box(x - w / 2, y - 0.45 * h, x + w / 2, y - 0.38 * h), fill=ACCENT)
    for cx in (x - 0.32 * w, x + 0.3 * w):
        d.ellipse(_box(cx - r, y - 2 * r, cx + r, y), fill=DARK)


def draw_train(d: ImageDraw.ImageDraw, x: float, y: float, w: float) -> None:
    """Carriages with windows, a stripe and a sloped front."""
    h = 0.28 * w
    d.polygon([(x - w / 2, y - 0.1 * h), (x - w / 2, y - h), (x + 0.42 * w, y - h), (x + w / 2, y - 0.5 * h),
               (x + w / 2, y - 0.1 * h)], fill=BODY)
    for i in range(10):
        x0 = x - 0.47 * w + i * 0.088 * w
        d.rectangle(_box(x0, y - 0.85 * h, x0 + 0.055 * w, y - 0.6 * h), fill=GLASS)
    d.rectangle(_box(x - w / 2, y - 0.45 * h, x + w / 2, y - 0.35 * h), fill=ACCENT)
    for i in range(3):
        d.line([(x - w / 2 + (i + 1) * w / 4, y - h), (x - w / 2 + (i + 1) * w / 4, y - 0.1 * h)], fill=DARK, width=1)


def draw_motorcycle(d: ImageDraw.ImageDraw, x: float, y: float, w: float) -> None:
    """Two wheels, an engine body, a seat and handlebars."""
    r = 0.2 * w
    for cx in (x - 0.3 * w, x + 0.3 * w):
        d.ellipse(_box(cx - r, y - 2 * r, cx + r, y), fill=DARK)
        d.ellipse(_box(cx - 0.4 * r, y - 1.4 * r, cx + 0.4 * r, y - 0.6 * r), fill=ACCENT)
    d.polygon([(x - 0.25 * w, y - 0.35 * w), (x + 0.25 * w, y - 0.4 * w), (x + 0.15 * w, y - 0.15 * w),
               (x - 0.15 * w, y - 0.15 * w)], fill=BODY)
    d.rectangle(_box(x - 0.25 * w, y - 0.45 * w, x, y - 0.38 * w), fill=DARK)
    d.line([(x + 0.25 * w, y - 0.4 * w), (x + 0.32 * w, y - 0.55 * w)], fill=ACCENT, width=max(1, int(0.04 * w)))


def draw_bicycle(d: ImageDraw.ImageDraw, x: float, y: float, w: float) -> None:
    """Two spoked ring wheels and a triangular frame with saddle and handlebar."""
    r = 0.22 * w
    t = max(1, int(0.05 * w))
    rear, front = (x - 0.3 * w, y - r), (x + 0.3 * w, y - r)
    for cx, cy in (rear, front):
        d.ellipse(_box(cx - r, cy - r, cx + r, cy + r), outline=DARK, width=t)
        d.line([(cx - r, cy), (cx + r, cy)], fill=DARK, width=1)
        d.line([(cx, cy - r), (cx, cy + r)], fill=DARK, width=1)
    seat, bar, crank = (x - 0.1 * w, y - 0.6 * w), (x + 0.22 * w, y - 0.62 * w), (x, y - r)
    d.line([rear, seat, crank, rear], fill=BODY, width=t)
    d.line([seat, bar, crank], fill=BODY, width=t)
    d.line([bar, front], fill=BODY, width=t)
    d.rectangle(_box(seat[0] - 0.08 * w, seat[1] - 0.04 * w, seat[0] + 0.06 * w, seat[1]), fill=DARK)
    d.line([(bar[0] - 0.05 * w, bar[1] - 0.03 * w), (bar[0] + 0.08 * w, bar[1] - 0.06 * w)], fill=DARK, width=t)


def draw_person(d: ImageDraw.ImageDraw, x: float, y: float, h: float, rng: np.random.Generator) -> None:
    """A head (skin accent), clothed torso and arms, dark legs in a walking pose."""
    hw = 0.13 * h
    head = 0.075 * h
    d.ellipse(_box(x - head, y - h, x + head, y - h + 2 * head), fill=ACCENT)
    d.rounded_rectangle(_box(x - hw, y - h + 2 * head, x + hw, y - 0.45 * h), radius=max(1, int(0.03 * h)), fill=BODY)
    arm = max(1, int(0.05 * h))
    swing = rng.uniform(-0.08, 0.08) * h
    d.line([(x - hw, y - 0.8 * h), (x - hw - 0.04 * h + swing, y - 0.5 * h)], fill=BODY, width=arm)
    d.line([(x + hw, y - 0.8 * h), (x + hw + 0.04 * h - swing, y - 0.5 * h)], fill=BODY, width=arm)
    leg = max(1, int(0.08 * h))
    stride = rng.uniform(0, 0.12) * h
    d.line([(x - 0.05 * h, y - 0.45 * h), (x - 0.05 * h - stride, y)], fill=DARK, width=leg)
    d.line([(x + 0.05 * h, y - 0.45 * h), (x + 0.05 * h + stride, y)], fill=DARK, width=leg)


def draw_rider(d: ImageDraw.ImageDraw, x: float, y: float, w: float) -> None:
    """A seated person leaning forward over a two-wheeler of width `w` (y: ground)."""
    h = 0.9 * w
    head = 0.08 * h
    hip = (x - 0.1 * w, y - 0.58 * w)
    shoulder = (x + 0.05 * w, y - 0.58 * w - 0.45 * h)
    d.ellipse(_box(shoulder[0] - head, shoulder[1] - 2.2 * head, shoulder[0] + head * 1.2, shoulder[1] - 0.2 * head), fill=ACCENT)
    d.line([hip, shoulder], fill=BODY, width=max(2, int(0.16 * h)))
    d.line([shoulder, (x + 0.22 * w, y - 0.66 * w)], fill=BODY, width=max(1, int(0.05 * h)))
    d.line([hip, (x + 0.02 * w, y - 0.4 * w), (x, y - 0.22 * w)], fill=DARK, width=max(1, int(0.08 * h)))


def draw_pole(d: ImageDraw.ImageDraw, x: float, y: float, h: float) -> None:
    """A thin vertical post from the ground up to height h."""
    t = max(2, h / 40)
    d.rectangle(_box(x - t / 2, y - h, x + t / 2, y), fill=BODY)


def draw_traffic_light(d: ImageDraw.ImageDraw, x: float, top: float, s: float, lit: int) -> None:
    """A dark housing with three lamps (one lit) below `top`."""
    d.rectangle(_box(x - 0.2 * s, top, x + 0.2 * s, top + s), fill=BODY)
    for i, code in enumerate((RED, AMBER, GREEN)):
        cy = top + (i + 0.5) * s / 3
        d.ellipse(_box(x - 0.12 * s, cy - 0.12 * s, x + 0.12 * s, cy + 0.12 * s), fill=code if i == lit else DARK)


def draw_traffic_sign(d: ImageDraw.ImageDraw, x: float, top: float, s: float, kind: int) -> None:
    """A round, triangular or square sign plate with a white symbol."""
    if kind == 0:
        d.ellipse(_box(x - s / 2, top, x + s / 2, top + s), fill=BODY)
        d.rectangle(_box(x - 0.3 * s, top + 0.42 * s, x + 0.3 * s, top + 0.58 * s), fill=WHITE)
    elif kind == 1:
        d.polygon([(x, top), (x - s / 2, top + s), (x + s / 2, top + s)], fill=RED)
        d.polygon([(x, top + 0.3 * s), (x - 0.25 * s, top + 0.82 * s), (x + 0.25 * s, top + 0.82 * s)], fill=WHITE)
    else:
        d.rectangle(_box(x - s / 2, top, x + s / 2, top + s), fill=BODY)
        d.polygon([(x - 0.25 * s, top + 0.7 * s), (x, top + 0.25 * s), (x + 0.25 * s, top + 0.7 * s)], fill=WHITE)


def draw_tree(d: ImageDraw.ImageDraw, x: float, y: float, h: float, rng: np.random.Generator) -> None:
    """A trunk (accent) and a crown of overlapping leafy blobs."""
    d.rectangle(_box(x - 0.04 * h, y - 0.45 * h, x + 0.04 * h, y), fill=ACCENT)
    for _ in range(5):
        cx = x + rng.uniform(-0.22, 0.22) * h
        cy = y - h + rng.uniform(0.15, 0.45) * h
        r = rng.uniform(0.15, 0.25) * h
        d.ellipse(_box(cx - r, cy - r, cx + r, cy + r), fill=BODY)


def draw_fence(d: ImageDraw.ImageDraw, x0: float, x1: float, y: float, h: float) -> None:
    """Pickets with gaps between two rails."""
    step = max(4, h / 4)
    t = max(1, step / 2.5)
    px = x0
    while px < x1:
        d.rectangle(_box(px, y - h, px + t, y), fill=BODY)
        px += step
    d.rectangle(_box(x0, y - 0.8 * h, x1, y - 0.7 * h), fill=BODY)
    d.rectangle(_box(x0, y - 0.35 * h, x1, y - 0.25 * h), fill=BODY)


def draw_bed(d: ImageDraw.ImageDraw, x: float, y: float, w: float) -> None:
    """A wooden frame with a headboard, an accent bedspread and a white pillow."""
    h = 0.45 * w
    d.rectangle(_box(x - w / 2, y - h, x - 0.42 * w, y), fill=BODY)
    d.rectangle(_box(x - w / 2, y - 0.45 * h, x + w / 2, y), fill=BODY)
    d.rectangle(_box(x - 0.42 * w, y - 0.62 * h, x + w / 2, y - 0.35 * h), fill=ACCENT)
    d.ellipse(_box(x - 0.4 * w, y - 0.75 * h, x - 0.18 * w, y - 0.55 * h), fill=WHITE)


def draw_window(d: ImageDraw.ImageDraw, x0: float, y0: float, w: float, h: float) -> None:
    """A frame with four glass panes."""
    d.rectangle(_box(x0, y0, x0 + w, y0 + h), fill=BODY)
    t = max(1, 0.07 * w)
    for i in range(2):
        for j in range(2):
            d.rectangle(_box(x0 + t + i * w / 2, y0 + t + j * h / 2, x0 + (i + 1) * w / 2 - t / 2,
                             y0 + (j + 1) * h / 2 - t / 2), fill=GLASS)


def draw_cabinet(d: ImageDraw.ImageDraw, x0: float, y0: float, w: float, h: float) -> None:
    """A box with two doors and knobs."""
    d.rectangle(_box(x0, y0, x0 + w, y0 + h), fill=BODY)
    d.line([(x0 + w / 2, y0 + 2), (x0 + w / 2, y0 + h - 2)], fill=DARK, width=1)
    for kx in (x0 + w / 2 - 0.1 * w, x0 + w / 2 + 0.1 * w):
        d.ellipse(_box(kx - 0.03 * w, y0 + h / 2 - 0.03 * w, kx + 0.03 * w, y0 + h / 2 + 0.03 * w), fill=ACCENT)


def draw_door(d: ImageDraw.ImageDraw, x0: float, y0: float, w: float, h: float) -> None:
    """A tall panelled door with a knob."""
    d.rectangle(_box(x0, y0, x0 + w, y0 + h), fill=BODY)
    for j in range(2):
        d.rectangle(_box(x0 + 0.15 * w, y0 + 0.08 * h + j * 0.45 * h, x0 + 0.85 * w, y0 + 0.4 * h + j * 0.45 * h),
                    outline=DARK, width=1)
    d.ellipse(_box(x0 + 0.78 * w, y0 + 0.5 * h, x0 + 0.88 * w, y0 + 0.5 * h + 0.1 * w), fill=AMBER)


def draw_table(d: ImageDraw.ImageDraw, x: float, y: float, w: float) -> None:
    """A top board on four legs."""
    h = 0.45 * w
    d.rectangle(_box(x - w / 2, y - h, x + w / 2, y - 0.88 * h), fill=BODY)
    t = max(2, 0.05 * w)
    for lx in (x - 0.45 * w, x - 0.25 * w, x + 0.25 * w, x + 0.45 * w):
        d.rectangle(_box(lx - t / 2, y - 0.9 * h, lx + t / 2, y), fill=BODY)


def draw_curtain(d: ImageDraw.ImageDraw, x0: float, y0: float, w: float, h: float) -> None:
    """A tall drape with a wavy hem (its folds come from the category's stripes)."""
    n = 5
    hem = [(x0 + w * i / n, y0 + h - (0.05 * h if i % 2 else 0)) for i in range(n + 1)]
    d.polygon([(x0, y0), (x0 + w, y0), *hem[::-1]], fill=BODY)


def draw_chair(d: ImageDraw.ImageDraw, x: float, y: float, w: float) -> None:
    """A seat, a backrest and dark legs."""
    h = 1.6 * w
    d.rectangle(_box(x - w / 2, y - 0.55 * h, x + w / 2, y - 0.48 * h), fill=BODY)
    d.rectangle(_box(x - w / 2, y - h, x - 0.35 * w, y - 0.5 * h), fill=BODY)
    t = max(1, 0.08 * w)
    for lx in (x - 0.45 * w, x + 0.45 * w):
        d.rectangle(_box(lx - t / 2, y - 0.5 * h, lx + t / 2, y), fill=DARK)


def draw_painting(d: ImageDraw.ImageDraw, x0: float, y0: float, w: float, h: float, rng: np.random.Generator) -> None:
    """A golden frame around a colourful picture."""
    d.rectangle(_box(x0, y0, x0 + w, y0 + h), fill=BODY)
    t = max(2, 0.1 * min(w, h))
    d.rectangle(_box(x0 + t, y0 + t, x0 + w - t, y0 + h - t), fill=ACCENT)
    for code in (RED, AMBER, GREEN, WHITE):
        cx, cy = x0 + rng.uniform(0.3, 0.7) * w, y0 + rng.uniform(0.3, 0.7) * h
        r = rng.uniform(0.08, 0.2) * min(w, h)
        d.ellipse(_box(cx - r, cy - r, cx + r, cy + r), fill=code)


def draw_sofa(d: ImageDraw.ImageDraw, x: float, y: float, w: float) -> None:
    """A base, a backrest, two armrests and light cushions."""
    h = 0.5 * w
    d.rectangle(_box(x - 0.45 * w, y - h, x + 0.45 * w, y - 0.5 * h), fill=BODY)
    d.rectangle(_box(x - w / 2, y - 0.6 * h, x + w / 2, y - 0.1 * h), fill=BODY)
    d.rounded_rectangle(_box(x - w / 2, y - 0.75 * h, x - 0.4 * w, y - 0.1 * h), radius=2, fill=BODY)
    d.rounded_rectangle(_box(x + 0.4 * w, y - 0.75 * h, x + w / 2, y - 0.1 * h), radius=2, fill=BODY)
    for cx in (x - 0.2 * w, x + 0.2 * w):
        d.rectangle(_box(cx - 0.18 * w, y - 0.62 * h, cx + 0.18 * w, y - 0.45 * h), fill=ACCENT)
    d.rectangle(_box(x - 0.45 * w, y - 0.1 * h, x - 0.4 * w, y), fill=DARK)
    d.rectangle(_box(x + 0.4 * w, y - 0.1 * h, x + 0.45 * w, y), fill=DARK)


def draw_shelf(d: ImageDraw.ImageDraw, x0: float, y0: float, w: float, h: float) -> None:
    """Side boards and three horizontal boards."""
    t = max(2, 0.06 * h)
    d.rectangle(_box(x0, y0, x0 + t, y0 + h), fill=BODY)
    d.rectangle(_box(x0 + w - t, y0, x0 + w, y0 + h), fill=BODY)
    for j in range(3):
        yb = y0 + j * (h - t) / 2
        d.rectangle(_box(x0, yb, x0 + w, yb + t), fill=BODY)


def draw_mirror(d: ImageDraw.ImageDraw, x0: float, y0: float, w: float, h: float) -> None:
    """An oval frame around a glass."""
    d.ellipse(_box(x0, y0, x0 + w, y0 + h), fill=BODY)
    t = max(2, 0.08 * w)
    d.ellipse(_box(x0 + t, y0 + t, x0 + w - t, y0 + h - t), fill=GLASS)
    d.line([(x0 + 0.3 * w, y0 + 0.3 * h), (x0 + 0.45 * w, y0 + 0.15 * h)], fill=WHITE, width=max(1, int(t / 2)))


def draw_lamp(d: ImageDraw.ImageDraw, x: float, y: float, h: float) -> None:
    """A shade on a thin stand with a base."""
    d.polygon([(x - 0.12 * h, y - 0.7 * h), (x - 0.2 * h, y - 0.45 * h), (x + 0.2 * h, y - 0.45 * h),
               (x + 0.12 * h, y - 0.7 * h)], fill=BODY)
    d.rectangle(_box(x - max(1, 0.02 * h), y - 0.45 * h, x + max(1, 0.02 * h), y), fill=ACCENT)
    d.ellipse(_box(x - 0.12 * h, y - 0.05 * h, x + 0.12 * h, y), fill=ACCENT)


def draw_clock(d: ImageDraw.ImageDraw, cx: float, cy: float, r: float) -> None:
    """A round frame, a white face and two hands."""
    d.ellipse(_box(cx - r, cy - r, cx + r, cy + r), fill=BODY)
    d.ellipse(_box(cx - 0.8 * r, cy - 0.8 * r, cx + 0.8 * r, cy + 0.8 * r), fill=WHITE)
    d.line([(cx, cy), (cx, cy - 0.65 * r)], fill=DARK, width=max(1, int(0.1 * r)))
    d.line([(cx, cy), (cx + 0.45 * r, cy + 0.1 * r)], fill=DARK, width=max(1, int(0.1 * r)))


def draw_bottle(d: ImageDraw.ImageDraw, x: float, y: float, h: float) -> None:
    """A glass body, a neck and a red cap."""
    d.rounded_rectangle(_box(x - 0.15 * h, y - 0.62 * h, x + 0.15 * h, y), radius=max(1, int(0.05 * h)), fill=BODY)
    d.rectangle(_box(x - 0.06 * h, y - 0.92 * h, x + 0.06 * h, y - 0.6 * h), fill=BODY)
    d.rectangle(_box(x - 0.07 * h, y - h, x + 0.07 * h, y - 0.92 * h), fill=RED)
    d.rectangle(_box(x - 0.15 * h, y - 0.4 * h, x + 0.15 * h, y - 0.25 * h), fill=WHITE)


def draw_flower(d: ImageDraw.ImageDraw, x: float, y: float, h: float) -> None:
    """A green stem with petals around an amber centre."""
    d.line([(x, y), (x, y - 0.7 * h)], fill=GREEN, width=max(1, int(0.06 * h)))
    cy = y - 0.8 * h
    r = 0.12 * h
    for a in np.linspace(0, 2 * np.pi, 6, endpoint=False):
        px, py = x + 1.1 * r * np.cos(a), cy + 1.1 * r * np.sin(a)
        d.ellipse(_box(px - r, py - r, px + r, py + r), fill=BODY)
    d.ellipse(_box(x - 0.7 * r, cy - 0.7 * r, x + 0.7 * r, cy + 0.7 * r), fill=AMBER)


def draw_flag(d: ImageDraw.ImageDraw, x0: float, y0: float, w: float) -> None:
    """A three-band flag."""
    h = 0.6 * w
    for i, code in enumerate((BODY, WHITE, BODY)):
        d.rectangle(_box(x0, y0 + i * h / 3, x0 + w, y0 + (i + 1) * h / 3), fill=code)


def draw_bench(d: ImageDraw.ImageDraw, x: float, y: float, w: float) -> None:
    """Seat and back slats on dark legs."""
    h = 0.45 * w
    for j in range(2):
        d.rectangle(_box(x - w / 2, y - h + j * 0.2 * h, x + w / 2, y - h + j * 0.2 * h + 0.12 * h), fill=BODY)
    d.rectangle(_box(x - w / 2, y - 0.5 * h, x + w / 2, y - 0.38 * h), fill=BODY)
    t = max(1, 0.04 * w)
    for lx in (x - 0.42 * w, x + 0.42 * w):
        d.rectangle(_box(lx - t, y - 0.5 * h, lx + t, y), fill=DARK)


def draw_boat(d: ImageDraw.ImageDraw, x: float, y: float, w: float, sail: bool) -> None:
    """A hull, a white cabin, and a mast with a sail or a dark stripe."""
    h = 0.3 * w
    d.polygon([(x - w / 2, y - h), (x + w / 2, y - h), (x + 0.35 * w, y), (x - 0.4 * w, y)], fill=BODY)
    if sail:
        d.line([(x, y - h), (x, y - 2.5 * h)], fill=DARK, width=max(1, int(0.02 * w)))
        d.polygon([(x + 2, y - 2.4 * h), (x + 2, y - 1.1 * h), (x + 0.35 * w, y - 1.1 * h)], fill=WHITE)
    else:
        d.rectangle(_box(x - 0.2 * w, y - 1.7 * h, x + 0.15 * w, y - h), fill=WHITE)
        d.rectangle(_box(x - w / 2, y - 0.8 * h, x + w / 2, y - 0.65 * h), fill=DARK)


def draw_street_lamp(d: ImageDraw.ImageDraw, x: float, y: float, h: float) -> None:
    """A post with an arm and a lit lamp head."""
    t = max(2, h / 35)
    d.rectangle(_box(x - t / 2, y - h, x + t / 2, y), fill=BODY)
    d.line([(x, y - h), (x + 0.18 * h, y - h)], fill=BODY, width=int(t))
    d.ellipse(_box(x + 0.12 * h, y - h, x + 0.26 * h, y - 0.95 * h), fill=AMBER)


def draw_plant(d: ImageDraw.ImageDraw, x: float, y: float, h: float, rng: np.random.Generator) -> None:
    """A pot (accent) with leafy blobs."""
    d.polygon([(x - 0.2 * h, y - 0.3 * h), (x + 0.2 * h, y - 0.3 * h), (x + 0.14 * h, y), (x - 0.14 * h, y)], fill=ACCENT)
    for _ in range(5):
        cx = x + rng.uniform(-0.25, 0.25) * h
        cy = y - rng.uniform(0.45, 0.85) * h
        r = rng.uniform(0.12, 0.2) * h
        d.ellipse(_box(cx - r, cy - r, cx + r, cy + r), fill=BODY)


# --- scenes --------------------------------------------------------------------------------

def _layer_draw(scene: Scene, name: str, draw: Callable[[ImageDraw.ImageDraw], None],
                segment: int | None = None, colour=None) -> int:
    img, d = scene.layer()
    draw(d)
    return scene.paint(name, img, segment=segment, colour=colour)


def _void_clutter(scene: Scene, rng: np.random.Generator, ego_hood: bool) -> None:
    """A few void pixels: an optional ego-vehicle hood and small clutter blobs."""
    h, w = scene.height, scene.width
    img, d = scene.layer()
    if ego_hood:
        d.ellipse(_box(-0.2 * w, h - rng.uniform(0.06, 0.12) * h, 1.2 * w, h + 0.3 * h), fill=1)
        scene.void(img, (25, 25, 30))
        img, d = scene.layer()
    for _ in range(rng.integers(1, 4)):
        cx, cy, r = rng.uniform(0, w), rng.uniform(0.3 * h, h), rng.uniform(0.01, 0.03) * w
        d.ellipse(_box(cx - r, cy - 0.6 * r, cx + r, cy + 0.6 * r), fill=1)
    scene.void(img, tuple(int(v) for v in rng.integers(60, 160, 3)))


def _ground_scale(y: float, horizon: float, height: int) -> float:
    """Perspective: object size factor at ground row y (0 at the horizon, 1 at the bottom)."""
    return max(0.05, (y - horizon) / (height - horizon))


def _skyline(scene: Scene, rng: np.random.Generator, horizon: float, name: str = "building") -> None:
    h, w = scene.height, scene.width
    x = -rng.uniform(0, 0.1) * w
    while x < w:
        bw = rng.uniform(0.12, 0.3) * w
        top = rng.uniform(0.05, 0.6) * horizon
        colour = STYLES[name].colours[rng.integers(len(STYLES[name].colours))]
        _layer_draw(scene, name, lambda d: d.rectangle(_box(x, top, x + bw, horizon + 0.08 * h), fill=BODY),
                    colour=colour)
        x += bw * rng.uniform(0.85, 1.0)


def city_street(scene: Scene, rng: np.random.Generator) -> None:
    """A Cityscapes-like street: sky, buildings, vegetation, road, sidewalks, vehicles, people."""
    h, w = scene.height, scene.width
    horizon = rng.uniform(0.38, 0.5) * h
    vx = w * rng.uniform(0.35, 0.65)
    _layer_draw(scene, "sky", lambda d: d.rectangle(_box(0, 0, w, horizon + 2), fill=BODY))
    _skyline(scene, rng, horizon)
    for _ in range(rng.integers(1, 4)):
        tx = rng.uniform(0, w)
        th = rng.uniform(0.25, 0.5) * h
        _layer_draw(scene, "vegetation", lambda d: draw_tree(d, tx, horizon + 0.1 * h, th, rng))
    # ground: sidewalks on both sides of a road converging to the vanishing point
    _layer_draw(scene, "sidewalk", lambda d: d.rectangle(_box(0, horizon, w, h), fill=BODY))
    left, right = -rng.uniform(0.0, 0.25) * w, w * (1 + rng.uniform(0.0, 0.25))
    _layer_draw(scene, "road", lambda d: d.polygon([(vx - 4, horizon), (vx + 4, horizon), (right, h), (left, h)], fill=BODY))
    if rng.random() < 0.7:
        side = rng.random() < 0.5
        _layer_draw(scene, "terrain", lambda d: d.polygon(
            [(0 if side else w, horizon + 0.15 * h), (0.12 * w if side else 0.88 * w, horizon + 0.15 * h),
             (0 if side else w, h)], fill=BODY))
    if rng.random() < 0.5:
        wx = rng.uniform(0, 0.7) * w
        _layer_draw(scene, "wall", lambda d: d.rectangle(_box(wx, horizon - 0.08 * h, wx + 0.25 * w, horizon + 0.06 * h), fill=BODY))
    if rng.random() < 0.6:
        fx = rng.uniform(0, 0.7) * w
        _layer_draw(scene, "fence", lambda d: draw_fence(d, fx, fx + 0.25 * w, horizon + 0.1 * h, 0.09 * h))
    # street furniture on the sidewalks: poles carrying signs and lights
    for _ in range(rng.integers(1, 4)):
        px = rng.choice([rng.uniform(0.02, 0.2), rng.uniform(0.8, 0.98)]) * w
        py = horizon + rng.uniform(0.1, 0.35) * h
        ph = 0.9 * _ground_scale(py, horizon, h) * h + 0.1 * h
        _layer_draw(scene, "pole", lambda d: draw_pole(d, px, py, ph))
        s = max(5, 0.12 * ph)
        if rng.random() < 0.5:
            lit = int(rng.integers(3))
            _layer_draw(scene, "traffic light", lambda d: draw_traffic_light(d, px, py - ph - 0.5 * s, 1.4 * s, lit))
        else:
            kind = int(rng.integers(3))
            _layer_draw(scene, "traffic sign", lambda d: draw_traffic_sign(d, px, py - ph - 0.3 * s, s, kind))
    # things, painted far to near so that near ones occlude far ones
    things: list[tuple[float, Callable[[], None]]] = []
    for _ in range(rng.integers(2, 6)):
        kind = rng.choice(["car", "car", "car", "truck", "bus", "train"], p=[.3, .25, .2, .1, .1, .05])
        y = horizon + rng.uniform(0.1, 0.55) * (h - horizon)
        s = _ground_scale(y, horizon, h)
        x = vx + rng.uniform(-0.7, 0.7) * s * w
        size = {"car": 0.4, "truck": 0.55, "bus": 0.75, "train": 1.1}[kind] * s * w
        drawer = {"car": draw_car, "truck": draw_truck, "bus": draw_bus, "train": draw_train}[kind]
        things.append((y, lambda k=kind, dr=drawer, x=x, y=y, sz=size: _layer_draw(scene, k, lambda d: dr(d, x, y, sz))))
    for _ in range(rng.integers(1, 5)):
        y = horizon + rng.uniform(0.1, 0.6) * (h - horizon)
        s = _ground_scale(y, horizon, h)
        x = rng.choice([rng.uniform(0.02, 0.25), rng.uniform(0.75, 0.98)]) * w
        ph = 0.75 * s * h + 6
        things.append((y, lambda x=x, y=y, ph=ph: _layer_draw(scene, "person", lambda d: draw_person(d, x, y, ph, rng))))
    for _ in range(rng.integers(0, 3)):
        y = horizon + rng.uniform(0.15, 0.6) * (h - horizon)
        s = _ground_scale(y, horizon, h)
        x = vx + rng.uniform(-0.5, 0.5) * s * w
        bw = 0.3 * s * w + 6
        vehicle = rng.choice(["bicycle", "motorcycle"])
        drawer = draw_bicycle if vehicle == "bicycle" else draw_motorcycle
        ridden = rng.random() < 0.7

        def ride(x=x, y=y, bw=bw, vehicle=vehicle, drawer=drawer, ridden=ridden):
            _layer_draw(scene, vehicle, lambda d: drawer(d, x, y, bw))
            if ridden:
                _layer_draw(scene, "rider", lambda d: draw_rider(d, x, y, bw))
        things.append((y, ride))
    if rng.random() < 0.4:  # a crowd of pedestrians: one iscrowd segment
        y = horizon + rng.uniform(0.05, 0.2) * (h - horizon)
        s = _ground_scale(y, horizon, h)
        x0 = rng.uniform(0.05, 0.7) * w

        def crowd(x0=x0, y=y, s=s):
            sid = scene.new_segment("person", crowd=True)
            colour = STYLES["person"].colours[0]
            for i in range(int(rng.integers(3, 7))):
                _layer_draw(scene, "person", lambda d, i=i: draw_person(d, x0 + i * 0.03 * w, y + rng.uniform(-2, 2),
                                                                         0.75 * s * h + 6, rng), segment=sid, colour=colour)
        things.append((y, crowd))
    for _, paint in sorted(things, key=lambda t: t[0]):
        paint()
    _void_clutter(scene, rng, ego_hood=rng.random() < 0.5)


def ade_room(scene: Scene, rng: np.random.Generator) -> None:
    """An indoor room: ceiling, walls, floor, rug, window, furniture, decorations, people."""
    h, w = scene.height, scene.width
    ceil, floor = rng.uniform(0.1, 0.2) * h, rng.uniform(0.6, 0.72) * h
    _layer_draw(scene, "ceiling", lambda d: d.rectangle(_box(0, 0, w, ceil), fill=BODY))
    _layer_draw(scene, "wall", lambda d: d.rectangle(_box(0, ceil, w, floor), fill=BODY),
                colour=(200, 190, 170) if rng.random() < 0.5 else (170, 185, 200))
    _layer_draw(scene, "floor", lambda d: d.rectangle(_box(0, floor, w, h), fill=BODY))
    if rng.random() < 0.6:
        rx = rng.uniform(0.1, 0.5) * w
        _layer_draw(scene, "rug", lambda d: d.polygon([(rx, floor + 0.1 * h), (rx + 0.4 * w, floor + 0.1 * h),
                                                       (rx + 0.5 * w, h - 0.05 * h), (rx - 0.1 * w, h - 0.05 * h)], fill=BODY))
    wx = rng.uniform(0.05, 0.6) * w
    ww, wh = rng.uniform(0.18, 0.3) * w, rng.uniform(0.25, 0.35) * h
    _layer_draw(scene, "window", lambda d: draw_window(d, wx, ceil + 0.08 * h, ww, wh))
    if rng.random() < 0.7:
        for cx in (wx - 0.07 * w, wx + ww):
            _layer_draw(scene, "curtain", lambda d, cx=cx: draw_curtain(d, cx, ceil + 0.03 * h, 0.08 * w, wh + 0.12 * h))
    decorations = [("painting", lambda d, x, y: draw_painting(d, x, y, 0.14 * w, 0.12 * h, rng)),
                   ("mirror", lambda d, x, y: draw_mirror(d, x, y, 0.08 * w, 0.16 * h)),
                   ("clock", lambda d, x, y: draw_clock(d, x + 0.04 * w, y + 0.05 * h, 0.04 * w)),
                   ("shelf", lambda d, x, y: draw_shelf(d, x, y, 0.16 * w, 0.14 * h))]
    for i in rng.permutation(len(decorations))[: rng.integers(1, 4)]:
        name, draw = decorations[i]
        x, y = rng.uniform(0.02, 0.85) * w, ceil + rng.uniform(0.05, 0.2) * h
        _layer_draw(scene, name, lambda d, draw=draw, x=x, y=y: draw(d, x, y))
    if rng.random() < 0.6:
        dx = rng.choice([0.02, 0.82]) * w
        _layer_draw(scene, "door", lambda d: draw_door(d, dx, floor - 0.45 * h, 0.13 * w, 0.45 * h))
    furniture = [("bed", draw_bed, 0.5), ("sofa", draw_sofa, 0.45), ("cabinet", None, 0.2), ("table", draw_table, 0.3),
                 ("chair", draw_chair, 0.1), ("chair", draw_chair, 0.1), ("lamp", draw_lamp, 0.3), ("plant", None, 0.2)]
    items: list[tuple[float, Callable[[], None]]] = []
    for i in rng.permutation(len(furniture))[: rng.integers(3, 7)]:
        name, drawer, size = furniture[i]
        y = floor + rng.uniform(0.05, 0.9) * (h - floor)
        x = rng.uniform(0.1, 0.9) * w
        s = 0.6 + 0.6 * (y - floor) / (h - floor)
        if name == "cabinet":
            paint = lambda x=x, y=y, s=s: _layer_draw(scene, "cabinet", lambda d: draw_cabinet(d, x - 0.1 * w * s, y - 0.3 * h * s, 0.2 * w * s, 0.3 * h * s))
        elif name == "plant":
            paint = lambda x=x, y=y, s=s: _layer_draw(scene, "plant", lambda d: draw_plant(d, x, y, 0.3 * h * s, rng))
        elif name == "lamp":
            paint = lambda x=x, y=y, s=s: _layer_draw(scene, "lamp", lambda d: draw_lamp(d, x, y, 0.4 * h * s))
        else:
            paint = lambda name=name, drawer=drawer, x=x, y=y, sz=size * s * w: _layer_draw(scene, name, lambda d: drawer(d, x, y, sz))
        items.append((y, paint))
        if name == "table":
            for k in range(int(rng.integers(0, 3))):
                bx = x + (k - 0.5) * 0.08 * w * s
                top = y - 0.45 * size * s * w
                item = rng.choice(["bottle", "flower"])
                drawer2 = draw_bottle if item == "bottle" else draw_flower
                items.append((y + 0.01 + k * 1e-3, lambda item=item, dr=drawer2, bx=bx, top=top, s=s:
                              _layer_draw(scene, item, lambda d: dr(d, bx, top, 0.1 * h * s))))
    for _ in range(rng.integers(0, 3)):
        y = floor + rng.uniform(0.1, 0.9) * (h - floor)
        x = rng.uniform(0.1, 0.9) * w
        items.append((y, lambda x=x, y=y: _layer_draw(scene, "person", lambda d: draw_person(d, x, y, 0.6 * h, rng))))
    for _, paint in sorted(items, key=lambda t: t[0]):
        paint()
    _void_clutter(scene, rng, ego_hood=False)


def ade_street(scene: Scene, rng: np.random.Generator) -> None:
    """An outdoor street with ADE20K categories: buildings, trees, road, vehicles, lamps, flags."""
    h, w = scene.height, scene.width
    horizon = rng.uniform(0.45, 0.55) * h
    _layer_draw(scene, "sky", lambda d: d.rectangle(_box(0, 0, w, horizon + 2), fill=BODY))
    _skyline(scene, rng, horizon)
    for _ in range(rng.integers(1, 4)):
        tx, th = rng.uniform(0, w), rng.uniform(0.3, 0.5) * h
        _layer_draw(scene, "tree", lambda d: draw_tree(d, tx, horizon + 0.12 * h, th, rng))
    _layer_draw(scene, "sidewalk", lambda d: d.rectangle(_box(0, horizon, w, h), fill=BODY))
    _layer_draw(scene, "road", lambda d: d.polygon([(0.45 * w, horizon), (0.55 * w, horizon), (1.1 * w, h), (-0.1 * w, h)], fill=BODY))
    if rng.random() < 0.5:
        _layer_draw(scene, "grass", lambda d: d.polygon([(0, horizon + 0.1 * h), (0.15 * w, horizon + 0.1 * h), (0, h)], fill=BODY))
    items: list[tuple[float, Callable[[], None]]] = []
    for _ in range(rng.integers(1, 4)):
        y = horizon + rng.uniform(0.1, 0.6) * (h - horizon)
        s = _ground_scale(y, horizon, h)
        kind = rng.choice(["car", "car", "bus", "truck"])
        x = w * (0.5 + rng.uniform(-0.4, 0.4) * s)
        size = {"car": 0.4, "bus": 0.75, "truck": 0.55}[kind] * s * w
        drawer = {"car": draw_car, "bus": draw_bus, "truck": draw_truck}[kind]
        items.append((y, lambda k=kind, dr=drawer, x=x, y=y, sz=size: _layer_draw(scene, k, lambda d: dr(d, x, y, sz))))
    for _ in range(rng.integers(1, 4)):
        y = horizon + rng.uniform(0.1, 0.7) * (h - horizon)
        s = _ground_scale(y, horizon, h)
        x = rng.choice([rng.uniform(0.02, 0.2), rng.uniform(0.8, 0.98)]) * w
        items.append((y, lambda x=x, y=y, s=s: _layer_draw(scene, "person", lambda d: draw_person(d, x, y, 0.7 * s * h + 6, rng))))
    for _ in range(rng.integers(0, 3)):
        y = horizon + rng.uniform(0.1, 0.5) * (h - horizon)
        s = _ground_scale(y, horizon, h)
        x = rng.uniform(0.02, 0.98) * w
        furniture = rng.choice(["street lamp", "bench", "bicycle", "traffic light", "flag"])
        if furniture == "street lamp":
            paint = lambda x=x, y=y, s=s: _layer_draw(scene, "street lamp", lambda d: draw_street_lamp(d, x, y, 0.8 * s * h + 10))
        elif furniture == "bench":
            paint = lambda x=x, y=y, s=s: _layer_draw(scene, "bench", lambda d: draw_bench(d, x, y, 0.3 * s * w + 6))
        elif furniture == "bicycle":
            paint = lambda x=x, y=y, s=s: _layer_draw(scene, "bicycle", lambda d: draw_bicycle(d, x, y, 0.3 * s * w + 6))
        else:
            ph = 0.8 * s * h + 10

            def paint(x=x, y=y, ph=ph, what=furniture):
                _layer_draw(scene, "pole", lambda d: draw_pole(d, x, y, ph))
                if what == "flag":
                    _layer_draw(scene, "flag", lambda d: draw_flag(d, x + 1, y - ph, 0.2 * ph))
                else:
                    lit = int(rng.integers(3))
                    _layer_draw(scene, "traffic light", lambda d: draw_traffic_light(d, x, y - ph - 0.2 * ph, 0.2 * ph, lit))
        items.append((y, paint))
    if rng.random() < 0.3:
        y = horizon + 0.1 * (h - horizon)
        x0 = rng.uniform(0.1, 0.6) * w

        def crowd(x0=x0, y=y):
            sid = scene.new_segment("person", crowd=True)
            for i in range(int(rng.integers(3, 6))):
                _layer_draw(scene, "person", lambda d, i=i: draw_person(d, x0 + i * 0.035 * w, y, 0.12 * h, rng), segment=sid)
        items.append((y, crowd))
    for _, paint in sorted(items, key=lambda t: t[0]):
        paint()
    _void_clutter(scene, rng, ego_hood=False)


def ade_landscape(scene: Scene, rng: np.random.Generator) -> None:
    """A landscape: sky, mountains, sea or lake, rocks, grass, trees, boats, people, a fence."""
    h, w = scene.height, scene.width
    horizon = rng.uniform(0.35, 0.5) * h
    _layer_draw(scene, "sky", lambda d: d.rectangle(_box(0, 0, w, horizon + 2), fill=BODY))
    ridge = [(0, horizon + 1)] + [(x, horizon - rng.uniform(0.05, 0.3) * h) for x in np.linspace(0, w, 7)] + [(w, horizon + 1)]
    _layer_draw(scene, "mountain", lambda d: d.polygon(ridge, fill=BODY))
    water = "sea" if rng.random() < 0.5 else "water"
    shore = horizon + rng.uniform(0.2, 0.35) * (h - horizon)
    _layer_draw(scene, water, lambda d: d.rectangle(_box(0, horizon, w, shore), fill=BODY))
    _layer_draw(scene, "grass", lambda d: d.polygon([(0, shore), (w, shore - rng.uniform(0, 0.05) * h), (w, h), (0, h)], fill=BODY))
    for _ in range(rng.integers(0, 3)):
        rx, rr = rng.uniform(0, w), rng.uniform(0.04, 0.1) * w
        pts = [(rx + rr * np.cos(a) * rng.uniform(0.7, 1.2), shore + 0.5 * rr * np.sin(a) * rng.uniform(0.7, 1.2))
               for a in np.linspace(0, 2 * np.pi, 8, endpoint=False)]
        _layer_draw(scene, "rock", lambda d: d.polygon(pts, fill=BODY))
    items: list[tuple[float, Callable[[], None]]] = []
    for _ in range(rng.integers(1, 4)):
        y = horizon + rng.uniform(0.15, 0.9) * (shore - horizon)
        s = _ground_scale(y, horizon, h)
        x, sail = rng.uniform(0.05, 0.95) * w, rng.random() < 0.5
        items.append((y, lambda x=x, y=y, s=s, sail=sail: _layer_draw(scene, "boat", lambda d: draw_boat(d, x, y, 0.35 * s * w + 8, sail))))
    for _ in range(rng.integers(1, 3)):
        tx, th = rng.choice([rng.uniform(0, 0.2), rng.uniform(0.8, 1.0)]) * w, rng.uniform(0.4, 0.6) * h
        ty = shore + rng.uniform(0.05, 0.3) * (h - shore)
        items.append((ty, lambda tx=tx, ty=ty, th=th: _layer_draw(scene, "tree", lambda d: draw_tree(d, tx, ty, th, rng))))
    for _ in range(rng.integers(0, 4)):
        y = shore + rng.uniform(0.2, 1.0) * (h - shore)
        x = rng.uniform(0.05, 0.95) * w
        items.append((y, lambda x=x, y=y: _layer_draw(scene, "flower", lambda d: draw_flower(d, x, y, 0.08 * h))))
    for _ in range(rng.integers(0, 3)):
        y = shore + rng.uniform(0.2, 0.9) * (h - shore)
        x = rng.uniform(0.1, 0.9) * w
        items.append((y, lambda x=x, y=y: _layer_draw(scene, "person", lambda d: draw_person(d, x, y, 0.45 * h, rng))))
    if rng.random() < 0.5:
        y = shore + 0.3 * (h - shore)
        x0 = rng.uniform(0, 0.5) * w
        items.append((y, lambda x0=x0, y=y: _layer_draw(scene, "fence", lambda d: draw_fence(d, x0, x0 + 0.4 * w, y, 0.12 * h))))
    if rng.random() < 0.4:
        y = shore + 0.6 * (h - shore)
        x = rng.uniform(0.2, 0.8) * w
        items.append((y, lambda x=x, y=y: _layer_draw(scene, "bench", lambda d: draw_bench(d, x, y, 0.2 * w))))
    for _, paint in sorted(items, key=lambda t: t[0]):
        paint()
    _void_clutter(scene, rng, ego_hood=False)


#: Scene kinds drawn for each builtin demo vocabulary.
SCENES: dict[str, tuple[Callable[[Scene, np.random.Generator], None], ...]] = {
    "demo-city": (city_street,),
    "demo-ade": (ade_room, ade_street, ade_landscape),
}


def split_seed(seed: int, split: str) -> np.random.SeedSequence:
    """The seed sequence of one split: derived from the dataset seed and the split name."""
    return np.random.SeedSequence([seed, zlib.crc32(split.encode("utf-8"))])


def render_image(vocabulary: Vocabulary, height: int, width: int, seed: np.random.SeedSequence
                 ) -> tuple[np.ndarray, np.ndarray, dict[int, int], set[int]]:
    """One scene: (RGB image, segment-id map, segment id -> category id, crowd segment ids)."""
    rng = np.random.default_rng(seed)
    scenes = SCENES[vocabulary.name]
    scene = Scene(vocabulary, height, width, rng)
    scenes[rng.integers(len(scenes))](scene, rng)
    scene.drop_small_segments()
    present = set(np.unique(scene.ids).tolist()) - {0}
    categories = {sid: c for sid, c in scene.categories.items() if sid in present}
    return scene.image(), scene.ids, categories, scene.crowd & present


def _png_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def generate_split(split_dir: str | Path, vocabulary: Vocabulary, split: str, n_images: int,
                   image_size: tuple[int, int], seed: int, n_descriptions: int = 4) -> None:
    """Draw `n_images` scenes and write the split: images/, panoptic/, panoptic.json, regions.jsonl."""
    if vocabulary.name not in SCENES:
        raise InputError(f"vocabulary {vocabulary.name!r}: no synthetic scenes; choose one of {sorted(SCENES)}")
    height, width = image_size
    split_dir = Path(split_dir)
    for sub in ("images", "panoptic"):  # the generator owns these folders: no stale files
        shutil.rmtree(split_dir / sub, ignore_errors=True)
    image_seeds = split_seed(seed, split).spawn(n_images)
    records, regions = [], []
    for index, image_seed in enumerate(image_seeds):
        image_id = f"{split}_{index:05d}"
        rgb, ids, categories, crowd = render_image(vocabulary, height, width, image_seed)
        atomic_write_bytes(split_dir / "images" / f"{image_id}.png", _png_bytes(rgb))
        write_segment_ids(split_dir / "panoptic" / f"{image_id}.png", ids)
        segments = segments_from_ids(ids, categories, crowd)
        records.append(PanopticImage(image_id, f"{image_id}.png", f"{image_id}.png", width, height, segments))
        text_rng = np.random.default_rng(image_seed.spawn(1)[0])
        for s in segments:
            name = vocabulary.by_id(s.category_id).display_name
            regions.append({"image_id": image_id, "segment_id": s.id, "category_id": s.category_id,
                            "descriptions": describe(name, text_rng, n_descriptions)})
    atomic_write_jsonl(split_dir / "regions.jsonl", regions)
    info = {"split": split, "generator": "oeseg.data.synthetic", "seed": seed}
    atomic_write_json(split_dir / "panoptic.json", panoptic_json(vocabulary, records, info))
