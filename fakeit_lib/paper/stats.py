"""Summaries over seeds: mean with a Student-t 95% interval, and the slope of a trend fitted per seed."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

from ..core.errors import FakeitError

CONFIDENCE = 0.95  # every interval in the book is a two-sided 95% Student-t interval over seeds


@dataclass(frozen=True)
class Interval:
    """The mean of n values and its two-sided Student-t interval (None bounds when n < 2)."""

    mean: float
    low: float | None
    high: float | None
    n: int
    std: float | None  # sample standard deviation (ddof 1), None when n < 2

    def to_dict(self) -> dict:
        """The interval as a plain dict (JSON-ready)."""
        return asdict(self)

    def text(self, digits: int = 1, signed: bool = False) -> str:
        """`mean ± half-width` (n = k), or `mean (n = 1)` without an interval."""
        sign = "+" if signed else ""
        if self.low is None:
            return f"{self.mean:{sign}.{digits}f} (n = {self.n})"
        return f"{self.mean:{sign}.{digits}f} ± {(self.high - self.low) / 2:.{digits}f} (n = {self.n})"


def mean_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> Interval:
    """The mean of `values` and its Student-t interval at `confidence` (two-sided)."""
    from scipy import stats

    x = np.asarray(list(values), dtype=float)
    if len(x) == 0 or not np.all(np.isfinite(x)):
        raise FakeitError(f"an interval needs at least one finite value, got {list(values)}")
    mean = float(x.mean())
    if len(x) < 2:
        return Interval(mean, None, None, len(x), None)
    std = float(x.std(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2, len(x) - 1)) * std / math.sqrt(len(x))
    return Interval(mean, mean - half, mean + half, len(x), std)


def paired_differences(a: Sequence[float], b: Sequence[float]) -> list[float]:
    """a[s] - b[s] for each seed s (both sides trained with the same seeds, in the same order)."""
    if len(a) != len(b):
        raise FakeitError(f"paired values need as many seeds on each side, got {len(a)} and {len(b)}")
    return [float(x) - float(y) for x, y in zip(a, b)]


def slope(x: Sequence[float], y: Sequence[float]) -> float:
    """The least-squares slope of y against x."""
    xa, ya = np.asarray(x, float), np.asarray(y, float)
    if len(xa) < 2 or np.ptp(xa) == 0:
        raise FakeitError(f"a slope needs at least two distinct x values, got {list(x)}")
    return float(np.polyfit(xa, ya, 1)[0])
