"""`fakeit train`: a classifier trained from scratch on a real or synthetic dataset (paper Sec. 3 and 5).

The paper recipe is the one of the authors' released ResNet-50s, each choice cited where it is declared
(TrainConfig and PRESETS): the authors' training code is naver/trex at commit 41722283a81e09d0331e879cc076433283fc2878
(`main.py`, `utils.py`, `multi_crop.py`, `trex.py`), cited below as "trex main.py" etc. The classifier is trex's
cosine softmax (`trex.py` ClfLayer, temperature 0.1): the released checkpoints' bias-free `fc.weight` (C, 2048) is
that layer's weight (paper's project page), see `models.CosineClassifier`.

A run folder holds `config.yaml`, the last checkpoint (`checkpoint.pt`, written atomically each epoch),
`metrics.jsonl` (one JSON line per epoch), TensorBoard curves in `tb/` (`curves.py`) and, at the end, the `DONE`
marker. Started again, a run resumes from
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
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..core.errors import FakeitError
from ..core.params import from_dict, yaml_value
from ..core.store import (
    atomic_write_bytes, atomic_write_text, claim_explained, claim_folder, config_hash, is_done, mark_done, stage_dir,
)
from .augment import COLOUR
from .curves import Curves
from .loaders import NotForMemory, memory_training_loader, training_loader  # noqa: F401 (training_loader: public API)
from .models import BN_STATS, CHECKPOINT_FORMAT, IMAGENET_MEAN, IMAGENET_STD, MultiCropClassifier, build_model  # noqa: F401
from .recipe import NOT_IDENTITY, identity, lr_at, param_groups, peak_lr, resolved_config  # noqa: F401

CHECKPOINT = "checkpoint.pt"
LOADERS = ("workers", "memory")
PAPER_CROP = 224  # global crops this large are paper-scale work: `--device auto` needs a GPU for them (devices.py)
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
    lr: float = 0.1  # peak SGD learning rate after warm-up for a global batch of lr_base_batch; paper recipe: 0.1
    lr_base_batch: int | None = 256  # lr is scaled by batch_size / lr_base_batch (linear scaling rule, trex main.py
    # `args.lr * batch_size_per_gpu * world_size / 256`); None: lr used as given
    min_lr: float = 1e-6  # end of the cosine decay; paper recipe: 1e-6
    warmup_epochs: float = 10  # linear warm-up (a fraction of an epoch allowed); paper recipe: 10
    momentum: float = 0.9  # SGD momentum; paper recipe: 0.9
    weight_decay: float = 1e-4  # paper recipe: 1e-4 (trex main.py --wd)
    decay_norm_and_bias: bool = False  # apply weight decay to BatchNorm weights and biases too; paper recipe: no
    # (trex utils.py get_params_groups: biases and 1-d parameters get weight_decay 0)
    fc_bias: bool = False  # classifier with a bias; paper recipe: no (the released checkpoints: fc.weight only)
    cosine_tau: float | None = 0.1  # cosine-softmax classifier, logits = cos(feature, class weight) / cosine_tau;
    # paper recipe: 0.1 (trex.py ClfLayer, main.py --clf_tau); None: a plain Linear classifier (mini, smoke)
    sync_bn: bool = True  # SyncBatchNorm across processes under DDP on GPUs (trex main.py convert_sync_batchnorm);
    # BatchNorm stays per process on the CPU, where torch has no SyncBatchNorm
    label_smoothing: float = 0.0  # cross-entropy label smoothing
    global_crops: int = 1  # multi-crop: number of global crops; paper recipe: 1
    global_size: int = 224  # global crop size in px; paper recipe: 224
    global_scale: list[float] = field(default_factory=lambda: [0.25, 1.0])  # RandomResizedCrop area range of global crops
    local_crops: int = 8  # multi-crop: number of local crops; paper recipe: 8
    local_size: int = 96  # local crop size in px; paper recipe: 96
    local_scale: list[float] = field(default_factory=lambda: [0.05, 0.25])  # area range of local crops
    jitter: float = 0.8  # probability of colour jitter per crop (DINO; grey images: brightness and contrast); paper: 0.8
    blur: list[float] = field(default_factory=lambda: [0.2, 0.5])  # probability of Gaussian blur of a global, a local
    # crop (DINO); paper recipe: 0.2, 0.5
    solarize: float = 0.2  # probability of solarising a global crop (DINO); paper recipe: 0.2
    bn_stats: str = "all"  # crops whose batches update BatchNorm's running statistics (used at test time): all
    # (paper recipe, trex: every crop's forward pass) or global (the global crops only; models.MultiCropClassifier)
    eval_resize: int = 256  # test-time short-side resize (recorded in the checkpoint for evaluation)
    eval_crop: int = 224  # test-time centre crop
    mean: list[float] = field(default_factory=lambda: list(IMAGENET_MEAN))  # input normalisation mean
    std: list[float] = field(default_factory=lambda: list(IMAGENET_STD))  # input normalisation std
    images_per_class: int | None = None  # keep only the first N images of each class (None: all)
    # mixed precision: CUDA fp16 with a GradScaler + channels_last (trex main.py use_fp16); CPU bf16 autocast where
    # bf16 is fast, else float32 (devices.amp_dtype)
    amp: bool = True
    loader: str = "workers"  # workers: DataLoader workers, multi-crop per image (see colour_ops); memory: a small grey set
    # held in memory, multi-crop drawn per image on whole batches in torch (fakeit_lib/training/loaders.py; the mini scale)
    colour_ops: str = "device"  # loader workers: where colour jitter, grey-scale, blur, solarisation and normalisation
    # run: device (batched on the training device; workers decode, crop and flip: 1.6x the images per core,
    # benchmarks/loader.py) or workers (PIL per image, as trex multi_crop.py); training/augment.py
    workers: int = 14  # DataLoader worker processes per training process, at most: fewer when this process's share
    # of the node's cores is smaller (devices.training_workers; not part of the run's identity): an A100 takes
    # ~1,000 samples/s, a worker gives ~75 (data/paper_costs.yaml, multicrop_synthetic_per_core), so 14 feed it;
    # trex main.py: 12 (PIL in the workers)
    prefetch: int = 4  # batches each worker prepares ahead; trex main.py: 4 (not part of the run's identity)
    device: str = "auto"  # auto: cuda:LOCAL_RANK when CUDA is available, else cpu (not part of the run's identity)
    threads: int | None = None  # torch CPU threads per training process (None: torch's default, all cores)
    checkpoint_minutes: float = 20.0  # also save the checkpoint within an epoch after this much wall time (a 50x clone's
    # epoch is hours); a stop signal (SIGTERM, Slurm's USR1) saves it at once. Not part of the run's identity
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
        if self.loader not in LOADERS:
            raise FakeitError(f"parameter loader={self.loader!r} is not valid; valid: {', '.join(LOADERS)}")
        if len(self.blur) != 2 or not all(0 <= v <= 1 for v in (*self.blur, self.jitter, self.solarize)):
            raise FakeitError(f"parameters blur={self.blur} (global, local), jitter={self.jitter} and "
                              f"solarize={self.solarize} must be probabilities in [0, 1]")
        if self.bn_stats not in BN_STATS:
            raise FakeitError(f"parameter bn_stats={self.bn_stats!r} is not valid; valid: {', '.join(BN_STATS)}")
        if self.colour_ops not in COLOUR:
            raise FakeitError(f"parameter colour_ops={self.colour_ops!r} is not valid; valid: {', '.join(COLOUR)}")
        if self.prefetch < 1:
            raise FakeitError(f"parameter prefetch={self.prefetch} must be at least 1")
        if not self.checkpoint_minutes >= 0:
            raise FakeitError(f"parameter checkpoint_minutes={self.checkpoint_minutes} must be >= 0")
        if self.threads is not None and self.threads < 1:
            raise FakeitError(f"parameter threads={self.threads} must be at least 1 or null")
        if self.images_per_class is not None and self.images_per_class < 1:
            raise FakeitError(f"parameter images_per_class={self.images_per_class} must be at least 1 or null")
        if self.cosine_tau is not None and not self.cosine_tau > 0:
            raise FakeitError(f"parameter cosine_tau={self.cosine_tau} must be > 0 (a temperature) or null (a linear classifier)")
        if self.cosine_tau is not None and self.fc_bias:
            raise FakeitError("parameters fc_bias=true and cosine_tau are exclusive: the cosine classifier has no bias; "
                              "set fc_bias: false, or cosine_tau: null for a linear classifier")
        if self.lr_base_batch is not None and self.lr_base_batch < 1:
            raise FakeitError(f"parameter lr_base_batch={self.lr_base_batch} must be at least 1 or null")
        from ..core.devices import check_device

        try:
            check_device(self.device)
        except FakeitError as e:
            raise FakeitError(f"parameter device: {e}") from None


# Presets: overrides of the paper recipe. `mini` trains a narrow ResNet on ~500-1000 grey 28x28 images held in
# memory (loader "memory", bf16 autocast where the CPU has fast bf16, one thread; seeds train side by side); `smoke`
# is the same in a few steps. The mini recipe keeps the paper's structure (a ResNet from scratch, SGD with warm-up and
# cosine decay, random-resized crops, flips, brightness/contrast jitter) and departs from it where a measurement on
# the book's real 1x set said so (data/mini_recipe.yaml, benchmarks/mini_learner.py; the paper's shrunk recipe: 74.5
# top-1 on 4 seeds): global crops at 60-100% of a 28 px image, no blur nor solarisation, label smoothing 0.1 and no
# local crops (+4.7 together, at 2/3 of the cost), then 80 epochs instead of 30 (it underfitted: 60 epochs gave a
# further +4.0). Local crops did not pay here (45 epochs with 2 of them: 80.9, against 83.2 for 60 epochs without, at
# more cost); the ablations add them back to measure multi-crop. Batch 32 instead of 16 trained 1.47x faster but cost
# 2.8 points on real data.
# The mini and smoke recipes keep plain SGD over every parameter, a plain linear classifier with a bias and the lr as
# given.
ABLATION_LOCAL_CROPS = 2  # local crops the ablations add to a recipe without any (chapters/ablations.py)
MINI_OPTIMISER = dict(lr_base_batch=None, decay_norm_and_bias=True, fc_bias=True, cosine_tau=None)
PRESETS: dict[str, dict] = {
    "paper": {},
    "mini": dict(
        **MINI_OPTIMISER, arch="resnet10_narrow", cifar_stem=True, epochs=80, batch_size=16, lr=0.2, min_lr=1e-5,
        warmup_epochs=2, weight_decay=5e-4, label_smoothing=0.1, global_crops=1, global_size=28, global_scale=[0.6, 1.0],
        blur=[0.0, 0.0], solarize=0.0,
        # local crops, when asked for (the ablations' multi-crop comparison): 2 x 14 px at 25-60%, BatchNorm's test-time
        # statistics from the global crops
        local_crops=0, local_size=14, local_scale=[0.25, 0.6], bn_stats="global",
        eval_resize=28, eval_crop=28, amp=True, loader="memory", workers=0,
        threads=1,  # one thread per training, several trainings side by side (fakeit_lib/core/parallel.py)
    ),
    "smoke": dict(
        **MINI_OPTIMISER, arch="resnet10_narrow", cifar_stem=True, epochs=2, batch_size=16, lr=0.05, warmup_epochs=1,
        global_size=28, local_crops=2, local_size=14, eval_resize=28, eval_crop=28, amp=False, loader="memory",
        workers=0, threads=1,
    ),
}


def make_config(preset: str = "paper", **overrides) -> TrainConfig:
    """A TrainConfig from a preset (paper, mini, smoke) and field overrides, validated."""
    if preset not in PRESETS:
        raise FakeitError(f"unknown training preset {preset!r}; valid: {', '.join(PRESETS)}")
    return from_dict(TrainConfig, {**PRESETS[preset], **overrides})


def _resolve_class_set(config: TrainConfig):
    from ..datasets.classes import load_class_set
    from ..datasets.images import dataset_class_set_name

    name = config.class_set or dataset_class_set_name(Path(config.data))
    return load_class_set(name) if name else None


def training_dataset(config: TrainConfig):
    """The training dataset (multi-crop transform), its class set (or None) and number of classes."""
    from ..datasets.images import ImageListDataset, training_samples
    from .augment import MultiCrop

    class_set = _resolve_class_set(config)
    samples, num_classes = training_samples(config.data, class_set)
    if config.images_per_class is not None:
        kept, seen = [], {}
        for i, label in enumerate(samples.labels.tolist()):
            if seen.get(label, 0) < config.images_per_class:
                kept.append(i)
                seen[label] = seen.get(label, 0) + 1
        samples = samples.subset(kept)  # still arrays that forked loader workers share (datasets.images.SampleTable)
    transform = MultiCrop(
        config.global_crops, config.global_size, tuple(config.global_scale), config.local_crops,
        config.local_size, tuple(config.local_scale), tuple(config.mean), tuple(config.std), colour=config.colour_ops,
        blur=tuple(config.blur), solarize=config.solarize, jitter=config.jitter,
    )
    return ImageListDataset(samples, transform, name=Path(config.data).name), class_set, num_classes


def run_folder(config: TrainConfig) -> Path:
    """The default run folder of a config: `<output root>/train-<dataset>-<arch>-<hash of its identity>`."""
    return stage_dir(f"train-{Path(os.path.normpath(config.data)).name}-{config.arch}", identity(config))


CHECK_STEPS = 20  # under torchrun, steps between two looks at a stop signal and the checkpoint's wall time


class StopRequest:
    """SIGTERM (torchrun passes a stop on, Slurm sends it at the end) and SIGUSR1 (Slurm's warning before the time
    limit, --signal) noted instead of ending the process, so that training saves its checkpoint first. Installed only
    in the main thread and only where nothing else handles these signals; `restore` puts the handlers back."""

    SIGNALS = ("SIGTERM", "SIGUSR1")

    def __init__(self):
        import signal
        import threading

        self.signum, self.previous = None, {}
        if threading.current_thread() is not threading.main_thread():
            return
        for name in self.SIGNALS:
            sig = getattr(signal, name, None)
            if sig is not None and signal.getsignal(sig) is signal.SIG_DFL:
                self.previous[sig] = signal.signal(sig, self._note)

    def _note(self, signum, frame) -> None:
        self.signum = signum

    def restore(self) -> None:
        import signal

        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
        self.previous = {}

    def end_if_asked(self, ranks, where: str) -> None:
        """Raise Stopped (checkpoint saved) when process 0 was asked to stop; every process follows it."""
        from ..core.errors import Stopped

        import signal

        if ranks.agree(self.signum is not None):
            signum = self.signum or signal.SIGTERM
            self.restore()
            ranks.close()
            raise Stopped(f"stopped by {signal.Signals(signum).name} at {where}; the checkpoint is saved: run the same "
                          "command to resume", signum)


def loss_scaling(device_type: str, amp: bool) -> bool:
    """Whether training scales its loss (a GradScaler): fp16 autocast on CUDA only."""
    return device_type == "cuda" and amp


def _checkpoint_bytes(obj: dict) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def train(config: TrainConfig, out: Path | str | None = None, log=print) -> Path:
    """Train (or resume, or reuse a finished run) and return the run folder."""
    from ..core.devices import amp_dtype, precision, resolve_device

    config.validate()
    config = resolved_config(config)
    from ..core.distributed import Ranks

    # 224 px crops (the paper recipe): days on a CPU, so "auto" does not fall back to it silently
    work = f"training at {config.global_size} px crops (the paper recipe's size)" if config.global_size >= PAPER_CROP else None
    device = torch.device(resolve_device(config.device, work))
    ranks = Ranks(str(device), stage="train")
    dataset, class_set, num_classes = training_dataset(config)
    folder = Path(out) if out else run_folder(config)
    recorded = identity(config)
    if ranks.agree(is_done(folder)):  # process 0 looks, every process follows (distributed.Ranks.agree)
        claim_folder(folder, recorded)  # a finished run is reused only for the same config
        ranks.close()
        return folder
    if ranks.rank == 0:
        claim_explained(folder, recorded, explain=out is None)
    ranks.barrier()
    threads_before = torch.get_num_threads()  # restored at the end: later work in this process keeps its threads
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    if device.type == "cuda":
        torch.cuda.set_device(device)
        torch.backends.cuda.matmul.allow_tf32 = True  # as trex main.py
        torch.backends.cudnn.benchmark = True

    torch.manual_seed(config.seed)
    model = build_model(config.arch, num_classes, config.cifar_stem, config.fc_bias, config.cosine_tau).to(device)
    if ranks.distributed and device.type == "cuda" and config.sync_bn:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)  # trex main.py; same state-dict keys as BatchNorm
    if config.amp:  # channels-last: faster convolutions under fp16 on CUDA, and on the CPU in bf16 and float32 alike
        model = model.to(memory_format=torch.channels_last)
    # fp16 on CUDA with loss scaling as the authors (trex main.py use_fp16); bf16 autocast on the CPU needs none, and
    # runs only where the CPU has fast bf16 kernels (float32 elsewhere: devices.amp_dtype)
    autocast = amp_dtype(device.type, config.amp)
    scaler = torch.amp.GradScaler(device.type, enabled=loss_scaling(device.type, config.amp))
    # with a scaler, SGD fused into one kernel: the scaler hands it the inf/NaN flag on the device, where the unfused
    # SGD makes the scaler read that flag on the host every step (a wait for the GPU); state dicts are the same
    optimizer = torch.optim.SGD(param_groups(model, config), lr=peak_lr(config), momentum=config.momentum,
                                fused=True if scaler.is_enabled() else None)
    start_epoch, history, first_step, saved_sums = 0, [], 0, None
    ckpt_path = folder / CHECKPOINT
    if ranks.agree(ckpt_path.exists()):  # every process resumes from the same epoch, or none does
        state = torch.load(ckpt_path, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if state.get("scaler"):
            scaler.load_state_dict(state["scaler"])  # an fp16 run resumes with the loss scale it had
        start_epoch, history = state["epoch"], state["history"]
        first_step, saved_sums = state.get("step_in_epoch", 0), state.get("sums")  # saved within an epoch
        log(f"resuming {folder} after epoch {start_epoch}" + (f", step {first_step}" if first_step else ""))
    net: nn.Module = MultiCropClassifier(model, config.bn_stats)
    if ranks.distributed:
        net = nn.parallel.DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)

    per_rank = max(1, config.batch_size // ranks.world)
    from ..core.devices import training_workers

    # the node's cores shared by its processes: 8 processes on a 64-core node start 7 workers each, not 14
    config = dataclasses.replace(config, workers=training_workers(config.workers))
    loader = None
    if config.loader == "memory":
        try:
            loader, sampler, drop_last = memory_training_loader(dataset, config, per_rank, ranks.world, ranks.rank)
        except NotForMemory as e:  # a colour clone (any text-to-image model) under a small recipe: the same
            log(f"{e}; training with loader 'workers' instead")  # augmentation per image in PIL (augment.py)
    if loader is None:
        loader, sampler, drop_last = training_loader(dataset, config, per_rank, ranks.world, ranks.rank, device.type == "cuda")
    steps_per_epoch = len(sampler) // per_rank if drop_last else math.ceil(len(sampler) / per_rank)
    total_steps, warmup_steps = config.epochs * steps_per_epoch, round(config.warmup_epochs * steps_per_epoch)
    meta = dict(arch=config.arch, num_classes=num_classes, cifar_stem=config.cifar_stem, fc_bias=config.fc_bias,
                cosine_tau=config.cosine_tau,
                class_set=class_set.name if class_set is not None else config.class_set, eval_resize=config.eval_resize,
                eval_crop=config.eval_crop, mean=list(config.mean), std=list(config.std), data=config.data)

    def save(epochs_done: int, step_in_epoch: int = 0, sums=None) -> None:
        """The checkpoint (process 0 writes), after `epochs_done` epochs and `step_in_epoch` steps of the next."""
        if ranks.rank == 0:
            state = dict(format=CHECKPOINT_FORMAT, model=model.state_dict(), optimizer=optimizer.state_dict(),
                         scaler=scaler.state_dict() if scaler.is_enabled() else None,
                         epoch=epochs_done, sampler_epoch=epochs_done - 1, history=history, meta=meta,
                         config=dataclasses.asdict(config), config_hash=config_hash(recorded),
                         step_in_epoch=step_in_epoch, sums=None if sums is None else sums.cpu())
            atomic_write_bytes(ckpt_path, _checkpoint_bytes(state))
            atomic_write_text(folder / METRICS, "".join(json.dumps(h) + "\n" for h in history))
        ranks.barrier()

    # a stop signal or the wall time is looked at every few steps, by process 0, and shared (one host read each time)
    check_every = CHECK_STEPS if ranks.distributed else 1
    stop, last_save = StopRequest(), time.monotonic()
    done_steps = start_epoch * steps_per_epoch + first_step  # TensorBoard curves (process 0) continue from here
    curves = Curves(folder, ranks.rank == 0, done_steps, device)
    try:
        for epoch in range(start_epoch, config.epochs):
            first = first_step if epoch == start_epoch else 0
            sampler.set_epoch(epoch, start=first * per_rank)
            net.train()
            # loss*crops, crops, correct global, global, skipped images: summed on the device, read once an epoch (no
            # host sync per step); MPS has no float64
            sums = torch.zeros(5, dtype=torch.float32 if device.type == "mps" else torch.float64, device=device)
            if first and saved_sums is not None:
                sums += saved_sums.to(device=device, dtype=sums.dtype)
            t0, lr = time.time(), lr_at(epoch * steps_per_epoch, total_steps, warmup_steps, config)
            curves.start_epoch()
            for i, (crops, labels) in enumerate(loader, start=first):
                curves.data_ready()
                step = epoch * steps_per_epoch + i
                ranks.at = f"epoch {epoch + 1}, step {i + 1} of {steps_per_epoch}"  # named if a collective gives up
                lr = lr_at(step, total_steps, warmup_steps, config)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                crops = [c.to(device, non_blocking=True) for c in crops]
                if config.amp:
                    crops = [c.contiguous(memory_format=torch.channels_last) for c in crops]
                labels = labels.to(device, non_blocking=True)  # from pinned memory on CUDA: no wait for the copy
                targets = labels.repeat(len(crops))
                with torch.autocast(device.type, dtype=autocast, enabled=autocast is not None):
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
                sums += torch.stack([losses.detach().sum(), valid, (glob_pred == glob_t).sum(), (glob_t >= 0).sum(),
                                     (labels < 0).sum()]).to(sums.dtype)
                curves.step(step + 1, lr, loss, len(labels) * ranks.world)
                if (i + 1) % check_every == 0 and i + 1 < steps_per_epoch:
                    due = stop.signum is not None or time.monotonic() - last_save >= config.checkpoint_minutes * 60
                    if ranks.agree(due):
                        save(epoch, i + 1, sums)
                        last_save = time.monotonic()
                        stop.end_if_asked(ranks, f"epoch {epoch + 1}, step {i + 1} of {steps_per_epoch}")
            ranks.at = f"the end of epoch {epoch + 1}"
            if ranks.distributed:
                sums = ranks.all_reduce(sums)  # on the backend's device (NCCL refuses CPU tensors)
            held = curves.pending()  # the curves' last losses of the epoch, read with the sums (one read)
            read = torch.cat([sums, held.to(sums)]).cpu() if held is not None else sums.cpu()
            sums = read[:len(sums)]
            curves.write(read[len(sums):].numpy().tolist())  # on the host already: no second wait
            seconds = time.time() - t0
            images = int(sums[3].item()) // config.global_crops
            row = dict(epoch=epoch + 1, lr=lr, loss=round(sums[0].item() / max(1.0, sums[1].item()), 6),
                       train_top1=round(sums[2].item() / max(1.0, sums[3].item()), 6), images=images,
                       skipped=int(sums[4].item()), seconds=round(seconds, 2), images_per_s=round(images / max(seconds, 1e-9), 1),
                       precision=precision(device.type, config.amp))
            if images == 0:
                raise FakeitError(f"no readable image in dataset {config.data} (all {len(dataset)} files failed to load)")
            history.append(row)
            curves.epoch((epoch + 1) * steps_per_epoch, row)
            log(json.dumps(row))
            save(epoch + 1)
            last_save = time.monotonic()
            if epoch + 1 < config.epochs:
                stop.end_if_asked(ranks, f"the end of epoch {epoch + 1}")
    finally:
        stop.restore()  # a stopped, failed or finished run leaves the signals as it found them
        curves.close()
    if ranks.rank == 0:
        mark_done(folder, {"epochs": config.epochs, "final": history[-1] if history else None})
    ranks.barrier()
    ranks.close()
    torch.set_num_threads(threads_before)
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
    parser.add_argument("--device", help="auto (default: cuda:LOCAL_RANK when CUDA is available), cpu, cuda, cuda:N")
    parser.add_argument("--batch-size", type=int, help="global batch over all processes (paper: 256; lr follows it)")
    parser.add_argument("--out", help="run folder (default: <output root>/train-<dataset>-<arch>-<hash>)")
    parser.add_argument("--print-folder", action="store_true",
                        help="print the run folder this command trains into (named by the settings, the dataset's "
                             "content and the code) and stop: nothing is trained")


def run(args: argparse.Namespace) -> int:
    """`fakeit train`: train (or resume, or find finished) a run and print its folder."""
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
    overrides.update({k: v for k, v in (("device", args.device), ("batch_size", args.batch_size)) if v is not None})
    config = make_config(args.preset, **overrides)
    if args.print_folder:
        if not Path(config.data).expanduser().is_dir():
            raise FakeitError(f"dataset {config.data} does not exist: its run folder is named by its content")
        print(Path(args.out) if args.out else run_folder(config))
        return 0
    folder = train(config, args.out)
    print(folder)
    return 0
