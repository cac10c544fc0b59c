"""Building, saving and loading OPAL/Osprey models: the model before stage 1 (tokenizer, LLM,
CLIP and projector weights), a trained stage's folder, and a released Osprey checkpoint."""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from safetensors import SafetensorError

from oeseg.io import InputError, atomic_write_jsonl, error_summary, load_checkpoint, read_json_object
from oeseg.models.config import OpalConfig, config_from_section
from oeseg.models.osprey import OpalForCausalLM, build_model
from oeseg.models.tokenization import build_demo_tokenizer, load_tokenizer, region_token_ids

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

log = logging.getLogger(__name__)
#: the model's tensors that an LLM folder (`opal.llm_weights`) gives
LLM_TENSORS = ("model.layers.", "model.embed_tokens.", "model.norm.", "lm_head.")


def initial_model(section: dict, texts: list[str]) -> tuple[OpalForCausalLM, object]:
    """The model before stage 1: tokenizer (Vicuna's or a demo one built from `texts`), random
    weights, then the LLM weights (`opal.llm_weights`) and CLIP weights (`opal.vision_weights`)."""
    tok_path = section["model"].get("tokenizer_path")
    tokenizer = load_tokenizer(tok_path) if tok_path else build_demo_tokenizer(texts)
    mask_id, pos_id = region_token_ids(tokenizer)
    config = config_from_section(section["model"], vocab_size=len(tokenizer))  # (size paper: Vicuna's)
    torch.manual_seed(section.get("seed", 0))
    model = build_model(config, mask_id, pos_id)
    if section.get("llm_weights"):
        load_llm(model, section["llm_weights"])
    if section.get("vision_weights"):
        model.model.vision_tower.load_open_clip_weights(section["vision_weights"])
    if section.get("projector_weights"):
        load_projector(model, section["projector_weights"])
    return model, tokenizer


def load_llm(model: OpalForCausalLM, path: str | os.PathLike) -> None:
    """Load an LLM folder (`opal.llm_weights`: Vicuna's, a LlamaForCausalLM) into the model's language
    model; every LLM tensor of the model must come from it, at the shape `opal.model` gives."""
    from transformers import LlamaForCausalLM

    state = LlamaForCausalLM.from_pretrained(path, dtype=torch.float32).state_dict()
    own = model.state_dict()
    for key, tensor in state.items():
        if key in own and own[key].shape != tensor.shape:
            raise InputError(f"{path}: tensor {key} is {tuple(tensor.shape)}, the model's {tuple(own[key].shape)} "
                             "(opal.model's sizes or tokenizer differ from this LLM's)")
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected:
        raise InputError(f"{path}: tensors not in the model, e.g. {unexpected[:3]}")
    # the vision tower, projector, mask extractor and temperature are not in an LLM folder
    llm_missing = [k for k in missing if k.startswith(LLM_TENSORS)]
    if llm_missing:
        raise InputError(f"{path}: {len(llm_missing)} LLM tensors of the model are not there, e.g. {llm_missing[:3]} "
                         "(opal.model has more layers than this LLM?)")


def load_projector(model: OpalForCausalLM, path: str | os.PathLike) -> None:
    """Load a released stage-1 projector file (Osprey's `mm_projector.bin`: tensors named
    `...mm_projector.<i>.weight|bias`) into the model's projector."""
    state = load_checkpoint(path, "projector weights", "opal.projector_weights")
    own = {k.split("mm_projector.", 1)[1]: v for k, v in state.items() if "mm_projector." in k}
    projector = model.model.mm_projector
    try:
        projector.load_state_dict(own)
    except RuntimeError as e:
        raise InputError(f"{path}: not a projector of this model ({str(e).splitlines()[0]})") from None


def _sibling(path: Path, kind: str) -> Path:
    """A new hidden name next to `path`: `.<name>.<random>.<kind>`."""
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.{kind}")


def _fsync_files(folder: Path) -> None:
    """Flush every file under `folder` to disk (before the rename that publishes them)."""
    for parent, _, files in os.walk(folder):
        for name in files:
            fd = os.open(os.path.join(parent, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


@contextlib.contextmanager
def atomic_folder(path: str | os.PathLike) -> Iterator[Path]:
    """Write a folder whole or not at all: the block writes into a new sibling folder
    `.<name>.<random>.tmp`, which then takes the place of `path` (a previous folder there, or an
    empty one made for the job, is removed); an error in the block removes the temporary folder
    and leaves `path` as it was. Siblings left by a writer that was killed (a job past its time
    limit) are removed first: a folder has one writer, its job. A symbolic link is followed."""
    path = Path(path)
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    if path.exists() and not path.is_dir():
        raise InputError(f"{path}: output is a file, not a folder")
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in [*path.parent.glob(f".{glob.escape(path.name)}.*.tmp"),
                  *path.parent.glob(f".{glob.escape(path.name)}.*.old")]:
        shutil.rmtree(stale, ignore_errors=True)
    tmp = _sibling(path, "tmp")
    tmp.mkdir()
    old = None
    try:
        yield tmp
        _fsync_files(tmp)
        if path.exists():
            old = _sibling(path, "old")
            path.rename(old)
        try:
            tmp.rename(path)
        except BaseException:
            if old is not None:
                old.rename(path)
            raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old)


def save_model(model: OpalForCausalLM, tokenizer: PreTrainedTokenizerBase, out_dir: str | os.PathLike,
               history: list[dict]) -> None:
    """Write the model (safetensors, Osprey key names), its config, tokenizer (in `tokenizer/`)
    and loss log to the folder `out_dir`, atomically (`atomic_folder`)."""
    with atomic_folder(out_dir) as folder:
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder / "tokenizer")
        atomic_write_jsonl(folder / "train_log.jsonl", history)


#: parameters a checkpoint may lack: OPAL's contrastive temperature, which Osprey's has not
OPTIONAL_PARAMETERS = ("contrastive_temperature",)


def load_model(model_dir: str | os.PathLike) -> tuple[OpalForCausalLM, object]:
    """A saved stage's model and tokenizer (also a released Osprey checkpoint folder). A folder
    that is not such a model is an InputError naming the file: a config.json missing, not JSON or
    of another architecture (`model_type`), weights missing or that do not load, a tensor of
    another shape than the config gives it, a tensor of the model that the checkpoint lacks (it
    would stay random), a tokenizer that does not load or whose `<mask>`/`<pos>` ids are not the
    model's. Tensors the model has no place for are logged."""
    folder = Path(model_dir)
    config_file = folder / "config.json"
    if not config_file.exists():
        raise InputError(f"{model_dir}: no saved OPAL model (config.json missing)")
    model_type = read_json_object(config_file).get("model_type")
    if model_type != OpalConfig.model_type:
        raise InputError(f"{config_file}: model_type {model_type!r}, not an OPAL/Osprey model "
                         f"({OpalConfig.model_type!r}): the folder holds another architecture")
    own = folder / "tokenizer"  # ours; a released Osprey folder holds it at the top
    tokenizer_dir = own if own.is_dir() else folder
    tokenizer = load_tokenizer(tokenizer_dir)
    try:
        model, info = OpalForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32, output_loading_info=True,
                                                      ignore_mismatched_sizes=True)
    except (OSError, ValueError, TypeError, RuntimeError, SafetensorError) as e:
        raise InputError(f"{model_dir}: the model's weights or config do not load ({error_summary(e)})") from None
    if info["mismatched_keys"]:
        key, saved, wanted = sorted(info["mismatched_keys"], key=lambda m: m[0])[0]
        raise InputError(f"{model_dir}: {len(info['mismatched_keys'])} tensor(s) of the checkpoint have another shape "
                         f"than {config_file} gives the model, e.g. {key} {tuple(saved)} (the model's {tuple(wanted)})")
    missing = sorted(set(info["missing_keys"]) - set(OPTIONAL_PARAMETERS))
    if missing:
        raise InputError(f"{model_dir}: {len(missing)} tensor(s) of the model missing from the checkpoint, e.g. "
                         f"{', '.join(missing[:5])} (they would stay random)")
    if info["unexpected_keys"]:
        log.warning("%s: %d tensor(s) of the checkpoint not in the model, ignored, e.g. %s", model_dir,
                    len(info["unexpected_keys"]), ", ".join(sorted(info["unexpected_keys"])[:5]))
    region_ids = region_token_ids(tokenizer)
    if getattr(model.config, "mask_token_id", None) is None:  # a released Osprey folder
        model.config.mask_token_id, model.config.pos_token_id = region_ids
    elif (model.config.mask_token_id, model.config.pos_token_id) != region_ids:
        raise InputError(f"{tokenizer_dir}: the tokenizer's <mask> and <pos> are ids {region_ids}, "
                         f"{config_file} gives the model's as ({model.config.mask_token_id}, "
                         f"{model.config.pos_token_id}): not the tokenizer the model was saved with")
    return model.eval(), tokenizer
