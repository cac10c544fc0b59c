"""How each category looks: part codes of a drawing layer, per-category styles, textures."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

# part codes of a drawing layer (0 = not drawn)
BODY, DARK, GLASS, ACCENT, WHITE, RED, AMBER, GREEN = range(1, 9)
FIXED_PART_COLOURS = {DARK: (35, 35, 38), GLASS: (165, 195, 215), WHITE: (245, 245, 240),
                      RED: (215, 35, 30), AMBER: (240, 175, 20), GREEN: (40, 190, 80)}


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
