"""How often a verdict is wrong: the decision rules of `findings` run on simulated families whose true effects are
known, under every way the chapters estimate an error (`stats`), each rule and error method one row.

A simulated family is what a chapter has: models x 5 training seeds, a seed effect shared by every model (sd 1, 0
for "no seed effect"), seed noise (sd 1), and a smallest effect of interest of 1. Each row reports:
- **coverage**: the share of 95% intervals that hold the true effect (every part's, for a composite rule);
- **false holds**: "holds" (or "holds, below the smallest effect of interest") where the claim is false at its
  boundary: a true effect of 0 (greater, trend; spread difference: three prompts a unit apart at both scales), of
  the smallest effect of interest (large: it must be above it; at_most: below it), of minus it (not_worse, a parity
  claim), one part at 0 and the others far above (both), every part at 0 (any);
- **false does not hold**: "does not hold" (or "holds, below...") where the claim is true at its boundary: a true
  effect at the smallest effect of interest (every part at it, for both; one part at it and the others far below,
  for any);
- **power**: "holds" where the claim is true by 2 smallest effects of interest beyond its boundary (a true effect
  of 2 for greater and trend, 3 for large, -1 for at_most, +1 for not_worse; every part at 2 for both, one part at 2
  and the others at 0 for any; a spread difference of 4 squared units, its smallest effect of interest being 2): a
  rule that never decides has no errors and no use;
- **fallback**: the share of intervals where a fallback rule fired (with fewer than `DRAWS_SATTERTHWAITE` draws, the
  draws' own degrees of freedom instead of Welch-Satterthwaite's).
each with its Monte-Carlo standard error. The goal of every row: coverage >= 0.94, each false rate <= 2.5% + 3
Monte-Carlo errors. One row is shown, not counted: a draw present in the data but left out of the error, to show
what the draws' measurement is for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..core.errors import FakeitError
from . import findings as fd
from .stats import DRAWS_SATTERTHWAITE, Estimate, Family, estimate_from_values
from .spreads import spread_difference
from .tables import PM

SHOWN = "draw present, not in the error"  # shown to explain the draws, not counted against the goal
SEEDS = 5  # training seeds behind every model (the mini and paper presets)
SESOI = 1.0  # the smallest effect of interest, in units of the seed noise's standard deviation
FAR = 5.0  # "far above / below": an effect the rules decide with certainty
MODELS = 7  # models of a family (Table 1's real baseline and six clones)


@lru_cache(maxsize=4)
def fig4_sizes(preset: str = "mini") -> tuple[float, ...]:
    """The clone sizes of Fig. 4's family at `preset` (its multipliers), read from the preset the book runs."""
    import yaml

    for folder in Path(__file__).resolve().parents:  # the project's presets/ above the package (a data file, read)
        path = folder / "presets" / f"{preset}.yaml"
        if path.is_file():
            return tuple(sorted(float(m) for m in yaml.safe_load(path.read_text())["multipliers"]))
    raise FakeitError(f"no presets/{preset}.yaml above {Path(__file__).parent}: run from the project's checkout")


DRAW = math.sqrt(1 / SEEDS)  # a draw's sd: its variance that of a 5-seed mean's seed noise
# error method -> (seed-effect sd, draw sd, draws measured (0: the draw is left out of the error), sd of the wide arms
# over the others, which arms are wide: the compared ones or the real one)
METHODS = {
    "blocked": (1.0, 0.0, 0, 1.0, "compared"),
    "no seed effect": (0.0, 0.0, 0, 1.0, "compared"),
    "paired": (1.0, 0.0, 0, 1.0, "compared"),
    "with draw variance, 2 draws": (1.0, DRAW, 2, 1.0, "compared"),
    "with draw variance, 4 draws (mini)": (1.0, DRAW, 4, 1.0, "compared"),
    "unequal variance 2:1": (1.0, 0.0, 0, 2.0, "compared"),
    "unequal variance 3:1": (1.0, 0.0, 0, 3.0, "compared"),
    "4 draws, twice the draw variance": (1.0, math.sqrt(2) * DRAW, 4, 1.0, "compared"),
    "4 draws, compared arms 2:1": (1.0, DRAW, 4, 2.0, "compared"),
    "4 draws, real arm 2:1": (1.0, DRAW, 4, 2.0, "real"),
    "4 draws, real arm 3:1": (1.0, DRAW, 4, 3.0, "real"),
    SHOWN: (1.0, DRAW, 0, 1.0, "compared"),
}
RULE_ROWS = [("greater", 1), ("large", 1), ("at_most", 1), ("not_worse", 1), ("trend", 1)] + [
    (r, k) for r in ("both", "any") for k in (1, 2, 4, 8)]
CORE_ROWS = [("greater", 1), ("trend", 1), ("clone minus clone", 1), ("both", 2), ("any", 2)]
FIRST = 6  # the first methods run every rule; the others (added cases) the core rules
GOAL_COVERAGE, GOAL_RATE = 0.94, 0.025
# The spread difference (`spreads`): Table 1's family of the real model and three prompt variants at two guidance
# scales, the variants' true means at the high and at the low scale for each true difference of spreads; its smallest
# effect of interest is the registry's, 2 squared units (three prompts a unit apart each).
SPREAD = "spread difference"
SPREAD_SESOI = 2.0
SPREAD_MEANS = {0.0: ([-1.0, 0.0, 1.0], [-1.0, 0.0, 1.0]), 2.0: ([-1.0, 0.0, 1.0], [0.0, 0.0, 0.0]),
                4.0: ([-math.sqrt(3), 0.0, math.sqrt(3)], [-1.0, 0.0, 1.0])}
SPREAD_METHODS = ("blocked", "with draw variance, 2 draws", "with draw variance, 4 draws (mini)")


RARELY = 0.05  # a power under 5%: the rule keeps its error rates by almost never deciding, which the table says


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
    power: float = 0.0  # share of families decided "holds" where the claim is true by 2 smallest effects of interest
    power_se: float = 0.0
    fallback: float = 0.0

    @property
    def counted(self) -> bool:
        """Whether the row counts against the goal (the draw left out of the error is shown, not counted)."""
        return self.method != SHOWN

    def ratio(self) -> float:
        """The worst of the row's three numbers over its goal (at most 1 meets every goal)."""
        return max((1 - self.coverage) / (1 - GOAL_COVERAGE),
                   self.false_holds / (GOAL_RATE + 3 * self.false_holds_se),
                   self.false_fails / (GOAL_RATE + 3 * self.false_fails_se))

    def cells(self) -> dict:
        """The row as the book's table shows it."""
        return {"rule": self.rule, "error method": self.method, "families": self.families,
                "95% coverage": f"{self.coverage:.3f}{PM}{self.coverage_se:.3f}",
                "false holds": f"{100 * self.false_holds:.1f}%{PM}{100 * self.false_holds_se:.1f}",
                "false does not hold": f"{100 * self.false_fails:.1f}%{PM}{100 * self.false_fails_se:.1f}",
                "power": f"{100 * self.power:.1f}%{PM}{100 * self.power_se:.1f}",
                "fallback fired": f"{100 * self.fallback:.0f}%",
                "meets the goal": ("yes" if self.ratio() <= 1 else "no")
                + (", but rarely decides" if self.ratio() <= 1 and self.power < RARELY else "")
                + ("" if self.counted else " (shown, not counted)")}


def _family(rng: np.random.Generator, effects: dict[str, float], method: str, compared: set[str],
            models: int = MODELS) -> Family:
    """A simulated family: `effects` (model -> true mean) padded to `models` models, seeds shared, noise per cell,
    every model but the real one trained on a drawn clone."""
    seed_sd, draw_sd, draws, ratio, wide = METHODS[method]
    labels = list(effects) + [f"other {i}" for i in range(models - len(effects))]
    seed = rng.normal(0, seed_sd, SEEDS)
    sds = {k: ratio if (k == "real" if wide == "real" else k in compared) else 1.0 for k in labels}
    values = {}
    for k in labels:
        drawn = rng.normal(0, draw_sd) if k != "real" else 0.0
        values[k] = list(effects.get(k, 0.0) + drawn + seed + rng.normal(0, sds[k], SEEDS))
    fam = Family("simulated", values)
    if draw_sd and draws:  # more draws of the first clone, trained with the same seeds
        again = [list(effects.get(labels[1], 0.0) + rng.normal(0, draw_sd) + seed + rng.normal(0, sds[labels[1]], SEEDS))
                 for _ in range(draws - 1)]
        apply_draws(fam, [values[labels[1]]] + again, set(labels) - {"real"})
    return fam


def apply_draws(fam: Family, draws: list[list[float]], drawn: set[str]) -> None:
    """Give the family its measured draws, as the Table 1 chapter does."""
    fam.add_draws(draws, drawn)


def _differences(rng: np.random.Generator, effects: list[float], method: str, clones: bool = False) -> list[Estimate]:
    """One estimate per effect: clone i minus real (`clones`: minus another clone of true effect 0), from one simulated
    family (paired: each its own two arms)."""
    if method == "paired":
        out = []
        for e in effects:
            seed = rng.normal(0, 1.0, SEEDS)
            a, b = e + seed + rng.normal(0, 1, SEEDS), seed + rng.normal(0, 1, SEEDS)
            out.append(estimate_from_values(list(a - b)))
        return out
    labels = ["real"] + [f"clone {i}" for i in range(len(effects) + clones)]
    base = labels[-1] if clones else "real"
    compared = {base} | {labels[i + 1] for i in range(0, len(effects), 2)}
    fam = _family(rng, {"real": 0.0, **{labels[i + 1]: e for i, e in enumerate(effects)}, base: 0.0}, method, compared)
    return [fam.difference(labels[i + 1], base) for i in range(len(effects))]


def _trend(rng: np.random.Generator, slope: float, method: str) -> Estimate:
    """The slope per doubling over Fig. 4's clone sizes from 1x up, in the chapter's family (the real model and every
    size of the mini preset), whose true means rise by `slope` per doubling."""
    sizes = fig4_sizes()
    upward = [m for m in sizes if m >= 1.0]
    if method == "paired":  # the per-seed slope, as a paired estimate
        x = np.log2(upward)
        seed = rng.normal(0, 1.0, SEEDS)
        y = np.asarray([slope * xi + seed + rng.normal(0, 1, SEEDS) for xi in x])
        return estimate_from_values([float(np.polyfit(x, y[:, j], 1)[0]) for j in range(SEEDS)])
    labels = {f"{m:g}x": m for m in sizes}
    effects = {"real": 0.0, **{k: slope * math.log2(m) for k, m in labels.items()}}
    fam = _family(rng, effects, method, {f"{upward[0]:g}x", f"{upward[-1]:g}x"}, models=len(effects))
    return fam.trend({k: m for k, m in labels.items() if m >= 1.0})


def _spread(rng: np.random.Generator, truth: float, method: str) -> Estimate:
    """The difference of spreads (high guidance minus low) of three prompt variants in Table 1's family, whose true
    means are `SPREAD_MEANS[truth]` (every clone drawn, the first one's draws measured as the chapter does)."""
    high, low = SPREAD_MEANS[truth]
    effects = {"real": 0.0, **{f"v{i} high": m for i, m in enumerate(high)}, **{f"v{i} low": m for i, m in enumerate(low)}}
    fam = _family(rng, effects, method, set(), models=len(effects))
    return spread_difference(fam, [f"v{i} high" for i in range(len(high))], [f"v{i} low" for i in range(len(low))],
                                 SPREAD_SESOI)


def _one(rng, rule: str, k: int, method: str, truth: list[float]) -> tuple[str, list[tuple[float, float, float]], int]:
    """(verdict, [(low, high, true effect)], intervals where a fallback fired) of one simulated family."""
    if rule == "trend":
        ests = [_trend(rng, truth[0], method)]
        verdict = fd.decide(rule, ests[0], SESOI, seeds=False)[0]
    elif rule == SPREAD:
        ests = [_spread(rng, truth[0], method)]
        verdict = fd.decide("greater", ests[0], SPREAD_SESOI, seeds=False)[0]
    else:
        ests = _differences(rng, truth, method, clones=rule == "clone minus clone")
        if rule in ("both", "any"):
            verdict = fd.combine(rule, [fd.Part(f"part {i}", e, "greater", SESOI) for i, e in enumerate(ests)],
                                 seeds=False)[0]
        else:
            verdict = fd.decide("greater" if rule == "clone minus clone" else rule, ests[0], SESOI, seeds=False)[0]
    fired = sum(bool(e.inputs and "draws" in e.inputs and e.inputs["draws"]["degrees of freedom"] + 1 < DRAWS_SATTERTHWAITE)
                for e in ests)
    return verdict, [(e.low, e.high, t) for e, t in zip(ests, truth)], fired


def truths(rule: str, k: int) -> tuple[list[float], list[float], list[float]]:
    """(true effects where a "holds" is false, where a "does not hold" is false, both at the boundary; where the
    claim is true by 2 smallest effects of interest, for the power)."""
    if rule in ("greater", "trend", "clone minus clone"):
        return [0.0], [SESOI], [2 * SESOI]
    if rule == SPREAD:
        return [0.0], [SPREAD_SESOI], [2 * SPREAD_SESOI]
    if rule == "large":
        return [SESOI], [SESOI], [3 * SESOI]
    if rule == "at_most":
        return [SESOI], [SESOI], [-SESOI]
    if rule == "not_worse":  # parity: holds above minus the smallest effect of interest
        return [-SESOI], [-SESOI], [SESOI]
    if rule == "both":
        return [0.0] + [FAR] * (k - 1), [SESOI] * k, [2 * SESOI] * k
    return [0.0] * k, [SESOI] + [-FAR] * (k - 1), [2 * SESOI] + [0.0] * (k - 1)  # any


def _rate(hits: int, n: int) -> tuple[float, float]:
    p = hits / n
    return p, math.sqrt(max(p * (1 - p), 1 / n) / n)


def calibrate_row(rule: str, k: int, method: str, families: int, rng: np.random.Generator) -> Row:
    """One row: `families` simulated families at each boundary and at the power's true effect."""
    null, alt, strong = truths(rule, k)
    covered = total = fired = 0
    counts = {"holds": 0, "fails": 0, "power": 0}
    holds = (fd.HOLDS, fd.SMALL) if rule != "at_most" else (fd.HOLDS,)
    fails = (fd.FAILS, fd.SMALL)
    for truth, wrong, key in ((null, holds, "holds"), (alt, fails, "fails"), (strong, (fd.HOLDS,), "power")):
        for _ in range(families):
            verdict, intervals, n_fired = _one(rng, rule, k, method, truth)
            covered += sum(lo <= t <= hi for lo, hi, t in intervals)
            total += len(intervals)
            fired += n_fired
            counts[key] += verdict in wrong
    cov, _ = _rate(covered, total)
    cov_se = math.sqrt(cov * (1 - cov) / (3 * families))  # parts of one family are not independent: per family
    name = rule if k == 1 and rule not in ("both", "any") else f"{rule} over {k} part{'s' * (k > 1)}"
    return Row(name, method, families, cov, cov_se, *_rate(counts["holds"], families), *_rate(counts["fails"], families),
               *_rate(counts["power"], families), fired / total)


def calibrate(families: int = 2000, seed: int = 0, methods: list[str] | None = None,
              rules: list[tuple[str, int]] | None = None, progress: bool = True) -> list[Row]:
    """Every rule the registry uses under every error method: one Row each (`families` families per boundary); the
    methods past the first `FIRST` (the added cases) run the core rules `CORE_ROWS` unless `rules` are given."""
    methods = methods or list(METHODS)
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        raise FakeitError(f"unknown error method {', '.join(unknown)}; valid: {', '.join(METHODS)}")
    if families < 10:
        raise FakeitError(f"calibration needs at least 10 families per row, got {families}")
    rng = np.random.default_rng(seed)
    added = set(list(METHODS)[FIRST:])
    combos = [(r, k, m) for m in methods for r, k in (rules or (CORE_ROWS if m in added else RULE_ROWS))]
    combos += [(SPREAD, 1, m) for m in methods if m in SPREAD_METHODS and rules is None]
    return [calibrate_row(r, k, m, families, rng) for r, k, m in tqdm(combos, desc="calibration", disable=not progress)]
