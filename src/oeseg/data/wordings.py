"""The wording bank of the synthetic datasets: how a region of each category may be described.

For every category drawn by the generator (keyed by its display name) the bank lists head nouns
by lexical relation to the category, as WordNet 3.0 relates them: the category's own names
(`name`), synonyms (lemmas of the category's synset), subtypes (hyponyms) and parts (meronyms),
plus adjectives and relative clauses. `describe` composes reference descriptions from them
with determiners, plurals and capitalisation, so that descriptions vary the way free-form model
outputs do ("The sedan that is parked by the curb", "the wheel of a bicycle", "two BUSES").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: The wording kinds of regions.jsonl, in the order of the lexical levels.
WORDINGS = ("name", "synonym", "hyponym", "meronym")


@dataclass(frozen=True)
class Wordings:
    """Head nouns by relation to one category, and modifiers that fit it."""

    name: tuple[str, ...]
    synonym: tuple[str, ...] = ()
    hyponym: tuple[str, ...] = ()
    meronym: tuple[str, ...] = ()
    adjectives: tuple[str, ...] = ()
    clauses: tuple[str, ...] = ()
    mass: bool = False  # a mass noun: no "a", no plural

    def heads(self, wording: str) -> tuple[str, ...]:
        """The head nouns of one wording kind."""
        return getattr(self, wording)


def _w(name: str, synonym: str = "", hyponym: str = "", meronym: str = "", adjectives: str = "", clauses: str = "",
       mass: bool = False) -> Wordings:
    """Build an entry from `|`-separated lists (keeps the bank below readable)."""
    split = lambda s: tuple(x.strip() for x in s.split("|") if x.strip())  # noqa: E731
    return Wordings(split(name), split(synonym), split(hyponym), split(meronym), split(adjectives),
                    split(clauses), mass)


# fmt: off
BANK: dict[str, Wordings] = {
    # --- street scenes (Cityscapes categories) ---
    "road": _w("road", "route", "street|highway|avenue|boulevard|roadway|thoroughfare|motorway",
               "roadbed|shoulder|intersection|crossing",
               "paved|asphalt|empty|wide|grey|wet", "that leads into the city|where cars drive|ahead of the camera",
               mass=False),
    "sidewalk": _w("sidewalk", "pavement", "", "", "concrete|narrow|tiled|grey|empty",
                   "along the road|next to the buildings|where people walk"),
    "building": _w("building", "edifice", "skyscraper|apartment building|office building|house|church|hotel",
                   "roof|wall|window", "tall|old|brick|modern|white|concrete",
                   "that lines the street|in the background|with many windows"),
    "wall": _w("wall", "", "retaining wall|parapet|sidewall", "coping|capstone|wall panel",
               "low|concrete|brick|grey|graffiti-covered", "that separates the road|along the sidewalk"),
    "fence": _w("fence", "fencing", "picket fence|rail fence|chainlink fence", "",
                "metal|wooden|low|white|iron", "that runs along the sidewalk|in front of the lawn"),
    "pole": _w("pole", "", "mast", "", "metal|tall|thin|grey|steel",
               "that holds a sign|on the sidewalk|at the corner"),
    "traffic light": _w("traffic light", "traffic signal|stoplight", "red light|green light", "",
                        "red|green|yellow|hanging|small", "at the intersection|that controls the traffic"),
    "traffic sign": _w("traffic sign", "", "", "",
                       "red|round|triangular|blue|small", "that tells drivers to stop|beside the road|on a pole"),
    "vegetation": _w("vegetation", "flora", "shrubbery|thicket|undergrowth|grove|woods|brush", "",
                     "green|dense|lush|leafy|dark", "along the street|behind the fence|that grows by the road",
                     mass=True),
    "terrain": _w("terrain", "", "", "", "grassy|flat|rough|sandy|green",
                  "beside the sidewalk|next to the road|between the trees", mass=True),
    "sky": _w("sky", "", "blue sky", "cloud", "blue|clear|cloudy|bright|overcast",
              "above the buildings|over the city|in the background", mass=True),
    "person": _w("person", "individual|someone", "pedestrian|man|woman|child|worker|walker|adult",
                 "head|arm|leg", "young|old|standing|walking|tall",
                 "who is walking on the sidewalk|crossing the street|waiting at the corner|wearing a coat"),
    "rider": _w("rider", "", "cyclist|bicyclist|horseman", "", "young|helmeted|fast|lone",
                "on a bicycle|riding down the street|who rides a motorcycle"),
    "car": _w("car", "automobile|auto|motorcar", "sedan|taxi|cab|coupe|convertible|hatchback|minivan|jeep|limousine|police car|sports car",
              "wheel|bumper|car door|car window|fender|hood|roof|windshield",
              "red|white|black|silver|parked|small|blue|old",
              "parked on the street|that is driving down the road|waiting at the light|in the traffic"),
    "truck": _w("truck", "motortruck", "lorry|pickup|van|dump truck|fire engine|garbage truck|tow truck|trailer truck",
                "tailgate|bumper|wheel", "large|white|heavy|delivery|red|big",
                "parked by the curb|that carries goods|on the road"),
    "bus": _w("bus", "autobus|coach|motorbus|omnibus", "minibus|school bus|trolleybus", "window|roof",
              "yellow|city|public|long|double-decker|red", "that stops at the corner|full of passengers|on the road"),
    "train": _w("train", "railroad train", "passenger train|freight train|commuter train|subway train",
                "locomotive|railcar|engine", "long|electric|fast|blue|modern",
                "on the tracks|that passes the station|crossing the city"),
    "motorcycle": _w("motorcycle", "bike", "motorbike|moped|minibike|dirt bike", "kickstand|mudguard|wheel",
                     "black|red|parked|fast|small", "parked by the sidewalk|that rides down the street"),
    "bicycle": _w("bicycle", "bike|cycle", "mountain bike|tandem|velocipede", "wheel|pedal|handlebar|saddle|chain|bicycle wheel",
                  "blue|old|parked|red|small", "leaning against the wall|parked on the sidewalk|ridden by a man"),
    # --- ADE20K categories ---
    "floor": _w("floor", "flooring", "parquet|dance floor|floorboard", "", "wooden|tiled|polished|carpeted|dark",
                "of the room|under the table|in the hallway", mass=True),
    "tree": _w("tree", "", "oak|pine|palm|birch|maple|willow|elm", "trunk|crown|treetop|limb",
               "tall|green|leafy|old|large", "in the garden|by the road|that shades the street"),
    "ceiling": _w("ceiling", "", "", "", "white|high|wooden|plaster|flat",
                  "of the room|above the bed|with a lamp"),
    "bed": _w("bed", "", "double bed|bunk bed|cot|four-poster|hammock|single bed", "mattress|bedstead",
              "made|large|wooden|white|unmade", "in the bedroom|under the window|with white sheets"),
    "window": _w("window", "", "bay window|skylight|dormer|casement window|picture window", "windowpane|pane|sash|window frame|mullion",
                 "open|large|bright|glass|square", "in the wall|that lets the light in|with white frames"),
    "grass": _w("grass", "", "bluegrass|crabgrass|fescue|bunchgrass", "", "green|tall|dry|fresh|short", "in the park|by the path|in the field",
                mass=True),
    "cabinet": _w("cabinet", "", "dresser|medicine cabinet|china cabinet", "shelf",
                  "wooden|white|tall|kitchen|old", "against the wall|next to the sofa|in the corner"),
    "door": _w("door", "", "french door|sliding door|screen door|revolving door|double door", "lock|doorframe",
               "wooden|closed|open|white|front", "to the hallway|in the wall|that leads outside"),
    "table": _w("table", "", "coffee table|desk|kitchen table|dining table|workbench|counter", "tabletop|leg",
                "wooden|round|small|low|glass", "in the middle of the room|with a bottle on it|by the window"),
    "mountain": _w("mountain", "mount", "volcano|alp", "mountainside|slope",
                   "distant|snowy|rocky|high|blue", "in the distance|behind the lake|under the sky"),
    "plant": _w("plant", "flora|plant life", "houseplant|fern|cactus|shrub|bush|herb|vine", "",
                "green|potted|leafy|small|tall", "in a pot|by the window|on the floor"),
    "curtain": _w("curtain", "drape|drapery", "shower curtain|portiere", "eyelet", "red|long|white|heavy|sheer",
                  "over the window|that hangs by the window|drawn aside"),
    "chair": _w("chair", "", "armchair|rocking chair|folding chair|swivel chair|highchair|wheelchair|recliner|deck chair",
                "backrest|leg|seat", "wooden|empty|red|small|plastic", "at the table|next to the desk|by the wall"),
    "painting": _w("painting", "picture", "landscape|watercolor|oil painting|mural|still life|seascape", "",
                   "framed|colorful|large|abstract|old", "on the wall|that hangs above the sofa|in a golden frame"),
    "sofa": _w("sofa", "couch|lounge", "loveseat|settee|divan|sofa bed|daybed", "seat|upholstery",
               "grey|leather|comfortable|large|red", "in the living room|against the wall|with cushions"),
    "shelf": _w("shelf", "", "bookshelf|mantel|mantelpiece", "", "wooden|white|empty|long|wall",
                "on the wall|full of books|above the desk"),
    "water": _w("water", "", "fresh water|seawater|rainwater", "", "clear|blue|calm|still|dark",
                "of the lake|in the river|under the bridge", mass=True),
    "sea": _w("sea", "ocean", "", "bay|gulf|inlet", "blue|calm|rough|open|deep",
              "by the beach|under the sky|beyond the rocks", mass=True),
    "mirror": _w("mirror", "", "hand mirror|pier glass|cheval glass", "",
                 "round|large|framed|wall|oval", "on the wall|above the sink|that reflects the room"),
    "rug": _w("rug", "carpet|carpeting", "prayer rug|runner|hearthrug", "edging",
              "persian|red|woven|round|thick", "on the floor|under the table|in front of the sofa"),
    "rock": _w("rock", "stone", "boulder|pebble|outcrop", "", "grey|large|jagged|mossy|smooth",
               "on the beach|by the water|at the foot of the mountain"),
    "lamp": _w("lamp", "", "floor lamp|table lamp|reading lamp", "lampshade|base",
               "white|tall|bright|small|brass", "on the table|next to the bed|in the corner"),
    "bench": _w("bench", "", "park bench|pew|settle", "seat|leg", "wooden|empty|long|green|stone",
                "in the park|by the path|along the sidewalk"),
    "boat": _w("boat", "", "rowboat|canoe|motorboat|ferry|dinghy|kayak|barge|gondola|steamboat", "hull|bow|rudder|prow",
               "white|small|wooden|fishing|red", "on the water|moored at the pier|sailing on the sea"),
    "street lamp": _w("street lamp", "streetlight", "", "lamppost", "tall|old|iron|lit|black",
                      "along the sidewalk|that lights the street|at the corner"),
    "flower": _w("flower", "bloom|blossom", "daisy|sunflower|orchid|aster|begonia|chrysanthemum|marigold", "",
                 "red|yellow|white|pink|small", "in the vase|in the garden|that blooms by the path"),
    "clock": _w("clock", "", "wall clock|alarm clock|grandfather clock|cuckoo clock", "clock face|dial|hand",
                "round|white|old|large|wall", "on the wall|above the door|that shows the time"),
    "flag": _w("flag", "", "banner|pennant|ensign|national flag|streamer", "", "red|striped|waving|national|white",
               "on the pole|that waves in the wind|above the building"),
    "bottle": _w("bottle", "", "wine bottle|water bottle|beer bottle|flask|jug|decanter|carafe", "bottlecap",
                 "green|glass|empty|plastic|small", "on the table|next to the glass|on the shelf"),
}
# fmt: on

_IRREGULAR_PLURALS = {"person": "people", "man": "men", "woman": "women", "child": "children",
                      "shelf": "shelves", "leaf": "leaves", "foot": "feet", "mouse": "mice"}


def plural(noun: str) -> str:
    """English plural of a (possibly compound) noun: the last word is inflected."""
    head, _, last = noun.rpartition(" ")
    if last in _IRREGULAR_PLURALS:
        out = _IRREGULAR_PLURALS[last]
    elif last.endswith(("s", "x", "z", "ch", "sh")):
        out = last + "es"
    elif last.endswith("y") and last[-2:-1] not in "aeiou":
        out = last[:-1] + "ies"
    else:
        out = last + "s"
    return f"{head} {out}" if head else out


def _article(word: str) -> str:
    """The indefinite article of `word`: "an" before a vowel letter, else "a"."""
    return "an" if word[0] in "aeiou" else "a"


def _noun_phrase(entry: Wordings, head: str, rng: np.random.Generator, countable: bool = True,
                 adjectives: bool = True) -> str:
    """A determiner, an optional adjective and the head, singular or plural."""
    adjective = entry.adjectives[rng.integers(len(entry.adjectives))] if (
        adjectives and entry.adjectives and rng.random() < 0.5) else ""
    words = f"{adjective} {head}".strip()
    if not countable:
        return f"{rng.choice(['the', 'some', ''])} {words}".strip()
    form = rng.choice(["a", "the", "this", "one", "plural", "bare"], p=[.3, .3, .08, .07, .15, .1])
    if form == "plural":
        return f"{rng.choice(['two', 'some', 'several', 'the', ''])} {plural(words)}".strip()
    if form == "bare":
        return words
    if form == "a":
        return f"{_article(words)} {words}"
    return f"{form} {words}"


def _capitalise(text: str, rng: np.random.Generator) -> str:
    """Vary the case: as is, first letter upper, title case, or all capitals."""
    style = rng.choice(["lower", "first", "title", "upper"], p=[.55, .3, .1, .05])
    if style == "first":
        return text[0].upper() + text[1:]
    if style == "title":
        return text.title()
    if style == "upper":
        return text.upper()
    return text


def describe(category_name: str, rng: np.random.Generator, n: int) -> list[dict]:
    """`n` distinct reference descriptions {text, wording} of a region of this category."""
    entry = BANK[category_name]
    kinds = [k for k in WORDINGS if entry.heads(k)]
    weights = np.array([{"name": .3, "synonym": .2, "hyponym": .3, "meronym": .2}[k] for k in kinds])
    out: list[dict] = []
    seen: set[str] = set()
    for _ in range(20 * n):
        if len(out) == n:
            break
        kind = kinds[rng.choice(len(kinds), p=weights / weights.sum())] if out else "name"
        heads = entry.heads(kind)
        head = heads[rng.integers(len(heads))]
        if kind == "meronym":
            whole = entry.name[0]
            determiner = "the" if entry.mass else _article(whole)
            text = (f"the {head} of {determiner} {whole}" if rng.random() < 0.6
                    else _noun_phrase(entry, head, rng, adjectives=False))
        else:
            text = _noun_phrase(entry, head, rng, countable=not entry.mass)
        if entry.clauses and rng.random() < 0.35:
            text = f"{text} {entry.clauses[rng.integers(len(entry.clauses))]}"
        text = _capitalise(text, rng)
        if text.lower() not in seen:
            seen.add(text.lower())
            out.append({"text": text, "wording": kind})
    return out
