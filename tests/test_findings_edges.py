"""Findings at their edges: what must hold under any correct decision rule, whatever its calibration. An interval
exactly on its bound does not clear it; two seeds give a wide but defined interval; ragged or NaN seed values are a
clear error; a composite finding cannot lean on a part it could not test; tied p-values share their fate in Holm."""

import itertools
import math

import pytest

from fakeit_lib.core.errors import FakeitError
from fakeit_lib.paper import findings as fd
from fakeit_lib.paper import claims, stats, summary


def _on(low: float, high: float, df: float = 4.0) -> stats.Estimate:
    """An estimate whose 95% interval is exactly [low, high] (its standard error taken from the interval)."""
    se = (high - low) / 2 / stats.t_quantile(df)
    return stats.Estimate((low + high) / 2, low, high, 5, se * math.sqrt(5), se, df, "paired")


@pytest.mark.parametrize("rule, low, high, bound, outcome", [
    ("greater", 0.0, 2.0, "low", fd.HOLDS),  # an interval that only touches 0 does not lie above it
    ("greater", -3.0, 1.0, "high", fd.FAILS),  # one that touches the smallest effect of interest is not below it
    ("large", 1.0, 3.0, "low", fd.HOLDS),
    ("large", -1.0, 1.0, "high", fd.FAILS),
    ("at_most", -1.0, 1.0, "high", fd.HOLDS),
    ("at_most", 1.0, 3.0, "low", fd.FAILS),
])
def test_an_interval_exactly_on_its_bound_does_not_clear_it(rule, low, high, bound, outcome):
    sesoi = 1.0
    verdict, p, _ = fd.decide(rule, _on(low, high), sesoi)
    assert verdict == fd.INCONCLUSIVE
    assert p == pytest.approx(stats.ALPHA, abs=1e-9)  # the test the interval stands for sits at its level exactly
    step = 1e-9 if bound == "low" else -1e-9  # moved off the bound by a hair, into the decided side
    assert fd.decide(rule, _on(low + step, high + step), sesoi)[0] == outcome


def test_two_seeds_give_a_defined_interval_of_one_degree_of_freedom():
    est = stats.estimate_from_values([1.0, 3.0])
    # mean 2, sample sd sqrt 2, standard error 1: the interval is 2 +/- t(0.975, 1) = 12.706
    assert (est.mean, est.n, est.df, est.se) == (2.0, 2, 1, pytest.approx(1.0))
    assert (est.low, est.high) == (pytest.approx(2 - 12.7062047), pytest.approx(2 + 12.7062047))
    assert fd.decide("greater", est, 1.0)[0] == fd.INCONCLUSIVE
    assert fd.decide("greater", stats.estimate_from_values([10.0, 10.1]), 1.0)[0] == fd.HOLDS
    # two models of two seeds each: the blocked residual (models x seeds), (2 - 1) x (2 - 1) = 1 degree of freedom;
    # the seed differences 1 and 3 have variance 2, so the mean difference has standard error 1
    fam = stats.Family("two seeds", {"a": [1.0, 3.0], "b": [0.0, 0.0]})
    diff = fam.difference("a", "b")
    assert (diff.mean, diff.se, diff.df, diff.method) == (2.0, pytest.approx(1.0), 1, "blocked")
    assert diff.high - diff.mean == pytest.approx(12.7062047)  # t(0.975, 1)


@pytest.mark.parametrize("call, message", [
    (lambda: stats.paired_differences([1.0, 2.0, 3.0], [1.0, 2.0]), "as many seeds on each side, got 3 and 2"),
    (lambda: stats.Family("ragged", {"a": [1.0, 2.0, 3.0], "b": [1.0, 2.0]}), r"every model needs the same seeds, got \[2, 3\]"),
    (lambda: stats.Family("nan", {"a": [1.0, float("nan")], "b": [1.0, 2.0]}), "family nan: values must be finite"),
    (lambda: stats.estimate_from_values([1.0, float("nan"), 2.0]), r"at least one finite value, got \[1.0, nan, 2.0\]"),
    (lambda: stats.mean_interval([float("inf"), 1.0]), r"at least one finite value, got \[inf, 1.0\]"),
    (lambda: fd.paired([80.0, float("nan")], [70.0, 71.0]), r"got \[10.0, nan\]"),
])
def test_ragged_or_nan_seed_values_are_a_clear_error(call, message):
    with pytest.raises(FakeitError, match=message):
        call()


def test_a_composite_finding_cannot_lean_on_a_part_it_could_not_test():
    strong = fd.Part("on Sketch", stats.estimate_from_values([5.0, 5.2, 4.8, 5.1]), "greater", 1.0)
    one_seed = fd.Part("on R", stats.estimate_from_values([5.0]), "greater", 1.0)  # measured, but no interval
    assert fd.combine("both", [strong, one_seed])[0] == fd.INCONCLUSIVE  # "every part holds" is not shown
    assert fd.combine("any", [strong, one_seed])[0] == fd.HOLDS  # one part holding is enough
    failing = fd.Part("on A", stats.estimate_from_values([-5.0, -5.2, -4.8, -5.1]), "greater", 1.0)
    assert fd.combine("both", [failing, one_seed])[0] == fd.FAILS  # a failing part decides "both" alone
    assert fd.combine("any", [failing, one_seed])[0] == fd.INCONCLUSIVE  # the untested part might still hold
    untested = fd.Part("on ObjectNet", None, "greater", 1.0)  # no estimate at all: a clear error, not a verdict
    for rule in ("both", "any"):
        with pytest.raises(FakeitError, match="part 'on ObjectNet' has no estimate"):
            fd.combine(rule, [strong, untested])


def _tested(p: float, verdict: str = fd.HOLDS) -> dict:
    return {"verdict": verdict, "p": p}


@pytest.mark.parametrize("ps, kept", [
    ([0.01, 0.01, 0.01], [True, True, True]),  # 0.01 clears 0.05/3: all three stay
    ([0.02, 0.02, 0.02], [False, False, False]),  # 0.02 misses 0.05/3: the first step stops all three
    ([0.001, 0.03, 0.03], [True, False, False]),  # the tie misses 0.05/2 together
    ([0.001, 0.024, 0.024], [True, True, True]),  # and clears it together (then 0.05/1)
])
def test_holm_gives_tied_p_values_one_fate_in_any_order(ps, kept):
    expected = [fd.HOLDS if k else fd.INCONCLUSIVE for k in kept]
    for order in itertools.permutations(range(len(ps))):
        got = summary.holm([_tested(ps[i]) for i in order])
        assert got == [expected[i] for i in order], (order, got)


def test_holm_leaves_untested_findings_and_never_keeps_a_verdict_without_p():
    verdicts = [_tested(0.001), {"verdict": fd.UNTESTABLE, "p": None}, {"verdict": fd.HOLDS, "p": None},
                _tested(0.001, fd.FAILS)]
    assert summary.holm(verdicts) == [fd.HOLDS, fd.UNTESTABLE, fd.INCONCLUSIVE, fd.FAILS]


def test_holm_keeps_the_direction_that_survives_of_a_small_effect():
    """"Holds, below the smallest effect of interest" decided both ways at 95%: after Holm over three findings
    (first step 0.05 / 3) it keeps "holds" when only that direction clears its step, "does not hold" when only that
    one does, both when both do; its p-value, the ordering Holm uses, is 2 x the smaller one-sided p."""
    other = [_tested(0.003), _tested(0.004)]  # ranked after the small effect: it meets 0.05 / 3

    def small(p_hold, p_fail):
        return {"verdict": fd.SMALL, "p": 2 * min(p_hold, p_fail), "p_hold": p_hold, "p_fail": p_fail}

    assert summary.holm([small(0.001, 0.02)] + other)[0] == fd.HOLDS  # 0.002 clears 0.0167, 0.04 does not
    assert summary.holm([small(0.02, 0.001)] + other)[0] == fd.FAILS
    assert summary.holm([small(0.001, 0.002)] + other)[0] == fd.SMALL
    assert summary.holm([small(0.03, 0.03)] + other)[0] == fd.INCONCLUSIVE  # 0.06: Holm stops
    est = stats.estimate_from_values([0.4, 0.5, 0.45, 0.55, 0.5])  # far above 0, below 1: a small effect
    verdict, p, _ = fd.decide("greater", est, 1.0)
    assert verdict == fd.SMALL and p == pytest.approx(2 * min(est.p_above(0.0), est.p_below(1.0)))


def test_seeds_to_decide_count_over_the_tested_findings_only():
    """A page counts at Holm's first step over every paper finding; the build's count knows how many were tested,
    and the introduction's number of seeds to decide follows it (fewer tested findings: a laxer level, fewer seeds)."""
    est = stats.estimate_from_values([1.5, -0.5, 3.0, 0.5, 2.0])
    fid = next(f.id for f in claims.FINDINGS.values() if f.rule == "greater" and f.group == claims.PAPER_GROUP)
    v = {**fd.check(fid, est, "mini").to_dict(), "page": "x"}
    assert v["verdict"] == fd.INCONCLUSIVE
    every = sum(f.group == claims.PAPER_GROUP for f in claims.FINDINGS.values())
    assert v["seeds_to_decide"] == est.seeds_to_decide(0.0, v["sesoi"], 0.025 / every)
    untested = [{**fd.cannot_test(f.id, "mini", "not at this scale").to_dict(), "page": "y"}
                for f in claims.FINDINGS.values() if f.id != fid][:3]
    rows = summary.with_holm([v] + untested)
    assert rows[0]["seeds_to_decide"] == est.seeds_to_decide(0.0, v["sesoi"], 0.025 / 1) < v["seeds_to_decide"]
