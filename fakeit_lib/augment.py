"""Multi-crop augmentation as the paper trains with it (DINO style: global and local crops, jitter, blur, solarize).

Follows DINO (Caron et al., ICCV 2021) as used by the authors' t-ReX code: global crops get blur with p=0.2 and
solarisation with p=0.2, local crops blur with p=0.5; every crop gets a flip, colour jitter (p=0.8) and random
grey-scale (p=0.2). Randomness comes from torch and Python's `random`, both seeded per epoch and per worker by
the training loop, so a run is reproducible.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch
from PIL import Image, ImageFilter, ImageOps
from torchvision import transforms as T


@dataclass(frozen=True)
class GaussianBlur:
    """Blur a PIL image with probability p, radius uniform in [radius_min, radius_max] (DINO)."""

    p: float
    radius_min: float = 0.1
    radius_max: float = 2.0

    def __call__(self, image: Image.Image) -> Image.Image:
        if random.random() < self.p:
            return image.filter(ImageFilter.GaussianBlur(radius=random.uniform(self.radius_min, self.radius_max)))
        return image


@dataclass(frozen=True)
class Solarize:
    """Solarize a PIL image with probability p (DINO)."""

    p: float

    def __call__(self, image: Image.Image) -> Image.Image:
        return ImageOps.solarize(image) if random.random() < self.p else image


def normalize(mean: tuple[float, ...], std: tuple[float, ...]) -> T.Compose:
    """PIL image -> normalised float tensor."""
    return T.Compose([T.ToTensor(), T.Normalize(mean, std)])


class MultiCrop:
    """PIL image -> list of crops: `global_crops` of `global_size` px first, then `local_crops` of `local_size` px."""

    def __init__(
        self,
        global_crops: int,
        global_size: int,
        global_scale: tuple[float, float],
        local_crops: int,
        local_size: int,
        local_scale: tuple[float, float],
        mean: tuple[float, ...],
        std: tuple[float, ...],
        blur_radius: tuple[float, float] = (0.1, 2.0),
    ):
        jitter = T.Compose(
            [
                T.RandomHorizontalFlip(p=0.5),
                T.RandomApply([T.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1)], p=0.8),
                T.RandomGrayscale(p=0.2),
            ]
        )
        bicubic = T.InterpolationMode.BICUBIC
        self.global_crops, self.local_crops = global_crops, local_crops
        self.global_tf = T.Compose(
            [
                T.RandomResizedCrop(global_size, scale=tuple(global_scale), interpolation=bicubic),
                jitter,
                GaussianBlur(0.2, *blur_radius),
                Solarize(0.2),
                normalize(mean, std),
            ]
        )
        self.local_tf = T.Compose(
            [
                T.RandomResizedCrop(local_size, scale=tuple(local_scale), interpolation=bicubic),
                jitter,
                GaussianBlur(0.5, *blur_radius),
                normalize(mean, std),
            ]
        )

    def __call__(self, image: Image.Image) -> list[torch.Tensor]:
        return [self.global_tf(image) for _ in range(self.global_crops)] + [
            self.local_tf(image) for _ in range(self.local_crops)
        ]


def eval_transform(resize: int, crop: int, mean: tuple[float, ...], std: tuple[float, ...]) -> T.Compose:
    """The test-time transform: resize the short side, centre crop, normalise."""
    return T.Compose(
        [T.Resize(resize, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(crop), normalize(mean, std)]
    )
