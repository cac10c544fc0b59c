"""The registry of method kinds: the one place that says what each kind of Table 1 method is, which
workflow rule trains it, which rule makes its predictions, whether it needs a GPU and which config
keys it takes. Rules take their `method` wildcard constraint from here (`methods_regex`; their other
constraints on a list of names, `exact_names_regex`), the config check reads it (`check_methods`)
and the OPAL stage asks it which methods it trains.

A method is a `methods:` entry of the config, `{kind, label, group, ...}`; its `kind` names an
entry of METHOD_KINDS, and `published: true` makes any method a `published` one. Adding a kind is
one library module (its train/predict functions, called by its rules' scripts) plus one
`MethodKind` entry below naming those rules (README, Layout). This module imports nothing of oeseg but io.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, fields
from typing import Any, Generic, Literal, TypeVar

from oeseg.io import InputError

T = TypeVar("T")


class Registry(Generic[T]):
    """A named table of objects, filled by `register(name, obj)`; unknown names raise InputError."""

    def __init__(self, what: str) -> None:
        """An empty registry of `what` (named in its errors)."""
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
        """Whether an entry is registered under `name`."""
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        """The registered names in registration order."""
        return iter(self._entries)

    def names(self) -> list[str]:
        """Registered names in registration order."""
        return list(self._entries)


# Keys every method entry may have, whatever its kind (`published`, `source` and `on_mismatch`
# because any method may be taken from its published outputs; `scored_images` for its evaluations).
COMMON_KEYS = ("kind", "label", "group", "published", "source", "on_mismatch", "scored_images")
# The defaults of the common keys that have one.
COMMON_DEFAULTS = {"on_mismatch": "error", "scored_images": "all"}


def common_option(entry: dict, key: str) -> str:
    """A method entry's `on_mismatch` or `scored_images`: the value it sets, else the default."""
    return entry.get(key, COMMON_DEFAULTS[key])


@dataclass(frozen=True)
class MethodKind:
    """What a kind of method is and how the workflow runs it.

    predict_rule: the rule that writes the method's predictions; train_rule: the rule that trains
    its own model in the workflow (None: nothing to train). gpu: its prediction job asks for a GPU
    by default. contrastive: it trains with OPAL's contrastive region-text loss (weight
    `opal.loss.contrastive_weight` from stage 2; without it, weight 0). options: the config keys it takes beyond COMMON_KEYS; required: groups of keys of
    which the entry must name at least one each; train_options: those of its options that only its
    train rule reads (the others are its predict rule's); predict_common: the COMMON_KEYS its predict
    rule reads.
    """

    name: str
    predict_rule: str
    train_rule: str | None = None
    gpu: bool = False
    contrastive: bool = False
    options: tuple[str, ...] = ()
    required: tuple[tuple[str, ...], ...] = ()
    train_options: tuple[str, ...] = ()
    predict_common: tuple[str, ...] = ()


METHOD_KINDS: Registry[MethodKind] = Registry("method kind")

for _kind in (
    # OPAL (contrastive region-text loss) and the Osprey baseline (the same model, contrastive weight 0)
    MethodKind("opal", predict_rule="opal_describe", train_rule="opal_train", gpu=True, contrastive=True),
    MethodKind("osprey", predict_rule="opal_describe", train_rule="opal_train", gpu=True),
    # open-vocabulary region classifier: masked-crop embeddings scored against the mined nouns
    MethodKind("ovclassifier", predict_rule="predict_ovclassifier", train_rule="train_ovclassifier",
               options=("epochs", "seed"), train_options=("epochs", "seed")),
    # the paper's Baseline: an image tagger's nouns, chosen among by an ovclassifier method
    MethodKind("tags", predict_rule="predict_tags", train_rule="train_tagger",
               options=("classifier", "top_k", "threshold", "epochs", "seed"), required=(("classifier",),),
               train_options=("epochs", "seed")),
    # a method's own inference (command template) or a released Osprey-architecture checkpoint
    MethodKind("external", predict_rule="run_external", gpu=True,
               options=("command", "format", "output", "resources", "weights"), required=(("command", "weights"),),
               predict_common=("on_mismatch",)),
    # the paper's published descriptions, converted against the split
    MethodKind("published", predict_rule="import_published"),
):
    METHOD_KINDS.register(_kind.name, _kind)


def kind_of(entry: dict) -> MethodKind:
    """The kind that makes a method's predictions: `published` where the entry says `published: true`."""
    return METHOD_KINDS.get("published" if entry.get("published") else entry["kind"])


#: An external method's job resources where its `resources` leaves them out (a 7B model's run).
EXTERNAL_RESOURCES = {"mem_mb": 32000, "runtime": "8h", "cpus_per_task": 8}


def method_gpus(entry: dict) -> int:
    """GPUs of a method's prediction job: its `resources.gpu`, else 1 where its kind needs a GPU."""
    return int(entry.get("resources", {}).get("gpu", int(kind_of(entry).gpu)))


def method_resources(entry: dict) -> dict:
    """An external method's job resources: `gpu` (method_gpus), `mem_mb`, `runtime` and
    `cpus_per_task` from its `resources`, else EXTERNAL_RESOURCES."""
    return {**EXTERNAL_RESOURCES, **entry.get("resources", {}), "gpu": method_gpus(entry)}


def entry_settings(config_class: type[T], entry: Mapping[str, Any] | T | None) -> T:
    """A method's settings (a dataclass such as TaggerConfig or TagSettings): the fields that its
    config entry (or its `method_options`) sets (`epochs`, `seed`, `top_k`), the class's defaults
    for the others; an instance of the class as it is, None the class's defaults."""
    if isinstance(entry, config_class):
        return entry
    names = {field.name for field in fields(config_class)}
    return config_class(**{key: value for key, value in (entry or {}).items() if key in names})


def method_options(entry: dict, step: Literal["train", "predict"]) -> dict:
    """The keys of a method entry that its `step`'s job reads: training its kind's `train_options`,
    prediction its other options but `resources`, and its `predict_common` keys. They are the rule's
    params, so that a new `label`, `group` or `resources` reruns none of its jobs, and a new `top_k`
    only its predictions (Snakemake reruns a job whose params changed)."""
    kind = kind_of(entry)
    if step == "train":
        keys = set(kind.train_options)
    elif step == "predict":
        keys = {*kind.options, *kind.predict_common} - {"resources", *kind.train_options}
    else:
        raise ValueError(f"step {step!r} is neither 'train' nor 'predict'")
    return {key: value for key, value in entry.items() if key in keys}


def methods_of_rule(methods: dict[str, dict], rule: str) -> list[str]:
    """Names of the config methods that `rule` trains or predicts for, by their effective kind."""
    return [name for name, entry in methods.items() if rule in (kind_of(entry).predict_rule, kind_of(entry).train_rule)]


def exact_names_regex(names: Iterable[str]) -> str:
    """A wildcard constraint matching exactly these names, in order (none: a regex that never matches)."""
    return "|".join(re.escape(name) for name in names) or "(?!)"


def methods_regex(methods: dict[str, dict], rule: str) -> str:
    """The `method` wildcard constraint of `rule`: exactly its config methods (never matches if none)."""
    return exact_names_regex(methods_of_rule(methods, rule))


def check_methods(methods: dict[str, dict]) -> None:
    """Check the config's methods against the registry: known kinds, each kind's keys and required
    keys, and a tags method's classifier being an ovclassifier method."""
    for name, entry in methods.items():
        if entry["kind"] not in METHOD_KINDS:
            raise InputError(f"methods.{name}.kind: unknown method kind {entry['kind']!r} "
                             f"(known: {', '.join(METHOD_KINDS)})")
        kind = METHOD_KINDS.get(entry["kind"])
        allowed = COMMON_KEYS + kind.options
        for key in entry:
            if key not in allowed:
                raise InputError(f"methods.{name}.{key}: not a key of kind {kind.name} (keys: {', '.join(allowed)})")
        for group in kind.required:
            if not any(key in entry for key in group):
                raise InputError(f"methods.{name}: kind {kind.name} needs {' or '.join(group)}")
        if kind.name == "tags":
            target = methods.get(entry["classifier"], {})
            if target.get("kind") != "ovclassifier":
                raise InputError(f"methods.{name}.classifier: {entry['classifier']!r} is not a method of kind ovclassifier")
