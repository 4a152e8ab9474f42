"""The paper's training recipe as functions: the learning-rate schedule (linear scaling rule, warm-up, cosine), the
weight-decay groups, and a run's identity (what its folder name hashes).

Cited against the authors' training code, naver/trex at commit 41722283a81e09d0331e879cc076433283fc2878.
"""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path

import torch.nn as nn


def peak_lr(config) -> float:
    """The learning rate after warm-up: lr, scaled by batch_size / lr_base_batch when that is set (trex main.py)."""
    return config.lr * (config.batch_size / config.lr_base_batch if config.lr_base_batch else 1.0)


def lr_at(step: int, total_steps: int, warmup_steps: int, config) -> float:
    """The learning rate at an optimiser step: linear warm-up, then cosine decay to min_lr (trex utils.py
    cosine_scheduler, per iteration)."""
    top = peak_lr(config)
    if step < warmup_steps:
        return top * (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return config.min_lr + 0.5 * (top - config.min_lr) * (1 + math.cos(math.pi * min(1.0, progress)))


def param_groups(model: nn.Module, config) -> list[dict]:
    """SGD parameter groups: weight decay on weights only, not on biases and BatchNorm parameters, unless
    decay_norm_and_bias (trex utils.py get_params_groups: `name.endswith(".bias") or len(param.shape) == 1`)."""
    if config.decay_norm_and_bias:
        return [{"params": list(model.parameters()), "weight_decay": config.weight_decay}]
    decayed, plain = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (plain if name.endswith(".bias") or p.ndim == 1 else decayed).append(p)
    return [{"params": decayed, "weight_decay": config.weight_decay}, {"params": plain, "weight_decay": 0.0}]


# where and how fast a run goes, not what it learns; the data counts by its content (`data_content`), not its path
PAPER_CROP = 224  # global crops this large are paper-scale work: `--device auto` needs a GPU for them (devices.py)
NOT_IDENTITY = ("device", "workers", "prefetch", "data", "checkpoint_minutes")


def resolved_config(config, cuda_available: bool | None = None, cpu_bf16: bool | None = None):
    """`config` with what a run's identity must not leave open filled in: the class set recorded by the dataset when
    none is given, the data path normalised (so `fakeit train DIR/` and the notebooks find the same run) and the
    precision it computes in (devices.precision_of on the device it names: bf16 on one CPU and float32 on another are
    two runs; a paper-scale recipe on "auto" names its GPUs' fp16 wherever it is planned). `cuda_available` and
    `cpu_bf16`: this machine's, unless given."""
    from ..core.devices import precision_of
    from ..datasets.images import dataset_class_set_name

    data = os.path.normpath(os.path.expanduser(config.data)) if config.data else config.data
    class_set = config.class_set or (dataset_class_set_name(Path(data)) if data and Path(data).is_dir() else None)
    precision = precision_of(config.precision, config.device, config.amp, config.global_size >= PAPER_CROP,
                             cuda_available=cuda_available, cpu_bf16=cpu_bf16)
    return dataclasses.replace(config, data=data, class_set=class_set, precision=precision)


def identity(config, **machine) -> dict:
    """What a run's folder name hashes and its config.yaml records: the resolved config (with its precision) without
    where it runs or where its data is mounted, the content of the training set (store.content_identity) and the
    version of the training code. `machine`: resolved_config's facts of the machine, this one's unless given."""
    from ..core.store import code_version, content_identity

    plain = {k: v for k, v in dataclasses.asdict(resolved_config(config, **machine)).items() if k not in NOT_IDENTITY}
    return {**plain, "data_content": content_identity(config.data, missing_ok=True), "code": code_version("fakeit_lib.training.loop")}
