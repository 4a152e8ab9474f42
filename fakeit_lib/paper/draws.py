"""Measured draws of a clone carried to a metric they were not scored on.

Table 1 measures the variance of drawing a clone (one generation seed) from several draws of one clone, each trained
with the family's seeds, on the in-domain test (`stats.Family.add_draws`). Where a page compares clones on another
metric (Fig. 4's transfer average) and the draws were not scored on it, the draws are carried over under one stated
assumption: a draw moves a model by the same share of its seed noise on both metrics. The draws' deviations are
scaled by the square root of the ratio of the two families' blocked residual variances (the seed noise of one
model's value on each metric), so the draw variance over the seed variance is the measured one; their degrees of
freedom stay the draws'.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from ..core.errors import FakeitError
from .stats import Family


def rescaled_draws(draws: Sequence[Sequence[float]], measured_on: Family, target: Family) -> list[list[float]]:
    """The draws (per-seed values of each draw on `measured_on`'s metric) scaled about their mean so that their
    variance over `target`'s seed variance is theirs over `measured_on`'s."""
    source, goal = measured_on.anova["ms_resid"], target.anova["ms_resid"]
    if not source or not goal or source <= 0 or goal <= 0:
        raise FakeitError(f"rescaling draws needs a seed variance in both families, got {source} ({measured_on.name}) "
                          f"and {goal} ({target.name})")
    y = np.asarray([list(d) for d in draws], dtype=float)
    k = math.sqrt(goal / source)
    return (y.mean() + k * (y - y.mean())).tolist()


def draws_text(n: int, measured: str) -> str:
    """What the error of a clone's effect holds, in one sentence a page shows beside its verdicts: with n >= 2 draws,
    `measured` says which draws and how they were scored; with fewer, that the error is the seed error alone."""
    if n >= 2:
        return f"the interval includes the variation between clone draws: {n} draws of {measured}"
    return ("no draw of a clone was measured (draws 1): the error is the seed error alone and covers less than 95% "
            "(each clone is one draw of its generator)")
