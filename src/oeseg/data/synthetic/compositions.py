"""Scene compositions: what a street, a room or a landscape holds and where, one function each.

A composition paints stuff back to front, then queues things on a FarToNear painter; SCENES names
the compositions of each builtin demo vocabulary.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from oeseg.data.synthetic.drawers import (
    box, draw_bed, draw_bench, draw_bicycle, draw_boat, draw_bottle, draw_bus, draw_cabinet, draw_car, draw_chair,
    draw_clock, draw_curtain, draw_door, draw_fence, draw_flag, draw_flower, draw_lamp, draw_mirror,
    draw_motorcycle, draw_painting, draw_person, draw_plant, draw_pole, draw_rider, draw_shelf, draw_sofa,
    draw_street_lamp, draw_table, draw_traffic_light, draw_traffic_sign, draw_train, draw_tree, draw_truck,
    draw_window)
from oeseg.data.synthetic.scene import FarToNear, Scene
from oeseg.data.synthetic.styles import BODY, STYLES


def _void_clutter(scene: Scene, rng: np.random.Generator, ego_hood: bool) -> None:
    """A few void pixels: an optional ego-vehicle hood and small clutter blobs."""
    h, w = scene.height, scene.width
    img, d = scene.layer()
    if ego_hood:
        d.ellipse(box(-0.2 * w, h - rng.uniform(0.06, 0.12) * h, 1.2 * w, h + 0.3 * h), fill=1)
        scene.void(img, (25, 25, 30))
        img, d = scene.layer()
    for _ in range(rng.integers(1, 4)):
        cx, cy, r = rng.uniform(0, w), rng.uniform(0.3 * h, h), rng.uniform(0.01, 0.03) * w
        d.ellipse(box(cx - r, cy - 0.6 * r, cx + r, cy + 0.6 * r), fill=1)
    scene.void(img, tuple(int(v) for v in rng.integers(60, 160, 3)))


def _ground_scale(y: float, horizon: float, height: int) -> float:
    """Perspective: object size factor at ground row y (0 at the horizon, 1 at the bottom)."""
    return max(0.05, (y - horizon) / (height - horizon))


def _skyline(scene: Scene, rng: np.random.Generator, horizon: float, name: str = "building") -> None:
    """A row of buildings (or `name` blocks) of random widths and heights standing on the horizon."""
    h, w = scene.height, scene.width
    x = -rng.uniform(0, 0.1) * w
    while x < w:
        bw = rng.uniform(0.12, 0.3) * w
        top = rng.uniform(0.05, 0.6) * horizon
        colour = STYLES[name].colours[rng.integers(len(STYLES[name].colours))]
        scene.draw(name, lambda d: d.rectangle(box(x, top, x + bw, horizon + 0.08 * h), fill=BODY),
                    colour=colour)
        x += bw * rng.uniform(0.85, 1.0)


def city_street(scene: Scene, rng: np.random.Generator) -> None:
    """A Cityscapes-like street: sky, buildings, vegetation, road, sidewalks, vehicles, people."""
    h, w = scene.height, scene.width
    horizon = rng.uniform(0.38, 0.5) * h
    vx = w * rng.uniform(0.35, 0.65)
    scene.draw("sky", lambda d: d.rectangle(box(0, 0, w, horizon + 2), fill=BODY))
    _skyline(scene, rng, horizon)
    for _ in range(rng.integers(1, 4)):
        tx = rng.uniform(0, w)
        th = rng.uniform(0.25, 0.5) * h
        scene.draw("vegetation", lambda d: draw_tree(d, tx, horizon + 0.1 * h, th, rng))
    # ground: sidewalks on both sides of a road converging to the vanishing point
    scene.draw("sidewalk", lambda d: d.rectangle(box(0, horizon, w, h), fill=BODY))
    left, right = -rng.uniform(0.0, 0.25) * w, w * (1 + rng.uniform(0.0, 0.25))
    scene.draw("road", lambda d: d.polygon([(vx - 4, horizon), (vx + 4, horizon), (right, h), (left, h)], fill=BODY))
    if rng.random() < 0.7:
        side = rng.random() < 0.5
        scene.draw("terrain", lambda d: d.polygon(
            [(0 if side else w, horizon + 0.15 * h), (0.12 * w if side else 0.88 * w, horizon + 0.15 * h),
             (0 if side else w, h)], fill=BODY))
    if rng.random() < 0.5:
        wx = rng.uniform(0, 0.7) * w
        scene.draw("wall", lambda d: d.rectangle(box(wx, horizon - 0.08 * h, wx + 0.25 * w, horizon + 0.06 * h), fill=BODY))
    if rng.random() < 0.6:
        fx = rng.uniform(0, 0.7) * w
        scene.draw("fence", lambda d: draw_fence(d, fx, fx + 0.25 * w, horizon + 0.1 * h, 0.09 * h))
    # street furniture on the sidewalks: poles carrying signs and lights
    for _ in range(rng.integers(1, 4)):
        px = rng.choice([rng.uniform(0.02, 0.2), rng.uniform(0.8, 0.98)]) * w
        py = horizon + rng.uniform(0.1, 0.35) * h
        ph = 0.9 * _ground_scale(py, horizon, h) * h + 0.1 * h
        scene.draw("pole", lambda d: draw_pole(d, px, py, ph))
        s = max(5, 0.12 * ph)
        if rng.random() < 0.5:
            lit = int(rng.integers(3))
            scene.draw("traffic light", lambda d: draw_traffic_light(d, px, py - ph - 0.5 * s, 1.4 * s, lit))
        else:
            kind = int(rng.integers(3))
            scene.draw("traffic sign", lambda d: draw_traffic_sign(d, px, py - ph - 0.3 * s, s, kind))
    # things, painted far to near so that near ones occlude far ones
    things = FarToNear()
    for _ in range(rng.integers(2, 6)):
        kind = rng.choice(["car", "car", "car", "truck", "bus", "train"], p=[.3, .25, .2, .1, .1, .05])
        y = horizon + rng.uniform(0.1, 0.55) * (h - horizon)
        s = _ground_scale(y, horizon, h)
        x = vx + rng.uniform(-0.7, 0.7) * s * w
        size = {"car": 0.4, "truck": 0.55, "bus": 0.75, "train": 1.1}[kind] * s * w
        drawer = {"car": draw_car, "truck": draw_truck, "bus": draw_bus, "train": draw_train}[kind]
        things.add(y, lambda k=kind, dr=drawer, x=x, y=y, sz=size: scene.draw(k, lambda d: dr(d, x, y, sz)))
    for _ in range(rng.integers(1, 5)):
        y = horizon + rng.uniform(0.1, 0.6) * (h - horizon)
        s = _ground_scale(y, horizon, h)
        x = rng.choice([rng.uniform(0.02, 0.25), rng.uniform(0.75, 0.98)]) * w
        ph = 0.75 * s * h + 6
        things.add(y, lambda x=x, y=y, ph=ph: scene.draw("person", lambda d: draw_person(d, x, y, ph, rng)))
    for _ in range(rng.integers(0, 3)):
        y = horizon + rng.uniform(0.15, 0.6) * (h - horizon)
        s = _ground_scale(y, horizon, h)
        x = vx + rng.uniform(-0.5, 0.5) * s * w
        bw = 0.3 * s * w + 6
        vehicle = rng.choice(["bicycle", "motorcycle"])
        drawer = draw_bicycle if vehicle == "bicycle" else draw_motorcycle
        ridden = rng.random() < 0.7

        def ride(x: float = x, y: float = y, bw: float = bw, vehicle: str = vehicle,
                 drawer: Callable[..., None] = drawer, ridden: bool = ridden) -> None:
            """Paint a bicycle or motorcycle and, if ridden, its rider."""
            scene.draw(vehicle, lambda d: drawer(d, x, y, bw))
            if ridden:
                scene.draw("rider", lambda d: draw_rider(d, x, y, bw))
        things.add(y, ride)
    if rng.random() < 0.4:  # a crowd of pedestrians: one iscrowd segment
        y = horizon + rng.uniform(0.05, 0.2) * (h - horizon)
        s = _ground_scale(y, horizon, h)
        x0 = rng.uniform(0.05, 0.7) * w

        def crowd(x0: float = x0, y: float = y, s: float = s) -> None:
            """Paint a row of 3 to 6 pedestrians as one crowd segment."""
            sid = scene.new_segment("person", crowd=True)
            colour = STYLES["person"].colours[0]
            for i in range(int(rng.integers(3, 7))):
                scene.draw("person", lambda d, i=i: draw_person(d, x0 + i * 0.03 * w, y + rng.uniform(-2, 2),
                                                                         0.75 * s * h + 6, rng), segment=sid, colour=colour)
        things.add(y, crowd)
    things.paint()
    _void_clutter(scene, rng, ego_hood=rng.random() < 0.5)


def ade_room(scene: Scene, rng: np.random.Generator) -> None:
    """An indoor room: ceiling, walls, floor, rug, window, furniture, decorations, people."""
    h, w = scene.height, scene.width
    ceil, floor = rng.uniform(0.1, 0.2) * h, rng.uniform(0.6, 0.72) * h
    scene.draw("ceiling", lambda d: d.rectangle(box(0, 0, w, ceil), fill=BODY))
    scene.draw("wall", lambda d: d.rectangle(box(0, ceil, w, floor), fill=BODY),
                colour=(200, 190, 170) if rng.random() < 0.5 else (170, 185, 200))
    scene.draw("floor", lambda d: d.rectangle(box(0, floor, w, h), fill=BODY))
    if rng.random() < 0.6:
        rx = rng.uniform(0.1, 0.5) * w
        scene.draw("rug", lambda d: d.polygon([(rx, floor + 0.1 * h), (rx + 0.4 * w, floor + 0.1 * h),
                                                       (rx + 0.5 * w, h - 0.05 * h), (rx - 0.1 * w, h - 0.05 * h)], fill=BODY))
    wx = rng.uniform(0.05, 0.6) * w
    ww, wh = rng.uniform(0.18, 0.3) * w, rng.uniform(0.25, 0.35) * h
    scene.draw("window", lambda d: draw_window(d, wx, ceil + 0.08 * h, ww, wh))
    if rng.random() < 0.7:
        for cx in (wx - 0.07 * w, wx + ww):
            scene.draw("curtain", lambda d, cx=cx: draw_curtain(d, cx, ceil + 0.03 * h, 0.08 * w, wh + 0.12 * h))
    decorations = [("painting", lambda d, x, y: draw_painting(d, x, y, 0.14 * w, 0.12 * h, rng)),
                   ("mirror", lambda d, x, y: draw_mirror(d, x, y, 0.08 * w, 0.16 * h)),
                   ("clock", lambda d, x, y: draw_clock(d, x + 0.04 * w, y + 0.05 * h, 0.04 * w)),
                   ("shelf", lambda d, x, y: draw_shelf(d, x, y, 0.16 * w, 0.14 * h))]
    for i in rng.permutation(len(decorations))[: rng.integers(1, 4)]:
        name, draw = decorations[i]
        x, y = rng.uniform(0.02, 0.85) * w, ceil + rng.uniform(0.05, 0.2) * h
        scene.draw(name, lambda d, draw=draw, x=x, y=y: draw(d, x, y))
    if rng.random() < 0.6:
        dx = rng.choice([0.02, 0.82]) * w
        scene.draw("door", lambda d: draw_door(d, dx, floor - 0.45 * h, 0.13 * w, 0.45 * h))
    furniture = [("bed", draw_bed, 0.5), ("sofa", draw_sofa, 0.45), ("cabinet", None, 0.2), ("table", draw_table, 0.3),
                 ("chair", draw_chair, 0.1), ("chair", draw_chair, 0.1), ("lamp", draw_lamp, 0.3), ("plant", None, 0.2)]
    items = FarToNear()
    for i in rng.permutation(len(furniture))[: rng.integers(3, 7)]:
        name, drawer, size = furniture[i]
        y = floor + rng.uniform(0.05, 0.9) * (h - floor)
        x = rng.uniform(0.1, 0.9) * w
        s = 0.6 + 0.6 * (y - floor) / (h - floor)
        if name == "cabinet":
            def paint(x: float = x, y: float = y, s: float = s) -> None:
                """Paint a cabinet standing at (x, y), scaled by s."""
                scene.draw("cabinet", lambda d: draw_cabinet(d, x - 0.1 * w * s, y - 0.3 * h * s, 0.2 * w * s, 0.3 * h * s))
        elif name == "plant":
            def paint(x: float = x, y: float = y, s: float = s) -> None:
                """Paint a plant standing at (x, y), scaled by s."""
                scene.draw("plant", lambda d: draw_plant(d, x, y, 0.3 * h * s, rng))
        elif name == "lamp":
            def paint(x: float = x, y: float = y, s: float = s) -> None:
                """Paint a lamp standing at (x, y), scaled by s."""
                scene.draw("lamp", lambda d: draw_lamp(d, x, y, 0.4 * h * s))
        else:
            def paint(name: str = name, drawer: Callable[..., None] = drawer, x: float = x, y: float = y,
                      sz: float = size * s * w) -> None:
                """Paint a piece of furniture `name` of size sz standing at (x, y)."""
                scene.draw(name, lambda d: drawer(d, x, y, sz))
        items.add(y, paint)
        if name == "table":
            for k in range(int(rng.integers(0, 3))):
                bx = x + (k - 0.5) * 0.08 * w * s
                top = y - 0.45 * size * s * w
                item = rng.choice(["bottle", "flower"])
                drawer2 = draw_bottle if item == "bottle" else draw_flower
                items.add(y + 0.01 + k * 1e-3, lambda item=item, dr=drawer2, bx=bx, top=top, s=s:
                              scene.draw(item, lambda d: dr(d, bx, top, 0.1 * h * s)))
    for _ in range(rng.integers(0, 3)):
        y = floor + rng.uniform(0.1, 0.9) * (h - floor)
        x = rng.uniform(0.1, 0.9) * w
        items.add(y, lambda x=x, y=y: scene.draw("person", lambda d: draw_person(d, x, y, 0.6 * h, rng)))
    items.paint()
    _void_clutter(scene, rng, ego_hood=False)


def ade_street(scene: Scene, rng: np.random.Generator) -> None:
    """An outdoor street with ADE20K categories: buildings, trees, road, vehicles, lamps, flags."""
    h, w = scene.height, scene.width
    horizon = rng.uniform(0.45, 0.55) * h
    scene.draw("sky", lambda d: d.rectangle(box(0, 0, w, horizon + 2), fill=BODY))
    _skyline(scene, rng, horizon)
    for _ in range(rng.integers(1, 4)):
        tx, th = rng.uniform(0, w), rng.uniform(0.3, 0.5) * h
        scene.draw("tree", lambda d: draw_tree(d, tx, horizon + 0.12 * h, th, rng))
    scene.draw("sidewalk", lambda d: d.rectangle(box(0, horizon, w, h), fill=BODY))
    scene.draw("road", lambda d: d.polygon([(0.45 * w, horizon), (0.55 * w, horizon), (1.1 * w, h), (-0.1 * w, h)], fill=BODY))
    if rng.random() < 0.5:
        scene.draw("grass", lambda d: d.polygon([(0, horizon + 0.1 * h), (0.15 * w, horizon + 0.1 * h), (0, h)], fill=BODY))
    items = FarToNear()
    for _ in range(rng.integers(1, 4)):
        y = horizon + rng.uniform(0.1, 0.6) * (h - horizon)
        s = _ground_scale(y, horizon, h)
        kind = rng.choice(["car", "car", "bus", "truck"])
        x = w * (0.5 + rng.uniform(-0.4, 0.4) * s)
        size = {"car": 0.4, "bus": 0.75, "truck": 0.55}[kind] * s * w
        drawer = {"car": draw_car, "bus": draw_bus, "truck": draw_truck}[kind]
        items.add(y, lambda k=kind, dr=drawer, x=x, y=y, sz=size: scene.draw(k, lambda d: dr(d, x, y, sz)))
    for _ in range(rng.integers(1, 4)):
        y = horizon + rng.uniform(0.1, 0.7) * (h - horizon)
        s = _ground_scale(y, horizon, h)
        x = rng.choice([rng.uniform(0.02, 0.2), rng.uniform(0.8, 0.98)]) * w
        items.add(y, lambda x=x, y=y, s=s: scene.draw("person", lambda d: draw_person(d, x, y, 0.7 * s * h + 6, rng)))
    for _ in range(rng.integers(0, 3)):
        y = horizon + rng.uniform(0.1, 0.5) * (h - horizon)
        s = _ground_scale(y, horizon, h)
        x = rng.uniform(0.02, 0.98) * w
        furniture = rng.choice(["street lamp", "bench", "bicycle", "traffic light", "flag"])
        if furniture == "street lamp":
            def paint(x: float = x, y: float = y, s: float = s) -> None:
                """Paint a street lamp standing at (x, y), scaled by s."""
                scene.draw("street lamp", lambda d: draw_street_lamp(d, x, y, 0.8 * s * h + 10))
        elif furniture == "bench":
            def paint(x: float = x, y: float = y, s: float = s) -> None:
                """Paint a bench standing at (x, y), scaled by s."""
                scene.draw("bench", lambda d: draw_bench(d, x, y, 0.3 * s * w + 6))
        elif furniture == "bicycle":
            def paint(x: float = x, y: float = y, s: float = s) -> None:
                """Paint a bicycle standing at (x, y), scaled by s."""
                scene.draw("bicycle", lambda d: draw_bicycle(d, x, y, 0.3 * s * w + 6))
        else:
            ph = 0.8 * s * h + 10

            def paint(x: float = x, y: float = y, ph: float = ph, what: str = furniture) -> None:
                """Paint a pole of height ph at (x, y) carrying a flag or a traffic light."""
                scene.draw("pole", lambda d: draw_pole(d, x, y, ph))
                if what == "flag":
                    scene.draw("flag", lambda d: draw_flag(d, x + 1, y - ph, 0.2 * ph))
                else:
                    lit = int(rng.integers(3))
                    scene.draw("traffic light", lambda d: draw_traffic_light(d, x, y - ph - 0.2 * ph, 0.2 * ph, lit))
        items.add(y, paint)
    if rng.random() < 0.3:
        y = horizon + 0.1 * (h - horizon)
        x0 = rng.uniform(0.1, 0.6) * w

        def crowd(x0: float = x0, y: float = y) -> None:
            """Paint a row of 3 to 5 pedestrians as one crowd segment."""
            sid = scene.new_segment("person", crowd=True)
            for i in range(int(rng.integers(3, 6))):
                scene.draw("person", lambda d, i=i: draw_person(d, x0 + i * 0.035 * w, y, 0.12 * h, rng), segment=sid)
        items.add(y, crowd)
    items.paint()
    _void_clutter(scene, rng, ego_hood=False)


def ade_landscape(scene: Scene, rng: np.random.Generator) -> None:
    """A landscape: sky, mountains, sea or lake, rocks, grass, trees, boats, people, a fence."""
    h, w = scene.height, scene.width
    horizon = rng.uniform(0.35, 0.5) * h
    scene.draw("sky", lambda d: d.rectangle(box(0, 0, w, horizon + 2), fill=BODY))
    ridge = [(0, horizon + 1)] + [(x, horizon - rng.uniform(0.05, 0.3) * h) for x in np.linspace(0, w, 7)] + [(w, horizon + 1)]
    scene.draw("mountain", lambda d: d.polygon(ridge, fill=BODY))
    water = "sea" if rng.random() < 0.5 else "water"
    shore = horizon + rng.uniform(0.2, 0.35) * (h - horizon)
    scene.draw(water, lambda d: d.rectangle(box(0, horizon, w, shore), fill=BODY))
    scene.draw("grass", lambda d: d.polygon([(0, shore), (w, shore - rng.uniform(0, 0.05) * h), (w, h), (0, h)], fill=BODY))
    for _ in range(rng.integers(0, 3)):
        rx, rr = rng.uniform(0, w), rng.uniform(0.04, 0.1) * w
        pts = [(rx + rr * np.cos(a) * rng.uniform(0.7, 1.2), shore + 0.5 * rr * np.sin(a) * rng.uniform(0.7, 1.2))
               for a in np.linspace(0, 2 * np.pi, 8, endpoint=False)]
        scene.draw("rock", lambda d: d.polygon(pts, fill=BODY))
    items = FarToNear()
    for _ in range(rng.integers(1, 4)):
        y = horizon + rng.uniform(0.15, 0.9) * (shore - horizon)
        s = _ground_scale(y, horizon, h)
        x, sail = rng.uniform(0.05, 0.95) * w, rng.random() < 0.5
        items.add(y, lambda x=x, y=y, s=s, sail=sail: scene.draw("boat", lambda d: draw_boat(d, x, y, 0.35 * s * w + 8, sail)))
    for _ in range(rng.integers(1, 3)):
        tx, th = rng.choice([rng.uniform(0, 0.2), rng.uniform(0.8, 1.0)]) * w, rng.uniform(0.4, 0.6) * h
        ty = shore + rng.uniform(0.05, 0.3) * (h - shore)
        items.add(ty, lambda tx=tx, ty=ty, th=th: scene.draw("tree", lambda d: draw_tree(d, tx, ty, th, rng)))
    for _ in range(rng.integers(0, 4)):
        y = shore + rng.uniform(0.2, 1.0) * (h - shore)
        x = rng.uniform(0.05, 0.95) * w
        items.add(y, lambda x=x, y=y: scene.draw("flower", lambda d: draw_flower(d, x, y, 0.08 * h)))
    for _ in range(rng.integers(0, 3)):
        y = shore + rng.uniform(0.2, 0.9) * (h - shore)
        x = rng.uniform(0.1, 0.9) * w
        items.add(y, lambda x=x, y=y: scene.draw("person", lambda d: draw_person(d, x, y, 0.45 * h, rng)))
    if rng.random() < 0.5:
        y = shore + 0.3 * (h - shore)
        x0 = rng.uniform(0, 0.5) * w
        items.add(y, lambda x0=x0, y=y: scene.draw("fence", lambda d: draw_fence(d, x0, x0 + 0.4 * w, y, 0.12 * h)))
    if rng.random() < 0.4:
        y = shore + 0.6 * (h - shore)
        x = rng.uniform(0.2, 0.8) * w
        items.add(y, lambda x=x, y=y: scene.draw("bench", lambda d: draw_bench(d, x, y, 0.2 * w)))
    items.paint()
    _void_clutter(scene, rng, ego_hood=False)


#: Scene kinds drawn for each builtin demo vocabulary.
SCENES: dict[str, tuple[Callable[[Scene, np.random.Generator], None], ...]] = {
    "demo-city": (city_street,),
    "demo-ade": (ade_room, ade_street, ade_landscape),
}
