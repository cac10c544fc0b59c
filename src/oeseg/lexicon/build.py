"""One entry point per workflow step: build the lexicon of a vocabulary with the configured builder."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from oeseg.data.vocabularies import Vocabulary, get_vocabulary
from oeseg.io import InputError, atomic_write_json
from oeseg.lexicon.lexicon import Lexicon, load_checked_lexicon
from oeseg.registry import Registry

if TYPE_CHECKING:
    from oeseg.lexicon.llm import LLMConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LexiconBuilder:
    """A lexicon builder of the config's `lexicon.builder`: `build(vocabulary, nouns, *, paper_file,
    openai, cache_dir, synsets)` returns the lexicon and its run summary (None: no summary), reading
    the keyword arguments it needs. relates_nouns: it relates a noun list to the categories (the
    noun list is required); else it converts a file (`nouns` is None)."""

    name: str
    build: Callable[..., tuple[Lexicon, dict | None]]
    relates_nouns: bool = True


#: The lexicon builders, by the name `lexicon.builder` (schemas/lexicon.schema.yaml) and
#: `oeseg lexicon --builder` (those that relate nouns) give; each rule lexicon_<name> of
#: rules/lexicon.smk runs one.
LEXICON_BUILDERS: Registry[LexiconBuilder] = Registry("lexicon builder")


def noun_builders() -> list[str]:
    """The builders that relate a noun list (`build_lexicon`, `oeseg lexicon --builder`), in registration order."""
    return [name for name in LEXICON_BUILDERS if LEXICON_BUILDERS.get(name).relates_nouns]


def build_lexicon_file(builder: str, vocabulary: str, output: str | os.PathLike, *,
                       nouns: str | os.PathLike | None = None, paper_file: str | os.PathLike | None = None,
                       openai: dict | None = None, cache_dir: str | os.PathLike | None = None,
                       summary: str | os.PathLike | None = None, synsets: str | os.PathLike | None = None) -> Lexicon:
    """Build (wordnet, openai: from the noun list file `nouns`) or convert (paper: from its GPT-4
    file) the lexicon of a vocabulary and write it in our format to `output`; wordnet takes the
    categories' senses from the synset file `synsets` where given; openai (`openai`: the config's
    section lexicon.openai, its `cache_dir` inside or given as `cache_dir`) also writes its run
    `summary`."""
    vocab = get_vocabulary(vocabulary)
    entry = LEXICON_BUILDERS.get(builder)  # an unknown one: InputError naming the registered ones
    noun_list = None
    if entry.relates_nouns:
        from oeseg.lexicon.nouns import read_nouns

        if nouns is None:
            raise InputError(f"lexicon builder {builder} needs the noun list")
        noun_list = read_nouns(nouns)
    lexicon, run = entry.build(vocab, noun_list, paper_file=paper_file, openai=openai, cache_dir=cache_dir,
                               synsets=synsets)
    if run is not None and summary is not None:
        atomic_write_json(summary, run)
    lexicon.save(output)
    log.info("lexicon %s (%s): %d terms -> %s", vocabulary, builder, lexicon_term_count(lexicon), output)
    return lexicon


def build_lexicon(builder: str, vocabulary: Vocabulary, nouns: list[str], *, openai: dict | None = None,
                  cache_dir: str | os.PathLike | None = None, synsets: str | os.PathLike | None = None
                  ) -> tuple[Lexicon, dict | None]:
    """The lexicon of `vocabulary` over `nouns` by the wordnet builder (the categories' senses from
    the synset file `synsets` where given; the command line and the workflow config refuse one
    with another builder) or the openai builder, and the openai builder's run summary (None for
    wordnet); any other builder that relates nouns (`noun_builders`) likewise."""
    entry = LEXICON_BUILDERS.get(builder)  # an unknown one: InputError naming the registered ones
    if not entry.relates_nouns:
        raise InputError(f"lexicon builder {builder} converts a file and relates no noun list "
                         f"(the builders that do: {', '.join(noun_builders())})")
    return entry.build(vocabulary, nouns, openai=openai, cache_dir=cache_dir, synsets=synsets)


def _wordnet_builder(vocabulary: Vocabulary, nouns: list[str], *, synsets: str | os.PathLike | None = None,
                     **_: object) -> tuple[Lexicon, None]:
    """Builder wordnet: `build_wordnet_lexicon` (the categories' senses from `synsets` where given)."""
    from oeseg.lexicon.wordnet import build_wordnet_lexicon

    return build_wordnet_lexicon(vocabulary, nouns, synsets), None


def _openai_builder(vocabulary: Vocabulary, nouns: list[str], *, openai: dict | None = None,
                    cache_dir: str | os.PathLike | None = None, **_: object) -> tuple[Lexicon, dict]:
    """Builder openai: `build_llm_lexicon` with the settings `openai_builder_settings` reads, and its run summary."""
    from oeseg.lexicon.llm import build_llm_lexicon

    config, cache_dir = openai_builder_settings(openai, cache_dir)
    lexicon, run = build_llm_lexicon(vocabulary, nouns, config, cache_dir)
    return lexicon, run.to_json()


def _paper_builder(vocabulary: Vocabulary, nouns: None, *, paper_file: str | os.PathLike | None = None,
                   **_: object) -> tuple[Lexicon, None]:
    """Builder paper: the paper's GPT-4 lexicon file `paper_file`, converted and checked against the vocabulary."""
    if paper_file is None:
        raise InputError(f"lexicon builder paper: no GPT-4 lexicon file for vocabulary {vocabulary.name}")
    return load_checked_lexicon(paper_file, vocabulary), None


for _builder in (
    LexiconBuilder("wordnet", _wordnet_builder),
    LexiconBuilder("openai", _openai_builder),
    LexiconBuilder("paper", _paper_builder, relates_nouns=False),
):
    LEXICON_BUILDERS.register(_builder.name, _builder)


def openai_builder_settings(openai: dict | None, cache_dir: str | os.PathLike | None = None
                            ) -> tuple[LLMConfig, str | os.PathLike]:
    """The openai builder's settings and cache folder from a `lexicon.openai` section (its
    `cache_dir`, or one given apart; both only when equal), checked before any noun is asked: a
    missing, unknown or bad setting is an InputError naming its key."""
    from oeseg.lexicon.llm import LLMConfig

    settings = dict(openai or {})
    inside = settings.pop("cache_dir", None)
    if inside is not None and cache_dir is not None and os.fspath(inside) != os.fspath(cache_dir):
        raise InputError(f"lexicon builder openai: two cache folders, lexicon.openai.cache_dir {inside!r} "
                         f"and cache_dir {os.fspath(cache_dir)!r}: give one")
    config = LLMConfig.from_dict(settings)
    cache_dir = cache_dir if cache_dir is not None else inside
    if cache_dir is None:
        raise InputError("lexicon.openai.cache_dir: missing (the folder the answers are cached in)")
    if not isinstance(cache_dir, (str, os.PathLike)) or not os.fspath(cache_dir).strip():
        raise InputError(f"lexicon.openai.cache_dir: {cache_dir!r} is not a folder name")
    return config, cache_dir


def lexicon_term_count(lexicon: Lexicon) -> int:
    """The number of synonym, hyponym and meronym terms of a lexicon, over all its categories."""
    return sum(len(e.terms(level)) for e in lexicon.entries for level in ("synonym", "hyponym", "meronym"))
