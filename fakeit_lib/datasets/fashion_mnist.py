"""Real images available offline: Fashion-MNIST from Debian's `dataset-fashion-mnist`, via torchvision."""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

from ..core.errors import FakeitError
from ..core.store import cache_root

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
_FILES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]


def fashion_mnist_root() -> Path:
    """A torchvision-style root holding `FashionMNIST/raw/*-ubyte`, prepared from Debian's files if needed.

    Looks at $FAKEIT_FASHION_MNIST (a folder with the four .gz or raw files), then Debian's package folder.
    The decompressed copy lives under $FAKEIT_CACHE (default ~/.cache/fakeit).
    """
    sources = [Path(p) for p in [os.environ.get("FAKEIT_FASHION_MNIST", ""), str(DEBIAN_FASHION_MNIST)] if p]
    cache = cache_root() / "torchvision"
    raw = cache / "FashionMNIST" / "raw"
    if all((raw / f).exists() for f in _FILES):
        return cache
    for src in sources:
        if all((src / f"{f}.gz").exists() or (src / f).exists() for f in _FILES):
            raw.mkdir(parents=True, exist_ok=True)
            for f in _FILES:
                tmp = raw / f".{f}.{os.getpid()}.tmp"  # one per process: torchrun's ranks may prepare it at once
                if (src / f).exists():
                    shutil.copyfile(src / f, tmp)
                else:
                    with gzip.open(src / f"{f}.gz", "rb") as fin, open(tmp, "wb") as fout:
                        shutil.copyfileobj(fin, fout)
                os.replace(tmp, raw / f)
            return cache
    raise FakeitError(
        "Fashion-MNIST not found: install Debian's package (apt-get install dataset-fashion-mnist) "
        f"or set FAKEIT_FASHION_MNIST to a folder holding {', '.join(f + '.gz' for f in _FILES)}"
    )


def fashion_mnist(split: str, transform=None):
    """The real Fashion-MNIST `train` (60k) or `test` (10k) split as a torchvision dataset (PIL images, labels)."""
    if split not in ("train", "test"):
        raise FakeitError(f"unknown Fashion-MNIST split {split!r}; valid: train, test")
    from torchvision.datasets import FashionMNIST

    return FashionMNIST(str(fashion_mnist_root()), train=(split == "train"), download=False, transform=transform)
