"""Multi-crop augmentation as the paper trains with it (DINO style: global and local crops, jitter, blur, solarize).

Follows DINO (Caron et al., ICCV 2021) as used by the authors' t-ReX code: global crops get blur with p=0.2 and
solarisation with p=0.2, local crops blur with p=0.5; every crop gets a flip, colour jitter (p=0.8) and random
grey-scale (p=0.2). Randomness comes from torch and Python's `random`, both seeded per image by the loader
(training.loaders), so a run is reproducible.

Two places to run it (`MultiCrop(colour=...)`): `workers`, all of it in PIL per image in the loader's workers, as the
authors do; or `device` (the paper recipe's default), where a worker decodes the image once with torchvision.io,
cuts every crop from it in uint8 tensors (bicubic, antialiased: torch's resize, made to match PIL's), flips them and
draws their colour parameters, and `BatchColour` applies jitter, grey-scale, blur, solarisation and normalisation to
the whole batch on the training device, with torchvision's tensor formulas (float arithmetic instead of PIL's 8-bit
rounding; the blur an exact Gaussian where PIL's is three box blurs; crops within 0.2 grey levels of PIL's on
average). A worker then gives 1.6x the images a core (benchmarks/loader.py); the GPU does the colour operations.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageFilter, ImageOps
from torchvision import transforms as T
from torchvision.transforms import functional as TF


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
        from ..core.errors import FakeitError

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
                 blur_radius: tuple[float, float] = (0.1, 2.0), blur: tuple[float, float] = (0.2, 0.5),
                 solarize: float = 0.2, jitter: float = 0.8):
        self.global_crops, self.local_crops = global_crops, local_crops
        self.blur, self.solarize, self.jitter = tuple(blur), solarize, jitter
        self.global_size, self.local_size = global_size, local_size
        self.global_scale, self.local_scale = tuple(global_scale), tuple(local_scale)
        self.mean = torch.tensor(mean).view(1, -1, 1, 1)
        self.std = torch.tensor(std).view(1, -1, 1, 1)
        self.blur_radius = blur_radius

    def __call__(self, images: torch.Tensor, g: torch.Generator) -> list[torch.Tensor]:
        """Crops (global ones first) of (B, 1, H, W) uint8 or [0, 1] float images, each (B, 3, size, size)."""
        x = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
        crops = [self._crop(x, self.global_size, self.global_scale, self.blur[0], self.solarize, g)
                 for _ in range(self.global_crops)]
        crops += [self._crop(x, self.local_size, self.local_scale, self.blur[1], 0.0, g) for _ in range(self.local_crops)]
        return crops

    def _crop(self, x: torch.Tensor, size: int, scale: tuple[float, float], p_blur: float, p_solarize: float,
              g: torch.Generator) -> torch.Tensor:
        from torchvision.ops import roi_align

        b = len(x)
        out = roi_align(x, _random_resized_boxes(x.shape[-2], x.shape[-1], b, scale, g), size, sampling_ratio=2,
                        aligned=True)
        flip = torch.rand(b, generator=g) < 0.5
        out = torch.where(flip.view(-1, 1, 1, 1), out.flip(-1), out)
        out = _jitter(out, g, p=self.jitter)
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


SMALL_BLUR = 64  # image side up to which the blur is two matrix products rather than a grouped convolution


def _blur_matrices(sigma: torch.Tensor, size: int, radius: int, dtype: torch.dtype, device=None) -> torch.Tensor:
    """(B, size, size) matrices K with x @ K the 1-d Gaussian blur of each row of x (edges replicated), one per sigma."""
    t = torch.arange(-radius, radius + 1, dtype=dtype, device=device)
    k = torch.exp(-(t.view(1, -1) ** 2) / (2 * sigma.view(-1, 1).to(device=device, dtype=dtype) ** 2))
    k = k / k.sum(1, keepdim=True)  # (B, 2r+1)
    steps = torch.arange(-radius, radius + 1, device=device)
    source = (torch.arange(size, device=device).view(-1, 1) + steps.view(1, -1)).clamp(0, size - 1)
    b = len(sigma)
    out = torch.zeros(b, size, size, dtype=dtype, device=device)  # out[:, source, output column]
    columns = torch.arange(size, device=device).view(-1, 1).expand(size, 2 * radius + 1)
    out.index_put_((torch.arange(b, device=device).view(-1, 1, 1), source.unsqueeze(0).expand(b, -1, -1),
                    columns.unsqueeze(0).expand(b, -1, -1)), k.view(b, 1, -1).expand(b, size, -1), accumulate=True)
    return out


def _gaussian_blur(x: torch.Tensor, sigma: torch.Tensor, radius: int = 6) -> torch.Tensor:
    """Each image of (B, 1, H, W) blurred by a Gaussian of its own sigma (separable, edges replicated): for small
    images (the mini scale's 28 px) two batched matrix products, far cheaper there than a grouped convolution; for
    large ones (224 px crops) the grouped convolution, whose cost grows with the kernel, not the image side."""
    import torch.nn.functional as F

    b, _, h, w = x.shape
    if max(h, w) <= SMALL_BLUR:
        rows = torch.bmm(x.reshape(b, h, w), _blur_matrices(sigma, w, radius, x.dtype, x.device))  # along each row
        both = torch.bmm(_blur_matrices(sigma, h, radius, x.dtype, x.device).transpose(1, 2), rows)  # along each column
        return both.view(b, 1, h, w)
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-(t.view(1, -1) ** 2) / (2 * sigma.view(-1, 1) ** 2))
    k = k / k.sum(1, keepdim=True)  # (B, 2r+1)
    y = F.pad(x.transpose(0, 1), (radius, radius, radius, radius), mode="replicate")  # (1, B, H+2r, W+2r)
    y = F.conv2d(y, k.view(b, 1, 1, -1), groups=b)
    y = F.conv2d(y, k.view(b, 1, -1, 1), groups=b)
    return y.transpose(0, 1)


# ----------------------------------------------------------------------------------------------------------------
# Colour operations on the training device, per image of a batch (MultiCrop(colour="device"))


def _grey(x: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) luma of (B, 3, H, W) RGB in [0, 1] (torchvision rgb_to_grayscale's weights)."""
    return (0.2989 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]).unsqueeze(1)


def _shift_hue(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Each image's hue rotated by its own `shift` (a fraction of a turn), through HSV as torchvision's adjust_hue."""
    maxc, minc = x.max(1).values, x.min(1).values
    r, g, b = x.unbind(1)
    same = maxc == minc
    spread = maxc - minc
    ones = torch.ones_like(maxc)
    sat = spread / torch.where(same, ones, maxc)
    div = torch.where(same, ones, spread)
    rc, gc, bc = (maxc - r) / div, (maxc - g) / div, (maxc - b) / div
    h = (maxc == r) * (bc - gc) + ((maxc == g) & (maxc != r)) * (2.0 + rc - bc) + ((maxc != g) & (maxc != r)) * (4.0 + gc - rc)
    h = torch.fmod(h / 6.0 + 1.0 + shift.view(-1, 1, 1), 1.0)
    i = torch.floor(h * 6.0)
    f = h * 6.0 - i
    i = i.long() % 6
    v = maxc
    p = (v * (1.0 - sat)).clamp(0, 1)
    q = (v * (1.0 - sat * f)).clamp(0, 1)
    t = (v * (1.0 - sat * (1.0 - f))).clamp(0, 1)
    table = torch.stack([torch.stack(c, 1) for c in ((v, q, p, p, t, v), (t, v, v, q, p, p), (p, p, t, v, v, q))], 1)
    return table.gather(2, i.view(i.shape[0], 1, 1, *i.shape[1:]).expand(-1, 3, 1, -1, -1)).squeeze(2)


def _colour_op(op: int, x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """ColorJitter's operation `op` (0 brightness, 1 contrast, 2 saturation, 3 hue) with per-image factors `f`."""
    if op == 3:
        return _shift_hue(x, f)
    f = f.view(-1, 1, 1, 1)
    if op == 0:
        other = torch.zeros_like(x[:, :1])
    elif op == 1:
        other = _grey(x).mean(dim=(1, 2, 3), keepdim=True)
    else:
        other = _grey(x)
    return (f * x + (1 - f) * other).clamp(0, 1)


class BatchColour:
    """MultiCrop's colour operations applied per image to a batch of uint8 crops on any device: ColorJitter (p=0.8,
    random order), grey-scale (p=0.2), Gaussian blur, solarisation, then normalisation. Each image takes the
    parameters its worker drew (PARAMS), so the result depends on the images' seeds alone, not on the batch. Images
    are gathered per operation by indices computed on the host: no step waits for the device."""

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...]):
        self.mean, self.std = torch.tensor(mean).view(1, -1, 1, 1), torch.tensor(std).view(1, -1, 1, 1)

    def __call__(self, crops: list[torch.Tensor], params: torch.Tensor) -> list[torch.Tensor]:
        """Normalised float crops from (B, 3, H, W) uint8 crops and their (B, crops, len(PARAMS)) parameters (host)."""
        return [self._one(c, params[:, k]) for k, c in enumerate(crops)]

    def _one(self, crops: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        device = crops.device
        x = crops.float().div_(255.0)
        on = lambda mask: torch.nonzero(mask).flatten().to(device, non_blocking=True)  # noqa: E731
        factors = p[:, 1:5].to(device, non_blocking=True)
        applied = p[:, 0] > 0
        for step in range(4):
            for op in range(4):
                mask = applied & (p[:, 5 + step] == op)
                if mask.any():
                    idx = on(mask)
                    x.index_copy_(0, idx, _colour_op(op, x.index_select(0, idx), factors.index_select(0, idx)[:, op]))
        if (p[:, 9] > 0).any():
            idx = on(p[:, 9] > 0)
            x.index_copy_(0, idx, _grey(x.index_select(0, idx)).expand(-1, 3, -1, -1))
        if (p[:, 10] > 0).any():
            idx = on(p[:, 10] > 0)
            sub = x.index_select(0, idx)
            sigma = p[:, 10][p[:, 10] > 0].to(device).repeat_interleave(3)
            blurred = _gaussian_blur(sub.reshape(-1, 1, *sub.shape[-2:]), sigma).reshape(sub.shape)
            x.index_copy_(0, idx, blurred)
        if (p[:, 11] > 0).any():
            idx = on(p[:, 11] > 0)
            sub = x.index_select(0, idx)
            x.index_copy_(0, idx, torch.where(sub >= 128 / 255, 1.0 - sub, sub))  # ImageOps.solarize's threshold 128
        return (x - self.mean.to(device)) / self.std.to(device)
