"""Multi-crop augmentation on whole batches in torch: `BatchMultiCrop` draws the mini scale's crops of a batch of grey
images in memory (training.loaders' memory loader), `BatchColour` applies the colour operations of `augment.MultiCrop`
(jitter, grey-scale, blur, solarisation, normalisation) to a batch of uint8 crops on the training device, with
torchvision's tensor formulas."""

from __future__ import annotations

import torch


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
