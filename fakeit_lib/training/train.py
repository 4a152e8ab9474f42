"""A training run's recipe (TrainConfig), its presets and its folder; the loop that trains it is `loop.py` (paper Sec. 3
and 5).

The paper recipe is the one of the authors' released ResNet-50s, each choice cited where it is declared
(TrainConfig and PRESETS): the authors' training code is naver/trex at commit 41722283a81e09d0331e879cc076433283fc2878
(`main.py`, `utils.py`, `multi_crop.py`, `trex.py`), cited below as "trex main.py" etc. The classifier is trex's
cosine softmax (`trex.py` ClfLayer, temperature 0.1): the released checkpoints' bias-free `fc.weight` (C, 2048) is
that layer's weight (paper's project page), see `models.CosineClassifier`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..core.devices import check_device, check_precision
from ..core.errors import FakeitError
from ..core.params import from_dict
from ..core.store import stage_dir
from .augment import COLOUR
from .models import BN_STATS, IMAGENET_MEAN, IMAGENET_STD
from .recipe import identity

CHECKPOINT = "checkpoint.pt"
LOADERS = ("workers", "memory")
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
    precision: str = "auto"  # the arithmetic of training: bf16, fp16 (CUDA, with loss scaling) or float32; auto: fp16 on
    # CUDA, bf16 on a CPU with fast bf16 kernels, float32 elsewhere or without amp. Resolved from the device the config
    # names before the run's identity is taken (recipe.resolved_config), so the folder names what the numbers came from
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
        try:
            check_device(self.device)
            check_precision(self.precision)
        except FakeitError as e:
            raise FakeitError(f"parameter {'precision' if 'precision' in str(e) else 'device'}: {e}") from None


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


def run_folder(config: TrainConfig) -> Path:
    """The default run folder of a config: `<output root>/train-<dataset>-<arch>-<hash of its identity>`."""
    return stage_dir(f"train-{Path(os.path.normpath(config.data)).name}-{config.arch}", identity(config))
