"""`fakeit train`: a classifier trained from scratch on a real or synthetic dataset (paper Sec. 3 and 5).

A run folder holds `config.yaml`, the last checkpoint (`checkpoint.pt`, written atomically each epoch),
`metrics.jsonl` (one JSON line per epoch) and, at the end, the `DONE` marker. Started again, a run resumes from
its checkpoint. The sampler order is drawn from (seed, epoch) and each image's augmentation from (seed, epoch,
image index) alone, whatever the number of loader workers (which persist across epochs), so on the CPU a
killed-and-resumed run ends with the same weights and metrics as an uninterrupted one. Under `torchrun` the run
is data-parallel (DDP, DistributedSampler); rank 0 writes.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import math
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from .errors import FakeitError
from .models import CHECKPOINT_FORMAT, IMAGENET_MEAN, IMAGENET_STD, build_model
from .params import from_dict, yaml_value
from .store import atomic_write_bytes, atomic_write_text, claim_folder, config_hash, is_done, mark_done, stage_dir

CHECKPOINT = "checkpoint.pt"
METRICS = "metrics.jsonl"


@dataclass
class TrainConfig:
    """Training recipe; defaults are the paper-scale recipe (authors' t-ReX code, see the paper README)."""

    data: str = ""  # dataset folder: a `fakeit generate` output (manifest.jsonl) or an ImageFolder tree
    class_set: str | None = None  # label space (imagenet1k, imagenet100, fashion-mnist, file); None: from the dataset's config.yaml
    arch: str = "resnet50"  # torchvision or timm model name, or resnet10_narrow (mini scale)
    cifar_stem: bool = False  # 3x3 stride-1 stem without max-pool, for 32 px images
    epochs: int = 100  # paper recipe: 100
    batch_size: int = 256  # global batch, split over processes; paper recipe: 256
    lr: float = 0.1  # peak SGD learning rate after warm-up; paper recipe: 0.1
    min_lr: float = 1e-6  # end of the cosine decay; paper recipe: 1e-6
    warmup_epochs: int = 10  # linear warm-up; paper recipe: 10
    momentum: float = 0.9  # SGD momentum; paper recipe: 0.9
    weight_decay: float = 1e-4  # paper recipe: 1e-4
    label_smoothing: float = 0.0  # cross-entropy label smoothing
    global_crops: int = 1  # multi-crop: number of global crops; paper recipe: 1
    global_size: int = 224  # global crop size in px; paper recipe: 224
    global_scale: list[float] = field(default_factory=lambda: [0.25, 1.0])  # RandomResizedCrop area range of global crops
    local_crops: int = 8  # multi-crop: number of local crops; paper recipe: 8
    local_size: int = 96  # local crop size in px; paper recipe: 96
    local_scale: list[float] = field(default_factory=lambda: [0.05, 0.25])  # area range of local crops
    eval_resize: int = 256  # test-time short-side resize (recorded in the checkpoint for evaluation)
    eval_crop: int = 224  # test-time centre crop
    mean: list[float] = field(default_factory=lambda: list(IMAGENET_MEAN))  # input normalisation mean
    std: list[float] = field(default_factory=lambda: list(IMAGENET_STD))  # input normalisation std
    images_per_class: int | None = None  # keep only the first N images of each class (None: all)
    amp: bool = True  # mixed precision: CUDA bf16/fp16 + channels_last; CPU bf16 autocast
    workers: int = 8  # DataLoader worker processes per training process
    threads: int | None = None  # torch CPU threads per training process (None: torch's default); mini: 1, as
    # on 2 shared cores one compute thread beside the loader workers runs several times faster than two
    seed: int = 0  # seeds initialisation, sampling and augmentation

    def validate(self) -> None:
        if not self.data:
            raise FakeitError("parameter data is empty; give the dataset folder to train on")
        for name in ("epochs", "batch_size", "global_size", "local_size", "eval_resize", "eval_crop"):
            if getattr(self, name) < 1:
                raise FakeitError(f"parameter {name}={getattr(self, name)} must be at least 1")
        if self.global_crops < 1:
            raise FakeitError(f"parameter global_crops={self.global_crops} must be at least 1")
        if self.local_crops < 0 or self.workers < 0 or self.warmup_epochs < 0:
            raise FakeitError("parameters local_crops, workers and warmup_epochs must be >= 0")
        for name in ("global_scale", "local_scale"):
            lo_hi = getattr(self, name)
            if len(lo_hi) != 2 or not 0 < lo_hi[0] <= lo_hi[1] <= 1:
                raise FakeitError(f"parameter {name}={lo_hi} must be [low, high] with 0 < low <= high <= 1")
        if len(self.mean) != 3 or len(self.std) != 3:
            raise FakeitError("parameters mean and std must have 3 values (RGB)")
        if self.threads is not None and self.threads < 1:
            raise FakeitError(f"parameter threads={self.threads} must be at least 1 or null")
        if self.images_per_class is not None and self.images_per_class < 1:
            raise FakeitError(f"parameter images_per_class={self.images_per_class} must be at least 1 or null")


# Presets: overrides of the paper recipe. `mini` trains on ~1000 images of 28 px in a couple of minutes on 2 cores.
# With so few images the number of optimiser steps matters more than batch statistics: on real Fashion-MNIST,
# 50 images per class, 30 epochs, batch 16 / lr 0.2 / 2 local crops reached 0.76 test top-1 in 62 s, where
# batch 64 / lr 0.1 / 4 local crops reached 0.52 in 67 s (batch 16 at lr 0.05, 0.1: 0.70, 0.73).
PRESETS: dict[str, dict] = {
    "paper": {},
    "mini": dict(
        arch="resnet10_narrow", cifar_stem=True, epochs=30, batch_size=16, lr=0.2, min_lr=1e-5, warmup_epochs=2,
        weight_decay=5e-4, global_crops=1, global_size=32, global_scale=[0.35, 1.0], local_crops=2, local_size=16,
        local_scale=[0.1, 0.35], eval_resize=32, eval_crop=32, amp=False, workers=2, threads=1,
    ),
    "smoke": dict(
        arch="resnet10_narrow", cifar_stem=True, epochs=2, batch_size=16, lr=0.05, warmup_epochs=1,
        global_size=32, local_crops=2, local_size=16, eval_resize=32, eval_crop=32, amp=False, workers=0, threads=1,
    ),
}


def make_config(preset: str = "paper", **overrides) -> TrainConfig:
    """A TrainConfig from a preset (paper, mini, smoke) and field overrides, validated."""
    if preset not in PRESETS:
        raise FakeitError(f"unknown training preset {preset!r}; valid: {', '.join(PRESETS)}")
    return from_dict(TrainConfig, {**PRESETS[preset], **overrides})


def lr_at(step: int, total_steps: int, warmup_steps: int, config: TrainConfig) -> float:
    """The learning rate at an optimiser step: linear warm-up, then cosine decay to min_lr."""
    if step < warmup_steps:
        return config.lr * (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return config.min_lr + 0.5 * (config.lr - config.min_lr) * (1 + math.cos(math.pi * min(1.0, progress)))


class MultiCropClassifier(nn.Module):
    """Runs the classifier once per crop resolution and returns the logits of all crops, global crops first."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, crops: list[torch.Tensor]) -> torch.Tensor:
        out, start = [], 0
        while start < len(crops):
            end = start
            while end < len(crops) and crops[end].shape[-1] == crops[start].shape[-1]:
                end += 1
            out.append(self.model(torch.cat(crops[start:end])))
            start = end
        return torch.cat(out)


@dataclass
class _Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    initialised: bool = False

    def barrier(self) -> None:
        if self.initialised:
            torch.distributed.barrier()


def _dist_setup() -> _Dist:
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return _Dist()
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
    return _Dist(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")), True)


def _resolve_class_set(config: TrainConfig):
    from .classes import load_class_set
    from .datasets import dataset_class_set_name

    name = config.class_set or dataset_class_set_name(Path(config.data))
    return load_class_set(name) if name else None


def training_dataset(config: TrainConfig):
    """The training dataset (multi-crop transform), its class set (or None) and number of classes."""
    from .augment import MultiCrop
    from .datasets import ImageListDataset, training_samples

    class_set = _resolve_class_set(config)
    samples, num_classes = training_samples(config.data, class_set)
    if config.images_per_class is not None:
        kept, seen = [], {}
        for path, label in samples:
            if seen.get(label, 0) < config.images_per_class:
                kept.append((path, label))
                seen[label] = seen.get(label, 0) + 1
        samples = kept
    transform = MultiCrop(
        config.global_crops, config.global_size, tuple(config.global_scale), config.local_crops,
        config.local_size, tuple(config.local_scale), tuple(config.mean), tuple(config.std),
    )
    return ImageListDataset(samples, transform, name=Path(config.data).name), class_set, num_classes


def run_folder(config: TrainConfig) -> Path:
    """The default run folder of a config: `<output root>/train-<dataset>-<arch>-<hash>`."""
    return stage_dir(f"train-{Path(config.data).name}-{config.arch}", config)


def _sample_seed(seed: int, epoch: int, index: int) -> int:
    return ((seed * 1_000_003 + epoch) * 2_000_029 + index) % (2**63)


class EpochSampler(torch.utils.data.Sampler):
    """Yields (epoch, index) keys in the order of a DistributedSampler, for a SeededAugmentation dataset."""

    def __init__(self, sampler):
        self.sampler, self.epoch = sampler, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.sampler.set_epoch(epoch)

    def __iter__(self):
        return ((self.epoch, i) for i in self.sampler)

    def __len__(self) -> int:
        return len(self.sampler)


class SeededAugmentation(torch.utils.data.Dataset):
    """Draws item `index` of `dataset` with torch's and Python's RNGs seeded by (seed, epoch, index).

    Keys are (epoch, index) pairs (see EpochSampler). The augmentation of an image is thus the same whichever
    worker process draws it and whatever happened before, so loader workers can persist across epochs and a
    resumed run sees exactly the crops of an uninterrupted one. The caller's RNG states are restored afterwards.
    """

    def __init__(self, dataset, seed: int):
        self.dataset, self.seed = dataset, seed

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key):
        epoch, index = key
        value = _sample_seed(self.seed, epoch, index)
        state = random.getstate()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(value)
            random.seed(value)
            try:
                return self.dataset[index]
            finally:
                random.setstate(state)


def training_loader(dataset, config: TrainConfig, batch_size: int, world: int = 1, rank: int = 0,
                    pin_memory: bool = False):
    """(DataLoader, its EpochSampler, drop_last) of one rank: shuffled by (seed, epoch), augmentation seeded per
    image, persistent workers. Call `sampler.set_epoch(e)` before iterating epoch e."""
    from torch.utils.data import DataLoader, DistributedSampler

    sampler = EpochSampler(DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=True, seed=config.seed))
    drop_last = len(sampler) >= batch_size
    loader = DataLoader(SeededAugmentation(dataset, config.seed), batch_size=batch_size, sampler=sampler,
                        num_workers=config.workers, persistent_workers=config.workers > 0, drop_last=drop_last,
                        pin_memory=pin_memory)
    return loader, sampler, drop_last


def _checkpoint_bytes(obj: dict) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def train(config: TrainConfig, out: Path | str | None = None, log=print) -> Path:
    """Train (or resume, or reuse a finished run) and return the run folder."""
    config.validate()
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    dist = _dist_setup()
    dataset, class_set, num_classes = training_dataset(config)
    folder = Path(out) if out else run_folder(config)
    if is_done(folder):
        claim_folder(folder, config)  # a finished run is reused only for the same config
        return folder
    if dist.rank == 0:
        claim_folder(folder, config)
    dist.barrier()
    device = torch.device(f"cuda:{dist.local_rank}" if torch.cuda.is_available() else "cpu")

    torch.manual_seed(config.seed)
    model = build_model(config.arch, num_classes, config.cifar_stem).to(device)
    if device.type == "cuda" and config.amp:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    start_epoch, history = 0, []
    ckpt_path = folder / CHECKPOINT
    if ckpt_path.exists():
        state = torch.load(ckpt_path, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start_epoch, history = state["epoch"], state["history"]
        log(f"resuming {folder} after epoch {start_epoch}")
    net: nn.Module = MultiCropClassifier(model)
    if dist.initialised:
        net = nn.parallel.DistributedDataParallel(net, device_ids=[dist.local_rank] if device.type == "cuda" else None)

    per_rank = max(1, config.batch_size // dist.world)
    loader, sampler, drop_last = training_loader(dataset, config, per_rank, dist.world, dist.rank, device.type == "cuda")
    steps_per_epoch = len(sampler) // per_rank if drop_last else math.ceil(len(sampler) / per_rank)
    total_steps, warmup_steps = config.epochs * steps_per_epoch, config.warmup_epochs * steps_per_epoch
    amp_dtype = torch.bfloat16 if device.type == "cpu" or torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler(enabled=device.type == "cuda" and config.amp and amp_dtype == torch.float16)
    meta = dict(arch=config.arch, num_classes=num_classes, cifar_stem=config.cifar_stem, fc_bias=True,
                class_set=class_set.name if class_set is not None else config.class_set, eval_resize=config.eval_resize,
                eval_crop=config.eval_crop, mean=list(config.mean), std=list(config.std), data=config.data)

    for epoch in range(start_epoch, config.epochs):
        sampler.set_epoch(epoch)
        net.train()
        sums = torch.zeros(5, dtype=torch.float64)  # loss*crops, crops, correct global, global, skipped images
        t0, lr = time.time(), lr_at(epoch * steps_per_epoch, total_steps, warmup_steps, config)
        for i, (crops, labels) in enumerate(loader):
            step = epoch * steps_per_epoch + i
            lr = lr_at(step, total_steps, warmup_steps, config)
            for group in optimizer.param_groups:
                group["lr"] = lr
            crops = [c.to(device, non_blocking=True) for c in crops]
            if device.type == "cuda" and config.amp:
                crops = [c.contiguous(memory_format=torch.channels_last) for c in crops]
            labels = labels.to(device)
            targets = labels.repeat(len(crops))
            with torch.autocast(device.type, dtype=amp_dtype, enabled=config.amp):
                logits = net(crops)
            losses = F.cross_entropy(logits.float(), targets, ignore_index=-1, reduction="none",
                                     label_smoothing=config.label_smoothing)
            valid = (targets >= 0).sum()
            loss = losses.sum() / valid.clamp(min=1)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            n_global = config.global_crops * len(labels)
            glob_pred, glob_t = logits[:n_global].argmax(1), targets[:n_global]
            sums += torch.tensor([losses.sum().item(), valid.item(), (glob_pred == glob_t).sum().item(),
                                  (glob_t >= 0).sum().item(), (labels < 0).sum().item()], dtype=torch.float64)
        if dist.initialised:
            torch.distributed.all_reduce(sums)
        seconds = time.time() - t0
        images = int(sums[3].item()) // config.global_crops
        row = dict(epoch=epoch + 1, lr=lr, loss=round(sums[0].item() / max(1.0, sums[1].item()), 6),
                   train_top1=round(sums[2].item() / max(1.0, sums[3].item()), 6), images=images,
                   skipped=int(sums[4].item()), seconds=round(seconds, 2), images_per_s=round(images / max(seconds, 1e-9), 1))
        if images == 0:
            raise FakeitError(f"no readable image in dataset {config.data} (all {len(dataset)} files failed to load)")
        history.append(row)
        log(json.dumps(row))
        if dist.rank == 0:
            state = dict(format=CHECKPOINT_FORMAT, model=model.state_dict(), optimizer=optimizer.state_dict(),
                         epoch=epoch + 1, sampler_epoch=epoch, history=history, meta=meta,
                         config=dataclasses.asdict(config), config_hash=config_hash(config))
            atomic_write_bytes(ckpt_path, _checkpoint_bytes(state))
            atomic_write_text(folder / METRICS, "".join(json.dumps(h) + "\n" for h in history))
        dist.barrier()
    if dist.rank == 0:
        mark_done(folder, {"epochs": config.epochs, "final": history[-1] if history else None})
    dist.barrier()
    if dist.initialised:
        torch.distributed.destroy_process_group()
    return folder


def read_metrics(folder: Path | str) -> list[dict]:
    """The per-epoch metrics of a run folder."""
    path = Path(folder) / METRICS
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", help="dataset folder (a fakeit generate output or an ImageFolder tree)")
    parser.add_argument("--preset", default="paper", choices=sorted(PRESETS), help="recipe preset (default: paper)")
    parser.add_argument("--config", help="YAML file of TrainConfig fields (applied after the preset)")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="override one TrainConfig field, value parsed as YAML (repeatable)")
    parser.add_argument("--out", help="run folder (default: <output root>/train-<dataset>-<arch>-<hash>)")


def run(args: argparse.Namespace) -> int:
    overrides: dict = {"data": args.data}
    if args.config:
        try:
            values = yaml_value(Path(args.config).read_text(), f"config file {args.config}") or {}
        except OSError as e:
            raise FakeitError(f"cannot read config file {args.config}: {e.strerror}") from None
        if not isinstance(values, dict):
            raise FakeitError(f"config file {args.config} must map TrainConfig fields to values, "
                              f"not hold a {type(values).__name__}")
        overrides.update(values)
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            raise FakeitError(f"--set {item!r} must be FIELD=VALUE")
        overrides[key.strip()] = yaml_value(value, f"--set {item!r}")
    config = make_config(args.preset, **overrides)
    folder = train(config, args.out)
    print(folder)
    return 0
