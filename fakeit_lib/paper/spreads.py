"""A difference of spreads: how much more some models differ among themselves than others (an interaction, e.g. the
prompt variants at guidance 7.5 against the same variants at 2.0), with its error by a rule calibrated by simulation
(`calibration`, the rows "spread difference").

Each spread is the sum of squared deviations of the models' means from their own mean. With k models whose means
each vary by tau² around their true values (a model mean's variance: its seed noise over the seeds, plus the
variance of drawing its clone where clones are drawn), a sum of squares is tau² times a noncentral chi-square with
k - 1 degrees of freedom: mean S + (k - 1) tau², variance 4 tau² S + 2 (k - 1) tau⁴, S the sum over the true means.
The two sums carry the same noise, which cancels in their difference. The error is that variance at the true spreads
estimated from the data (each at least 0), the high side's taken at least at the low side's plus the smallest effect
of interest: the variance an effect at the boundary a "does not hold" must clear would have. Evaluated at the
observed spreads alone, an unluckily small high spread also shrank its own error, and the rule said "does not hold"
of a true effect at that boundary 8% of the time (12% with drawn clones whose draw was left out); so bounded, and
with the draw of every clone in tau², it stays within the calibration's goal.
"""

from __future__ import annotations

import math

import numpy as np

from ..core.errors import FakeitError
from .stats import Estimate, Family, t_interval


def mean_variance(fam: Family) -> tuple[float, float, str]:
    """(tau²: the variance of one drawn model's mean, its degrees of freedom, how it was estimated): the family's
    blocked residual over the seeds, and where the family has measured draws (`Family.add_draws`) the residual beyond
    the measured clone's seed noise plus the variance of a drawn model's mean over draws (Welch-Satterthwaite from
    `DRAWS_SATTERTHWAITE` draws on, the draws' own degrees of freedom below, as for a contrast)."""
    var, df, method, _ = fam.error(True)
    if var is None or not df:
        raise FakeitError(f"family {fam.name}: a spread's error needs at least two seeds of two models")
    s = fam.seeds
    if fam.draw_df is None:
        return var / s, float(df), method
    parts = [(max(var - fam.draw_seed_var, 0.0) / s, float(df)), (fam.draw_var, fam.draw_df)]
    tau = sum(v for v, _ in parts)
    tdf = fam.draws_df(parts, float(df))
    return tau, tdf, f"{method} + draw variance ({fam.draw_df + 1:g} draws)"


def spread_ss(fam: Family, labels: list[str]) -> float:
    """The sum of squared deviations of the models' means from their own mean."""
    m = np.asarray([np.mean(fam.values[k]) for k in labels])
    return float(((m - m.mean()) ** 2).sum())


def spread_variance(ss_high: float, ss_low: float, k_high: int, k_low: int, tau: float, sesoi: float) -> float:
    """The variance of ss_high - ss_low at the true spreads estimated from them (each at least 0, the high side's at
    least the low side's plus `sesoi`), each mean varying by `tau`."""
    low = max(ss_low - (k_low - 1) * tau, 0.0)
    high = max(ss_high - (k_high - 1) * tau, low + sesoi)
    return 4 * tau * (high + low) + 2 * (k_high - 1) * tau**2 + 2 * (k_low - 1) * tau**2


def spread_difference(fam: Family, high: list[str], low: list[str], sesoi: float = 0.0) -> Estimate:
    """How much more the models `high` differ among themselves than the models `low`, in the family's unit squared,
    with its 95% interval by the module's rule (`sesoi`: the claim's smallest effect of interest, >= 0)."""
    if len(high) < 2 or len(low) < 2:
        raise FakeitError(f"a spread needs at least two models on each side, got {len(high)} and {len(low)}")
    if not sesoi >= 0:
        raise FakeitError(f"a spread's smallest effect of interest must be >= 0, got {sesoi}")
    unknown = sorted((set(high) | set(low)) - set(fam.values))
    if unknown:
        raise FakeitError(f"family {fam.name} has no model {', '.join(unknown)}; it has {', '.join(fam.values)}")
    s = fam.seeds
    ss_hi, ss_lo = spread_ss(fam, high), spread_ss(fam, low)
    mean = ss_hi - ss_lo
    var, df, _, per_seed = fam.error(True)
    if var is None or not df:
        return Estimate(mean, None, None, s, None, None, None, "noncentral chi-square variance")
    tau, tdf, method = mean_variance(fam)
    se = math.sqrt(spread_variance(ss_hi, ss_lo, len(high), len(low), tau, sesoi))
    lo_, hi_ = t_interval(mean, se, tdf)
    method = f"noncentral chi-square variance ({method} error)"
    weights_sq = se * se * s / var if var > 0 else 1.0  # se = std * sqrt(weights_sq / seeds), as for a contrast
    inputs = {"family": fam.name, "values": {k: [float(x) for x in v] for k, v in fam.values.items()},
              "high": list(high), "low": list(low), "variance of a model's mean": tau,
              "smallest effect of interest": sesoi, "error": method}
    if fam.draw_df is not None:
        inputs["draws"] = {"variance of a drawn model's mean": fam.draw_var, "degrees of freedom": fam.draw_df,
                           "drawn models": sorted(fam.drawn)}
    floor_tau = fam.draw_floor_var() if fam.draw_df else 0.0  # what seeds never remove
    floor = math.sqrt(spread_variance(ss_hi, ss_lo, len(high), len(low), floor_tau, sesoi)) if floor_tau else 0.0
    return Estimate(mean, lo_, hi_, s, math.sqrt(var), se, tdf, method, weights_sq, per_seed, None,
                    fam.anova["spread_ratio"], floor, fam.draw_df, inputs)
