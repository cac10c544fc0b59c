"""Target vocabularies: ordered category lists `{id, name, isthing}` (docs/formats.md, "Vocabularies").

Ids are the contiguous ids that detectron2/Mask2Former use for training and evaluation:
Cityscapes trainIds 0-18 (detectron2's `trainId`), ADE20K-150 panoptic ids 0-149
(Mask2Former's ADE20K_150_CATEGORIES). A `name` may hold several comma-separated names of one
category; each of them is an exact match, normalised as every category name and lexicon term is
(`normalize_term`, `name_terms`: here, below the lexicon package, so that both can import them).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from oeseg.io import InputError, check_required_fields, check_unicode, nonnegative_integer, read_json


def normalize_term(term: str) -> str:
    """Lower case, "_" read as a space, single spaces; plural handling belongs to the mapping's normaliser."""
    return " ".join(term.strip().lower().replace("_", " ").split())


def name_terms(name: str) -> list[str]:
    """The normalised names of a comma-separated category name (empty ones left out): a category's
    names wherever they are compared or listed (`Category.names`, a lexicon's `exact` terms)."""
    return [term for term in map(normalize_term, name.split(",")) if term]


def full_name_key(name: str) -> str:
    """A category's full name as names are compared: lower-case, white space collapsed."""
    return " ".join(name.lower().split())


@dataclass(frozen=True)
class Category:
    """One target category."""

    id: int
    name: str
    isthing: bool
    color: tuple[int, int, int] = (0, 0, 0)

    @property
    def names(self) -> list[str]:
        """Every comma-separated name of the category, normalised (`name_terms`: "Traffic  Light,
        street_lamp" gives "traffic light", "street lamp"): its exact terms in every lexicon."""
        return name_terms(self.name)

    @property
    def display_name(self) -> str:
        """The first name, for tables and figures."""
        return self.names[0]


@dataclass(frozen=True)
class Vocabulary:
    """An ordered list of categories with lookups by id and by name."""

    name: str
    categories: tuple[Category, ...]

    def __post_init__(self) -> None:
        """Raise InputError if a category id is listed twice."""
        ids = [c.id for c in self.categories]
        if len(set(ids)) != len(ids):
            twice = sorted({i for i in ids if ids.count(i) > 1})
            raise InputError(f"vocabulary {self.name}: category id(s) {', '.join(map(str, twice))} listed twice")

    def __len__(self) -> int:
        """The number of categories."""
        return len(self.categories)

    def __iter__(self) -> Iterator[Category]:
        """The categories in order."""
        return iter(self.categories)

    def by_id(self, category_id: int) -> Category:
        """The category with this id; KeyError names the vocabulary."""
        for c in self.categories:
            if c.id == category_id:
                return c
        raise KeyError(f"vocabulary {self.name} has no category id {category_id}")

    def named(self, name: str) -> list[Category]:
        """The categories `name` may mean: the one whose full name it is, else every category that
        lists it among its comma-separated names (compared normalised, `normalize_term`; [] when none does)."""
        key = full_name_key(name)
        full = [c for c in self.categories if key == full_name_key(c.name)]
        term = normalize_term(name)
        return full[:1] or [c for c in self.categories if term in c.names]

    def by_name(self, name: str) -> Category:
        """The category named `name`: an exact full-name match wins, else the only category that
        lists it; KeyError when none does or when several do (naming them)."""
        found = self.named(name)
        if len(found) == 1:
            return found[0]
        if not found:
            raise KeyError(f"vocabulary {self.name} has no category named {name!r}")
        candidates = "; ".join(f"{c.id} {c.name!r}" for c in found)
        raise KeyError(f"{name!r} names several categories of vocabulary {self.name} ({candidates}): "
                       "give a full name or an id")

    def to_json(self) -> list[dict]:
        """The COCO-style `categories` list."""
        return [{"id": c.id, "name": c.name, "isthing": int(c.isthing), "color": list(c.color)}
                for c in self.categories]

    @classmethod
    def from_json(cls, name: str, categories: list[dict], source: str | None = None) -> Vocabulary:
        """Build from a COCO-style `categories` list (as in panoptic.json); `source` (the file)
        names where a bad entry is: ids are integers >= 0, `isthing` is 0, 1, true or false, and
        names are not empty and not given twice (ignoring case and spaces)."""
        where = f"{source}: categories" if source else f"vocabulary {name}: categories"
        cats: list[Category] = []
        full_names: dict[str, int] = {}
        for i, c in enumerate(categories):
            if not isinstance(c, dict):  # a list of names, say: Python's own error would name no field
                raise InputError(f"{where}[{i}]: a category is an object {{id, name, isthing}}, got {c!r}")
            check_required_fields(c, ("id", "name"), f"{where}[{i}]")
            if not isinstance(c["name"], str):  # str() would name a category "None" or "['car']"
                raise InputError(f"{where}[{i}]: 'name' must be a string (names separated by commas), got {c['name']!r}")
            category_id, category_name = c["id"], c["name"].strip()
            try:
                color = tuple(int(v) for v in c.get("color", (0, 0, 0)))
            except (TypeError, ValueError) as e:
                raise InputError(f"{where}[{i}]: bad 'color' ({e})") from None
            nonnegative_integer(category_id, f"{where}[{i}].id")
            if "isthing" not in c:  # as a stuff category its regions would leave AP and join PQ_st
                raise InputError(f"{where}[{i}]: missing field 'isthing' (0 or 1)")
            isthing = c["isthing"]
            if isthing not in (0, 1) or isinstance(isthing, float):  # True/False are 1/0
                raise InputError(f"{where}[{i}]: 'isthing' must be 0, 1, true or false, got {isthing!r}")
            check_unicode(category_name, f"{where}[{i}]", "'name'")
            key = full_name_key(category_name)
            named_background = [n.strip() for n in category_name.split(",") if normalize_term(n) == "background"]
            if named_background:  # `oeseg map` writes it for a description mapped to no category
                raise InputError(f"{where}[{i}]: {named_background[0]!r} names no category here: a description that "
                                 "maps to no category is background (and void pixels are unlabelled); rename it")
            if not key:
                raise InputError(f"{where}[{i}]: category {category_id} has an empty name")
            if not all(map(normalize_term, category_name.split(","))):  # "car,,auto", ",", "car, _": no words
                raise InputError(f"{where}[{i}]: category {category_id}'s name {category_name!r} has an empty name "
                                 "between its commas (\"_\" reads as a space)")
            if key in full_names:  # a name given as `gt` would resolve to the first silently
                raise InputError(f"{where}[{i}]: name {category_name!r} is also the name of {where}"
                                 f"[{full_names[key]}] (names are compared ignoring case and spaces)")
            full_names[key] = i
            cats.append(Category(category_id, category_name, bool(isthing), color))
        if not cats:  # nothing could be mapped to: every description would be background
            raise InputError(f"{where}: no categories")
        try:
            return cls(name, tuple(cats))
        except InputError as e:
            raise InputError(f"{source}: {e}" if source else str(e)) from None


# fmt: off
_CITYSCAPES = [  # (trainId, name, isthing, color) as detectron2's CITYSCAPES_CATEGORIES
    (0, "road", 0, (128, 64, 128)), (1, "sidewalk", 0, (244, 35, 232)),
    (2, "building", 0, (70, 70, 70)), (3, "wall", 0, (102, 102, 156)),
    (4, "fence", 0, (190, 153, 153)), (5, "pole", 0, (153, 153, 153)),
    (6, "traffic light", 0, (250, 170, 30)), (7, "traffic sign", 0, (220, 220, 0)),
    (8, "vegetation", 0, (107, 142, 35)), (9, "terrain", 0, (152, 251, 152)),
    (10, "sky", 0, (70, 130, 180)), (11, "person", 1, (220, 20, 60)),
    (12, "rider", 1, (255, 0, 0)), (13, "car", 1, (0, 0, 142)), (14, "truck", 1, (0, 0, 70)),
    (15, "bus", 1, (0, 60, 100)), (16, "train", 1, (0, 80, 100)),
    (17, "motorcycle", 1, (0, 0, 230)), (18, "bicycle", 1, (119, 11, 32)),
]
#: Cityscapes label id (the value in *_labelIds.png / panoptic category_id) of each trainId.
CITYSCAPES_LABEL_IDS = [7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33]

_ADE20K = [  # (name, isthing, color) in id order 0..149, as Mask2Former's ADE20K_150_CATEGORIES
    ("wall", 0, (120, 120, 120)), ("building", 0, (180, 120, 120)), ("sky", 0, (6, 230, 230)),
    ("floor", 0, (80, 50, 50)), ("tree", 0, (4, 200, 3)), ("ceiling", 0, (120, 120, 80)),
    ("road, route", 0, (140, 140, 140)), ("bed", 1, (204, 5, 255)), ("window", 1, (230, 230, 230)),
    ("grass", 0, (4, 250, 7)), ("cabinet", 1, (224, 5, 255)), ("sidewalk, pavement", 0, (235, 255, 7)),
    ("person", 1, (150, 5, 61)), ("earth, ground", 0, (120, 120, 70)), ("door", 1, (8, 255, 51)),
    ("table", 1, (255, 6, 82)), ("mountain, mount", 0, (143, 255, 140)), ("plant", 0, (204, 255, 4)),
    ("curtain", 1, (255, 51, 7)), ("chair", 1, (204, 70, 3)), ("car", 1, (0, 102, 200)),
    ("water", 0, (61, 230, 250)), ("painting, picture", 1, (255, 6, 51)), ("sofa", 1, (11, 102, 255)),
    ("shelf", 1, (255, 7, 71)), ("house", 0, (255, 9, 224)), ("sea", 0, (9, 7, 230)),
    ("mirror", 1, (220, 220, 220)), ("rug", 0, (255, 9, 92)), ("field", 0, (112, 9, 255)),
    ("armchair", 1, (8, 255, 214)), ("seat", 1, (7, 255, 224)), ("fence", 1, (255, 184, 6)),
    ("desk", 1, (10, 255, 71)), ("rock, stone", 0, (255, 41, 10)),
    ("wardrobe, closet, press", 1, (7, 255, 255)), ("lamp", 1, (224, 255, 8)),
    ("tub", 1, (102, 8, 255)), ("rail", 1, (255, 61, 6)), ("cushion", 1, (255, 194, 7)),
    ("base, pedestal, stand", 0, (255, 122, 8)), ("box", 1, (0, 255, 20)),
    ("column, pillar", 1, (255, 8, 41)), ("signboard, sign", 1, (255, 5, 153)),
    ("chest of drawers, chest, bureau, dresser", 1, (6, 51, 255)), ("counter", 1, (235, 12, 255)),
    ("sand", 0, (160, 150, 20)), ("sink", 1, (0, 163, 255)), ("skyscraper", 0, (140, 140, 140)),
    ("fireplace", 1, (250, 10, 15)), ("refrigerator, icebox", 1, (20, 255, 0)),
    ("grandstand, covered stand", 0, (31, 255, 0)), ("path", 0, (255, 31, 0)),
    ("stairs", 1, (255, 224, 0)), ("runway", 0, (153, 255, 0)),
    ("case, display case, showcase, vitrine", 1, (0, 0, 255)),
    ("pool table, billiard table, snooker table", 1, (255, 71, 0)), ("pillow", 1, (0, 235, 255)),
    ("screen door, screen", 1, (0, 173, 255)), ("stairway, staircase", 0, (31, 0, 255)),
    ("river", 0, (11, 200, 200)), ("bridge, span", 0, (255, 82, 0)), ("bookcase", 1, (0, 255, 245)),
    ("blind, screen", 0, (0, 61, 255)), ("coffee table", 1, (0, 255, 112)),
    ("toilet, can, commode, crapper, pot, potty, stool, throne", 1, (0, 255, 133)),
    ("flower", 1, (255, 0, 0)), ("book", 1, (255, 163, 0)), ("hill", 0, (255, 102, 0)),
    ("bench", 1, (194, 255, 0)), ("countertop", 1, (0, 143, 255)), ("stove", 1, (51, 255, 0)),
    ("palm, palm tree", 1, (0, 82, 255)), ("kitchen island", 1, (0, 255, 41)),
    ("computer", 1, (0, 255, 173)), ("swivel chair", 1, (10, 0, 255)), ("boat", 1, (173, 255, 0)),
    ("bar", 0, (0, 255, 153)), ("arcade machine", 1, (255, 92, 0)),
    ("hovel, hut, hutch, shack, shanty", 0, (255, 0, 255)), ("bus", 1, (255, 0, 245)),
    ("towel", 1, (255, 0, 102)), ("light", 1, (255, 173, 0)), ("truck", 1, (255, 0, 20)),
    ("tower", 0, (255, 184, 184)), ("chandelier", 1, (0, 31, 255)),
    ("awning, sunshade, sunblind", 1, (0, 255, 61)), ("street lamp", 1, (0, 71, 255)),
    ("booth", 1, (255, 0, 204)), ("tv", 1, (0, 255, 194)), ("plane", 1, (0, 255, 82)),
    ("dirt track", 0, (0, 10, 255)), ("clothes", 1, (0, 112, 255)), ("pole", 1, (51, 0, 255)),
    ("land, ground, soil", 0, (0, 194, 255)),
    ("bannister, banister, balustrade, balusters, handrail", 1, (0, 122, 255)),
    ("escalator, moving staircase, moving stairway", 0, (0, 255, 163)),
    ("ottoman, pouf, pouffe, puff, hassock", 1, (255, 153, 0)), ("bottle", 1, (0, 255, 10)),
    ("buffet, counter, sideboard", 0, (255, 112, 0)),
    ("poster, posting, placard, notice, bill, card", 0, (143, 255, 0)), ("stage", 0, (82, 0, 255)),
    ("van", 1, (163, 255, 0)), ("ship", 1, (255, 235, 0)), ("fountain", 1, (8, 184, 170)),
    ("conveyer belt, conveyor belt, conveyer, conveyor, transporter", 0, (133, 0, 255)),
    ("canopy", 0, (0, 255, 92)), ("washer, automatic washer, washing machine", 1, (184, 0, 255)),
    ("plaything, toy", 1, (255, 0, 31)), ("pool", 0, (0, 184, 255)), ("stool", 1, (0, 214, 255)),
    ("barrel, cask", 1, (255, 0, 112)), ("basket, handbasket", 1, (92, 255, 0)),
    ("falls", 0, (0, 224, 255)), ("tent", 0, (112, 224, 255)), ("bag", 1, (70, 184, 160)),
    ("minibike, motorbike", 1, (163, 0, 255)), ("cradle", 0, (153, 0, 255)), ("oven", 1, (71, 255, 0)),
    ("ball", 1, (255, 0, 163)), ("food, solid food", 1, (255, 204, 0)), ("step, stair", 1, (255, 0, 143)),
    ("tank, storage tank", 0, (0, 255, 235)), ("trade name", 1, (133, 255, 0)),
    ("microwave", 1, (255, 0, 235)), ("pot", 1, (245, 0, 255)), ("animal", 1, (255, 0, 122)),
    ("bicycle", 1, (255, 245, 0)), ("lake", 0, (10, 190, 212)), ("dishwasher", 1, (214, 255, 0)),
    ("screen", 1, (0, 204, 255)), ("blanket, cover", 0, (20, 0, 255)), ("sculpture", 1, (255, 255, 0)),
    ("hood, exhaust hood", 1, (0, 153, 255)), ("sconce", 1, (0, 41, 255)), ("vase", 1, (0, 255, 204)),
    ("traffic light", 1, (41, 0, 255)), ("tray", 1, (41, 255, 0)), ("trash can", 1, (173, 0, 255)),
    ("fan", 1, (0, 245, 255)), ("pier", 0, (71, 0, 255)), ("crt screen", 0, (122, 0, 255)),
    ("plate", 1, (0, 255, 184)), ("monitor", 1, (0, 92, 255)), ("bulletin board", 1, (184, 255, 0)),
    ("shower", 0, (0, 133, 255)), ("radiator", 1, (255, 214, 0)),
    ("glass, drinking glass", 1, (25, 194, 194)), ("clock", 1, (102, 255, 0)), ("flag", 1, (92, 0, 255)),
]
# fmt: on

CITYSCAPES = Vocabulary("cityscapes", tuple(Category(i, n, bool(t), c) for i, n, t, c in _CITYSCAPES))
ADE20K = Vocabulary("ade20k", tuple(Category(i, n, bool(t), c) for i, (n, t, c) in enumerate(_ADE20K)))

#: ADE20K categories (by first name) drawn by the synthetic `demo-ade` generator: indoor and
#: outdoor, things and stuff, with the ADE20K ids kept.
DEMO_ADE_NAMES = (
    "wall", "building", "sky", "floor", "tree", "ceiling", "road", "bed", "window", "grass",
    "cabinet", "sidewalk", "person", "door", "table", "mountain", "plant", "curtain", "chair",
    "car", "water", "painting", "sofa", "shelf", "sea", "mirror", "rug", "fence", "lamp",
    "rock", "bench", "boat", "bus", "truck", "street lamp", "pole", "bicycle", "flower",
    "clock", "flag", "traffic light", "bottle",
)
DEMO_ADE = Vocabulary("demo-ade", tuple(ADE20K.by_name(n) for n in DEMO_ADE_NAMES))
DEMO_CITY = Vocabulary("demo-city", CITYSCAPES.categories)

BUILTIN: dict[str, Vocabulary] = {v.name: v for v in (CITYSCAPES, ADE20K, DEMO_CITY, DEMO_ADE)}


def category_key(vocabulary: Vocabulary) -> list[tuple[int, str, bool]]:
    """What makes two vocabularies' categories the same: each category's id, name and isthing."""
    return [(c.id, c.name, c.isthing) for c in vocabulary]


def builtin_names(vocabulary: Vocabulary) -> list[str]:
    """The names of the built-in vocabularies with the same categories (`category_key`):
    `demo-city` has Cityscapes' own."""
    key = category_key(vocabulary)
    return [name for name, v in BUILTIN.items() if category_key(v) == key]


def vocabulary_name(name_or_path: str | Path) -> str:
    """The name of a vocabulary given as get_vocabulary takes it: a built-in name, else the JSON
    file's stem (`vocab/mine.json` is `mine`, the name its splits' `info.vocabulary` and its
    lexicon's `vocabulary` carry)."""
    key = str(name_or_path)
    return key if key in BUILTIN else Path(key).stem


def get_vocabulary(name_or_path: str | Path) -> Vocabulary:
    """A builtin vocabulary by name, or the `categories` of a panoptic.json / vocabulary JSON file."""
    key = str(name_or_path)
    if key in BUILTIN:
        return BUILTIN[key]
    path = Path(key)
    if not path.exists():
        raise InputError(f"unknown vocabulary {key!r}: not one of {sorted(BUILTIN)} and no such file")
    obj = read_json(path)
    categories = obj.get("categories") if isinstance(obj, dict) else obj
    if not isinstance(categories, list):
        raise InputError(f"{path}: expected a list of categories or an object with 'categories'")
    return Vocabulary.from_json(vocabulary_name(path), categories, str(path))
