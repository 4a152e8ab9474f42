"""Training data loaders: per-image PIL multi-crop in DataLoader workers, or whole batches augmented in memory.

Both draw an epoch's order from the DistributedSampler for (seed, epoch) and each image's (or batch's) augmentation
from a generator seeded with (seed, epoch, index) alone, whatever the number of worker processes, so a resumed run
sees the crops of an uninterrupted one.

The memory loader is for the mini scale (about a thousand 28x28 images): the images are decoded once, and each batch's multi-crop
augmentation (`batch_augment.BatchMultiCrop`) runs as a few tensor operations, with no worker process and no PIL call per
image, so both CPU cores go to the model. The order of an epoch is the DistributedSampler's for (seed, epoch) and
each batch's augmentation is drawn from a generator seeded with (seed, epoch, batch), so a resumed run sees the
crops of an uninterrupted one, as with the worker loader.
"""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import numpy as np
import torch

from ..core.errors import FakeitError
from ..datasets.classes import load_class_set
from ..datasets.images import dataset_class_set_name, load_image, training_samples
from ..datasets.torch_datasets import ImageListDataset
from .augment import MultiCrop
from .batch_augment import BatchMultiCrop


def _sample_seed(seed: int, epoch: int, index: int) -> int:
    return ((seed * 1_000_003 + epoch) * 2_000_029 + index) % (2**63)


class EpochSampler(torch.utils.data.Sampler):
    """Yields (epoch, index) keys in the order of a DistributedSampler, for a SeededAugmentation dataset."""

    def __init__(self, sampler):
        self.sampler, self.epoch, self.start = sampler, 0, 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        """Draw epoch `epoch`'s order, from its `start`-th item on (a run resumed within the epoch)."""
        self.epoch, self.start = epoch, start
        self.sampler.set_epoch(epoch)

    def __iter__(self):
        return ((self.epoch, i) for i in itertools.islice(self.sampler, self.start, None))

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


class DeviceColourLoader:
    """A worker DataLoader's batches of uint8 crops and colour parameters (augment.MultiCrop(colour="device")),
    moved to `device` and finished there by `colour` (batch_augment.BatchColour): batches of (float crops, labels)."""

    def __init__(self, loader, colour, device: str):
        self.loader, self.colour, self.device = loader, colour, torch.device(device)

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        for (crops, params), labels in self.loader:
            crops = [c.to(self.device, non_blocking=True) for c in crops]
            yield self.colour(crops, params), labels


def training_loader(dataset, config, batch_size: int, world: int = 1, rank: int = 0,
                    pin_memory: bool = False):
    """(loader, its EpochSampler, drop_last) of one rank: shuffled by (seed, epoch), augmentation seeded per image,
    persistent workers, `config.prefetch` batches ahead per worker; a dataset whose transform leaves colour to the
    device (MultiCrop(colour="device")) has its batches finished on config.device. Call `sampler.set_epoch(e)` before
    iterating epoch e."""
    from torch.utils.data import DataLoader, DistributedSampler

    sampler = EpochSampler(DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=True, seed=config.seed))
    drop_last = len(sampler) >= batch_size
    extra = {"prefetch_factor": config.prefetch} if config.workers > 0 else {}
    loader = DataLoader(SeededAugmentation(dataset, config.seed), batch_size=batch_size, sampler=sampler,
                        num_workers=config.workers, persistent_workers=config.workers > 0, drop_last=drop_last,
                        pin_memory=pin_memory, **extra)
    if getattr(getattr(dataset, "transform", None), "colour", "workers") == "device":
        from ..core.devices import resolve_device
        from .batch_augment import BatchColour

        loader = DeviceColourLoader(loader, BatchColour(tuple(config.mean), tuple(config.std)), resolve_device(config.device))
    return loader, sampler, drop_last


class NotForMemory(FakeitError):
    """The images are not a set the memory loader can hold (colour, or of several sizes)."""


def decoded_images(samples: list[tuple[str, int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 1, H, W) uint8 images and labels of an image list; every image must be grey (or R=G=B) and of one size."""
    images, labels, sizes = [], [], set()
    for path, label in samples:
        image = load_image(path)
        if image is None:
            continue
        arr = np.asarray(image.convert("RGB"))
        if not (np.array_equal(arr[..., 0], arr[..., 1]) and np.array_equal(arr[..., 0], arr[..., 2])):
            raise NotForMemory(f"the memory loader takes grey images only; {path} has colour (use loader 'workers')")
        sizes.add(arr.shape[:2])
        images.append(arr[..., 0])
        labels.append(label)
    if not images:
        raise FakeitError("no readable image in the training set")
    if len(sizes) > 1:
        raise NotForMemory(f"the memory loader takes images of one size; found sizes {sorted(sizes)[:4]} (use loader 'workers')")
    return torch.from_numpy(np.stack(images)).unsqueeze(1), torch.tensor(labels)


class MemoryLoader:
    """Batches (crops, labels) of one rank for the epoch its EpochSampler was last set to."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, transform, batch_size: int, sampler, seed: int,
                 drop_last: bool):
        self.images, self.labels, self.transform = images, labels, transform
        self.batch_size, self.sampler, self.seed, self.drop_last = batch_size, sampler, seed, drop_last

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        order = torch.tensor([i for _, i in self.sampler], dtype=torch.long)
        first = self.sampler.start // self.batch_size  # batches done before a resume within the epoch
        for b in range(first, len(self)):
            idx = order[(b - first) * self.batch_size: (b - first + 1) * self.batch_size]
            g = torch.Generator().manual_seed(_sample_seed(self.seed, self.sampler.epoch, b))
            yield self.transform(self.images[idx], g), self.labels[idx]


def memory_training_loader(dataset, config, batch_size: int, world: int = 1, rank: int = 0):
    """(MemoryLoader, its EpochSampler, drop_last) of one rank: the dataset decoded once, batches augmented in torch."""
    from torch.utils.data import DistributedSampler

    images, labels = decoded_images(dataset.samples)
    sampler = EpochSampler(DistributedSampler(range(len(labels)), num_replicas=world, rank=rank, shuffle=True,
                                              seed=config.seed))
    drop_last = len(sampler) >= batch_size
    transform = BatchMultiCrop(config.global_crops, config.global_size, tuple(config.global_scale),
                               config.local_crops, config.local_size, tuple(config.local_scale),
                               tuple(config.mean), tuple(config.std), blur=tuple(config.blur), solarize=config.solarize,
                               jitter=config.jitter)
    return MemoryLoader(images, labels, transform, batch_size, sampler, config.seed, drop_last), sampler, drop_last


def _resolve_class_set(config):
    name = config.class_set or dataset_class_set_name(Path(config.data))
    return load_class_set(name) if name else None


def training_dataset(config):
    """The training dataset (multi-crop transform), its class set (or None) and number of classes."""
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
