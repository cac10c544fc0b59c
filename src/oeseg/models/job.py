"""The job of one OPAL/Osprey training stage: everything a stage's processes need, built once from
(config, method, stage) and written as JSON for the processes that srun or torchrun start."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

from oeseg.io import InputError, atomic_write_json, read_json
from oeseg.models.workflow import deepspeed_file, model_dir, train_resources, train_split_dirs
from oeseg.registry import METHOD_KINDS


@dataclass(frozen=True)
class OpalJob:
    """One training stage of a method: `section` is the config's `opal` section; `init_dir` the
    previous stage's model (None: a fresh model); `contrastive_weight` the effective weight of the
    contrastive loss (0 for stage 1 and for kinds without it); `gpus` per node (0: CPU), `nodes`,
    `cpus_per_process` the resources its processes share."""

    section: dict
    stage: int
    train_split_dirs: list[str]
    init_dir: str | None
    out_dir: str
    checkpoint_dir: str
    contrastive_weight: float
    deepspeed_config: str | None = None
    gpus: int = 0
    nodes: int = 1
    cpus_per_process: int = 1

    def to_dict(self) -> dict:
        """The job as plain JSON-serialisable data."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict, where: str = "opal job") -> "OpalJob":
        """The job of `to_dict`'s data; unknown or missing fields raise InputError naming `where`."""
        try:
            return cls(**data)
        except TypeError as e:
            raise InputError(f"{where}: {e}") from None

    def write(self, path: str | os.PathLike) -> None:
        """Write the job as JSON (atomically)."""
        atomic_write_json(path, self.to_dict())

    @classmethod
    def read(cls, path: str | os.PathLike) -> "OpalJob":
        """The job written by `write`."""
        return cls.from_dict(read_json(path), str(path))


def stage_contrastive_weight(config: dict, method: str, stage: int) -> float:
    """The contrastive loss weight of a method's stage: `opal.loss.contrastive_weight` from stage 2
    where the method's kind trains with the contrastive loss (registry), else 0."""
    kind = METHOD_KINDS.get(config["methods"][method]["kind"])
    if stage < 2 or not kind.contrastive:
        return 0.0
    return float(config["opal"]["loss"]["contrastive_weight"])


def opal_job(config: dict, method: str, stage: int) -> OpalJob:
    """The job of training stage `stage` of config method `method` (a kind that rule opal_train
    trains): its model goes to `model_dir(out, method, stage)`, its checkpoints next to it; it
    trains with DeepSpeed where its rule reads the DeepSpeed config (`deepspeed_file`: GPU jobs)."""
    opal, out = config["opal"], config["out"]
    gpus, nodes, cpus = train_resources(config)
    return OpalJob(section=opal, stage=stage,
                   train_split_dirs=train_split_dirs(config),
                   init_dir=model_dir(out, method, stage - 1) if stage > 1 else None,
                   out_dir=model_dir(out, method, stage), checkpoint_dir=f"{model_dir(out, method, stage)}.checkpoints",
                   contrastive_weight=stage_contrastive_weight(config, method, stage),
                   deepspeed_config=deepspeed_file(config), gpus=gpus, nodes=nodes, cpus_per_process=cpus)
