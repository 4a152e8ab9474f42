"""Image statistics that show a generator's quality gap in numbers: speckle, saturation, border ink, Fréchet distance.

For 28x28 grey images in [0, 1] (object bright on black, as Fashion-MNIST):
- isolated speckle: pixels brighter than 0.3 whose four neighbours are all darker than 0.1, per 1,000 pixels;
- saturated pixels: the share of pixels above 0.99;
- border ink: the share of pixels above 0.1 in the 3-pixel frame;
- Fréchet distance between two image sets in a feature space (the judge's penultimate features here), the FID
  formula of Heusel et al. (NeurIPS 2017) with another feature extractor, so its values are not FIDs.
"""

from __future__ import annotations

import numpy as np
import torch

from ...core.errors import FakeitError
from .judge import as_tensor


def _grey(images) -> torch.Tensor:
    return as_tensor(images)[:, 0]


def isolated_speckle(images) -> float:
    """Pixels > 0.3 whose 4 neighbours are all < 0.1, per 1,000 pixels (image borders padded with black)."""
    x = _grey(images)
    p = torch.nn.functional.pad(x, (1, 1, 1, 1))
    dark = lambda t: t < 0.1
    alone = (x > 0.3) & dark(p[:, :-2, 1:-1]) & dark(p[:, 2:, 1:-1]) & dark(p[:, 1:-1, :-2]) & dark(p[:, 1:-1, 2:])
    return 1000.0 * float(alone.float().mean())


def saturated_share(images) -> float:
    """The share of pixels above 0.99."""
    return float((_grey(images) > 0.99).float().mean())


def border_ink(images, width: int = 3) -> float:
    """The share of pixels above 0.1 in the `width`-pixel frame of each image."""
    x = _grey(images)
    mask = torch.ones_like(x[0], dtype=torch.bool)
    mask[width:-width, width:-width] = False
    return float((x[:, mask] > 0.1).float().mean())


def frechet_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) between two feature sets (rows are samples)."""
    from scipy import linalg

    if len(a) < 2 or len(b) < 2:
        raise FakeitError(f"a Fréchet distance needs at least two samples per side, got {len(a)} and {len(b)}")
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    mu_a, mu_b = a.mean(0), b.mean(0)
    sa, sb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean, _ = linalg.sqrtm(sa @ sb, disp=False)
    covmean = covmean.real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(sa + sb - 2 * covmean))


def image_statistics(images) -> dict[str, float]:
    """Speckle per 1,000 pixels, saturated share and border-ink share of a set of images."""
    return {"speckle per 1k px": isolated_speckle(images), "saturated share": saturated_share(images),
            "border ink share": border_ink(images)}
