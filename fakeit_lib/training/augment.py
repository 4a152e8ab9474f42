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


class BatchMultiCrop:
    """MultiCrop's random operations applied to a batch of grey images in torch, each image its own draw.

    For grey images the colour operations of MultiCrop reduce to brightness and contrast (saturation, hue and
    grey-scale leave grey unchanged), so this is the same augmentation without decoding or a PIL call per image:
    RandomResizedCrop (ratio 3/4 to 4/3, torchvision's 10 tries then centre crop; bilinear `roi_align` instead of
    bicubic), flip, brightness/contrast jitter (0.4, 0.4, p=0.8, random order), Gaussian blur (sigma uniform in
    `blur_radius`, p=0.2 global / 0.5 local) and solarisation (p=0.2, global crops). Randomness comes from the
    `torch.Generator` passed per batch, so a batch's crops depend on that generator's seed alone.
    """

    def __init__(self, global_crops: int, global_size: int, global_scale: tuple[float, float], local_crops: int,
                 local_size: int, local_scale: tuple[float, float], mean: tuple[float, ...], std: tuple[float, ...],
                 blur_radius: tuple[float, float] = (0.1, 2.0)):
        self.global_crops, self.local_crops = global_crops, local_crops
        self.global_size, self.local_size = global_size, local_size
        self.global_scale, self.local_scale = tuple(global_scale), tuple(local_scale)
        self.mean = torch.tensor(mean).view(1, -1, 1, 1)
        self.std = torch.tensor(std).view(1, -1, 1, 1)
        self.blur_radius = blur_radius

    def __call__(self, images: torch.Tensor, g: torch.Generator) -> list[torch.Tensor]:
        """Crops (global ones first) of (B, 1, H, W) uint8 or [0, 1] float images, each (B, 3, size, size)."""
        x = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
        crops = [self._crop(x, self.global_size, self.global_scale, 0.2, 0.2, g) for _ in range(self.global_crops)]
        crops += [self._crop(x, self.local_size, self.local_scale, 0.5, 0.0, g) for _ in range(self.local_crops)]
        return crops

    def _crop(self, x: torch.Tensor, size: int, scale: tuple[float, float], p_blur: float, p_solarize: float,
              g: torch.Generator) -> torch.Tensor:
        from torchvision.ops import roi_align

        b = len(x)
        out = roi_align(x, _random_resized_boxes(x.shape[-2], x.shape[-1], b, scale, g), size, sampling_ratio=2,
                        aligned=True)
        flip = torch.rand(b, generator=g) < 0.5
        out = torch.where(flip.view(-1, 1, 1, 1), out.flip(-1), out)
        out = _jitter(out, g)
        blur = torch.rand(b, generator=g) < p_blur
        sigma = torch.empty(b).uniform_(*self.blur_radius, generator=g)
        picked = blur.nonzero().flatten()  # only the images drawn for blurring are blurred (each its own kernel)
        if len(picked):
            out = out.index_copy(0, picked, _gaussian_blur(out[picked], sigma[picked]))
        solarize = torch.rand(b, generator=g) < p_solarize
        out = torch.where(solarize.view(-1, 1, 1, 1) & (out >= 0.5), 1.0 - out, out)
        return (out.expand(-1, 3, -1, -1) - self.mean) / self.std


def _random_resized_boxes(height: int, width: int, n: int, scale: tuple[float, float], g: torch.Generator,
                          ratio: tuple[float, float] = (3 / 4, 4 / 3), tries: int = 10) -> torch.Tensor:
    """(n, 5) roi_align boxes drawn as torchvision's RandomResizedCrop.get_params draws them, per image."""
    import math

    area = height * width * torch.empty(n, tries).uniform_(*scale, generator=g)
    aspect = torch.exp(torch.empty(n, tries).uniform_(math.log(ratio[0]), math.log(ratio[1]), generator=g))
    w = torch.sqrt(area * aspect).round()
    h = torch.sqrt(area / aspect).round()
    ok = (w > 0) & (w <= width) & (h > 0) & (h <= height)
    first = torch.where(ok.any(1), ok.float().argmax(1), torch.full((n,), -1))
    ui, uj = torch.rand(n, generator=g), torch.rand(n, generator=g)
    pick = first.clamp(min=0).view(-1, 1)
    w, h = w.gather(1, pick)[:, 0], h.gather(1, pick)[:, 0]
    i = (ui * (height - h + 1)).floor()
    j = (uj * (width - w + 1)).floor()
    # torchvision's fallback: the centre crop of the whole image (its aspect ratio is within `ratio` here)
    fallback = first < 0
    w, h = torch.where(fallback, float(width), w), torch.where(fallback, float(height), h)
    i, j = torch.where(fallback, 0.0, i), torch.where(fallback, 0.0, j)
    return torch.stack([torch.arange(n, dtype=torch.float32), j, i, j + w, i + h], 1)


def _jitter(x: torch.Tensor, g: torch.Generator, strength: float = 0.4, p: float = 0.8) -> torch.Tensor:
    """ColorJitter(brightness=0.4, contrast=0.4) with probability p, in random order per image (grey images); only
    the images drawn for it are computed."""
    b = len(x)
    apply = torch.rand(b, generator=g) < p
    fb = torch.empty(b, 1, 1, 1).uniform_(1 - strength, 1 + strength, generator=g)
    fc = torch.empty(b, 1, 1, 1).uniform_(1 - strength, 1 + strength, generator=g)
    brightness_first = (torch.rand(b, generator=g) < 0.5).view(-1, 1, 1, 1)
    picked = apply.nonzero().flatten()
    if not len(picked):
        return x
    y, fb, fc, first = x[picked], fb[picked], fc[picked], brightness_first[picked]

    def bright(t):
        return (t * fb).clamp(0, 1)

    def contrast(t):
        mean = t.mean(dim=(1, 2, 3), keepdim=True)
        return ((t - mean) * fc + mean).clamp(0, 1)

    return x.index_copy(0, picked, torch.where(first, contrast(bright(y)), bright(contrast(y))))


def _blur_matrices(sigma: torch.Tensor, size: int, radius: int, dtype: torch.dtype) -> torch.Tensor:
    """(B, size, size) matrices K with x @ K the 1-d Gaussian blur of each row of x (edges replicated), one per sigma."""
    t = torch.arange(-radius, radius + 1, dtype=dtype)
    k = torch.exp(-(t.view(1, -1) ** 2) / (2 * sigma.view(-1, 1).to(dtype) ** 2))
    k = k / k.sum(1, keepdim=True)  # (B, 2r+1)
    source = (torch.arange(size).view(-1, 1) + torch.arange(-radius, radius + 1).view(1, -1)).clamp(0, size - 1)
    b = len(sigma)
    out = torch.zeros(b, size, size, dtype=dtype)  # out[:, source, output column]
    columns = torch.arange(size).view(-1, 1).expand(size, 2 * radius + 1)
    out.index_put_((torch.arange(b).view(-1, 1, 1), source.unsqueeze(0).expand(b, -1, -1),
                    columns.unsqueeze(0).expand(b, -1, -1)), k.view(b, 1, -1).expand(b, size, -1), accumulate=True)
    return out


def _gaussian_blur(x: torch.Tensor, sigma: torch.Tensor, radius: int = 6) -> torch.Tensor:
    """Each image of (B, 1, H, W) blurred by a Gaussian of its own sigma (separable, edges replicated), as two batched
    matrix products: for images this small, far cheaper than a grouped convolution."""
    b, _, h, w = x.shape
    rows = torch.bmm(x.view(b, h, w), _blur_matrices(sigma, w, radius, x.dtype))  # along each row
    both = torch.bmm(_blur_matrices(sigma, h, radius, x.dtype).transpose(1, 2), rows)  # then along each column
    return both.view(b, 1, h, w)
