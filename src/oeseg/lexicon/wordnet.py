"""WordNet 3.0 from the system's database files, and the WordNet lexicon builder (the offline default).

WordNet comes from Debian's `wordnet-base` and `wordnet-sense-index` (/usr/share/wordnet). nltk's
WordNetCorpusReader also needs the `lexnames` file (lexicographer file numbers -> names), which
Debian does not ship as data: `open_wordnet` reads the database folder as it is
and serves `lexnames` from the lexnames(5WN) manual page, or, without it, from the file numbers
the data files use. Nothing is downloaded.
"""

from __future__ import annotations

import functools
import gzip
import io
import logging
import os
import re
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from oeseg.data.vocabularies import Vocabulary, name_terms, normalize_term
from oeseg.io import InputError, read_yaml
from oeseg.lexicon.lexicon import Lexicon, LexiconEntry, nouns_sha256

if TYPE_CHECKING:
    from nltk.corpus.reader.wordnet import Synset, WordNetCorpusReader
    from nltk.data import SeekableUnicodeStreamReader

log = logging.getLogger(__name__)

#: Where Debian installs the WordNet database; OESEG_WORDNET_DIR overrides it.
WORDNET_DIR = Path(os.environ.get("OESEG_WORDNET_DIR", "/usr/share/wordnet"))
#: The lexnames(5WN) manual page of wordnet-base: the documented file numbers and names.
LEXNAMES_MANPAGE = Path("/usr/share/man/man5/lexnames.5WN.gz")
#: Database files the reader opens (besides `lexnames`, served from memory when absent).
_DATABASE_FILES = ("cntlist.rev", "index.sense", *(f"{kind}.{pos}" for kind in ("index", "data")
                   for pos in ("noun", "verb", "adj", "adv")), "noun.exc", "verb.exc", "adj.exc", "adv.exc")
_POS_NUMBERS = {"n": 1, "v": 2, "a": 3, "s": 3, "r": 4}


def _lexnames_from_manpage(manpage: Path) -> str | None:
    """The `lexnames` file text from the table of the lexnames(5WN) page, or None if absent."""
    if not manpage.exists():
        return None
    with gzip.open(manpage, "rt", encoding="utf-8", errors="replace") as f:
        rows = re.findall(r"^(\d\d)\t(\w+)\.(\w+)\s*\t", f.read(), flags=re.MULTILINE)
    pos_of = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}
    if not rows or [int(n) for n, _, _ in rows] != list(range(len(rows))):
        return None
    return "".join(f"{n}\t{pos}.{name}\t{pos_of[pos]}\n" for n, pos, name in rows)


def _lexnames_from_data(source: Path) -> str:
    """`lexnames` text with placeholder names (`noun.06`) for every file number the data files use."""
    numbers: dict[int, int] = {}
    for pos in ("noun", "verb", "adj", "adv"):
        with open(source / f"data.{pos}", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("  "):
                    continue
                fields = line.split(" ", 3)
                numbers.setdefault(int(fields[1]), _POS_NUMBERS[fields[2]])
    names = {1: "noun", 2: "verb", 3: "adj", 4: "adv"}
    return "".join(f"{n:02d}\t{names[numbers.get(n, 1)]}.{n:02d}\t{numbers.get(n, 1)}\n"
                   for n in range(max(numbers) + 1))


def _missing_files(source: Path) -> list[str]:
    """The database files the reader needs that the folder `source` lacks."""
    return [name for name in _DATABASE_FILES if not (source / name).exists()]


@functools.lru_cache(maxsize=None)
def open_wordnet(source: str | os.PathLike = WORDNET_DIR) -> WordNetCorpusReader:
    """nltk's WordNet reader over the system's WordNet 3.0 database (one shared instance per folder)."""
    import nltk.data
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    source = Path(source).resolve()
    if missing := _missing_files(source):
        raise InputError(f"{source}: WordNet database incomplete, missing {', '.join(missing)} "
                         "(install the Debian packages wordnet-base and wordnet-sense-index)")
    lexnames = None if (source / "lexnames").exists() else (
        _lexnames_from_manpage(LEXNAMES_MANPAGE) or _lexnames_from_data(source))

    class SystemWordNetReader(WordNetCorpusReader):
        """The reader, with `lexnames` served from memory when the database folder lacks it."""

        def open(self, fileid: str) -> IO[Any] | SeekableUnicodeStreamReader:
            """A stream of database file `fileid`; `lexnames` from memory when the folder lacks it."""
            if fileid == "lexnames" and lexnames is not None:
                return io.StringIO(lexnames)
            return super().open(fileid)

        def map_wn(self, version: str = "wordnet") -> None:
            """No mapping to nltk's own WordNet data (None)."""
            return None  # the mapping to nltk's own WordNet data only serves multilingual lookups

    if str(source) not in nltk.data.path:  # nltk's path guard reads only from its data folders
        nltk.data.path.append(str(source))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "multilingual functions are not available": English only
        return SystemWordNetReader(str(source), None)


def adjective_words(wn: WordNetCorpusReader) -> list[str]:
    """Single words that WordNet reads mostly as adjectives (sorted): those with adjective senses
    whose sense-tagged counts exceed those of their noun senses, or with no noun sense ("white",
    "silver", "grassy"; not "gold", "orange", "metal"); -ing forms are left out, since before a noun
    they name its purpose ("waiting room", "dining table")."""
    counts: dict[str, dict[str, int]] = {}
    for pos in ("n", "a"):  # "a" also yields the adjective satellites
        for synset in wn.all_synsets(pos):
            for lemma in synset.lemmas():
                word = lemma.name().lower()
                if word.isascii() and word.isalpha() and not word.endswith("ing"):
                    own = counts.setdefault(word, {})
                    own[pos] = own.get(pos, 0) + lemma.count()
    return sorted(w for w, c in counts.items() if "a" in c and ("n" not in c or c["a"] > c["n"]))


# --- the WordNet lexicon builder ------------------------------------------------------------------

#: Synset choices shipped with the package, one YAML file per vocabulary family.
SYNSET_FILES = resources.files("oeseg.lexicon") / "synsets"


@dataclass(frozen=True)
class CategorySynsets:
    """The WordNet senses of one category: its own senses (synonyms; their hyponym closure gives
    hyponyms) and, where the dataset's definition of the category says so, further kinds
    (`hyponyms`: counted with their hyponym closure) and parts (`meronyms`); `excludes` removes
    kinds that the dataset labels as another category (with their hyponym closure)."""

    synsets: tuple[str, ...]
    hyponyms: tuple[str, ...] = ()
    meronyms: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()


def _synset_names(value: object, where: str) -> tuple[str, ...]:
    """The synset names of a YAML list (none for a missing one); InputError names `where` otherwise."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"{where}: expected a list of synset names such as pole.n.01")
    return tuple(value)


def load_synset_choices(path: str | os.PathLike) -> tuple[list[str], dict[str, CategorySynsets]]:
    """Read a synset file: the vocabularies it serves and, per category name, its senses."""
    obj = read_yaml(path, "synset file")
    if not isinstance(obj, dict):
        raise InputError(f"{path}: expected a mapping of 'vocabularies' and 'categories', got {type(obj).__name__}")
    if unknown := sorted(map(str, set(obj) - {"vocabularies", "categories"})):
        raise InputError(f"{path}: unknown keys {unknown} (a synset file has 'vocabularies' and 'categories')")
    if not isinstance(obj.get("categories"), dict):
        raise InputError(f"{path}: categories: expected a mapping of category names to their synsets, "
                         f"got {obj.get('categories')!r}")
    vocabularies = obj.get("vocabularies", [])
    if not isinstance(vocabularies, list):
        raise InputError(f"{path}: vocabularies: expected a list of vocabulary names, got {vocabularies!r}")
    choices = {}
    for name, entry in obj["categories"].items():
        where = f"{path}: categories.{name}"
        if not isinstance(name, str):
            raise InputError(f"{where}: a key is a category's name, not {type(name).__name__}")
        if not isinstance(entry, dict) or not entry.get("synsets"):
            raise InputError(f"{where}: needs a non-empty 'synsets' list")
        unknown = set(entry) - {"synsets", "hyponyms", "meronyms", "excludes"}
        if unknown:
            raise InputError(f"{where}: unknown keys {sorted(unknown)}")
        if normalize_term(name) in choices:  # "Rider" and "rider": one category, the first silently lost
            raise InputError(f"{where}: names the same category as another key (keys are compared in lower case)")
        choices[normalize_term(name)] = CategorySynsets(*(
            _synset_names(entry.get(key), f"{where}.{key}") for key in ("synsets", "hyponyms", "meronyms", "excludes")))
    return [str(v) for v in vocabularies], choices


def synset_choices(vocabulary: Vocabulary) -> dict[str, CategorySynsets]:
    """The packaged synset choices for a vocabulary (by name), or {} when none is shipped."""
    for path in sorted(SYNSET_FILES.iterdir()):
        if path.name.endswith(".yaml"):
            vocabularies, choices = load_synset_choices(path)
            if vocabulary.name in vocabularies:
                return choices
    return {}


def read_synset_file(path: str | os.PathLike, vocabulary: Vocabulary) -> dict[str, CategorySynsets]:
    """The choices of a synset file of one's own for `vocabulary`, keyed as `synset_choices` keys
    them; InputError names the file where its `vocabularies` leave the vocabulary out, or a
    category key names no category of it (or the same one as another key)."""
    vocabularies, written = load_synset_choices(path)
    if vocabularies and vocabulary.name not in vocabularies:
        raise InputError(f"{path}: vocabularies: {vocabularies} does not name vocabulary {vocabulary.name!r} "
                         "(name it there, or leave 'vocabularies' out)")
    by_names = {tuple(name_terms(c.name)): c for c in vocabulary}
    choices: dict[str, CategorySynsets] = {}
    unknown = []
    for key, choice in written.items():
        category = by_names.get(tuple(name_terms(key)))
        if category is None:
            unknown.append(key)
        elif normalize_term(category.name) in choices:
            raise InputError(f"{path}: categories: two keys name category {category.name!r}")
        else:
            choices[normalize_term(category.name)] = choice
    if unknown:
        raise InputError(f"{path}: categories {unknown} are not category names of vocabulary {vocabulary.name!r} "
                         "(each key is a category's full name, as its vocabulary file writes it)")
    return choices


def _closure(synsets: Iterable[Synset], relation: Callable[[Synset], list[Synset]]) -> list[Synset]:
    """The synsets themselves and everything reachable through `relation`, in breadth-first order."""
    seen = {s: None for s in synsets}
    frontier = list(seen)
    while frontier:
        nxt = []
        for s in frontier:
            for t in relation(s):
                if t not in seen:
                    seen[t] = None
                    nxt.append(t)
        frontier = nxt
    return list(seen)


def _by_name(synsets: list) -> list:
    """Related synsets in name order: nltk >= 3.9 returns them in the order of a set of pointers,
    which changes with Python's string hashing from one process to the next."""
    return sorted(synsets, key=lambda s: s.name())


def _kinds(synset: Synset) -> list[Synset]:
    """The direct hyponyms and instance hyponyms of a synset, each in name order."""
    return _by_name(synset.hyponyms()) + _by_name(synset.instance_hyponyms())


def _parts(synset: Synset) -> list[Synset]:
    """The direct part, member and substance meronyms of a synset, each in name order."""
    return _by_name(synset.part_meronyms()) + _by_name(synset.member_meronyms()) + _by_name(synset.substance_meronyms())


def _hypernyms(synset: Synset) -> list[Synset]:
    """The direct hypernyms of a synset in name order."""
    return _by_name(synset.hypernyms())


def _synset(wn: WordNetCorpusReader, name: str, where: str) -> Synset:
    """The synset named `name` (such as pole.n.01); InputError names `where` when WordNet has none."""
    from nltk.corpus.reader.wordnet import WordNetError

    try:
        return wn.synset(name)
    except (WordNetError, ValueError):
        raise InputError(f"{where}: no WordNet synset {name!r}") from None


def _lemmas(synsets: Iterable[Synset]) -> list[str]:
    """The normalised lemma names of the synsets, once each, in order."""
    return list(dict.fromkeys(normalize_term(lemma) for s in synsets for lemma in s.lemma_names()))


def default_synsets(wn: WordNetCorpusReader, category_name: str) -> tuple[CategorySynsets, list[str]]:
    """Without a written choice: the most frequent noun sense of each of the category's names, and
    the names that WordNet has no noun sense of."""
    names, unknown = [], []
    for name in name_terms(category_name):
        senses = wn.synsets(name.replace(" ", "_"), pos="n")
        if senses:
            names.append(senses[0].name())
        else:
            unknown.append(name)
    return CategorySynsets(tuple(dict.fromkeys(names))), unknown  # "car, auto": car.n.01 once


#: Hypernyms at least this deep (entity = 0) pass their parts on: a car has the wheels of a
#: wheeled vehicle, but not the "part" and "section" of every whole (depth 3).
INHERIT_PARTS_MIN_DEPTH = 5


#: Hypernyms deep enough whose parts still belong to no particular kind of them: every structure's
#: "structural member", whose kinds (lamp post, telephone pole, stilt, sill) would be parts of
#: every building, wall, fence, window, door and bridge.
UNINHERITED_PARTS_OF = frozenset({"structure.n.01"})


def _inherited_parts(synset: Synset) -> list[Synset]:
    """The parts of a synset's hypernyms deep enough to pass them on (INHERIT_PARTS_MIN_DEPTH)."""
    return [p for h in _closure([synset], _hypernyms)[1:]
            if h.min_depth() >= INHERIT_PARTS_MIN_DEPTH and h.name() not in UNINHERITED_PARTS_OF for p in _parts(h)]


#: A hyponym or meronym term counts only if one of its this many most frequent senses is related.
DOMINANT_SENSES = 1


def _dominant_terms(wn: WordNetCorpusReader, synsets: Iterable[Synset], within: set[Synset]) -> list[str]:
    """Lemmas of `synsets` with one of their most frequent noun senses in `within` ("light" is not
    a kind of person although one rare sense of it is)."""
    terms = []
    for term in _lemmas(synsets):
        senses = wn.synsets(term.replace(" ", "_"), pos="n")[:DOMINANT_SENSES]
        if any(s in within for s in senses):
            terms.append(term)
    return terms


def _short_names(names: list[str], own: list[Synset]) -> list[str]:
    """The head word of a compound category name when it names the category's direct hypernym:
    "light" for "traffic light" (a traffic light is a light; people shorten it so)."""
    hypernym_lemmas = set(_lemmas([h for s in own for h in _hypernyms(s)]))
    heads = [name.rsplit(" ", 1)[1] for name in names if " " in name]
    return [head for head in heads if head in hypernym_lemmas]


def _relations(wn: WordNetCorpusReader, choice: CategorySynsets, names: list[str], where: str) -> dict[str, list[str]]:
    """Synonym, hyponym and meronym terms of one category (before the noun restriction); the lemmas
    of the senses written down for it count whatever their frequency (`written_terms`)."""
    own = [_synset(wn, n, where) for n in choice.synsets]
    more_kinds = [_synset(wn, n, where) for n in choice.hyponyms]
    more_parts = [_synset(wn, n, where) for n in choice.meronyms]
    excluded = set(_closure([_synset(wn, n, where) for n in choice.excludes], _kinds))
    kinds = [s for s in _closure(own + more_kinds, _kinds) if s not in excluded]
    part_roots = [p for s in kinds for p in _parts(s)] + [p for s in own for p in _inherited_parts(s)]
    # parts of parts, then kinds of those parts; never the parts of a kind of a part, which wander
    # off (a wall's door has kinds "screen door", whose screen has kinds "windshield")
    parts = _closure(_closure(part_roots + more_parts, _parts), _kinds)
    groups = [g for s in own for g in _by_name(s.member_holonyms())]  # "people" for person, "forest" for tree
    return {"synonym": _lemmas(own) + _short_names(names, own),
            "hyponym": _lemmas(more_kinds) + _dominant_terms(wn, kinds, set(kinds)),
            "meronym": _lemmas(more_parts) + _dominant_terms(wn, parts, set(parts)) + _lemmas(groups)}


def written_terms(wn: WordNetCorpusReader, choice: CategorySynsets, where: str) -> set[str]:
    """The lemmas of the senses written down for a category (its own, its further kinds and
    parts): chosen by hand, they are kept whether or not the noun list holds them."""
    names = (*choice.synsets, *choice.hyponyms, *choice.meronyms)
    return set(_lemmas([_synset(wn, n, where) for n in names]))


def _spelling_key(term: str) -> str:
    """Compounds match however they are written: "streetlight", "street light", "street-light"."""
    return term.replace(" ", "").replace("-", "")


def build_wordnet_lexicon(vocabulary: Vocabulary, nouns: list[str], synsets: str | os.PathLike | None = None
                          ) -> Lexicon:
    """A lexicon from WordNet: synonyms = lemmas of the category's senses (and the head word of a
    compound name that names its hypernym: "light" for "traffic light"), hyponyms = their
    transitive hyponym closure, meronyms = part/member/substance meronyms of the category, of its
    hyponyms and of its specific hypernyms, their parts in turn, and the kinds of all those parts
    (not the parts of those kinds), and the groups its members form;
    hyponym and meronym terms only where that is one of the term's most frequent senses; every term
    restricted to `nouns` (and spelt as there: "streetlight" is the noun "street light") but the
    lemmas of the senses written down for the category (the synset file `synsets`, else the
    packaged `synsets/<vocabulary>.yaml`); a category written down in neither takes each name's
    most frequent noun sense, with a warning naming the senses taken and the names WordNet lacks."""
    wn = open_wordnet()
    spelling = {_spelling_key(n): n for n in reversed(nouns)}
    own = read_synset_file(synsets, vocabulary) if synsets is not None else {}
    choices = {**synset_choices(vocabulary), **own}
    entries, used, guessed = [], {}, []
    for category in vocabulary:
        key = normalize_term(category.name)
        where = (f"{synsets}: categories.{category.name}" if key in own
                 else f"vocabulary {vocabulary.name}: category {category.name!r}")
        choice = choices.get(key)
        if choice is None:
            choice, unknown = default_synsets(wn, category.name)
            guessed.append(f"{category.name!r}: {', '.join(choice.synsets) or 'none'}"
                           + (f" (no noun sense of {', '.join(map(repr, unknown))})" if unknown else ""))
        used[category.name] = list(choice.synsets)
        levels: dict[str, list[str]] = {"exact": list(category.names), "synonym": [], "hyponym": [],
                                        "meronym": []}
        seen = set(levels["exact"])
        written = written_terms(wn, choice, where)
        for level, terms in _relations(wn, choice, category.names, where).items():
            for term in terms:
                noun = spelling.get(_spelling_key(term), term if term in written else None)
                if noun is not None and noun not in seen:
                    seen.add(noun)
                    levels[level].append(noun)
        entries.append(LexiconEntry(category.id, category.name, **levels))
    if guessed:  # "rider" takes rider.n.01, a horseman, where a street dataset means a cyclist
        counted = f"{len(guessed)} categor{'y takes' if len(guessed) == 1 else 'ies take'}"
        log.warning("vocabulary %s: %s each name's most frequent WordNet noun sense, which may not be the "
                    "dataset's: %s; write the right senses in a synset file (docs/formats.md, *Synset files*) and "
                    "build the lexicon with it (oeseg lexicon --synsets, or the workflow's lexicon.synsets)",
                    vocabulary.name, counted, "; ".join(guessed))
    builder = {"kind": "wordnet", "wordnet_version": wn.get_version(), "nouns_sha256": nouns_sha256(nouns),
               "synsets": used}
    return Lexicon(vocabulary.name, builder, entries)
