"""Constructed domain shifts of the mini scale's in-domain test split, in the spirit of ImageNet-Sketch, -R and -C.

The mini scale has no collected test set of Fashion-MNIST's classes in another style, so each shifted test is the
first SHIFT_PER_CLASS real test images of each class changed by a fixed, documented rule (`SHIFTS`): edge-map
sketches, inverted renditions, Gaussian noise, blur and low contrast (the noise and contrast at ImageNet-C's severity
3). They are deterministic, and every page that shows them says they are constructed.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ..core.errors import FakeitError
from ..datasets.minidata import SPLIT_SEED, Split

SHIFT_PER_CLASS = 200  # test images per class in each shifted set (the first ones of the official test split)


@dataclass(frozen=True)
class Shift:
    """A constructed domain shift of the in-domain test images."""

    name: str
    title: str
    analogue: str  # the ImageNet test set it stands in for
    rule: str  # how an image is changed


SHIFTS = {
    "sketch": Shift("sketch", "edge-map sketches", "ImageNet-Sketch",
                    "Sobel edge magnitude (scikit-image), scaled so each image's strongest edge is white"),
    "inverted": Shift("inverted", "inverted renditions", "ImageNet-R",
                      "grey levels inverted: a dark garment on a light background"),
    "noise": Shift("noise", "Gaussian noise", "ImageNet-C",
                   "Gaussian noise of std 0.18 (ImageNet-C severity 3), per-image seed, clipped to [0, 1]"),
    "blur": Shift("blur", "Gaussian blur", "ImageNet-C", "Gaussian blur of sigma 1 px (scikit-image)"),
    "contrast": Shift("contrast", "low contrast", "ImageNet-C",
                      "contrast cut to 0.2 around each image's mean (ImageNet-C severity 3)"),
}


def shift_images(images: np.ndarray, name: str) -> np.ndarray:
    """(N, 28, 28) uint8 images changed by the shift `name` (deterministic)."""
    from skimage.filters import gaussian, sobel

    if name not in SHIFTS:
        raise FakeitError(f"unknown shift {name!r}; valid: {', '.join(SHIFTS)}")
    x = images.astype(np.float64) / 255.0
    if name == "sketch":
        out = np.stack([sobel(im) for im in x])
        out = out / np.maximum(out.max(axis=(1, 2), keepdims=True), 1e-8)
    elif name == "inverted":
        out = 1.0 - x
    elif name == "noise":
        noise = np.stack([np.random.default_rng(SPLIT_SEED + i).normal(0, 0.18, (28, 28)) for i in range(len(x))])
        out = x + noise
    elif name == "blur":
        out = np.stack([gaussian(im, sigma=1.0) for im in x])
    else:
        mean = x.mean(axis=(1, 2), keepdims=True)
        out = (x - mean) * 0.2 + mean
    return np.round(np.clip(out, 0.0, 1.0) * 255).astype(np.uint8)


@functools.lru_cache(maxsize=None)
def shifted_test(name: str) -> Split:
    """The first SHIFT_PER_CLASS real Fashion-MNIST test images per class, changed by shift `name`."""
    from ..datasets.fashion_mnist import fashion_mnist

    ds = fashion_mnist("test")
    labels = ds.targets.numpy()
    idx = np.concatenate([np.nonzero(labels == c)[0][:SHIFT_PER_CLASS] for c in range(10)])
    idx.sort()
    return Split(shift_images(ds.data.numpy()[idx], name), labels[idx].astype(np.int64))
