"""In-memory grey images as a dataset whose batches are transformed in torch, for fast evaluation and features.

The mini scale's test and transfer sets are a few thousand 28x28 grey images. Decoding each into a PIL image and
transforming it alone costs more than the model; `ArrayImages` keeps them as one uint8 array and, through
`__getitems__` (which torch's DataLoader calls with a whole batch of indices), applies the test-time transform
(`augment.EvalTransform`: resize, centre crop, normalise) to the batch at once. Item access returns the same tensors.
"""

from __future__ import annotations

import numpy as np
import torch


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
