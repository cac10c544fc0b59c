"""External methods: the method's own inference, run through a command template from the config
(the user's checkout and environment of that project), and a converter for what it writes.

The template is a shell command with placeholders (values are shell-quoted):
  {split_dir} {panoptic_json} {images_dir} {panoptic_dir}  the split to describe
  {nouns}         the noun list (one per line) given to open-vocabulary methods as class names
  {output_dir}    an empty folder the command writes into (kept for inspection)
  {output}        {output_dir}/<the method's output file>
  {seed} {temperature} {top_p}  the run's generation settings (variance runs)
  {method} {dataset} {run}
The file `{output}` is then converted by the method's import format (oeseg.baselines.importers).

Osprey-architecture checkpoints (the released Osprey-7B) can instead run through this repo's own
model code: an entry with `weights: <checkpoint folder>` and no `command` is described by
oeseg.models.inference.describe_split with the run's seed, temperature and top_p.
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import string
from dataclasses import dataclass
from pathlib import Path

from oeseg.baselines.importers import ImportSummary, import_predictions
from oeseg.io import InputError
from oeseg.lexicon.nouns import read_nouns
from oeseg.registry import Registry, common_option
from oeseg.workflow import run_logged

log = logging.getLogger("oeseg.baselines")

PLACEHOLDERS = ("split_dir", "panoptic_json", "images_dir", "panoptic_dir", "nouns", "output_dir", "output",
                "seed", "temperature", "top_p", "method", "dataset", "run")


class ExternalCommandError(RuntimeError):
    """An external method's command failed; the message holds its exit status and output tail."""


@dataclass(frozen=True)
class ExternalMethod:
    """An external project: what its inference writes and what the user provides."""

    name: str
    format: str
    output: str
    user_provides: str


EXTERNAL_METHODS: Registry[ExternalMethod] = Registry("external method")

_DETECTRON2 = ("a checkout and environment of {project} with its released weights; a script that "
               "registers the split ({{images_dir}}, {{panoptic_json}}) as a detectron2 dataset whose "
               "class names are the lines of {{nouns}}, runs the model's inference with detectron2's "
               "SemSegEvaluator(output_dir={{output_dir}}) and so leaves sem_seg_predictions.json there "
               "(category_id = line index in {{nouns}})")
_HARNESS = ("a checkout and environment of {project} with its released weights; a script that asks the "
            "model to describe each ground-truth segment (masks from {{panoptic_dir}}/{{panoptic_json}}) "
            "of every image of {{images_dir}}, as the paper's re-benchmarking harness does, and writes "
            "{{output}}: a JSON list of {{\"image_id\", \"descriptions\": [...]}}, one description per "
            "segment in ascending segment-id order")

for _m in (
    ExternalMethod("ovseg", "detectron2-semseg", "sem_seg_predictions.json",
                   _DETECTRON2.format(project="OVSeg (facebookresearch/ov-seg)")),
    ExternalMethod("maskclip", "detectron2-semseg", "sem_seg_predictions.json",
                   _DETECTRON2.format(project="MaskCLIP (the open-vocabulary segmentation release evaluated in the paper)")),
    ExternalMethod("masqclip", "detectron2-semseg", "sem_seg_predictions.json",
                   _DETECTRON2.format(project="MasQCLIP (mlpc-ucsd/MasQCLIP)")),
    ExternalMethod("shikra", "lac", "descriptions.json",
                   _HARNESS.format(project="Shikra-7B (shikras/shikra)")),
    ExternalMethod("ferret", "lac", "descriptions.json",
                   _HARNESS.format(project="Ferret-7B (apple/ml-ferret)")),
    ExternalMethod("gpt4roi", "lac", "descriptions.json",
                   _HARNESS.format(project="GPT4RoI-7B (jshilong/GPT4RoI)")),
    ExternalMethod("osprey-7b", "lac", "descriptions.json",
                   _HARNESS.format(project="Osprey-7B (CircleRadon/Osprey)")),
):
    EXTERNAL_METHODS.register(_m.name, _m)


def external_spec(method: str, entry: dict) -> tuple[str, str]:
    """(import format, output file name) of a config method: its entry's keys, else the registry's."""
    known = EXTERNAL_METHODS.get(method) if method in EXTERNAL_METHODS else None
    fmt = entry.get("format") or (known.format if known else None)
    output = entry.get("output") or (known.output if known else None)
    if not fmt or not output:
        raise InputError(f"methods.{method}: an external method not in the registry "
                         f"({', '.join(EXTERNAL_METHODS.names())}) needs 'format' and 'output'")
    return fmt, output


def check_command(method: str, entry: dict) -> None:
    """Raise InputError naming `methods.<method>.command` where the template has an unknown
    placeholder or a stray brace: at start-up, not when the job renders it."""
    if entry.get("command"):
        render_command(entry["command"], dict.fromkeys(PLACEHOLDERS, ""), where=f"methods.{method}.command")


def render_command(template: str, values: dict[str, object], where: str = "command") -> str:
    """Fill a command template's placeholders with shell-quoted values (write them bare, not inside
    quotes; a literal brace is written `{{` or `}}`); unknown placeholders, format specs and stray
    braces raise InputError naming `where`."""
    hint = "a literal brace is written {{ or }}"
    try:
        for _, field, spec, conversion in string.Formatter().parse(template):
            if field is not None and field not in values:
                raise InputError(f"{where}: unknown placeholder {{{field}}} (known: {', '.join(PLACEHOLDERS)}; "
                                 f"{hint})")
            if spec or conversion:
                raise InputError(f"{where}: placeholder {{{field}}} takes no format spec or conversion "
                                 "(its value is inserted shell-quoted)")
        return template.format_map({k: shlex.quote(str(v)) for k, v in values.items()})
    except InputError:  # a ValueError too: its message is whole already
        raise
    except ValueError as e:  # a single "{" or "}"
        raise InputError(f"{where}: {e} ({hint})") from None


def run_external(method: str, entry: dict, split_dir: str | os.PathLike, nouns: str | os.PathLike | None,
                 output_dir: str | os.PathLike, predictions: str | os.PathLike, *, dataset: str = "",
                 run: str = "main", settings: dict | None = None, log_file: str | os.PathLike | None = None,
                 workers: int = 1) -> ImportSummary | None:
    """Run a method's command template on a split, then convert what it wrote to region predictions
    (or, given `weights` and no command, describe the split with our Osprey model code, `workers`
    threads loading images and masks)."""
    settings = settings or {}
    if not entry.get("command") and not entry.get("weights"):
        raise InputError(f"methods.{method}: kind external needs a 'command' template (or Osprey 'weights')")
    split_dir, output_dir = Path(split_dir).resolve(), Path(output_dir).resolve()
    if output_dir.exists():
        shutil.rmtree(output_dir)
    output_dir.mkdir(parents=True)
    if not entry.get("command"):
        describe_with_weights(entry["weights"], split_dir, predictions, {**settings, "workers": workers})
        return None
    fmt, output_name = external_spec(method, entry)
    values = {"split_dir": split_dir, "panoptic_json": split_dir / "panoptic.json", "images_dir": split_dir / "images",
              "panoptic_dir": split_dir / "panoptic", "nouns": Path(nouns).resolve() if nouns else "",
              "output_dir": output_dir, "output": output_dir / output_name, "seed": settings.get("seed", 0),
              "temperature": settings.get("temperature", ""), "top_p": settings.get("top_p", ""),
              "method": method, "dataset": dataset, "run": run}
    command = render_command(entry["command"], values, where=f"methods.{method}.command")
    log.info("%s: running %s", method, command)
    returncode, tail = run_logged(["bash", "-c", command], log_file)
    if returncode != 0:
        raise ExternalCommandError(f"methods.{method}: the command exited with status {returncode}: "
                                   f"{command}\n{tail}")
    raw = output_dir / output_name
    if not raw.exists():
        known = EXTERNAL_METHODS.get(method) if method in EXTERNAL_METHODS else None
        expected = f" (what the command should be: {known.user_provides})" if known else ""
        raise InputError(f"{raw}: methods.{method}: the command finished but did not write this file{expected}")
    summary = import_predictions(fmt, raw, split_dir, predictions, nouns=read_nouns(nouns) if nouns else None,
                                 on_mismatch=common_option(entry, "on_mismatch"))
    log.info("%s: %s", method, summary.text())
    return summary


def describe_with_weights(weights: str | os.PathLike, split_dir: str | os.PathLike, predictions: str | os.PathLike,
                          settings: dict) -> None:
    """Describe a split with a released Osprey checkpoint through oeseg.models (GPU advised), with
    the sampling and batch settings of `opal.inference` (overridden by the run's: `run_settings`;
    those left out take the defaults of `oeseg.models.inference`)."""
    if not Path(weights, "config.json").exists():
        raise InputError(f"{weights}: not a checkpoint folder (config.json missing)")
    from oeseg.models.inference import describe_split

    describe_split(weights, split_dir, predictions, **settings)
