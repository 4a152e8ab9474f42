"""torch Datasets of images: a list of (path or tar-shard member, label) decoded per item (unreadable files come back
labelled SKIPPED), images held as PIL images, and small grey images held as one uint8 array (`ArrayImages`).

The mini scale's test and transfer sets are a few thousand 28x28 grey images. Decoding each into a PIL image and
transforming it alone costs more than the model; `ArrayImages` keeps them as one uint8 array and, through
`__getitems__` (which torch's DataLoader calls with a whole batch of indices), applies the test-time transform
(`training.augment.EvalTransform`: resize, centre crop, normalise) to the batch at once.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from PIL import Image

from .images import SKIPPED, SampleTable, load_image, load_image_tensor


class ImageListDataset(torch.utils.data.Dataset):
    """Images from a list of (path, label) pairs; unreadable files come back with label SKIPPED. A transform with a
    true `takes_tensor` gets (3, H, W) uint8 tensors (load_image_tensor) instead of PIL images."""

    def __init__(self, samples: list[tuple[str, int]], transform: Callable | None = None, name: str = ""):
        self.samples = samples
        self.transform = transform
        self.name = name

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int):
        path, label = self.samples[i]
        if getattr(self.transform, "takes_tensor", False):
            image = load_image_tensor(path)
            if image is None:
                image, label = torch.zeros(3, 32, 32, dtype=torch.uint8), SKIPPED
        else:
            image = load_image(path)
            if image is None:
                image, label = Image.new("RGB", (32, 32)), SKIPPED
        return (self.transform(image) if self.transform else image), label

    @property
    def targets(self) -> list[int]:
        if isinstance(self.samples, SampleTable):
            return self.samples.labels.tolist()
        return [label for _, label in self.samples]


class TensorImageDataset(torch.utils.data.Dataset):
    """In-memory images (a torchvision dataset such as FashionMNIST, or arrays) with a transform on PIL RGB images."""

    def __init__(self, images: list[Image.Image], labels: list[int], transform: Callable | None = None, name: str = ""):
        self.images, self.labels, self.transform, self.name = images, labels, transform, name

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        image = self.images[i].convert("RGB")
        return (self.transform(image) if self.transform else image), self.labels[i]

    @property
    def targets(self) -> list[int]:
        return list(self.labels)


class ArrayImages(torch.utils.data.Dataset):
    """(N, H, W) uint8 grey images and labels; `transform` an augment.EvalTransform (or any PIL transform)."""

    def __init__(self, images: np.ndarray, labels, transform=None, name: str = ""):
        self.images = torch.from_numpy(np.ascontiguousarray(images))
        self.labels = [int(v) for v in labels]
        self.transform, self.name = transform, name

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def targets(self) -> list[int]:
        return list(self.labels)

    def __getitems__(self, indices: list[int]) -> list:
        batch = self.images[torch.as_tensor(indices, dtype=torch.long)]
        if hasattr(self.transform, "batch"):
            x = self.transform.batch(batch.unsqueeze(1))
            return [(x[i], self.labels[j]) for i, j in enumerate(indices)]
        return [self[i] for i in indices]

    def __getitem__(self, i: int):
        if hasattr(self.transform, "batch"):
            return self.transform.batch(self.images[i][None, None])[0], self.labels[i]
        from PIL import Image

        image = Image.fromarray(self.images[i].numpy()).convert("RGB")
        return (self.transform(image) if self.transform else image), self.labels[i]
