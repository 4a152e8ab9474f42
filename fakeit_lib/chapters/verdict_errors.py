"""How often a verdict is wrong: the book's decision rules run on simulated families with known effects
(paper.calibration), one row per rule and error method, against the goal every row must meet."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..core.errors import FakeitError
from ..experiments.params import shared
from ..paper import calibration as cal


@dataclass
class VerdictErrorsParams:
    """Parameters of the page on the rules' error rates."""

    scale: str = shared("scale")  # label of the preset this ran with: smoke, mini or paper
    calibration_families: int = 4000  # simulated families per rule, error method and boundary; paper: 4000

    def __post_init__(self) -> None:
        if self.calibration_families < 10:
            raise FakeitError(f"parameter calibration_families={self.calibration_families} must be at least 10")


def calibration_rows(p: VerdictErrorsParams) -> list[cal.Row]:
    """Every rule the registry uses under every error method the chapters use (seed 0: the page is reproducible)."""
    return cal.calibrate(p.calibration_families, seed=0)


def rule_words(rule: str) -> str:
    """A rule as the page's prose names it: "at most", "not worse" (the registry's keys are at_most, not_worse)."""
    return rule.replace("_", " ")


def calibration_frame(rows: list[cal.Row]) -> pd.DataFrame:
    """The page's table: one row per rule and error method, rules in words."""
    frame = pd.DataFrame([r.cells() for r in rows])
    return frame.assign(rule=frame["rule"].map(rule_words))


def calibration_text(p: VerdictErrorsParams, rows: list[cal.Row]) -> str:
    """What the table shows, in two sentences."""
    shown = [r for r in rows if not r.counted]
    rows = [r for r in rows if r.counted]
    met = sum(r.ratio() <= 1 for r in rows)
    worst = max(rows, key=lambda r: r.ratio())
    low = min(rows, key=lambda r: r.coverage)
    high = max(rows, key=lambda r: max(r.false_holds, r.false_fails))
    left_out = ""
    if shown:
        bad = min(shown, key=lambda r: r.coverage)
        left_out = (f" Where a clone's draw is in the data but left out of the error, coverage falls to "
                    f"{bad.coverage:.3f} ({rule_words(bad.rule)}): why every comparison of clones carries the measured draws.")
    return (f"With {p.calibration_families:,} simulated families per row and boundary ({p.scale} scale), {met} of the "
            f"{len(rows)} counted rows meet the goal. The lowest coverage is {low.coverage:.3f} ({rule_words(low.rule)}, {low.method}); "
            f"the highest false rate is {100 * max(high.false_holds, high.false_fails):.1f}% ({rule_words(high.rule)}, "
            f"{high.method}); the row nearest its goal is {rule_words(worst.rule)}, {worst.method}, at {worst.ratio():.2f} of it.{left_out}")
