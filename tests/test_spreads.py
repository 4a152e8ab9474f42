"""The difference of spreads (Table 1's "the prompt matters less at low guidance"): its error by hand, with and
without measured draws, and its calibration rows meeting the goal where the former rule (the variance at the observed
spreads, the draw left out) did not."""

import math

import numpy as np
import pytest

from fakeit_lib.core.errors import FakeitError
from fakeit_lib.paper import calibration as cal
from fakeit_lib.paper.stats import Family, t_quantile
from fakeit_lib.paper.spreads import spread_difference

VALUES = {"real": [70.0, 71.0, 69.5], "a@7.5": [60.0, 61.0, 59.0], "b@7.5": [65.0, 66.5, 64.0],
          "c@7.5": [62.0, 62.5, 61.0], "a@2": [63.0, 64.0, 63.5], "b@2": [64.0, 63.0, 64.5], "c@2": [63.5, 64.5, 63.0]}
HIGH, LOW = ["a@7.5", "b@7.5", "c@7.5"], ["a@2", "b@2", "c@2"]


def hand_ss(labels):
    m = np.asarray([np.mean(VALUES[k]) for k in labels])
    return float(((m - m.mean()) ** 2).sum())


def test_the_spread_error_by_hand_without_draws():
    fam = Family("t", VALUES)
    est = spread_difference(fam, HIGH, LOW, 2.0)
    tau = fam.anova["ms_resid"] / 3  # a model mean's variance: the blocked residual over 3 seeds
    hi, lo = hand_ss(HIGH), hand_ss(LOW)
    true_lo = max(lo - 2 * tau, 0.0)
    true_hi = max(hi - 2 * tau, true_lo + 2.0)
    se = math.sqrt(4 * tau * (true_hi + true_lo) + 4 * 2 * tau**2)
    assert est.mean == pytest.approx(hi - lo) and est.se == pytest.approx(se) and est.df == fam.anova["df_resid"] == 12
    assert est.low == pytest.approx(hi - lo - t_quantile(12) * se)
    assert est.method == "noncentral chi-square variance (blocked error)"


def test_the_spread_error_carries_the_measured_draws():
    fam = Family("t", VALUES)
    draws = [VALUES["c@2"], [64.5, 65.0, 64.0], [62.0, 63.5, 62.5], [63.0, 64.0, 64.0]]
    fam.add_draws(draws, set(VALUES) - {"real"})
    est = spread_difference(fam, HIGH, LOW, 2.0)
    y = np.asarray(draws)
    draw_var = float(y.mean(1).var(ddof=1))
    r = y - y.mean(1, keepdims=True) - y.mean(0, keepdims=True) + y.mean()
    draw_seed = float((r**2).sum()) / (3 * 2)
    seed_part = max(fam.anova["ms_resid"] - draw_seed, 0.0) / 3
    tau = seed_part + draw_var
    df = tau**2 / (seed_part**2 / 12 + draw_var**2 / 3)  # Welch-Satterthwaite: 4 draws
    hi, lo = hand_ss(HIGH), hand_ss(LOW)
    true_lo = max(lo - 2 * tau, 0.0)
    true_hi = max(hi - 2 * tau, true_lo + 2.0)
    assert est.se == pytest.approx(math.sqrt(4 * tau * (true_hi + true_lo) + 8 * tau**2))
    assert est.df == pytest.approx(df) and est.inputs["variance of a model's mean"] == pytest.approx(tau)
    assert est.method.endswith("+ draw variance (4 draws) error)") and est.floor_df == 3


def test_bad_spreads_are_refused_by_name():
    fam = Family("t", VALUES)
    with pytest.raises(FakeitError, match="at least two models on each side, got 1 and 3"):
        spread_difference(fam, ["a@7.5"], LOW)
    with pytest.raises(FakeitError, match="family t has no model d@2"):
        spread_difference(fam, HIGH, ["a@2", "d@2"])
    with pytest.raises(FakeitError, match="smallest effect of interest must be >= 0, got -1"):
        spread_difference(fam, HIGH, LOW, -1)


@pytest.mark.parametrize("method", cal.SPREAD_METHODS)
def test_the_spread_rows_meet_the_goal(method):
    """Measured at 2,000 families: the former rule (variance at the observed spreads, the draw left out) covered 0.945
    (blocked), 0.857 (4 draws) and said "does not hold" of a true effect at the smallest effect of interest 8.1%,
    12.3% of the time; this rule stays within the goal under every error the chapter uses."""
    r = cal.calibrate_row(cal.SPREAD, 1, method, 600, np.random.default_rng(0))
    assert r.coverage >= cal.GOAL_COVERAGE - 3 * r.coverage_se
    assert r.false_holds <= cal.GOAL_RATE + 3 * r.false_holds_se
    assert r.false_fails <= cal.GOAL_RATE + 3 * r.false_fails_se
    if method == "blocked":
        assert r.power > 0.2  # it decides: a true difference twice the smallest effect of interest holds often
