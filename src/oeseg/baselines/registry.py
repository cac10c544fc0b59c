"""The registry of method kinds (detectron2-style): how each kind of Table 1 method is run and
what it hands the evaluation.

A method is a `methods:` entry of the config, `{kind, label, group, ...}`; its `kind` names an
entry of METHOD_KINDS. Kinds whose `rules` is "opal" are trained and run by rules/opal.smk;
every other kind by rules/baselines.smk, whose `method` wildcard is constrained to them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from oeseg.io import InputError

T = TypeVar("T")


class Registry(Generic[T]):
    """A named table of objects, filled by `register(name, obj)`; unknown names raise InputError."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._entries: dict[str, T] = {}

    def register(self, name: str, obj: T) -> T:
        """Add `obj` under `name` (a name may be registered once)."""
        if name in self._entries:
            raise ValueError(f"{self.what} '{name}' is already registered")
        self._entries[name] = obj
        return obj

    def get(self, name: str) -> T:
        """The entry registered under `name`."""
        try:
            return self._entries[name]
        except KeyError:
            raise InputError(f"unknown {self.what} '{name}' (known: {', '.join(self._entries)})") from None

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def names(self) -> list[str]:
        """Registered names in registration order."""
        return list(self._entries)


@dataclass(frozen=True)
class MethodKind:
    """How a kind of method is run and what it outputs.

    runner: the library function the kind's prediction rule calls ("module:function"), or None
    where another stage's rules make the predictions. masks: "ground-truth" when the method
    describes the given ground-truth masks (the paper's protocol), "own" when it segments itself.
    trained_by: the library function that trains the method's own model in the workflow, if any.
    """

    name: str
    description: str
    rules: str
    runner: str | None
    masks: str = "ground-truth"
    needs_gpu: bool = False
    trained_by: str | None = None
    options: tuple[str, ...] = ()


METHOD_KINDS: Registry[MethodKind] = Registry("method kind")

for _kind in (
    MethodKind("opal", "OPAL: region MLLM trained with the contrastive region-text loss",
               rules="opal", runner=None, needs_gpu=True),
    MethodKind("osprey", "the Osprey baseline: OPAL's architecture trained with contrastive weight 0",
               rules="opal", runner=None, needs_gpu=True),
    MethodKind("ovclassifier", "open-vocabulary region classifier (MaskCLIP/MasQCLIP style): masked-crop "
               "embeddings scored against text embeddings of the mined nouns; best noun = description",
               rules="baselines", runner="oeseg.baselines.ovclassifier:predict_regions",
               trained_by="oeseg.baselines.ovclassifier:train_region_encoder",
               options=("epochs", "seed")),
    MethodKind("tags", "the paper's Baseline: an image tagger lists each image's nouns and the "
               "open-vocabulary classifier chooses among those tags only",
               rules="baselines", runner="oeseg.baselines.tags:predict_with_tags",
               trained_by="oeseg.baselines.tags:train_tagger",
               options=("classifier", "top_k", "threshold", "epochs", "seed")),
    MethodKind("external", "a method's own inference through a command template (the user's checkout "
               "and environment), its output converted by the method's format",
               rules="baselines", runner="oeseg.baselines.external:run_external", needs_gpu=True,
               options=("command", "format", "output", "on_mismatch", "resources", "weights")),
    MethodKind("published", "the paper's published descriptions (downloaded, sha256-pinned) converted "
               "against the split's panoptic.json",
               rules="baselines", runner="oeseg.baselines.importers:import_predictions",
               options=("on_mismatch", "source")),
):
    METHOD_KINDS.register(_kind.name, _kind)


def effective_kind(entry: dict) -> str:
    """The kind that makes a method's predictions: `published` where the entry says `published: true`."""
    return "published" if entry.get("published") else entry["kind"]


def methods_of_kinds(methods: dict[str, dict], kinds: set[str] | frozenset[str] | tuple[str, ...]) -> list[str]:
    """Names of the config methods whose effective kind is one of `kinds` (unknown kinds raise)."""
    for name, entry in methods.items():
        METHOD_KINDS.get(entry["kind"])
    return [name for name, entry in methods.items() if effective_kind(entry) in kinds]


def methods_regex(methods: dict[str, dict], kinds: set[str] | frozenset[str]) -> str:
    """A wildcard constraint matching exactly the config methods of these kinds (never matches if none)."""
    names = [re.escape(m) for m in methods_of_kinds(methods, kinds)]
    return "|".join(names) if names else "(?!)"


def check_methods(methods: dict[str, dict]) -> None:
    """Check what the schema cannot: known kinds, and a tags method's classifier is an ovclassifier."""
    for name, entry in methods.items():
        METHOD_KINDS.get(entry["kind"])
        if entry["kind"] == "tags":
            target = methods.get(entry.get("classifier", ""), {})
            if target.get("kind") != "ovclassifier":
                raise InputError(f"methods.{name}.classifier: {entry.get('classifier')!r} is not a method of kind ovclassifier")
