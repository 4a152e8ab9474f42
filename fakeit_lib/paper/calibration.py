"""How often a verdict is wrong: the decision rules of `findings` run on simulated families whose true effects are
known, under every way the chapters estimate an error (`stats`), each rule and error method one row.

A simulated family is what a chapter has: models x 5 training seeds, a seed effect shared by every model (sd 1, 0
for "no seed effect"), seed noise (sd 1), and a smallest effect of interest of 1. Each row reports:
- **coverage**: the share of 95% intervals that hold the true effect (every part's, for a composite rule);
- **false holds**: "holds" (or "holds, below the smallest effect of interest") where the claim is false at its
  boundary: a true effect of 0 (greater, trend), of the smallest effect of interest (large: it must be above it;
  at_most: below it), of minus it (not_worse, a parity claim), one part at 0 and the others far above (both),
  every part at 0 (any);
- **false does not hold**: "does not hold" (or "holds, below...") where the claim is true at its boundary: a true
  effect at the smallest effect of interest (every part at it, for both; one part at it and the others far below,
  for any).
each with its Monte-Carlo standard error. The goal of every row: coverage >= 0.94, each false rate <= 2.5% + 3
Monte-Carlo errors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from ..core.errors import FakeitError
from . import findings as fd
from .stats import Estimate, Family, estimate_from_values

SEEDS = 5  # training seeds behind every model (the mini and paper presets)
SESOI = 1.0  # the smallest effect of interest, in units of the seed noise's standard deviation
FAR = 5.0  # "far above / below": an effect the rules decide with certainty
MODELS = 7  # models of a family (Table 1's real baseline and six clones)
SIZES = (0.2, 1.0, 2.0, 10.0)  # clone sizes of a trend (Fig. 4's)
METHODS = {  # error method -> (seed-effect sd, draw sd, draws measured, sd of the compared arms over the others)
    "blocked": (1.0, 0.0, 0, 1.0),
    "no seed effect (formerly pooled)": (0.0, 0.0, 0, 1.0),
    "paired": (1.0, 0.0, 0, 1.0),
    "with draw variance, 2 draws": (1.0, math.sqrt(1 / SEEDS), 2, 1.0),
    "with draw variance, 4 draws (mini)": (1.0, math.sqrt(1 / SEEDS), 4, 1.0),
    "unequal variance 2:1": (1.0, 0.0, 0, 2.0),
}
RULE_ROWS = [("greater", 1), ("large", 1), ("at_most", 1), ("not_worse", 1), ("trend", 1)] + [
    (r, k) for r in ("both", "any") for k in (1, 2, 4, 8)]
GOAL_COVERAGE, GOAL_RATE = 0.94, 0.025


@dataclass
class Row:
    """One rule under one error method: what the simulation found."""

    rule: str
    method: str
    families: int
    coverage: float
    coverage_se: float
    false_holds: float
    false_holds_se: float
    false_fails: float
    false_fails_se: float

    def ratio(self) -> float:
        """The worst of the row's three numbers over its goal (at most 1 meets every goal)."""
        return max((1 - self.coverage) / (1 - GOAL_COVERAGE),
                   self.false_holds / (GOAL_RATE + 3 * self.false_holds_se),
                   self.false_fails / (GOAL_RATE + 3 * self.false_fails_se))

    def cells(self) -> dict:
        """The row as the book's table shows it."""
        return {"rule": self.rule, "error method": self.method, "families": self.families,
                "95% coverage": f"{self.coverage:.3f} ± {self.coverage_se:.3f}",
                "false holds": f"{100 * self.false_holds:.1f}% ± {100 * self.false_holds_se:.1f}",
                "false does not hold": f"{100 * self.false_fails:.1f}% ± {100 * self.false_fails_se:.1f}",
                "meets the goal": "yes" if self.ratio() <= 1 else "no"}


def _family(rng: np.random.Generator, effects: dict[str, float], method: str, compared: set[str]) -> Family:
    """A simulated family: `effects` (model -> true mean) padded to MODELS models, seeds shared, noise per cell."""
    seed_sd, draw_sd, draws, ratio = METHODS[method]
    labels = list(effects) + [f"other {i}" for i in range(MODELS - len(effects))]
    seed = rng.normal(0, seed_sd, SEEDS)
    values = {}
    for k in labels:
        sd = ratio if k in compared else 1.0
        drawn = rng.normal(0, draw_sd) if k != "real" else 0.0
        values[k] = list(effects.get(k, 0.0) + drawn + seed + rng.normal(0, sd, SEEDS))
    fam = Family("simulated", values)
    if draw_sd:  # more draws of the first clone, trained with the same seeds
        again = [list(effects[labels[1]] + rng.normal(0, draw_sd) + seed + rng.normal(0, 1.0, SEEDS))
                 for _ in range(draws - 1)]
        apply_draws(fam, [values[labels[1]]] + again, set(labels) - {"real"})
    return fam


def apply_draws(fam: Family, draws: list[list[float]], drawn: set[str]) -> None:
    """Give the family its measured draws, as the Table 1 chapter does."""
    fam.add_draws(draws, drawn)


def _differences(rng: np.random.Generator, effects: list[float], method: str) -> list[Estimate]:
    """One estimate per effect: clone i minus real, from one simulated family (paired: each its own two arms)."""
    if method == "paired":
        out = []
        for e in effects:
            seed = rng.normal(0, 1.0, SEEDS)
            a, b = e + seed + rng.normal(0, 1, SEEDS), seed + rng.normal(0, 1, SEEDS)
            out.append(estimate_from_values(list(a - b)))
        return out
    labels = ["real"] + [f"clone {i}" for i in range(len(effects))]
    compared = {"real"} | {labels[i + 1] for i in range(0, len(effects), 2)}
    fam = _family(rng, {"real": 0.0, **{labels[i + 1]: e for i, e in enumerate(effects)}}, method, compared)
    return [fam.difference(labels[i + 1], "real") for i in range(len(effects))]


def _trend(rng: np.random.Generator, slope: float, method: str) -> Estimate:
    """The slope per doubling of clones of SIZES whose true means rise by `slope` per doubling."""
    labels = [f"{s:g}x" for s in SIZES]
    if method == "paired":  # the per-seed slope, as a paired estimate
        x = np.log2(SIZES)
        seed = rng.normal(0, 1.0, SEEDS)
        y = np.asarray([slope * xi + seed + rng.normal(0, 1, SEEDS) for xi in x])
        return estimate_from_values([float(np.polyfit(x, y[:, j], 1)[0]) for j in range(SEEDS)])
    effects = {"real": 0.0, **{k: slope * math.log2(s) for k, s in zip(labels, SIZES)}}
    fam = _family(rng, effects, method, {labels[0], labels[-1]})
    return fam.trend(dict(zip(labels, SIZES)))


def _one(rng, rule: str, k: int, method: str, truth: list[float]) -> tuple[str, list[tuple[float, float, float]]]:
    """(verdict, [(low, high, true effect)]) of one simulated family."""
    if rule == "trend":
        est = _trend(rng, truth[0], method)
        return fd.decide(rule, est, SESOI, seeds=False)[0], [(est.low, est.high, truth[0])]
    ests = _differences(rng, truth, method)
    intervals = [(e.low, e.high, t) for e, t in zip(ests, truth)]
    if rule in ("both", "any"):
        parts = [fd.Part(f"part {i}", e, "greater", SESOI) for i, e in enumerate(ests)]
        return fd.combine(rule, parts, seeds=False)[0], intervals
    return fd.decide(rule, ests[0], SESOI, seeds=False)[0], intervals


def truths(rule: str, k: int) -> tuple[list[float], list[float]]:
    """(true effects where a "holds" is false, true effects where a "does not hold" is false) at the boundary."""
    if rule in ("greater", "trend"):
        return [0.0], [SESOI]
    if rule in ("large", "at_most"):
        return [SESOI], [SESOI]
    if rule == "not_worse":  # parity: holds above minus the smallest effect of interest
        return [-SESOI], [-SESOI]
    if rule == "both":
        return [0.0] + [FAR] * (k - 1), [SESOI] * k
    return [0.0] * k, [SESOI] + [-FAR] * (k - 1)  # any


def _rate(hits: int, n: int) -> tuple[float, float]:
    p = hits / n
    return p, math.sqrt(max(p * (1 - p), 1 / n) / n)


def calibrate_row(rule: str, k: int, method: str, families: int, rng: np.random.Generator) -> Row:
    """One row: `families` simulated families at each boundary."""
    null, alt = truths(rule, k)
    covered = total = false_holds = false_fails = 0
    holds = (fd.HOLDS, fd.SMALL) if rule != "at_most" else (fd.HOLDS,)
    fails = (fd.FAILS, fd.SMALL)
    for truth, wrong in ((null, holds), (alt, fails)):
        for _ in range(families):
            verdict, intervals = _one(rng, rule, k, method, truth)
            covered += sum(lo <= t <= hi for lo, hi, t in intervals)
            total += len(intervals)
            if verdict in wrong:
                if truth is null:
                    false_holds += 1
                else:
                    false_fails += 1
    cov, _ = _rate(covered, total)
    cov_se = math.sqrt(cov * (1 - cov) / (2 * families))  # parts of one family are not independent: per family
    return Row(rule if k == 1 and rule not in ("both", "any") else f"{rule} over {k} part{'s' * (k > 1)}", method,
               families, cov, cov_se, *_rate(false_holds, families), *_rate(false_fails, families))


def calibrate(families: int = 2000, seed: int = 0, methods: list[str] | None = None,
              rules: list[tuple[str, int]] | None = None, progress: bool = True) -> list[Row]:
    """Every rule the registry uses under every error method: one Row each (`families` families per boundary)."""
    methods = methods or list(METHODS)
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        raise FakeitError(f"unknown error method {', '.join(unknown)}; valid: {', '.join(METHODS)}")
    if families < 10:
        raise FakeitError(f"calibration needs at least 10 families per row, got {families}")
    rng = np.random.default_rng(seed)
    combos = [(r, k, m) for m in methods for r, k in (rules or RULE_ROWS)]
    return [calibrate_row(r, k, m, families, rng) for r, k, m in tqdm(combos, desc="calibration", disable=not progress)]
