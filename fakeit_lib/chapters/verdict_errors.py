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
    """Every rule the book's findings use under every error method the chapters use (seed 0: the page is
    reproducible)."""
    return cal.calibrate(p.calibration_families, seed=0)


def rule_words(rule: str) -> str:
    """A rule as the page's prose names it: "at most", "not worse" (the library's keys are at_most, not_worse)."""
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
            f"{high.method}); the row closest to its limit is {rule_words(worst.rule)}, {worst.method}, whose worst "
            f"rate uses {100 * worst.ratio():.0f}% of what the goal allows.{left_out}{draws_power_text(rows)}")


def draws_power_text(rows: list[cal.Row], rule: str = "greater") -> str:
    """What the number of measured draws does to a comparison of clones, from the table's rows "with draw variance, N
    draws" of `rule`: how often it is decided (its power) with the book's default number of draws, and with each
    other number the table measured; "" when the table has no such rows."""
    import dataclasses

    from ..experiments.params import PresetParams

    default = next(f.default for f in dataclasses.fields(PresetParams) if f.name == "draws")
    drawn = {}
    for r in rows:
        spec = cal.METHODS.get(r.method)
        if r.rule == rule and r.counted and spec and spec[1] == cal.DRAW and spec[2] and spec[3] == 1.0:
            drawn.setdefault(spec[2], r)
    if default not in drawn:
        return ""
    r = drawn[default]
    text = (f" With the default {default} draws a comparison of clones is "
            f"{'almost never' if r.power < cal.RARELY else 'not always'} decided: \"{rule_words(rule)}\" holds in "
            f"{100 * r.power:.1f}% of the families where it is true by two smallest effects of interest")
    if r.fallback:
        text += f", the fallback firing in {100 * r.fallback:.0f}% of them"
    others = [f"with {n} draws, in {100 * o.power:.1f}%" for n, o in sorted(drawn.items()) if n != default]
    return text + "".join(f"; {o}" for o in others) + "."
