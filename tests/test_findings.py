"""Findings and their statistics: every rule reaches every outcome on crafted values, the pooled seed error is the
two-way analysis it claims to be, Holm controls the count, and the wording follows the verdict."""

import math

import numpy as np
import pytest

from fakeit_lib.core.errors import FakeitError
from fakeit_lib.paper import claims, summary
from fakeit_lib.paper import findings as fd
from fakeit_lib.paper.stats import Estimate, Family, estimate_from_values, mean_interval, t_quantile
from fakeit_lib.paper.spreads import spread_difference
from fakeit_lib.experiments import table1


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
    est = fam.difference("m2", "m0")
    # each compared model's own share of the residual, with (5 - 1)(7 - 1)/7 degrees of freedom each (Satterthwaite)
    own = (resid ** 2).sum(1) / 4 * 7 / 6
    assert own.mean() == pytest.approx(fam.anova["ms_resid"])  # the shares average to the pooled residual
    share = 4 * 6 / 7
    df = (own[2] + own[0]) ** 2 / (own[2] ** 2 / share + own[0] ** 2 / share)
    assert est.method == "blocked" and est.df == pytest.approx(df) and share < est.df <= 2 * share
    assert est.mean == pytest.approx(y[2].mean() - y[0].mean())
    assert est.se == pytest.approx(math.sqrt((own[2] + own[0]) / 5))
    assert est.high - est.mean == pytest.approx(t_quantile(df) * est.se)
    assert est.pairing is not None and est.pairing > 0.5  # both arms share the seeds' effect


def test_without_seed_effects_a_contrast_still_takes_the_blocked_residual():
    """No min-variance choice between the residual and the within-model error: a zero-sum contrast always takes the
    residual (exact whether or not the seeds carry an effect); only a contrast that keeps the seeds' effect pools."""
    fam = crafted_family(seed_sd=0.0)
    assert fam.anova["ms_within"] != fam.anova["ms_resid"]
    est = fam.difference("m2", "m0")
    assert est.method == "blocked" and est.se == pytest.approx(math.sqrt((fam.model_var[2] + fam.model_var[0]) / 5))
    level = fam.contrast({"m2": 1.0})
    assert level.method == "pooled" and level.df == 28
    assert level.se == pytest.approx(math.sqrt(fam.anova["ms_within"] / 5))


def test_unequal_seed_variances_give_each_compared_model_its_own():
    """A model whose seeds vary four times as much as the others': its difference takes its own variance (the
    family's pooled one would be too small for it), with fewer degrees of freedom; two quiet models keep theirs."""
    rng = np.random.default_rng(3)
    seeds = rng.normal(0, 1, 5)
    values = {f"m{i}": list(60 + seeds + rng.normal(0, 0.3, 5)) for i in range(5)}
    values["wild"] = list(60 + seeds + np.array([4.0, -3.0, 2.0, -4.0, 1.0]))
    fam = Family("unequal", values)
    assert fam.anova["spread_ratio"] > 2.0
    wild, quiet = fam.difference("wild", "m0"), fam.difference("m1", "m0")
    v = fam.model_var
    assert v[5] > 20 * v[0] and wild.se == pytest.approx(math.sqrt((v[5] + v[0]) / 5))
    assert wild.se > math.sqrt(fam.anova["ms_resid"] * 2 / 5)  # the pooled error would be too small
    share = 4 * 5 / 6
    assert share <= wild.df < 1.1 * share < quiet.df  # the wild model's variance dominates: about its own df
    assert quiet.se == pytest.approx(math.sqrt((v[1] + v[0]) / 5)) and quiet.se < wild.se / 3


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
        est = spread_difference(fam, ["a@7.5", "b@7.5", "c@7.5"], ["a@2", "b@2", "c@2"])
        diffs.append(est.mean)
        sums.append(sum((np.mean(fam.values[k]) - np.mean([np.mean(fam.values[j]) for j in ("a@7.5", "b@7.5", "c@7.5")])) ** 2
                        for k in ("a@7.5", "b@7.5", "c@7.5")))
    assert abs(np.mean(diffs)) < 0.1 and np.mean(sums) == pytest.approx(2 * 1.5 ** 2 / 5, rel=0.15)
    strong = Family("effect", {"a@7.5": [60.0] * 3, "b@7.5": [66.0, 66.5, 65.5], "a@2": [64.0, 64.5, 63.5], "b@2": [64.2, 64.0, 64.4]})
    assert spread_difference(strong, ["a@7.5", "b@7.5"], ["a@2", "b@2"]).low > 0


def test_measured_draws_give_every_drawn_arm_its_error():
    fam = crafted_family()
    before = fam.difference("m3", "m0")
    draws = [[70.0, 71.0, 69.0, 70.5, 70.0], [72.0, 73.0, 71.5, 72.0, 72.5]]  # two draws, same seeds: means 70.1, 72.2
    fam.add_draws(draws, {"m3", "m1"})
    v = np.var([np.mean(d) for d in draws], ddof=1)  # the variance of a drawn model's mean, seed noise included
    assert fam.draw_var == pytest.approx(v) and fam.draw_df == 1
    after = fam.difference("m3", "m0")  # m0 is real (not drawn): its seed error stays, m3's is the draws'
    seed_part = fam.model_var[0] / 5  # the real arm's own seed variance
    # the measured clone's seed noise: the residual of its draws x seeds; m3's own seed variance beyond it joins
    d = np.asarray(draws)
    noise = ((d - d.mean(1, keepdims=True) - d.mean(0) + d.mean()) ** 2).sum() / (1 * 4)
    assert fam.draw_seed_var == pytest.approx(noise)
    excess = max(fam.model_var[3] - noise, 0.0) / 5
    assert after.mean == before.mean and after.se == pytest.approx(math.sqrt(seed_part + excess + v))
    assert after.df == 1  # two draws: their own degree of freedom (Satterthwaite's would cover 0.92)
    assert after.method == "blocked + draw variance (2 draws)"
    four = crafted_family()
    more = draws + [[71.0, 71.5, 70.0, 71.0, 70.5], [69.5, 70.5, 69.0, 70.0, 70.0]]
    four.add_draws(more, {"m3"})
    v4 = np.var([np.mean(d) for d in more], ddof=1)
    with_four = four.difference("m3", "m0")  # from four draws on: Welch-Satterthwaite
    d4 = np.asarray(more)
    excess4 = max(four.model_var[3] - ((d4 - d4.mean(1, keepdims=True) - d4.mean(0) + d4.mean()) ** 2).sum() / 12, 0) / 5
    seeds_part = [t for t in (seed_part, excess4) if t]
    assert with_four.df == pytest.approx((sum(seeds_part) + v4) ** 2 / (sum(t * t for t in seeds_part) / (4 * 6 / 7)
                                                                          + v4 ** 2 / 3))
    both = fam.difference("m3", "m1")  # two clones: only the draws' variance, one degree of freedom
    excess = (max(fam.model_var[3] - noise, 0.0) + max(fam.model_var[1] - noise, 0.0)) / 5
    assert both.se == pytest.approx(math.sqrt(2 * v + excess)) and both.df == pytest.approx(1.0)
    # no number of seeds removes the draw: the floor is the draw's part beyond the seed noise
    assert both.floor_se == pytest.approx(math.sqrt(2 * (v - noise / 5)))
    assert both.seeds_cannot_decide(0.0, 1.0) and both.seeds_to_decide(0.0, 1.0) is None
    with pytest.raises(FakeitError, match="draws need at least two lists of 5 finite per-seed values"):
        fam.add_draws([draws[0]], {"m3"})


@pytest.mark.parametrize("rule, values, expected", [
    ("greater", [2.0, 2.2, 1.8, 2.1, 1.9], fd.HOLDS),  # +2 points, tight
    ("greater", [0.1, -0.2, 0.2, 0.0, -0.1], fd.FAILS),  # near 0: any effect is below the 1-point smallest of interest
    ("greater", [0.5, 0.45, 0.55, 0.5, 0.5], fd.SMALL),  # above 0 and below 1 at once: its own label
    ("greater", [-2.0, -2.2, -1.8, -2.1, -1.9], fd.FAILS),  # reversed
    ("greater", [2.0, -1.0, 3.0, -0.5, 1.5], fd.INCONCLUSIVE),
    ("large", [2.0, 2.2, 1.8, 2.1, 1.9], fd.HOLDS),  # above the 1-point threshold of "large"
    ("large", [0.5, 0.6, 0.4, 0.5, 0.6], fd.FAILS),  # positive, but below it
    ("at_most", [0.1, -0.2, 0.2, 0.0, -0.1], fd.HOLDS),
    ("at_most", [2.0, 2.2, 1.8, 2.1, 1.9], fd.FAILS),
    ("at_most", [0.3, -1.0, 2.1, -0.4, 1.0], fd.INCONCLUSIVE),  # about 46 seeds decide it (the old row sat at the 200-seed cap)
    ("not_worse", [-0.5, -0.3, -0.6, -0.4, -0.5], fd.HOLDS),  # half a point below: on par within 1
    ("not_worse", [-2.0, -2.2, -1.8, -2.1, -1.9], fd.FAILS),  # two points below: worse
    ("not_worse", [0.5, -3.0, 1.5, -2.0, 0.5], fd.INCONCLUSIVE),
])
def test_every_rule_reaches_every_outcome(rule, values, expected):
    verdict, p, needed = fd.decide(rule, estimate_from_values(values), sesoi=1.0)
    assert verdict == expected
    assert (p < 0.05) == (expected != fd.INCONCLUSIVE)  # the p-value agrees with the interval's decision (both sides)
    assert (needed is not None) == (expected == fd.INCONCLUSIVE)


def test_one_seed_is_always_inconclusive_without_a_p_value():
    v = fd.check("low_guidance_better", estimate_from_values([5.0]), "paper")
    assert v.verdict == fd.INCONCLUSIVE and v.p is None and v.reason == "one seed gives no interval"


def test_seeds_to_decide_follow_the_observed_effect_and_deviation():
    est = estimate_from_values([1.5, -0.5, 3.0, 0.5, 2.0])  # mean 1.3, sd 1.35: inconclusive at 5 seeds
    assert fd.decide("greater", est, 1.0)[0] == fd.INCONCLUSIVE
    n = est.seeds_to_decide(0.0, 1.0)
    assert n is not None and n > 5
    # at n seeds the 95% interval would clear 0; at n - 1 it would not
    half = lambda s, q=0.95: t_quantile(s - 1, q) * est.std / math.sqrt(s)
    assert half(n) < est.mean <= half(n - 1)
    # at the level the introduction's count needs (after Holm, at worst alpha / 2 / 19 one-sided) it takes more
    level = fd.family_level()
    assert level == pytest.approx(0.025 / sum(f.group == claims.PAPER_GROUP for f in claims.FINDINGS.values()))
    m = est.seeds_to_decide(0.0, 1.0, level)
    assert m > n and half(m, 1 - 2 * level) < est.mean <= half(m - 1, 1 - 2 * level)
    assert fd.decide("greater", est, 1.0)[2] == m  # what a page reports


def test_a_composite_s_reason_gives_each_part_s_interval_once_and_not_the_headline_s_again():
    up = fd.Part("up", estimate_from_values([2.0, 2.2, 1.8, 2.1, 1.9]), "greater", 1.0)
    flat = fd.Part("flat", estimate_from_values([0.1, -0.2, 0.2, 0.0, -0.1]), "greater", 1.0)
    v = fd.check_parts("gap_narrows_in_transfer", [up, flat], "mini")
    shown = v.evidence["shown part"]["name"]
    other = "up" if shown == "flat" else "flat"
    assert f"{shown}: " in v.reason and f"{shown}: {v.evidence[shown]['verdict']}, its interval as above" in v.reason
    e = v.evidence[other]["estimate"]
    assert f"{other}: {v.evidence[other]['verdict']}, {e['mean']:+.1f} [{e['low']:+.1f}, {e['high']:+.1f}] points" in v.reason
    assert "±" not in v.reason and "(n = " not in v.reason  # one way to write an interval: the headline's


def test_both_and_any_rules_combine_their_parts():
    up = fd.Part("up", estimate_from_values([2.0, 2.2, 1.8, 2.1, 1.9]), "greater", 1.0)
    flat = fd.Part("flat", estimate_from_values([0.1, -0.2, 0.2, 0.0, -0.1]), "greater", 1.0)
    wide = fd.Part("wide", estimate_from_values([3.0, -2.0, 4.0, -3.0, 1.0]), "greater", 1.0)
    assert fd.check_parts("gap_narrows_in_transfer", [up, up], "mini").verdict == fd.HOLDS
    assert fd.check_parts("gap_narrows_in_transfer", [up, flat], "mini").verdict == fd.FAILS
    # `both` fails only when a part fails after Bonferroni over the parts: 2.4 and 2.6 (95%) against 3.16 (97.5%)
    edge = fd.Part("edge", estimate_from_values([0.7, 0.8, 0.5, 0.6, 0.6]), "greater", 1.0)  # high 0.80: fails at 95%
    assert fd.decide("greater", edge.estimate, 1.0)[0] == fd.SMALL
    near = fd.Part("near", estimate_from_values([0.0, 0.9, 0.1, 0.9, 0.1]), "greater", 1.0)
    assert near.decision()[0] == fd.FAILS and near.decision()[4] > 0.025 / 2  # fails alone, not at 2.5% / 2
    assert fd.check_parts("gap_narrows_in_transfer", [up, near], "mini").verdict == fd.INCONCLUSIVE
    assert fd.check_parts("gap_narrows_in_transfer", [up, wide], "mini").verdict == fd.INCONCLUSIVE
    some = lambda *parts: fd.Part("some clone", None, "any", 1.0, parts=list(parts))
    assert fd.check_parts("synthetic_outperforms_real_under_shift", [some(flat, up), some(up, wide)], "mini").verdict == fd.HOLDS
    assert fd.check_parts("synthetic_outperforms_real_under_shift", [some(flat, flat), some(up)], "mini").verdict == fd.FAILS
    assert fd.check_parts("synthetic_outperforms_real_under_shift", [some(wide, flat), some(up)], "mini").verdict == fd.INCONCLUSIVE


def test_holm_keeps_only_what_survives_the_family():
    rows = [{"verdict": fd.HOLDS, "p": 0.001}, {"verdict": fd.HOLDS, "p": 0.02}, {"verdict": fd.FAILS, "p": 0.03},
            {"verdict": fd.INCONCLUSIVE, "p": 0.4}, {"verdict": fd.UNTESTABLE, "p": None}]
    # four tested: 0.001 <= 0.05/4 keeps; 0.02 > 0.05/3 stops, so 0.02 and 0.03 become inconclusive
    assert summary.holm(rows) == [fd.HOLDS, fd.INCONCLUSIVE, fd.INCONCLUSIVE, fd.INCONCLUSIVE, fd.UNTESTABLE]
    # a finding beyond the paper is outside the family: it neither counts in k nor loses its verdict
    beyond = rows + [{"verdict": fd.HOLDS, "p": 0.04, "group": claims.BEYOND_GROUP}]
    assert summary.holm(beyond)[-1] == fd.HOLDS and summary.holm(beyond)[:5] == summary.holm(rows)
    counts = summary.family_counts([{**r, "verdict": r["verdict"]} for r in beyond])
    assert counts["tested"] == 4 and counts["beyond"] == 1 and counts["after_holm"][fd.HOLDS] == 1


def test_wording_comes_from_the_verdict():
    est = Family("t", {"1x": [60.0, 61.0, 62.0, 61.0, 60.5], "real": [55.0, 55.5, 56.0, 55.5, 55.0]}).difference("1x", "real")
    v = fd.check("synthetic_beats_real_transfer", est, "mini")
    s = v.sentence()
    assert s.startswith("The paper's finding that an encoder trained on a synthetic clone of the real set's size transfers "
                        "on par with one trained on the real set (the paper: ImageNet-1K) **holds** at the mini scale (1x clone minus real (parity: "
                        "no worse than the smallest effect of interest below real): +5.5 points, 95% interval [+")
    assert s.endswith("holds if the 95% interval lies above -1, fails if below it).")
    assert "5 seeds, 4 degrees of freedom (blocked)" in s or "5 seeds, 8 degrees of freedom (pooled)" in s
    assert "smallest effect of interest 1 point;" in s
    why = fd.cannot_test("backgrounds_help_high_guidance", "mini", "no backgrounds here")
    assert why.sentence().endswith("**cannot be tested** at the mini scale: no backgrounds here.")
    assert why.n_seeds == 0 and why.estimate is None
    wide = fd.check("low_guidance_better", estimate_from_values([2.0, -1.0, 3.0, -0.5, 1.5]), "mini")
    assert f"about {wide.seeds_to_decide} seeds would decide it" in wide.sentence()
    assert "at the level Holm's correction over the paper's findings needs" in wide.sentence()


def test_a_finding_beyond_the_paper_counts_its_seeds_at_its_own_95_percent():
    # steps_enough is tested apart from the paper's family: its seeds-to-decide are those of a 95% decision, fewer
    # than the family's Bonferroni level would need, and its sentence says which level it counts at
    assert claims.finding("steps_enough").group != claims.PAPER_GROUP
    est = estimate_from_values([0.015, -0.01, 0.04, 0.0, 0.02])  # 0.013, interval past 0.02: undecided
    v = fd.check("steps_enough", est, "mini")
    at_95 = fd.seeds_needed(v.rule, est, v.sesoi, fd.ALPHA / 2)[0]
    at_family = fd.seeds_needed(v.rule, est, v.sesoi, fd.family_level())[0]
    assert v.verdict == fd.INCONCLUSIVE and v.seeds_to_decide == at_95 and at_95 < at_family
    assert "at 95%, the level of a finding beyond the paper" in v.sentence()
    assert "Holm" not in v.sentence()
    # the build's recount leaves it as its page counted it
    row = {**v.to_dict(), "page": "notebooks/ablations"}
    assert summary.recount_seeds(row, 20) == {}


def test_every_finding_is_complete_and_json_ready():
    import json

    for f in claims.FINDINGS.values():
        assert f.claim.endswith(".") and f.source and f.chapter and f.metric and f.comparison
        assert f.rule in claims.RULES and f.sesoi > 0 and len(f.sesoi_reason) > 10
        assert f.group in (claims.PAPER_GROUP, claims.BEYOND_GROUP)
    assert {k for k, f in claims.FINDINGS.items() if f.group == claims.BEYOND_GROUP} == {"steps_enough", "matched_backgrounds_help"}
    v = fd.check("definition_beats_name", estimate_from_values([1.0, 2.0]), "smoke")
    row = json.loads(json.dumps(v.to_dict()))
    assert {"id", "claim", "source", "verdict", "n_seeds", "evidence", "sesoi", "df", "method", "p"} <= set(row)
    with pytest.raises(FakeitError, match="unknown finding 'nope'; valid: low_guidance_diverse"):
        claims.finding("nope")


def test_paper_values_are_computed_from_its_tables():
    # Table 1 IN-100 val top-1: (63.5+63.4+64.8+63.1)/4 - (43.1+46.9+47.9+51.5)/4 = 16.35
    assert claims.paper_value("low_guidance_better") == ("+16.3 points (IN-100 val top-1, Table 1, prompts class name, class name + "
                                                     "hypernym, class name + definition, class name + hypernym + background)")
    # on the prompts a run compares: (63.5+63.4+64.8)/3 - (43.1+46.9+47.9)/3 = 17.93
    assert claims.paper_value("low_guidance_better", variants=["c", "c_hc", "c_dc"]).startswith("+17.9 points")
    assert claims.paper_value("definition_beats_name").startswith("+4.8 points")  # at 7.5: 47.9 - 43.1
    assert claims.paper_value("hypernym_beats_name").startswith("+3.8 points")  # at 7.5: 46.9 - 43.1
    assert claims.paper_value("low_guidance_better", "imagenet1k").startswith("+16.7 points")  # 42.9 - 26.2, rows 17 and 15
    assert claims.paper_value("synthetic_trails_real").startswith("+22.6 to +44.3 points")  # 87.4 - 64.8, 87.4 - 43.1
    # the spread of the four prompts: 7.5 rows 2-5 against 2.0 rows 6-9, sums of squared deviations
    hi, lo = [43.1, 46.9, 47.9, 51.5], [63.5, 63.4, 64.8, 63.1]
    expected = sum((x - np.mean(hi)) ** 2 for x in hi) - sum((x - np.mean(lo)) ** 2 for x in lo)
    assert claims.paper_value("prompt_matters_less_low_guidance").startswith(f"{expected:+.1f} points²")
    assert claims.paper_value("more_images_transfer_better").endswith("+4.8 points at 50x (IN-100, 10-dataset average, Table 2 rows 3 and 2)")
    # each value is from the row of the training set the paper makes the claim for, and says which
    assert claims.paper_value("synthetic_beats_real_transfer") == (
        "the paper makes this claim for ImageNet-1K, not ImageNet-100: +2.7 points (IN-1K, 1x clone of class name + definition at 2.0 minus "
        "real, Table 2 rows 8 and 4)")  # 68.4 - 65.7
    assert claims.paper_value("synthetic_beats_real_transfer", "imagenet1k").startswith("+2.7 points (IN-1K")
    assert claims.paper_value("trained_beats_random_transfer").startswith("no 1x row for IN-100")  # a 1x run: no 50x value as its own
    assert "50x, is +46.6 points above random weights" in claims.paper_value("trained_beats_random_transfer")  # 63.2 - 16.6
    assert claims.paper_value("trained_beats_random_transfer", "imagenet1k").startswith("+51.8 points (IN-1K 1x")  # 68.4 - 16.6
    shift = claims.paper_value("synthetic_outperforms_real_under_shift")  # the named winners, rows 6 and 7, minus row 1
    assert shift.startswith("Sketch +2.7 (row 6), +0.1 (row 7); R +5.8 (row 6), +3.5 (row 7) points (IN-100")
    assert claims.paper_value("definition_beats_name", "imagenet1k").startswith(
        "the paper makes this claim for ImageNet-100, not ImageNet-1K: +4.8 points")
    assert claims.paper_value("gap_narrows_in_transfer").startswith("the paper makes this claim for ImageNet-1K, not ImageNet-100")
    assert claims.paper_value("gap_narrows_in_transfer", "imagenet1k").startswith(
        "on ImageNet-1K the real-trained ResNet-50 leads the clone by 33.2 points of val top-1 (76.1 against 42.9); "
        "in transfer the clone leads it by 2.7 points")


def test_a_decision_reached_with_se_zero_is_consistent():
    exact = Estimate(2.0, 2.0, 2.0, 5, 0.0, 0.0, 4, "paired")
    assert fd.decide("greater", exact, 1.0)[0] == fd.HOLDS and exact.p_above(0.0) == 0.0


def test_the_introduction_counts_one_preset_and_draws_every_interval():
    est = Family("t", {"1x": [60.0, 61.0, 62.0, 61.0, 60.5], "real": [55.0, 55.5, 56.0, 55.5, 55.0],
                       "2x": [61.0, 60.0, 62.5, 61.0, 61.5]}).difference("1x", "real")
    rows = [{**fd.check("synthetic_beats_real_transfer", est, "mini").to_dict(), "page": "notebooks/tab2_transfer"},
            {**fd.cannot_test("backgrounds_help_high_guidance", "mini", "no backgrounds").to_dict(),
             "page": "notebooks/tab1_prompts"}]
    out = summary.with_holm(rows)
    assert [r["after_holm"] for r in out] == [fd.HOLDS, fd.UNTESTABLE] and out[0]["registry"] == claims.registry_hash()
    # the numbers behind the verdict: the family's values and the contrast's weights, enough to recompute it
    inputs = out[0]["estimate"]["inputs"]
    assert inputs["weights"] == {"1x": 1.0, "real": -1.0} and inputs["values"]["2x"][2] == 62.5
    text = summary.findings_markdown(out)
    assert "Of the paper's 2 findings, 1 could be tested at this scale" in text
    assert f"content hash `{claims.registry_hash()}`" in text and "```{raw} html" in text
    forest = summary.forest_rows(out)
    assert len(forest) == 1 and forest[0]["effect"] == pytest.approx(est.mean / 1.0)
    with pytest.raises(FakeitError, match=r"more than one preset \(mini: notebooks/tab2_transfer; smoke: notebooks/tab1"):
        summary.with_holm([rows[0], {**rows[1], "scale": "smoke"}])


def test_backgrounds_are_the_best_only_above_every_other_prompt():
    """Sec. 5.1 (c) "the best results": the background prompt above rows 2, 3 and 4, not above row 3 alone."""
    assert claims.finding("backgrounds_help_high_guidance").rule == "both"
    assert claims.paper_value("backgrounds_help_high_guidance").startswith("+3.6 to +8.4 points")  # 51.5 - 47.9, - 43.1
    seeds = [0.0, 0.5, -0.5, 0.2, -0.2]
    fam = Family("t", {table1.key_label((v, 7.5)): [m + s + 0.1 * i for i, s in enumerate(seeds)]
                       for v, m in (("c", 50.0), ("c_hc", 53.0), ("c_dc", 56.5), ("c_hc_inside_b", 56.0))})
    parts = [fd.Part(v, fam.difference("c_hc_inside_b@7.5", f"{v}@7.5"), "greater", 1.0) for v in ("c", "c_hc", "c_dc")]
    v = fd.check_parts("backgrounds_help_high_guidance", parts, "paper")
    assert v.verdict == fd.FAILS  # above c and c_hc by 6 and 3, below c_dc by 0.5: not the best
    assert v.evidence["shown part"]["name"] == "c_dc"


def test_a_sentence_keeps_a_name_s_capital_and_states_a_composite_s_part_in_its_unit():
    v = fd.cannot_test("v2_agrees_with_val", "mini", "no ImageNet-v2 here")
    assert v.sentence().startswith("The paper's finding that ImageNet-v2 tells what the validation set tells")
    w = fd.cannot_test("low_guidance_better", "mini", "none")
    assert w.sentence().startswith("The paper's finding that clones made at guidance 2.0")
    parts = [fd.Part("fidelity", estimate_from_values([0.03, 0.04, 0.05]), "greater", 0.02, "of images"),
             fd.Part("diversity", estimate_from_values([1.0, 1.2, 1.1]), "greater", 0.3, "judge units")]
    s = fd.check_parts("low_guidance_diverse", parts, "mini").sentence()
    assert ": fidelity +0.040 of images, 95% interval [" in s and "smallest effect of interest 0.02 of images;" in s



def test_why_levels_cannot_be_compared_names_the_sets_in_words():
    from fakeit_lib.datasets.classes import class_set_name
    from fakeit_lib.experiments.table1 import test_set_words

    why = fd.paper_scale_levels("mini", "fashion-mnist", "fashion-mnist-test", class_set_name("fashion-mnist"),
                                test_set_words("fashion-mnist-test"))
    assert "this run trains on Fashion-MNIST at the mini scale, tested on the Fashion-MNIST test split;" in why
    assert fd.paper_scale_levels("paper", "imagenet100", "val") is None
