"""The scene model: a canvas of colours and segment ids, painted layer by layer and far to near."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw

from oeseg.data.synthetic.styles import ACCENT, FIXED_PART_COLOURS, STYLES, texture
from oeseg.data.vocabularies import Vocabulary

MIN_SEGMENT_AREA = 24  # smaller remnants of occluded segments become void


class Scene:
    """A canvas being painted: colours, the segment-id map and each segment's category."""

    def __init__(self, vocabulary: Vocabulary, height: int, width: int, rng: np.random.Generator) -> None:
        """A blank (void) height x width canvas of categories of `vocabulary`."""
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
        """The segment id a drawing of `name` paints: a new one for a thing, the image's one for stuff."""
        category = self.vocabulary.by_name(name)
        if category.isthing:
            return self.new_segment(name)
        if category.id not in self._stuff:  # stuff: one segment per category and image
            self._stuff[category.id] = self.new_segment(name)
        return self._stuff[category.id]

    def _texture(self, name: str) -> np.ndarray:
        """The image's texture of category `name` (made once, on first use)."""
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
        for code, rgb in FIXED_PART_COLOURS.items():
            out[parts == code] = rgb
        self.rgb[drawn] = out
        self.ids[drawn] = sid
        return sid

    def draw(self, name: str, draw: Callable[[ImageDraw.ImageDraw], None], segment: int | None = None,
             colour: tuple[int, int, int] | None = None) -> int:
        """Draw part codes on a fresh layer and paint them as a segment of `name` (see `paint`)."""
        img, d = self.layer()
        draw(d)
        return self.paint(name, img, segment=segment, colour=colour)

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


class FarToNear:
    """Things queued with the ground row they stand on, painted far to near (near ones occlude far ones)."""

    def __init__(self) -> None:
        """An empty queue."""
        self._queue: list[tuple[float, Callable[[], None]]] = []

    def add(self, y: float, paint: Callable[[], None]) -> None:
        """Queue the painting of a thing that stands at ground row y."""
        self._queue.append((y, paint))

    def paint(self) -> None:
        """Paint the queued things, farthest (smallest y) first; things on one row in the order queued."""
        for _, paint in sorted(self._queue, key=lambda t: t[0]):
            paint()
