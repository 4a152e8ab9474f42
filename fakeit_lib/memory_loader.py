"""A training loader that holds a small grey dataset in memory and augments whole batches in torch.

For the mini scale (about a thousand 28x28 images): the images are decoded once, and each batch's multi-crop
augmentation (`augment.BatchMultiCrop`) runs as a few tensor operations, with no worker process and no PIL call per
image, so both CPU cores go to the model. The order of an epoch is the DistributedSampler's for (seed, epoch) and
each batch's augmentation is drawn from a generator seeded with (seed, epoch, batch), so a resumed run sees the
crops of an uninterrupted one, as with the worker loader.
"""

from __future__ import annotations

import numpy as np
import torch

from .errors import FakeitError


def decoded_images(samples: list[tuple[str, int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 1, H, W) uint8 images and labels of an image list; every image must be grey (or R=G=B) and of one size."""
    from .datasets import load_image

    images, labels, sizes = [], [], set()
    for path, label in samples:
        image = load_image(path)
        if image is None:
            continue
        arr = np.asarray(image.convert("RGB"))
        if not (np.array_equal(arr[..., 0], arr[..., 1]) and np.array_equal(arr[..., 0], arr[..., 2])):
            raise FakeitError(f"the memory loader takes grey images only; {path} has colour (use loader 'workers')")
        sizes.add(arr.shape[:2])
        images.append(arr[..., 0])
        labels.append(label)
    if not images:
        raise FakeitError("no readable image in the training set")
    if len(sizes) > 1:
        raise FakeitError(f"the memory loader takes images of one size; found sizes {sorted(sizes)[:4]} (use loader 'workers')")
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
        from .train import _sample_seed

        order = torch.tensor([i for _, i in self.sampler])
        for b in range(len(self)):
            idx = order[b * self.batch_size: (b + 1) * self.batch_size]
            g = torch.Generator().manual_seed(_sample_seed(self.seed, self.sampler.epoch, b))
            yield self.transform(self.images[idx], g), self.labels[idx]
