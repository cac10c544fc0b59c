"""Drawers of things: each draws part codes (oeseg.data.synthetic.styles) on a layer.

(x, y) is the bottom centre of the thing on the ground unless the parameters say otherwise.
"""

from __future__ import annotations

import numpy as np
from PIL import ImageDraw

from oeseg.data.synthetic.styles import ACCENT, AMBER, BODY, DARK, GLASS, GREEN, RED, WHITE


def box(x0: float, y0: float, x1: float, y1: float) -> list[float]:
    """The box [left, top, right, bottom] of two corners given in any order (PIL wants them ordered)."""
    return [min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)]


def draw_car(d: ImageDraw.ImageDraw, x: float, y: float, w: float) -> None:
    """Body, cabin with windows, wheels and lights."""
    h = 0.45 * w
    r = 0.12 * w
    d.rounded_rectangle(box(x - w / 2, y - 0.6 * h, x + w / 2, y - 0.18 * h), radius=max(1, int(0.08 * h)), fill=BODY)
    d.polygon([(x - 0.32 * w, y - 0.58 * h), (x - 0.18 * w, y - h), (x + 0.2 * w, y - h), (x + 0.36 * w, y - 0.58 * h)], fill=BODY)
    d.polygon([(x - 0.27 * w, y - 0.62 * h), (x - 0.15 * w, y - 0.93 * h), (x + 0.17 * w, y - 0.93 * h), (x + 0.3 * w, y - 0.62 * h)], fill=GLASS)
    d.line([(x, y - 0.62 * h), (x, y - 0.95 * h)], fill=BODY, width=max(1, int(0.03 * w)))
    for cx in (x - 0.3 * w, x + 0.3 * w):
        d.ellipse(box(cx - r, y - 2 * r, cx + r, y), fill=DARK)
        d.ellipse(box(cx - 0.4 * r, y - 1.4 * r, cx + 0.4 * r, y - 0.6 * r), fill=WHITE)
    d.rectangle(box(x + 0.44 * w, y - 0.5 * h, x + 0.5 * w, y - 0.38 * h), fill=ACCENT)
    d.rectangle(box(x - 0.5 * w, y - 0.5 * h, x - 0.45 * w, y - 0.38 * h), fill=RED)


def draw_truck(d: ImageDraw.ImageDraw, x: float, y: float, w: float) -> None:
    """A cargo box, a cab with a window, three wheels."""
    h = 0.65 * w
    r = 0.09 * w
    d.rectangle(box(x - w / 2, y - h, x + 0.22 * w, y - 0.22 * h), fill=BODY)
    d.rectangle(box(x + 0.24 * w, y - 0.7 * h, x + w / 2, y - 0.22 * h), fill=ACCENT)
    d.rectangle(box(x + 0.3 * w, y - 0.64 * h, x + 0.46 * w, y - 0.45 * h), fill=GLASS)
    for cx in (x - 0.35 * w, x - 0.15 * w, x + 0.35 * w):
        d.ellipse(box(cx - r, y - 2 * r, cx + r, y), fill=DARK)


def draw_bus(d: ImageDraw.ImageDraw, x: float, y: float, w: float) -> None:
    """A long box with a row of windows, a door and wheels."""
    h = 0.42 * w
    r = 0.07 * w
    d.rounded_rectangle(box(x - w / 2, y - h, x + w / 2, y - 0.15 * h), radius=max(1, int(0.08 * h)), fill=BODY)
    n = 6
    for i in range(n):
        x0 = x - 0.45 * w + i * 0.9 * w / n
        d.rectangle(box(x0, y - 0.88 * h, x0 + 0.12 * w, y - 0.55 * h), fill=GLASS)
    d.rectangle(box(x + 0.38 * w, y - 0.5 * h, x + 0.46 * w, y - 0.18 * h), fill=DARK)
    d.rectangle(box(x - w / 2, y - 0.45 * h, x + w / 2, y - 0.38 * h), fill=ACCENT)
    for cx in (x - 0.32 * w, x + 0.3 * w):
        d.ellipse(box(cx - r, y - 2 * r, cx + r, y), fill=DARK)


def draw_train(d: ImageDraw.ImageDraw, x: float, y: float, w: float) -> None:
    """Carriages with windows, a stripe and a sloped front."""
    h = 0.28 * w
    d.polygon([(x - w / 2, y - 0.1 * h), (x - w / 2, y - h), (x + 0.42 * w, y - h), (x + w / 2, y - 0.5 * h),
               (x + w / 2, y - 0.1 * h)], fill=BODY)
    for i in range(10):
        x0 = x - 0.47 * w + i * 0.088 * w
        d.rectangle(box(x0, y - 0.85 * h, x0 + 0.055 * w, y - 0.6 * h), fill=GLASS)
    d.rectangle(box(x - w / 2, y - 0.45 * h, x + w / 2, y - 0.35 * h), fill=ACCENT)
    for i in range(3):
        d.line([(x - w / 2 + (i + 1) * w / 4, y - h), (x - w / 2 + (i + 1) * w / 4, y - 0.1 * h)], fill=DARK, width=1)


def draw_motorcycle(d: ImageDraw.ImageDraw, x: float, y: float, w: float) -> None:
    """Two wheels, an engine body, a seat and handlebars."""
    r = 0.2 * w
    for cx in (x - 0.3 * w, x + 0.3 * w):
        d.ellipse(box(cx - r, y - 2 * r, cx + r, y), fill=DARK)
        d.ellipse(box(cx - 0.4 * r, y - 1.4 * r, cx + 0.4 * r, y - 0.6 * r), fill=ACCENT)
    d.polygon([(x - 0.25 * w, y - 0.35 * w), (x + 0.25 * w, y - 0.4 * w), (x + 0.15 * w, y - 0.15 * w),
               (x - 0.15 * w, y - 0.15 * w)], fill=BODY)
    d.rectangle(box(x - 0.25 * w, y - 0.45 * w, x, y - 0.38 * w), fill=DARK)
    d.line([(x + 0.25 * w, y - 0.4 * w), (x + 0.32 * w, y - 0.55 * w)], fill=ACCENT, width=max(1, int(0.04 * w)))


def draw_bicycle(d: ImageDraw.ImageDraw, x: float, y: float, w: float) -> None:
    """Two spoked ring wheels and a triangular frame with saddle and handlebar."""
    r = 0.22 * w
    t = max(1, int(0.05 * w))
    rear, front = (x - 0.3 * w, y - r), (x + 0.3 * w, y - r)
    for cx, cy in (rear, front):
        d.ellipse(box(cx - r, cy - r, cx + r, cy + r), outline=DARK, width=t)
        d.line([(cx - r, cy), (cx + r, cy)], fill=DARK, width=1)
        d.line([(cx, cy - r), (cx, cy + r)], fill=DARK, width=1)
    seat, bar, crank = (x - 0.1 * w, y - 0.6 * w), (x + 0.22 * w, y - 0.62 * w), (x, y - r)
    d.line([rear, seat, crank, rear], fill=BODY, width=t)
    d.line([seat, bar, crank], fill=BODY, width=t)
    d.line([bar, front], fill=BODY, width=t)
    d.rectangle(box(seat[0] - 0.08 * w, seat[1] - 0.04 * w, seat[0] + 0.06 * w, seat[1]), fill=DARK)
    d.line([(bar[0] - 0.05 * w, bar[1] - 0.03 * w), (bar[0] + 0.08 * w, bar[1] - 0.06 * w)], fill=DARK, width=t)


def draw_person(d: ImageDraw.ImageDraw, x: float, y: float, h: float, rng: np.random.Generator) -> None:
    """A head (skin accent), clothed torso and arms, dark legs in a walking pose."""
    hw = 0.13 * h
    head = 0.075 * h
    d.ellipse(box(x - head, y - h, x + head, y - h + 2 * head), fill=ACCENT)
    d.rounded_rectangle(box(x - hw, y - h + 2 * head, x + hw, y - 0.45 * h), radius=max(1, int(0.03 * h)), fill=BODY)
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
    d.ellipse(box(shoulder[0] - head, shoulder[1] - 2.2 * head, shoulder[0] + head * 1.2, shoulder[1] - 0.2 * head), fill=ACCENT)
    d.line([hip, shoulder], fill=BODY, width=max(2, int(0.16 * h)))
    d.line([shoulder, (x + 0.22 * w, y - 0.66 * w)], fill=BODY, width=max(1, int(0.05 * h)))
    d.line([hip, (x + 0.02 * w, y - 0.4 * w), (x, y - 0.22 * w)], fill=DARK, width=max(1, int(0.08 * h)))


def draw_pole(d: ImageDraw.ImageDraw, x: float, y: float, h: float) -> None:
    """A thin vertical post from the ground up to height h."""
    t = max(2, h / 40)
    d.rectangle(box(x - t / 2, y - h, x + t / 2, y), fill=BODY)


def draw_traffic_light(d: ImageDraw.ImageDraw, x: float, top: float, s: float, lit: int) -> None:
    """A dark housing with three lamps (one lit) below `top`."""
    d.rectangle(box(x - 0.2 * s, top, x + 0.2 * s, top + s), fill=BODY)
    for i, code in enumerate((RED, AMBER, GREEN)):
        cy = top + (i + 0.5) * s / 3
        d.ellipse(box(x - 0.12 * s, cy - 0.12 * s, x + 0.12 * s, cy + 0.12 * s), fill=code if i == lit else DARK)


def draw_traffic_sign(d: ImageDraw.ImageDraw, x: float, top: float, s: float, kind: int) -> None:
    """A round, triangular or square sign plate with a white symbol."""
    if kind == 0:
        d.ellipse(box(x - s / 2, top, x + s / 2, top + s), fill=BODY)
        d.rectangle(box(x - 0.3 * s, top + 0.42 * s, x + 0.3 * s, top + 0.58 * s), fill=WHITE)
    elif kind == 1:
        d.polygon([(x, top), (x - s / 2, top + s), (x + s / 2, top + s)], fill=RED)
        d.polygon([(x, top + 0.3 * s), (x - 0.25 * s, top + 0.82 * s), (x + 0.25 * s, top + 0.82 * s)], fill=WHITE)
    else:
        d.rectangle(box(x - s / 2, top, x + s / 2, top + s), fill=BODY)
        d.polygon([(x - 0.25 * s, top + 0.7 * s), (x, top + 0.25 * s), (x + 0.25 * s, top + 0.7 * s)], fill=WHITE)


def draw_tree(d: ImageDraw.ImageDraw, x: float, y: float, h: float, rng: np.random.Generator) -> None:
    """A trunk (accent) and a crown of overlapping leafy blobs."""
    d.rectangle(box(x - 0.04 * h, y - 0.45 * h, x + 0.04 * h, y), fill=ACCENT)
    for _ in range(5):
        cx = x + rng.uniform(-0.22, 0.22) * h
        cy = y - h + rng.uniform(0.15, 0.45) * h
        r = rng.uniform(0.15, 0.25) * h
        d.ellipse(box(cx - r, cy - r, cx + r, cy + r), fill=BODY)


def draw_fence(d: ImageDraw.ImageDraw, x0: float, x1: float, y: float, h: float) -> None:
    """Pickets with gaps between two rails."""
    step = max(4, h / 4)
    t = max(1, step / 2.5)
    px = x0
    while px < x1:
        d.rectangle(box(px, y - h, px + t, y), fill=BODY)
        px += step
    d.rectangle(box(x0, y - 0.8 * h, x1, y - 0.7 * h), fill=BODY)
    d.rectangle(box(x0, y - 0.35 * h, x1, y - 0.25 * h), fill=BODY)


def draw_bed(d: ImageDraw.ImageDraw, x: float, y: float, w: float) -> None:
    """A wooden frame with a headboard, an accent bedspread and a white pillow."""
    h = 0.45 * w
    d.rectangle(box(x - w / 2, y - h, x - 0.42 * w, y), fill=BODY)
    d.rectangle(box(x - w / 2, y - 0.45 * h, x + w / 2, y), fill=BODY)
    d.rectangle(box(x - 0.42 * w, y - 0.62 * h, x + w / 2, y - 0.35 * h), fill=ACCENT)
    d.ellipse(box(x - 0.4 * w, y - 0.75 * h, x - 0.18 * w, y - 0.55 * h), fill=WHITE)


def draw_window(d: ImageDraw.ImageDraw, x0: float, y0: float, w: float, h: float) -> None:
    """A frame with four glass panes."""
    d.rectangle(box(x0, y0, x0 + w, y0 + h), fill=BODY)
    t = max(1, 0.07 * w)
    for i in range(2):
        for j in range(2):
            d.rectangle(box(x0 + t + i * w / 2, y0 + t + j * h / 2, x0 + (i + 1) * w / 2 - t / 2,
                             y0 + (j + 1) * h / 2 - t / 2), fill=GLASS)


def draw_cabinet(d: ImageDraw.ImageDraw, x0: float, y0: float, w: float, h: float) -> None:
    """A box with two doors and knobs."""
    d.rectangle(box(x0, y0, x0 + w, y0 + h), fill=BODY)
    d.line([(x0 + w / 2, y0 + 2), (x0 + w / 2, y0 + h - 2)], fill=DARK, width=1)
    for kx in (x0 + w / 2 - 0.1 * w, x0 + w / 2 + 0.1 * w):
        d.ellipse(box(kx - 0.03 * w, y0 + h / 2 - 0.03 * w, kx + 0.03 * w, y0 + h / 2 + 0.03 * w), fill=ACCENT)


def draw_door(d: ImageDraw.ImageDraw, x0: float, y0: float, w: float, h: float) -> None:
    """A tall panelled door with a knob."""
    d.rectangle(box(x0, y0, x0 + w, y0 + h), fill=BODY)
    for j in range(2):
        d.rectangle(box(x0 + 0.15 * w, y0 + 0.08 * h + j * 0.45 * h, x0 + 0.85 * w, y0 + 0.4 * h + j * 0.45 * h),
                    outline=DARK, width=1)
    d.ellipse(box(x0 + 0.78 * w, y0 + 0.5 * h, x0 + 0.88 * w, y0 + 0.5 * h + 0.1 * w), fill=AMBER)


def draw_table(d: ImageDraw.ImageDraw, x: float, y: float, w: float) -> None:
    """A top board on four legs."""
    h = 0.45 * w
    d.rectangle(box(x - w / 2, y - h, x + w / 2, y - 0.88 * h), fill=BODY)
    t = max(2, 0.05 * w)
    for lx in (x - 0.45 * w, x - 0.25 * w, x + 0.25 * w, x + 0.45 * w):
        d.rectangle(box(lx - t / 2, y - 0.9 * h, lx + t / 2, y), fill=BODY)


def draw_curtain(d: ImageDraw.ImageDraw, x0: float, y0: float, w: float, h: float) -> None:
    """A tall drape with a wavy hem (its folds come from the category's stripes)."""
    n = 5
    hem = [(x0 + w * i / n, y0 + h - (0.05 * h if i % 2 else 0)) for i in range(n + 1)]
    d.polygon([(x0, y0), (x0 + w, y0), *hem[::-1]], fill=BODY)


def draw_chair(d: ImageDraw.ImageDraw, x: float, y: float, w: float) -> None:
    """A seat, a backrest and dark legs."""
    h = 1.6 * w
    d.rectangle(box(x - w / 2, y - 0.55 * h, x + w / 2, y - 0.48 * h), fill=BODY)
    d.rectangle(box(x - w / 2, y - h, x - 0.35 * w, y - 0.5 * h), fill=BODY)
    t = max(1, 0.08 * w)
    for lx in (x - 0.45 * w, x + 0.45 * w):
        d.rectangle(box(lx - t / 2, y - 0.5 * h, lx + t / 2, y), fill=DARK)


def draw_painting(d: ImageDraw.ImageDraw, x0: float, y0: float, w: float, h: float, rng: np.random.Generator) -> None:
    """A golden frame around a colourful picture."""
    d.rectangle(box(x0, y0, x0 + w, y0 + h), fill=BODY)
    t = max(2, 0.1 * min(w, h))
    d.rectangle(box(x0 + t, y0 + t, x0 + w - t, y0 + h - t), fill=ACCENT)
    for code in (RED, AMBER, GREEN, WHITE):
        cx, cy = x0 + rng.uniform(0.3, 0.7) * w, y0 + rng.uniform(0.3, 0.7) * h
        r = rng.uniform(0.08, 0.2) * min(w, h)
        d.ellipse(box(cx - r, cy - r, cx + r, cy + r), fill=code)


def draw_sofa(d: ImageDraw.ImageDraw, x: float, y: float, w: float) -> None:
    """A base, a backrest, two armrests and light cushions."""
    h = 0.5 * w
    d.rectangle(box(x - 0.45 * w, y - h, x + 0.45 * w, y - 0.5 * h), fill=BODY)
    d.rectangle(box(x - w / 2, y - 0.6 * h, x + w / 2, y - 0.1 * h), fill=BODY)
    d.rounded_rectangle(box(x - w / 2, y - 0.75 * h, x - 0.4 * w, y - 0.1 * h), radius=2, fill=BODY)
    d.rounded_rectangle(box(x + 0.4 * w, y - 0.75 * h, x + w / 2, y - 0.1 * h), radius=2, fill=BODY)
    for cx in (x - 0.2 * w, x + 0.2 * w):
        d.rectangle(box(cx - 0.18 * w, y - 0.62 * h, cx + 0.18 * w, y - 0.45 * h), fill=ACCENT)
    d.rectangle(box(x - 0.45 * w, y - 0.1 * h, x - 0.4 * w, y), fill=DARK)
    d.rectangle(box(x + 0.4 * w, y - 0.1 * h, x + 0.45 * w, y), fill=DARK)


def draw_shelf(d: ImageDraw.ImageDraw, x0: float, y0: float, w: float, h: float) -> None:
    """Side boards and three horizontal boards."""
    t = max(2, 0.06 * h)
    d.rectangle(box(x0, y0, x0 + t, y0 + h), fill=BODY)
    d.rectangle(box(x0 + w - t, y0, x0 + w, y0 + h), fill=BODY)
    for j in range(3):
        yb = y0 + j * (h - t) / 2
        d.rectangle(box(x0, yb, x0 + w, yb + t), fill=BODY)


def draw_mirror(d: ImageDraw.ImageDraw, x0: float, y0: float, w: float, h: float) -> None:
    """An oval frame around a glass."""
    d.ellipse(box(x0, y0, x0 + w, y0 + h), fill=BODY)
    t = max(2, 0.08 * w)
    d.ellipse(box(x0 + t, y0 + t, x0 + w - t, y0 + h - t), fill=GLASS)
    d.line([(x0 + 0.3 * w, y0 + 0.3 * h), (x0 + 0.45 * w, y0 + 0.15 * h)], fill=WHITE, width=max(1, int(t / 2)))


def draw_lamp(d: ImageDraw.ImageDraw, x: float, y: float, h: float) -> None:
    """A shade on a thin stand with a base."""
    d.polygon([(x - 0.12 * h, y - 0.7 * h), (x - 0.2 * h, y - 0.45 * h), (x + 0.2 * h, y - 0.45 * h),
               (x + 0.12 * h, y - 0.7 * h)], fill=BODY)
    d.rectangle(box(x - max(1, 0.02 * h), y - 0.45 * h, x + max(1, 0.02 * h), y), fill=ACCENT)
    d.ellipse(box(x - 0.12 * h, y - 0.05 * h, x + 0.12 * h, y), fill=ACCENT)


def draw_clock(d: ImageDraw.ImageDraw, cx: float, cy: float, r: float) -> None:
    """A round frame, a white face and two hands."""
    d.ellipse(box(cx - r, cy - r, cx + r, cy + r), fill=BODY)
    d.ellipse(box(cx - 0.8 * r, cy - 0.8 * r, cx + 0.8 * r, cy + 0.8 * r), fill=WHITE)
    d.line([(cx, cy), (cx, cy - 0.65 * r)], fill=DARK, width=max(1, int(0.1 * r)))
    d.line([(cx, cy), (cx + 0.45 * r, cy + 0.1 * r)], fill=DARK, width=max(1, int(0.1 * r)))


def draw_bottle(d: ImageDraw.ImageDraw, x: float, y: float, h: float) -> None:
    """A glass body, a neck and a red cap."""
    d.rounded_rectangle(box(x - 0.15 * h, y - 0.62 * h, x + 0.15 * h, y), radius=max(1, int(0.05 * h)), fill=BODY)
    d.rectangle(box(x - 0.06 * h, y - 0.92 * h, x + 0.06 * h, y - 0.6 * h), fill=BODY)
    d.rectangle(box(x - 0.07 * h, y - h, x + 0.07 * h, y - 0.92 * h), fill=RED)
    d.rectangle(box(x - 0.15 * h, y - 0.4 * h, x + 0.15 * h, y - 0.25 * h), fill=WHITE)


def draw_flower(d: ImageDraw.ImageDraw, x: float, y: float, h: float) -> None:
    """A green stem with petals around an amber centre."""
    d.line([(x, y), (x, y - 0.7 * h)], fill=GREEN, width=max(1, int(0.06 * h)))
    cy = y - 0.8 * h
    r = 0.12 * h
    for a in np.linspace(0, 2 * np.pi, 6, endpoint=False):
        px, py = x + 1.1 * r * np.cos(a), cy + 1.1 * r * np.sin(a)
        d.ellipse(box(px - r, py - r, px + r, py + r), fill=BODY)
    d.ellipse(box(x - 0.7 * r, cy - 0.7 * r, x + 0.7 * r, cy + 0.7 * r), fill=AMBER)


def draw_flag(d: ImageDraw.ImageDraw, x0: float, y0: float, w: float) -> None:
    """A three-band flag."""
    h = 0.6 * w
    for i, code in enumerate((BODY, WHITE, BODY)):
        d.rectangle(box(x0, y0 + i * h / 3, x0 + w, y0 + (i + 1) * h / 3), fill=code)


def draw_bench(d: ImageDraw.ImageDraw, x: float, y: float, w: float) -> None:
    """Seat and back slats on dark legs."""
    h = 0.45 * w
    for j in range(2):
        d.rectangle(box(x - w / 2, y - h + j * 0.2 * h, x + w / 2, y - h + j * 0.2 * h + 0.12 * h), fill=BODY)
    d.rectangle(box(x - w / 2, y - 0.5 * h, x + w / 2, y - 0.38 * h), fill=BODY)
    t = max(1, 0.04 * w)
    for lx in (x - 0.42 * w, x + 0.42 * w):
        d.rectangle(box(lx - t, y - 0.5 * h, lx + t, y), fill=DARK)


def draw_boat(d: ImageDraw.ImageDraw, x: float, y: float, w: float, sail: bool) -> None:
    """A hull, a white cabin, and a mast with a sail or a dark stripe."""
    h = 0.3 * w
    d.polygon([(x - w / 2, y - h), (x + w / 2, y - h), (x + 0.35 * w, y), (x - 0.4 * w, y)], fill=BODY)
    if sail:
        d.line([(x, y - h), (x, y - 2.5 * h)], fill=DARK, width=max(1, int(0.02 * w)))
        d.polygon([(x + 2, y - 2.4 * h), (x + 2, y - 1.1 * h), (x + 0.35 * w, y - 1.1 * h)], fill=WHITE)
    else:
        d.rectangle(box(x - 0.2 * w, y - 1.7 * h, x + 0.15 * w, y - h), fill=WHITE)
        d.rectangle(box(x - w / 2, y - 0.8 * h, x + w / 2, y - 0.65 * h), fill=DARK)


def draw_street_lamp(d: ImageDraw.ImageDraw, x: float, y: float, h: float) -> None:
    """A post with an arm and a lit lamp head."""
    t = max(2, h / 35)
    d.rectangle(box(x - t / 2, y - h, x + t / 2, y), fill=BODY)
    d.line([(x, y - h), (x + 0.18 * h, y - h)], fill=BODY, width=int(t))
    d.ellipse(box(x + 0.12 * h, y - h, x + 0.26 * h, y - 0.95 * h), fill=AMBER)


def draw_plant(d: ImageDraw.ImageDraw, x: float, y: float, h: float, rng: np.random.Generator) -> None:
    """A pot (accent) with leafy blobs."""
    d.polygon([(x - 0.2 * h, y - 0.3 * h), (x + 0.2 * h, y - 0.3 * h), (x + 0.14 * h, y), (x - 0.14 * h, y)], fill=ACCENT)
    for _ in range(5):
        cx = x + rng.uniform(-0.25, 0.25) * h
        cy = y - rng.uniform(0.45, 0.85) * h
        r = rng.uniform(0.12, 0.2) * h
        d.ellipse(box(cx - r, cy - r, cx + r, cy + r), fill=BODY)
