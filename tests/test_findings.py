"""Findings and their statistics: every rule reaches every outcome on crafted values, the pooled seed error is the
two-way analysis it claims to be, Holm controls the count, and the wording follows the verdict."""

import math

import numpy as np
import pytest

from fakeit_lib.core.errors import FakeitError
from fakeit_lib.paper import findings as fd
from fakeit_lib.paper.stats import Estimate, Family, estimate_from_values, mean_interval, t_quantile


def test_mean_interval_is_student_t():
    est = mean_interval([1.0, 2.0, 3.0])
    # t(0.975, 2) = 4.302653, s = 1, n = 3
    assert est.mean == 2.0 and est.std == 1.0 and est.n == 3
    assert est.high - 2.0 == pytest.approx(4.302653 / math.sqrt(3), rel=1e-6)
    assert est.text() == "2.0 ± 2.5 (n = 3)"
    single = mean_interval([5.0])
    assert single.low is None and single.text() == "5.0 (n = 1)"
    with pytest.raises(FakeitError, match="at least one finite value"):
        mean_interval([])


def crafted_family(seed_sd: float = 2.0, noise_sd: float = 1.0, effects=(0.0, 1.0, 2.0, 3.0, 0.0, -1.0, 4.0)) -> Family:
    rng = np.random.default_rng(1)
    seeds = rng.normal(0, seed_sd, 5)
    return Family("crafted", {f"m{i}": list(70 + e + seeds + rng.normal(0, noise_sd, 5)) for i, e in enumerate(effects)})


def test_family_is_the_two_way_analysis_of_models_and_seeds():
    fam = crafted_family()
    y = np.asarray(list(fam.values.values()))
    g, mm, sm = y.mean(), y.mean(1, keepdims=True), y.mean(0, keepdims=True)
    resid = y - mm - sm + g
    assert fam.anova["ms_resid"] == pytest.approx((resid ** 2).sum() / (6 * 4))
    assert fam.anova["ms_within"] == pytest.approx(((y - mm) ** 2).sum() / (7 * 4))
    assert fam.anova["blocked"]  # the seeds carry an effect of their own (sd 2 against noise 1)
    est = fam.difference("m3", "m0")
    assert est.method == "blocked" and est.df == 24
    assert est.mean == pytest.approx(y[3].mean() - y[0].mean())
    assert est.se == pytest.approx(math.sqrt(fam.anova["ms_resid"] * 2 / 5))
    assert est.high - est.mean == pytest.approx(t_quantile(24) * est.se)
    assert est.pairing is not None and est.pairing > 0.5  # both arms share the seeds' effect


def test_without_seed_effects_the_family_pools_within_models():
    fam = crafted_family(seed_sd=0.0)
    assert not fam.anova["blocked"]  # no seed effect: pairing would only cost degrees of freedom
    est = fam.difference("m3", "m0")
    assert est.method == "pooled" and est.df == 28
    assert est.se == pytest.approx(math.sqrt(fam.anova["ms_within"] * 2 / 5))


def test_trend_is_the_least_squares_slope_of_the_means():
    fam = Family("sizes", {"1x": [60.0, 61.0, 59.0], "2x": [62.0, 63.0, 61.5], "4x": [64.0, 64.5, 63.0],
                           "8x": [66.5, 66.0, 65.5]})
    est = fam.trend({"1x": 1, "2x": 2, "4x": 4, "8x": 8})
    means = [np.mean(v) for v in fam.values.values()]
    assert est.mean == pytest.approx(np.polyfit([0, 1, 2, 3], means, 1)[0])
    assert est.weights_sq == pytest.approx(1 / 5)  # sum of ((x - mean) / sum of squares)^2 for x = 0..3


def test_spread_difference_removes_the_seed_noise_each_sum_carries():
    """Prompts with no effect at either guidance: the two sums of squares carry the same noise, and their
    difference is centred on 0 over many families (while each sum alone is biased upwards)."""
    rng = np.random.default_rng(0)
    diffs, sums = [], []
    for _ in range(400):
        fam = Family("null", {k: list(rng.normal(60, 1.5, 5)) for k in ("a@7.5", "b@7.5", "c@7.5", "a@2", "b@2", "c@2")})
        est = fam.spread_difference(["a@7.5", "b@7.5", "c@7.5"], ["a@2", "b@2", "c@2"])
        diffs.append(est.mean)
        sums.append(sum((np.mean(fam.values[k]) - np.mean([np.mean(fam.values[j]) for j in ("a@7.5", "b@7.5", "c@7.5")])) ** 2
                        for k in ("a@7.5", "b@7.5", "c@7.5")))
    assert abs(np.mean(diffs)) < 0.1 and np.mean(sums) == pytest.approx(2 * 1.5 ** 2 / 5, rel=0.15)
    strong = Family("effect", {"a@7.5": [60.0] * 3, "b@7.5": [66.0, 66.5, 65.5], "a@2": [64.0, 64.5, 63.5], "b@2": [64.2, 64.0, 64.4]})
    assert strong.spread_difference(["a@7.5", "b@7.5"], ["a@2", "b@2"]).low > 0


def test_draw_variance_widens_what_compares_clones():
    fam = crafted_family()
    before = fam.difference("m3", "m0")
    fam.add_draw_variance(1.0, {"m3"})
    after = fam.difference("m3", "m0")
    assert after.mean == before.mean and after.se == pytest.approx(math.sqrt(before.se ** 2 + 1.0))
    assert after.df < before.df and after.method == "blocked + draw variance"


@pytest.mark.parametrize("rule, values, expected", [
    ("greater", [2.0, 2.2, 1.8, 2.1, 1.9], fd.HOLDS),  # +2 points, tight
    ("greater", [0.1, -0.2, 0.2, 0.0, -0.1], fd.FAILS),  # near 0: any effect is below the 1-point smallest of interest
    ("greater", [-2.0, -2.2, -1.8, -2.1, -1.9], fd.FAILS),  # reversed
    ("greater", [3.0, -2.0, 4.0, -3.0, 1.0], fd.INCONCLUSIVE),
    ("large", [2.0, 2.2, 1.8, 2.1, 1.9], fd.HOLDS),  # above the 1-point threshold of "large"
    ("large", [0.5, 0.6, 0.4, 0.5, 0.6], fd.FAILS),  # positive, but below it
    ("at_most", [0.1, -0.2, 0.2, 0.0, -0.1], fd.HOLDS),
    ("at_most", [2.0, 2.2, 1.8, 2.1, 1.9], fd.FAILS),
    ("at_most", [0.5, -1.0, 2.5, 0.0, 1.5], fd.INCONCLUSIVE),
])
def test_every_rule_reaches_every_outcome(rule, values, expected):
    verdict, p, needed = fd.decide(rule, estimate_from_values(values), sesoi=1.0)
    assert verdict == expected
    assert (p < 0.05) == (expected != fd.INCONCLUSIVE)  # the p-value agrees with the interval's decision
    assert (needed is not None) == (expected == fd.INCONCLUSIVE)


def test_one_seed_is_always_inconclusive_without_a_p_value():
    v = fd.check("low_guidance_better", estimate_from_values([5.0]), "paper")
    assert v.verdict == fd.INCONCLUSIVE and v.p is None and v.reason == "one seed gives no interval"


def test_seeds_to_decide_follow_the_observed_effect_and_deviation():
    est = estimate_from_values([1.5, -0.5, 3.0, 0.5, 2.0])  # mean 1.3, sd 1.35: inconclusive at 5 seeds
    assert fd.decide("greater", est, 1.0)[0] == fd.INCONCLUSIVE
    n = est.seeds_to_decide(0.0, 1.0)
    assert n is not None and n > 5
    # at n seeds the interval would clear 0; at n - 1 it would not
    half = lambda s: t_quantile(s - 1) * est.std / math.sqrt(s)
    assert half(n) < est.mean <= half(n - 1)


def test_both_and_any_rules_combine_their_parts():
    up = fd.Part("up", estimate_from_values([2.0, 2.2, 1.8, 2.1, 1.9]), "greater", 1.0)
    flat = fd.Part("flat", estimate_from_values([0.1, -0.2, 0.2, 0.0, -0.1]), "greater", 1.0)
    wide = fd.Part("wide", estimate_from_values([3.0, -2.0, 4.0, -3.0, 1.0]), "greater", 1.0)
    assert fd.check_parts("gap_narrows_in_transfer", [up, up], "mini").verdict == fd.HOLDS
    assert fd.check_parts("gap_narrows_in_transfer", [up, flat], "mini").verdict == fd.FAILS
    assert fd.check_parts("gap_narrows_in_transfer", [up, wide], "mini").verdict == fd.INCONCLUSIVE
    some = lambda *parts: fd.Part("some clone", None, "any", 1.0, parts=list(parts))
    assert fd.check_parts("synthetic_outperforms_real_under_shift", [some(flat, up), some(up, wide)], "mini").verdict == fd.HOLDS
    assert fd.check_parts("synthetic_outperforms_real_under_shift", [some(flat, flat), some(up)], "mini").verdict == fd.FAILS
    assert fd.check_parts("synthetic_outperforms_real_under_shift", [some(wide, flat), some(up)], "mini").verdict == fd.INCONCLUSIVE


def test_holm_keeps_only_what_survives_the_family():
    rows = [{"verdict": fd.HOLDS, "p": 0.001}, {"verdict": fd.HOLDS, "p": 0.02}, {"verdict": fd.FAILS, "p": 0.03},
            {"verdict": fd.INCONCLUSIVE, "p": 0.4}, {"verdict": fd.UNTESTABLE, "p": None}]
    # four tested: 0.001 <= 0.05/4 keeps; 0.02 > 0.05/3 stops, so 0.02 and 0.03 become inconclusive
    assert fd.holm(rows) == [fd.HOLDS, fd.INCONCLUSIVE, fd.INCONCLUSIVE, fd.INCONCLUSIVE, fd.UNTESTABLE]


def test_wording_comes_from_the_verdict():
    est = Family("t", {"1x": [60.0, 61.0, 62.0, 61.0, 60.5], "real": [55.0, 55.5, 56.0, 55.5, 55.0]}).difference("1x", "real")
    v = fd.check("synthetic_beats_real_transfer", est, "mini")
    s = v.sentence()
    assert s.startswith("The paper's finding that an encoder trained on a synthetic clone of the real set's size transfers "
                        "better than one trained on the real set **holds** at the mini scale (1x clone minus real: +5.5 "
                        "points, 95% interval [+")
    assert "5 seeds, 4 degrees of freedom (blocked)" in s or "5 seeds, 8 degrees of freedom (pooled)" in s
    assert "smallest effect of interest 1 point;" in s
    why = fd.cannot_test("backgrounds_help_high_guidance", "mini", "no backgrounds here")
    assert why.sentence().endswith("**cannot be tested** at the mini scale: no backgrounds here.")
    assert why.n_seeds == 0 and why.estimate is None
    wide = fd.check("low_guidance_better", estimate_from_values([3.0, -2.0, 4.0, -3.0, 1.0]), "mini")
    assert f"about {wide.seeds_to_decide} seeds would decide it" in wide.sentence()


def test_every_finding_is_complete_and_json_ready():
    import json

    for f in fd.FINDINGS.values():
        assert f.claim.endswith(".") and f.source and f.chapter and f.metric and f.comparison
        assert f.rule in fd.RULES and f.sesoi > 0 and len(f.sesoi_reason) > 10
    v = fd.check("definition_beats_name", estimate_from_values([1.0, 2.0]), "smoke")
    row = json.loads(json.dumps(v.to_dict()))
    assert {"id", "claim", "source", "verdict", "n_seeds", "evidence", "sesoi", "df", "method", "p"} <= set(row)
    with pytest.raises(FakeitError, match="unknown finding 'nope'; valid: low_guidance_diverse"):
        fd.finding("nope")


def test_testability_is_a_share_of_a_seed_change():
    assert fd.testability(0.25, "adding the definition") is None
    why = fd.testability(0.023, "adding the hypernym")
    assert why.startswith("the generator barely reacts to adding the hypernym (same-seed images differ by 2% of a seed "
                          "change, below the 10% a comparison needs)")


def test_paper_values_are_computed_from_its_tables():
    # Table 1 IN-100 val top-1: (63.5+63.4+64.8+63.1)/4 - (43.1+46.9+47.9+51.5)/4 = 16.35
    assert fd.paper_value("low_guidance_better") == ("+16.3 points (IN-100 val top-1, Table 1, prompts class name, class name + "
                                                     "hypernym, class name + definition, class name + hypernym + background)")
    # on the prompts a run compares: (63.5+63.4+64.8)/3 - (43.1+46.9+47.9)/3 = 17.93
    assert fd.paper_value("low_guidance_better", variants=["c", "c_hc", "c_dc"]).startswith("+17.9 points")
    assert fd.paper_value("definition_beats_name").startswith("+4.8 points")  # at 7.5: 47.9 - 43.1
    assert fd.paper_value("hypernym_beats_name").startswith("+3.8 points")  # at 7.5: 46.9 - 43.1
    assert fd.paper_value("low_guidance_better", "imagenet1k").startswith("+16.7 points")  # 42.9 - 26.2, rows 17 and 15
    assert fd.paper_value("synthetic_trails_real").startswith("+22.6 to +44.3 points")  # 87.4 - 64.8, 87.4 - 43.1
    # the spread of the four prompts: 7.5 rows 2-5 against 2.0 rows 6-9, sums of squared deviations
    hi, lo = [43.1, 46.9, 47.9, 51.5], [63.5, 63.4, 64.8, 63.1]
    expected = sum((x - np.mean(hi)) ** 2 for x in hi) - sum((x - np.mean(lo)) ** 2 for x in lo)
    assert fd.paper_value("prompt_matters_less_low_guidance").startswith(f"{expected:+.1f} points²")
    assert fd.paper_value("more_images_transfer_better").endswith("+4.8 points at 50x (IN-100, 10-dataset average, Table 2 rows 3 and 2)")
    assert fd.paper_value("synthetic_beats_real_transfer").startswith("below real at 1x for ImageNet-100 (Fig. 4")
    assert "+2.7 points for ImageNet-1K" in fd.paper_value("synthetic_beats_real_transfer")
    assert fd.paper_value("trained_beats_random_transfer").startswith("+46.6 points")  # 63.2 - 16.6
    shift = fd.paper_value("synthetic_outperforms_real_under_shift")
    assert shift.startswith("Sketch +2.7 (best: row 6; 2 of 8 clones above real); R +5.8 (best: row 6; 3 of 8 clones")
    assert fd.paper_value("gap_narrows_in_transfer").startswith("IN-1K: val top-1 gap +33.2, transfer gap -2.7 points")


def test_a_decision_reached_with_se_zero_is_consistent():
    exact = Estimate(2.0, 2.0, 2.0, 5, 0.0, 0.0, 4, "paired")
    assert fd.decide("greater", exact, 1.0)[0] == fd.HOLDS and exact.p_above(0.0) == 0.0
