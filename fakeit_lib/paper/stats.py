"""Summaries over seeds: means with Student-t 95% intervals, and effects estimated with the seed error pooled over
every model that shares a recipe and a test set.

Several models of a chapter (Table 1's clones and the real baseline, say) are trained with the same seeds and the
same recipe. Their per-seed values form a `Family`: a models x seeds table. A comparison is a contrast of the
models' means (weights summing to 0: "a minus b", a trend over clone sizes). Its error comes from the whole family,
by rules stated before any comparison is made, never chosen by their result (each is calibrated by simulation:
`benchmarks/verdicts.py` and the book's page "How often a verdict is wrong"):
- **blocked**: a contrast whose weights sum to 0 takes each compared model's own seed variance from the residual of
  a two-way analysis (model + seed): the seeds' effect cancels in such a contrast, and each model keeps its own
  variance (a real training set and a small clone need not vary alike). Its degrees of freedom are
  Welch-Satterthwaite's over the compared models' shares of the residual, (seeds - 1)(models - 1)/models each: 6.9
  for two of seven models with 5 seeds at equal variances, 4 (a paired comparison's) for a family of two;
- **pooled**: a contrast whose weights do not sum to 0 keeps the seeds' effect and takes the within-model variance;
- **draw variance**: where clones are compared, each clone is one draw of a generator; the variance of a clone's
  mean over draws is measured from several draws of one clone trained with the same seeds (`add_draws`) and replaces
  the seed error of every drawn arm, with draws - 1 degrees of freedom (Welch-Satterthwaite with the undrawn arms'
  own variances, and with a drawn arm's seed variance beyond the measured clone's). No number of training seeds removes that part: `seeds_to_decide` says so.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Sequence

import numpy as np

from ..core.errors import FakeitError

CONFIDENCE = 0.95  # every interval in the book is a two-sided 95% Student-t interval
ALPHA = 1 - CONFIDENCE
# Draws of a clone from which the draw variance's degrees of freedom are combined with the seed error's by
# Welch-Satterthwaite (fewer: the draws' own, conservative). Chosen by the calibration: with 2 draws Satterthwaite
# covered 0.916-0.926 for comparisons of several clones (earlier rules); with 4 draws it covers 0.941-0.985.
DRAWS_SATTERTHWAITE = 4


@lru_cache(maxsize=4096)
def t_quantile(df: float, confidence: float = CONFIDENCE) -> float:
    """The two-sided Student-t quantile for `df` degrees of freedom."""
    from scipy import special

    return float(special.stdtrit(df, 0.5 + confidence / 2))


def satterthwaite(parts: Sequence[tuple[float, float]]) -> float:
    """Welch-Satterthwaite degrees of freedom of a sum of variances, each given as (variance, its df)."""
    total = sum(v for v, _ in parts)
    denom = sum(v * v / d for v, d in parts if v > 0)
    return total * total / denom if denom > 0 else float("inf")


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
    x = np.asarray(list(values), dtype=float)
    if len(x) == 0 or not np.all(np.isfinite(x)):
        raise FakeitError(f"an interval needs at least one finite value, got {list(values)}")
    mean = float(x.mean())
    if len(x) < 2:
        return Interval(mean, None, None, len(x), None)
    std = float(x.std(ddof=1))
    half = t_quantile(len(x) - 1, confidence) * std / math.sqrt(len(x))
    return Interval(mean, mean - half, mean + half, len(x), std)


@dataclass(frozen=True)
class Estimate:
    """An effect with its 95% interval and how its error was estimated."""

    mean: float
    low: float | None
    high: float | None
    n: int  # seeds (or independent samples) behind each arm
    std: float | None  # the error standard deviation of one seed's value of one model (None: no interval)
    se: float | None  # the standard error of the effect
    df: float | None  # its degrees of freedom
    method: str  # blocked, pooled, paired, samples, or a spread's noncentral chi-square variance (`spreads`)
    weights_sq: float = 1.0  # sum of the squared contrast weights (se = std * sqrt(weights_sq / n))
    df_per_seed: float = 1.0  # degrees of freedom gained per added seed (family size, for a power calculation)
    pairing: float | None = None  # correlation of the two arms' per-seed values, where the effect has two arms
    spread_ratio: float | None = None  # largest over smallest per-model residual standard deviation of the family
    floor_se: float = 0.0  # the part of `se` that no number of training seeds removes (the draw of each clone)
    floor_df: float | None = None  # its degrees of freedom (draws measured - 1)
    inputs: dict | None = None  # the numbers it was computed from (values, weights, draws), to recompute it elsewhere

    def to_dict(self) -> dict:
        """The estimate as a plain dict (JSON-ready)."""
        return asdict(self)

    def text(self, digits: int = 1, signed: bool = False) -> str:
        """`mean ± half-width` (n = k), or `mean (n = 1)` without an interval."""
        return Interval(self.mean, self.low, self.high, self.n, self.std).text(digits, signed)

    def p_above(self, threshold: float) -> float:
        """One-sided p-value of "the effect lies above `threshold`" (1 without an interval)."""
        from scipy import special

        if self.se is None or self.df is None:
            return 1.0
        if self.se == 0:
            return 0.0 if self.mean > threshold else 1.0
        return float(special.stdtr(self.df, -(self.mean - threshold) / self.se))

    def p_below(self, threshold: float) -> float:
        """One-sided p-value of "the effect lies below `threshold`" (1 without an interval)."""
        from scipy import special

        if self.se is None or self.df is None:
            return 1.0
        if self.se == 0:
            return 0.0 if self.mean < threshold else 1.0
        return float(special.stdtr(self.df, (self.mean - threshold) / self.se))

    def _half_width(self, seeds: int, level: float) -> float:
        """The one-sided `level` half-width this estimate would have with `seeds` seeds at the observed deviations."""
        seed_var = self.std**2 * self.weights_sq / seeds
        floor_var = self.floor_se**2
        parts = [(seed_var, self.df_per_seed * (seeds - 1))] + ([(floor_var, self.floor_df)] if floor_var > 0 else [])
        return t_quantile(satterthwaite(parts), 1 - 2 * level) * math.sqrt(seed_var + floor_var)

    def seeds_to_decide(self, above: float, below: float, level: float = ALPHA / 2, most: int = 200) -> int | None:
        """How many seeds would put this interval (one-sided `level` on each side) above `above` or below `below` if
        the effect and the deviations stayed as observed (the nearer of the two); None beyond `most`, without an
        interval, or where the draw variance alone forbids it (`seeds_cannot_decide`)."""
        if self.std is None or self.std == 0:
            return None
        margin = max(self.mean - above, below - self.mean)
        if margin <= 0 or self.seeds_cannot_decide(above, below, level):
            return None
        for s in range(max(2, self.n), most + 1):
            if self.df_per_seed * (s - 1) > 0 and self._half_width(s, level) < margin:
                return s
        return None

    def seeds_cannot_decide(self, above: float, below: float, level: float = ALPHA / 2) -> bool:
        """Whether no number of training seeds could decide it: the draw variance's part of the error alone (with
        infinitely many seeds) keeps the interval across both bounds."""
        if self.floor_se <= 0 or self.floor_df is None:
            return False
        margin = max(self.mean - above, below - self.mean)
        return margin <= t_quantile(self.floor_df, 1 - 2 * level) * self.floor_se


def t_interval(mean: float, se: float, df: float) -> tuple[float, float]:
    half = t_quantile(df) * se
    return mean - half, mean + half


def estimate_from_values(values: Sequence[float], method: str = "paired", pairing: float | None = None) -> Estimate:
    """The mean of per-seed (or per-sample) values, e.g. paired differences, with its Student-t interval."""
    x = np.asarray(list(values), dtype=float)
    if len(x) == 0 or not np.all(np.isfinite(x)):
        raise FakeitError(f"an estimate needs at least one finite value, got {list(values)}")
    mean = float(x.mean())
    if len(x) < 2:
        return Estimate(mean, None, None, len(x), None, None, None, method, pairing=pairing)
    std = float(x.std(ddof=1))
    se = std / math.sqrt(len(x))
    low, high = t_interval(mean, se, len(x) - 1)
    return Estimate(mean, low, high, len(x), std, se, len(x) - 1, method, pairing=pairing,
                    inputs={"values": [float(v) for v in x], "error": method})


def paired_differences(a: Sequence[float], b: Sequence[float]) -> list[float]:
    """a[s] - b[s] for each seed s (both sides trained with the same seeds, in the same order)."""
    if len(a) != len(b):
        raise FakeitError(f"paired values need as many seeds on each side, got {len(a)} and {len(b)}")
    return [float(x) - float(y) for x, y in zip(a, b)]


def correlation(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Pearson's correlation of two arms' per-seed values (None when either is constant or too short)."""
    x, y = np.asarray(a, float), np.asarray(b, float)
    if len(x) < 3:
        return None
    x, y = x - x.mean(), y - y.mean()
    sx, sy = math.sqrt(float(x @ x)), math.sqrt(float(y @ y))
    return float(x @ y) / (sx * sy) if sx > 0 and sy > 0 else None


def slope(x: Sequence[float], y: Sequence[float]) -> float:
    """The least-squares slope of y against x."""
    xa, ya = np.asarray(x, float), np.asarray(y, float)
    if len(xa) < 2 or np.ptp(xa) == 0:
        raise FakeitError(f"a slope needs at least two distinct x values, got {list(x)}")
    return float(np.polyfit(xa, ya, 1)[0])


def slope_weights(x: Sequence[float]) -> list[float]:
    """Contrast weights w with sum(w * y) the least-squares slope of y against x."""
    xa = np.asarray(x, float)
    if len(xa) < 2 or np.ptp(xa) == 0:
        raise FakeitError(f"a slope needs at least two distinct x values, got {list(x)}")
    d = xa - xa.mean()
    return (d / (d * d).sum()).tolist()


@dataclass
class Family:
    """Per-seed values of models that share a recipe and a test set: model label -> values, the same seeds in the
    same order for every model. Every contrast of their means takes its error from all of them."""

    name: str
    values: dict[str, list[float]]
    anova: dict = field(init=False)
    table: np.ndarray = field(init=False, repr=False)  # the models x seeds values, in the order of `values`
    draw_var: float = field(init=False, default=0.0)  # variance of a drawn model's mean over draws (seed noise in)
    draw_df: float | None = field(init=False, default=None)  # its degrees of freedom (draws measured - 1)
    drawn: frozenset = field(init=False, default=frozenset())  # the models trained on a drawn (synthetic) clone
    draw_seed_var: float = field(init=False, default=0.0)  # the measured clone's seed noise (within its draws)
    model_var: np.ndarray | None = field(init=False, default=None, repr=False)  # each model's own seed variance

    def __post_init__(self) -> None:
        lengths = {len(v) for v in self.values.values()}
        if not self.values or len(lengths) != 1:
            raise FakeitError(f"family {self.name}: every model needs the same seeds, got {sorted(lengths)} values")
        y = np.asarray(list(self.values.values()), dtype=float)  # models x seeds
        if not np.all(np.isfinite(y)):
            raise FakeitError(f"family {self.name}: values must be finite")
        self.table = y
        m, s = y.shape
        grand = y.mean()
        model_means, seed_means = y.mean(1, keepdims=True), y.mean(0, keepdims=True)
        resid = y - model_means - seed_means + grand
        ss_within = float(((y - model_means) ** 2).sum())
        ss_resid = float((resid**2).sum())
        ss_seed = float(m * ((seed_means - grand) ** 2).sum())
        df_within, df_resid, df_seed = m * (s - 1), (m - 1) * (s - 1), s - 1
        ms_resid = ss_resid / df_resid if df_resid else None
        # each model's own seed variance: its share of the residual (unbiased for it when the models vary alike)
        own = (resid**2).sum(1) / df_seed * m / (m - 1) if s > 1 and m > 1 else None
        self.model_var = own
        sds = np.sqrt(own) if own is not None and m > 2 else np.ones(m)
        self.anova = {
            "models": m, "seeds": s,
            "ms_within": ss_within / df_within if df_within else None, "df_within": df_within,
            "ms_resid": ms_resid, "df_resid": df_resid, "ms_seed": ss_seed / df_seed if df_seed else None,
            "spread_ratio": float(sds.max() / sds.min()) if s > 1 and sds.min() > 0 else None,
        }

    @property
    def seeds(self) -> int:
        return self.anova["seeds"]

    def residual_df(self, terms: np.ndarray) -> float:
        """Welch-Satterthwaite's degrees of freedom of a sum of per-model variance `terms`, each from that model's share
        of the residual, with its share of the residual's degrees of freedom, (seeds - 1)(models - 1)/models:
        conservative at equal variances (the shares are negatively correlated), calibrated at unequal ones."""
        m, s = self.table.shape
        return satterthwaite([(float(t), (s - 1) * (m - 1) / m) for t in terms if t])

    def draws_df(self, parts: list[tuple[float, float]], seed_df: float | None) -> float:
        """Degrees of freedom of an error holding the measured draws' part (`parts`: (variance, df) pairs, the draws'
        last): Welch-Satterthwaite from DRAWS_SATTERTHWAITE draws on; below, the draws' own (conservative: with one
        or two, Satterthwaite's intervals cover 0.92, the calibration), or the seed error's if fewer."""
        if self.draw_df + 1 >= DRAWS_SATTERTHWAITE:
            return satterthwaite(parts)
        return min(seed_df or self.draw_df, self.draw_df)

    def draw_floor_var(self) -> float:
        """The part of a drawn model's mean variance that no number of training seeds removes (its clone's draw)."""
        return max(self.draw_var - self.draw_seed_var / self.seeds, 0.0)

    def add_draws(self, draws: Sequence[Sequence[float]], drawn: set[str]) -> None:
        """Measured draws of one clone (each a list of per-seed values, trained with the family's seeds): the
        variance of a drawn model's mean over draws, with draws - 1 degrees of freedom, becomes the error of every
        arm in `drawn` (a real training set is not drawn)."""
        y = np.asarray([list(d) for d in draws], dtype=float)
        if y.ndim != 2 or len(y) < 2 or y.shape[1] != self.seeds or not np.all(np.isfinite(y)):
            raise FakeitError(f"family {self.name}: draws need at least two lists of {self.seeds} finite per-seed "
                              f"values, got shape {y.shape}")
        unknown = sorted(set(drawn) - set(self.values))
        if unknown:
            raise FakeitError(f"family {self.name} has no model {', '.join(unknown)}; it has {', '.join(self.values)}")
        self.draw_var, self.draw_df, self.drawn = float(y.mean(1).var(ddof=1)), float(len(y) - 1), frozenset(drawn)
        r = y - y.mean(1, keepdims=True) - y.mean(0, keepdims=True) + y.mean()  # the measured clone's seed noise
        self.draw_seed_var = float((r**2).sum()) / ((len(y) - 1) * (y.shape[1] - 1)) if y.shape[1] > 1 else 0.0

    def error(self, zero_sum: bool) -> tuple[float | None, float | None, str, float]:
        """(error variance of one seed's value, its degrees of freedom, method, df per added seed) for a contrast."""
        a = self.anova
        if zero_sum:
            return a["ms_resid"], a["df_resid"] or None, "blocked", a["models"] - 1
        return a["ms_within"], a["df_within"] or None, "pooled", a["models"]

    def contrast(self, weights: dict[str, float]) -> Estimate:
        """The effect sum(w * model mean) with its error by the module's stated rules."""
        unknown = sorted(set(weights) - set(self.values))
        if unknown:
            raise FakeitError(f"family {self.name} has no model {', '.join(unknown)}; it has {', '.join(self.values)}")
        w = {k: float(v) for k, v in weights.items() if v != 0}
        wv = np.asarray([w.get(k, 0.0) for k in self.values])
        y = self.table
        mean = float(wv @ y.mean(1))
        s = self.seeds
        zero_sum = abs(wv.sum()) < 1e-12
        var, df, method, per_seed = self.error(zero_sum)
        weights_sq = float(wv @ wv)
        per_seed_values = wv @ y
        pairing = correlation(np.clip(wv, 0, None) @ y, np.clip(-wv, 0, None) @ y) if zero_sum else None
        ratio = self.anova["spread_ratio"]
        if var is None or not df:
            return Estimate(mean, None, None, s, None, None, None, method, weights_sq, per_seed, pairing, ratio)
        labels = list(self.values)
        drawn = np.asarray([k in self.drawn for k in labels])
        w_drawn = float((wv[drawn] ** 2).sum())
        if zero_sum:  # each compared model's own variance; a drawn one's beyond the measured clone's seed noise
            own = np.where(drawn, np.clip(self.model_var - self.draw_seed_var, 0.0, None), self.model_var)
            terms = wv**2 * own / s
            seed_parts = [(float(terms.sum()), self.residual_df(terms))] if terms.any() else []
            var = float(wv**2 @ self.model_var) / weights_sq
        else:
            seed_parts = [(var * (weights_sq - w_drawn) / s, df)] if weights_sq > w_drawn else []
        std = math.sqrt(var)
        seed_part = sum(v for v, _ in seed_parts)
        seed_df = satterthwaite(seed_parts) if seed_parts else None
        if seed_df is not None and not math.isfinite(seed_df):  # no seed variance at all: the family's error's
            seed_df = df
        per_seed, df = (seed_df / (s - 1), seed_df) if seed_df else (per_seed, df)
        se, floor_se, floor_df = math.sqrt(seed_part), 0.0, None
        if w_drawn:  # each drawn arm's mean varies as the measured draws did (their seed noise included)
            draw_part = w_drawn * self.draw_var
            se = math.sqrt(seed_part + draw_part)
            parts = seed_parts + [(draw_part, self.draw_df)]
            df = self.draws_df(parts, seed_df)
            floor_se, floor_df = math.sqrt(w_drawn * self.draw_floor_var()), self.draw_df
            method += f" + draw variance ({self.draw_df + 1:g} draws)"
        low, high = t_interval(mean, se, df)
        inputs = {"family": self.name, "values": {k: [float(x) for x in v] for k, v in self.values.items()},
                  "weights": w, "error": method}
        if w_drawn:
            inputs["draws"] = {"variance of a drawn model's mean": self.draw_var, "degrees of freedom": self.draw_df,
                               "drawn models": sorted(self.drawn)}
        return Estimate(mean, low, high, s, std, se, df, method, weights_sq, per_seed, pairing, ratio, floor_se, floor_df,
                        inputs)

    def difference(self, a: str, b: str) -> Estimate:
        """Model a minus model b."""
        return self.contrast({a: 1.0, b: -1.0})

    def mean_difference(self, a: list[str], b: list[str]) -> Estimate:
        """The mean of models `a` minus the mean of models `b`."""
        w = {k: 1.0 / len(a) for k in a}
        for k in b:
            w[k] = w.get(k, 0.0) - 1.0 / len(b)
        return self.contrast(w)

    def trend(self, sizes: dict[str, float]) -> Estimate:
        """The least-squares slope of the models' means against log2 of their sizes: points per doubling."""
        labels = list(sizes)
        w = slope_weights([math.log2(sizes[k]) for k in labels])
        return self.contrast(dict(zip(labels, w)))
