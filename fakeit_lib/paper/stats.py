"""Summaries over seeds: means with Student-t 95% intervals, and effects estimated with the seed error pooled over
every model that shares a recipe and a test set.

Several models of a chapter (Table 1's clones and the real baseline, say) are trained with the same seeds and the
same recipe. Their per-seed values form a `Family`: a models x seeds table. A comparison is a contrast of the
models' means (weights summing to 0: "a minus b", a trend over clone sizes). Its error comes from the whole family,
by a stated rule chosen before any comparison is made, never from its result:
- **blocked**: when the family's seeds carry an effect of their own (their mean square above the residual one: a
  seed that is lucky for one model tends to be lucky for the others), a two-way analysis (model + seed) removes it,
  and the residual mean square, with (models - 1)(seeds - 1) degrees of freedom, is the error of every contrast;
- **pooled**: otherwise the within-model variance pooled over the family, with models x (seeds - 1) degrees of
  freedom (pairing would only cost degrees of freedom).
Either way a contrast of 5 seeds over 7 models has 24 or 28 degrees of freedom (t = 2.06 or 2.05), where the same
comparison on its own two models' paired seeds has 4 (t = 2.78). What this assumes: the models of a family have one
seed variance (each verdict records the ratio of the largest to the smallest per-model standard deviation).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Sequence

import numpy as np

from ..core.errors import FakeitError

CONFIDENCE = 0.95  # every interval in the book is a two-sided 95% Student-t interval
ALPHA = 1 - CONFIDENCE


def t_quantile(df: float, confidence: float = CONFIDENCE) -> float:
    """The two-sided Student-t quantile for `df` degrees of freedom."""
    from scipy import stats

    return float(stats.t.ppf(0.5 + confidence / 2, df))


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
    method: str  # blocked, pooled, paired, samples, or delta (see the module docstring)
    weights_sq: float = 1.0  # sum of the squared contrast weights (se = std * sqrt(weights_sq / n))
    df_per_seed: float = 1.0  # degrees of freedom gained per added seed (family size, for a power calculation)
    pairing: float | None = None  # correlation of the two arms' per-seed values, where the effect has two arms
    spread_ratio: float | None = None  # largest over smallest per-model seed standard deviation of the family

    def to_dict(self) -> dict:
        """The estimate as a plain dict (JSON-ready)."""
        return asdict(self)

    def text(self, digits: int = 1, signed: bool = False) -> str:
        """`mean ± half-width` (n = k), or `mean (n = 1)` without an interval."""
        return Interval(self.mean, self.low, self.high, self.n, self.std).text(digits, signed)

    def p_above(self, threshold: float) -> float:
        """One-sided p-value of "the effect lies above `threshold`" (1 without an interval)."""
        from scipy import stats

        if self.se is None or self.df is None:
            return 1.0
        if self.se == 0:
            return 0.0 if self.mean > threshold else 1.0
        return float(stats.t.sf((self.mean - threshold) / self.se, self.df))

    def p_below(self, threshold: float) -> float:
        """One-sided p-value of "the effect lies below `threshold`" (1 without an interval)."""
        from scipy import stats

        if self.se is None or self.df is None:
            return 1.0
        if self.se == 0:
            return 0.0 if self.mean < threshold else 1.0
        return float(stats.t.cdf((self.mean - threshold) / self.se, self.df))

    def seeds_to_decide(self, above: float, below: float, most: int = 200) -> int | None:
        """How many seeds would put this interval above `above` or below `below` if the effect and the seed standard
        deviation stayed as observed (the nearer of the two); None beyond `most`, or without an interval."""
        if self.std is None or self.std == 0:
            return None
        margin = max(self.mean - above, below - self.mean)
        if margin <= 0:
            return None
        for s in range(max(2, self.n), most + 1):
            df = self.df_per_seed * (s - 1)
            if df > 0 and t_quantile(df) * self.std * math.sqrt(self.weights_sq / s) < margin:
                return s
        return None


def _interval(mean: float, se: float, df: float) -> tuple[float, float]:
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
    low, high = _interval(mean, se, len(x) - 1)
    return Estimate(mean, low, high, len(x), std, se, len(x) - 1, method, pairing=pairing)


def paired_differences(a: Sequence[float], b: Sequence[float]) -> list[float]:
    """a[s] - b[s] for each seed s (both sides trained with the same seeds, in the same order)."""
    if len(a) != len(b):
        raise FakeitError(f"paired values need as many seeds on each side, got {len(a)} and {len(b)}")
    return [float(x) - float(y) for x, y in zip(a, b)]


def correlation(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Pearson's correlation of two arms' per-seed values (None when either is constant or too short)."""
    x, y = np.asarray(a, float), np.asarray(b, float)
    if len(x) < 3 or x.std() == 0 or y.std() == 0:
        return None
    return float(np.corrcoef(x, y)[0, 1])


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
    draw_var: float = field(init=False, default=0.0)  # variance a model's mean takes from drawing its clone
    drawn: frozenset = field(init=False, default=frozenset())  # the models trained on a drawn (synthetic) clone

    def __post_init__(self) -> None:
        lengths = {len(v) for v in self.values.values()}
        if not self.values or len(lengths) != 1:
            raise FakeitError(f"family {self.name}: every model needs the same seeds, got {sorted(lengths)} values")
        y = np.asarray(list(self.values.values()), dtype=float)  # models x seeds
        if not np.all(np.isfinite(y)):
            raise FakeitError(f"family {self.name}: values must be finite")
        m, s = y.shape
        grand = y.mean()
        model_means, seed_means = y.mean(1, keepdims=True), y.mean(0, keepdims=True)
        ss_within = float(((y - model_means) ** 2).sum())
        ss_resid = float(((y - model_means - seed_means + grand) ** 2).sum())
        ss_seed = float(m * ((seed_means - grand) ** 2).sum())
        df_within, df_resid, df_seed = m * (s - 1), (m - 1) * (s - 1), s - 1
        ms_resid = ss_resid / df_resid if df_resid else None
        ms_seed = ss_seed / df_seed if df_seed else None
        sds = y.std(1, ddof=1) if s > 1 else np.zeros(m)
        self.anova = {
            "models": m, "seeds": s,
            "ms_within": ss_within / df_within if df_within else None, "df_within": df_within,
            "ms_resid": ms_resid, "df_resid": df_resid, "ms_seed": ms_seed,
            # the stated rule: remove seed effects when the seeds carry one (their mean square above the residual's)
            "blocked": bool(ms_resid is not None and ms_seed is not None and m >= 2 and ms_seed > ms_resid),
            "spread_ratio": float(sds.max() / sds.min()) if s > 1 and sds.min() > 0 else None,
        }

    @property
    def seeds(self) -> int:
        return self.anova["seeds"]

    def add_draw_variance(self, variance: float, drawn: set[str]) -> None:
        """Include the variance of drawing a clone (one generation seed) in the error of every contrast, for the
        models in `drawn` (a real training set is not drawn); its degrees of freedom follow Welch-Satterthwaite with
        one degree of freedom for the draw (two draws measured it)."""
        self.draw_var, self.drawn = float(variance), frozenset(drawn)

    def error(self, zero_sum: bool) -> tuple[float | None, float | None, str, float]:
        """(error variance of one seed's value, its degrees of freedom, method, df per added seed) for a contrast."""
        a = self.anova
        if zero_sum and a["blocked"]:
            return a["ms_resid"], a["df_resid"], "blocked", a["models"] - 1
        return a["ms_within"], a["df_within"] or None, "pooled", a["models"]

    def contrast(self, weights: dict[str, float]) -> Estimate:
        """The effect sum(w * model mean) with the family's pooled seed error (blocked or pooled, by the rule)."""
        unknown = sorted(set(weights) - set(self.values))
        if unknown:
            raise FakeitError(f"family {self.name} has no model {', '.join(unknown)}; it has {', '.join(self.values)}")
        w = {k: float(v) for k, v in weights.items() if v != 0}
        means = {k: float(np.mean(v)) for k, v in self.values.items()}
        mean = sum(wk * means[k] for k, wk in w.items())
        s = self.seeds
        zero_sum = abs(sum(w.values())) < 1e-12
        var, df, method, per_seed = self.error(zero_sum)
        weights_sq = sum(v * v for v in w.values())
        pos = [sum(wk * self.values[k][i] for k, wk in w.items() if wk > 0) for i in range(s)]
        neg = [sum(-wk * self.values[k][i] for k, wk in w.items() if wk < 0) for i in range(s)]
        pairing = correlation(pos, neg) if zero_sum else None
        if var is None or not df:
            return Estimate(mean, None, None, s, None, None, None, method, weights_sq, per_seed, pairing,
                            self.anova["spread_ratio"])
        std = math.sqrt(var)
        se = std * math.sqrt(weights_sq / s)
        drawn = self.draw_var * sum(v * v for k, v in w.items() if k in self.drawn)
        if drawn > 0:  # the draw of each clone joins the error (Welch-Satterthwaite degrees of freedom)
            seed_part = se * se
            se = math.sqrt(seed_part + drawn)
            df = se**4 / (seed_part**2 / df + drawn**2 / 1.0)
            method += " + draw variance"
        low, high = _interval(mean, se, df)
        return Estimate(mean, low, high, s, std, se, df, method, weights_sq, per_seed, pairing, self.anova["spread_ratio"])

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

    def spread_difference(self, high: list[str], low: list[str]) -> Estimate:
        """How much more the models `high` differ among themselves than the models `low` (an interaction: e.g. the
        prompt variants at guidance 7.5 against the same variants at 2.0): the difference of their sums of squared
        deviations from their own mean, each unbiased for the spread of the true means (the seed noise each sum
        carries cancels), with a delta-method standard error from the family's pooled seed error."""
        if len(high) < 2 or len(low) < 2:
            raise FakeitError(f"a spread needs at least two models on each side, got {len(high)} and {len(low)}")
        s = self.seeds
        var, df, method, per_seed = self.error(True)

        def ss(labels):
            m = np.asarray([np.mean(self.values[k]) for k in labels])
            return float(((m - m.mean()) ** 2).sum())

        ss_hi, ss_lo = ss(high), ss(low)
        mean = ss_hi - ss_lo
        if var is None or not df:
            return Estimate(mean, None, None, s, None, None, None, "delta")
        noise = var / s  # variance of one model's mean

        def var_ss(total, k):
            true = max(total - (k - 1) * noise, 0.0)
            return 4 * noise * true + 2 * (k - 1) * noise**2

        se = math.sqrt(var_ss(ss_hi, len(high)) + var_ss(ss_lo, len(low)))
        low_, high_ = _interval(mean, se, df)
        weights_sq = se * se * s / var if var > 0 else 1.0  # se = std * sqrt(weights_sq / seeds), as for a contrast
        return Estimate(mean, low_, high_, s, math.sqrt(var), se, df, f"delta ({method} error)", weights_sq, per_seed,
                        None, self.anova["spread_ratio"])
