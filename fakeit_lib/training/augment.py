"""Multi-crop augmentation as the paper trains with it (DINO style: global and local crops, jitter, blur, solarize).

Follows DINO (Caron et al., ICCV 2021) as used by the authors' t-ReX code: global crops get blur with p=0.2 and
solarisation with p=0.2, local crops blur with p=0.5; every crop gets a flip, colour jitter (p=0.8) and random
grey-scale (p=0.2). Randomness comes from torch and Python's `random`, both seeded per image by the loader
(training.loaders), so a run is reproducible.

Two places to run it (`MultiCrop(colour=...)`): `workers`, all of it in PIL per image in the loader's workers, as the
authors do; or `device` (the paper recipe's default), where a worker decodes the image once with torchvision.io,
cuts every crop from it in uint8 tensors (bicubic, antialiased: torch's resize, made to match PIL's), flips them and
draws their colour parameters, and `batch_augment.BatchColour` applies jitter, grey-scale, blur, solarisation and
normalisation to the whole batch on the training device, with torchvision's tensor formulas (float arithmetic instead
of PIL's 8-bit rounding; the blur an exact Gaussian where PIL's is three box blurs; crops within 0.2 grey levels of
PIL's on average). A worker then gives 1.6x the images a core (benchmarks/loader.py); the GPU does the colour operations.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageFilter, ImageOps
from torchvision import transforms as T
from torchvision.transforms import functional as TF

from ..core.errors import FakeitError


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


COLOUR = ("device", "workers")  # where MultiCrop's colour operations run (module docstring)
# a crop's colour parameters as MultiCrop(colour="device") draws them: jitter applied (0/1), brightness, contrast,
# saturation and hue factors, the order of those four (a permutation of 0..3), grey-scale (0/1), blur sigma (0: none),
# solarisation (0/1)
PARAMS = ("jitter", "brightness", "contrast", "saturation", "hue", "first", "second", "third", "fourth", "grey", "blur",
          "solarize")


class MultiCrop:
    """PIL image -> list of crops: `global_crops` of `global_size` px first, then `local_crops` of `local_size` px; with
    colour="device", ([uint8 crops], their colour parameters (crops, len(PARAMS))) for BatchColour to finish."""

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
        colour: str = "workers",
        blur: tuple[float, float] = (0.2, 0.5),
        solarize: float = 0.2,
        jitter: float = 0.8,
    ):
        if colour not in COLOUR:
            raise FakeitError(f"colour operations on {colour!r} are not known; valid: {', '.join(COLOUR)}")
        self.colour, self.blur_radius = colour, blur_radius
        self.blur, self.solarize, self.jitter = tuple(blur), solarize, jitter  # probabilities (global, local blur)
        bicubic = T.InterpolationMode.BICUBIC
        self.global_crop = T.RandomResizedCrop(global_size, scale=tuple(global_scale), interpolation=bicubic)
        self.local_crop = T.RandomResizedCrop(local_size, scale=tuple(local_scale), interpolation=bicubic)
        jitter = T.Compose(
            [
                T.RandomHorizontalFlip(p=0.5),
                T.RandomApply([T.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1)], p=jitter),
                T.RandomGrayscale(p=0.2),
            ]
        )
        self.global_crops, self.local_crops = global_crops, local_crops
        self.global_tf = T.Compose(
            [
                self.global_crop,
                jitter,
                GaussianBlur(self.blur[0], *blur_radius),
                Solarize(solarize),
                normalize(mean, std),
            ]
        )
        self.local_tf = T.Compose(
            [
                self.local_crop,
                jitter,
                GaussianBlur(self.blur[1], *blur_radius),
                normalize(mean, std),
            ]
        )

    @property
    def takes_tensor(self) -> bool:
        """True when the transform takes a decoded (3, H, W) uint8 tensor (datasets.images.ImageListDataset then
        decodes with torchvision.io, faster than PIL) rather than a PIL image."""
        return self.colour == "device"

    def __call__(self, image):
        if self.colour == "device":
            if isinstance(image, Image.Image):
                image = torch.from_numpy(np.array(image.convert("RGB"))).permute(2, 0, 1)
            crops = [self._geometry(image, self.global_crop, self.blur[0], self.solarize) for _ in range(self.global_crops)]
            crops += [self._geometry(image, self.local_crop, self.blur[1], 0.0) for _ in range(self.local_crops)]
            return [c for c, _ in crops], torch.stack([p for _, p in crops])
        return [self.global_tf(image) for _ in range(self.global_crops)] + [
            self.local_tf(image) for _ in range(self.local_crops)
        ]

    def _geometry(self, image: torch.Tensor, crop: T.RandomResizedCrop, p_blur: float, p_solarize: float):
        """One crop of a (3, H, W) uint8 image, cut and resized (bicubic, antialiased, in uint8) and flipped in torch,
        and its colour parameters (PARAMS), drawn as the PIL path draws them (torchvision RandomResizedCrop and
        ColorJitter.get_params, RandomApply, RandomGrayscale)."""
        i, j, h, w = crop.get_params(image, crop.scale, crop.ratio)
        out = TF.resized_crop(image, i, j, h, w, crop.size, interpolation=T.InterpolationMode.BICUBIC, antialias=True)
        if torch.rand(1) < 0.5:
            out = out.flip(-1)
        applied = not self.jitter < torch.rand(1)  # RandomApply: applied unless p < rand
        order = torch.randperm(4).tolist()
        factors = [float(torch.empty(1).uniform_(lo, hi)) for lo, hi in ((0.6, 1.4), (0.6, 1.4), (0.8, 1.2), (-0.1, 0.1))]
        grey = bool(torch.rand(1) < 0.2)
        blur = random.uniform(*self.blur_radius) if random.random() < p_blur else 0.0
        solarize = random.random() < p_solarize
        return out, torch.tensor([float(applied), *factors, *order, float(grey), blur, float(solarize)])


class EvalTransform(T.Compose):
    """The test-time transform (resize the short side, centre crop, normalise) of a PIL image, or of a batch of
    grey uint8 images in torch (`batch`, used by datasets.images.ArrayImages): the same operations, bicubic both ways."""

    def __init__(self, resize: int, crop: int, mean: tuple[float, ...], std: tuple[float, ...]):
        super().__init__([T.Resize(resize, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(crop), normalize(mean, std)])
        self.resize, self.crop = resize, crop
        self.mean, self.std = torch.tensor(mean).view(1, -1, 1, 1), torch.tensor(std).view(1, -1, 1, 1)

    def batch(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, crop, crop) normalised floats from (B, 1, H, W) uint8 grey images."""
        import torch.nn.functional as F

        x = images.float() / 255.0
        h, w = x.shape[-2:]
        if min(h, w) != self.resize:
            scale = self.resize / min(h, w)
            size = (max(self.resize, round(h * scale)), max(self.resize, round(w * scale)))
            x = F.interpolate(x, size=size, mode="bicubic", antialias=True, align_corners=False).clamp(0, 1)
        h, w = x.shape[-2:]
        top, left = (h - self.crop) // 2, (w - self.crop) // 2
        x = x[..., top: top + self.crop, left: left + self.crop]
        return (x.expand(-1, 3, -1, -1) - self.mean) / self.std


def eval_transform(resize: int, crop: int, mean: tuple[float, ...], std: tuple[float, ...]) -> EvalTransform:
    """The test-time transform: resize the short side, centre crop, normalise."""
    return EvalTransform(resize, crop, mean, std)


# ----------------------------------------------------------------------------------------------------------------
# Colour operations on the training device, per image of a batch (MultiCrop(colour="device"))
