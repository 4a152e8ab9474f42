"""Findings: each rule returns every outcome on crafted seeds, intervals are Student-t, wording follows the verdict."""

import math

import pytest

from fakeit_lib.core.errors import FakeitError
from fakeit_lib.paper import findings as fd
from fakeit_lib.paper.stats import mean_interval


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


@pytest.mark.parametrize("a, b, expected", [
    ([70.0, 71.0, 72.0], [65.0, 66.5, 66.0], fd.HOLDS),  # +5.2 points, tight
    ([65.0, 66.5, 66.0], [70.0, 71.0, 72.0], fd.FAILS),  # the reverse
    ([70.0, 66.0, 72.0], [69.0, 68.0, 70.0], fd.INCONCLUSIVE),  # +0.3 with a wide interval
    ([70.0], [60.0], fd.INCONCLUSIVE),  # one seed: no interval
])
def test_greater_rule_gives_all_three_outcomes(a, b, expected):
    v = fd.check_greater("low_guidance_better", a, b, "mini")
    assert v.verdict == expected
    assert v.n_seeds == len(a)
    assert v.evidence["differences"] == [x - y for x, y in zip(a, b)]


@pytest.mark.parametrize("values, expected", [
    ([[60, 61, 60], [63, 62, 64], [65, 66, 64], [67, 66, 68]], fd.HOLDS),  # rises at every size
    ([[67, 66, 68], [65, 66, 64], [63, 62, 64], [60, 61, 60]], fd.FAILS),
    ([[60, 66, 60], [66, 60, 61], [60, 61, 66], [63, 60, 60]], fd.INCONCLUSIVE),
])
def test_trend_rule_uses_every_size_not_the_end_points(values, expected):
    v = fd.check_trend("more_images_help", [0.2, 0.5, 1.0, 2.0], values, "mini")
    assert v.verdict == expected
    assert len(v.evidence["slopes"]) == 3


def test_trend_rule_fits_a_slope_per_doubling():
    # 2 points per doubling, exactly, for every seed: slope 2 with a zero-width interval
    sizes = [0.25, 0.5, 1.0, 2.0]
    values = [[50 + 2 * math.log2(s)] * 3 for s in sizes]
    v = fd.check_trend("more_images_help", sizes, values, "mini")
    assert v.estimate["mean"] == pytest.approx(2.0)
    # end points equal, middle points high: no trend by slope, although "last beats first" would be false too
    flat = fd.check_trend("more_images_help", [1, 2, 4], [[60, 60, 60.5], [65, 64, 66], [60.5, 60, 60]], "mini")
    assert flat.verdict == fd.INCONCLUSIVE


@pytest.mark.parametrize("a, b, expected", [
    ([70.0, 71.0, 72.0], [70.5, 71.4, 72.3], fd.HOLDS),  # within the 1-point margin
    ([65.0, 66.0, 67.0], [70.0, 71.0, 72.0], fd.FAILS),  # 5 points worse
    ([70.0, 68.0, 72.0], [71.0, 71.0, 71.0], fd.INCONCLUSIVE),
])
def test_noninferior_rule_with_its_margin(a, b, expected):
    v = fd.check_noninferior("largest_clone_transfers", a, b, "mini")
    assert v.verdict == expected
    assert v.evidence["margin"] == 1.0


def test_both_rule_needs_both_parts():
    up, down, flat = [3.0, 3.1, 2.9], [1.0, 1.1, 0.9], [2.0, 2.5, 1.0]
    holds = fd.check_both("low_guidance_diverse", {"d": fd.part("d", up, down), "f": fd.part("f", up, down)}, "mini")
    fails = fd.check_both("low_guidance_diverse", {"d": fd.part("d", up, down), "f": fd.part("f", down, up)}, "mini")
    open_ = fd.check_both("low_guidance_diverse", {"d": fd.part("d", up, down), "f": fd.part("f", flat, [2.0, 2.0, 2.0])}, "mini")
    assert (holds.verdict, fails.verdict, open_.verdict) == (fd.HOLDS, fd.FAILS, fd.INCONCLUSIVE)


def test_wording_comes_from_the_verdict():
    v = fd.check_greater("synthetic_beats_real_transfer", [60.0, 61.0, 62.0], [55.0, 55.5, 56.0], "mini")
    s = v.sentence()
    assert s.startswith("The paper's finding that an encoder trained on a synthetic clone of the real set's size transfers "
                        "better than one trained on the real set **holds** at the mini scale (1x clone minus real: +5.5 ± ")
    assert "95% interval [+" in s
    no = fd.check_greater("synthetic_beats_real_transfer", [55.0, 55.5, 56.0], [60.0, 61.0, 62.0], "mini")
    assert "**does not hold** at the mini scale" in no.sentence()
    why = fd.cannot_test("backgrounds_help_high_guidance", "mini", "no backgrounds here")
    assert why.sentence().endswith("**cannot be tested** at the mini scale: no backgrounds here.")
    assert why.n_seeds == 0 and why.estimate is None


def test_every_finding_is_complete_and_json_ready():
    import json

    for f in fd.FINDINGS.values():
        assert f.claim.endswith(".") and f.source and f.chapter and f.metric and f.comparison
        assert f.rule in fd.RULES
    v = fd.check_greater("definition_beats_name", [1.0, 2.0], [0.0, 0.5], "smoke")
    row = json.loads(json.dumps(v.to_dict()))
    assert {"id", "claim", "source", "verdict", "n_seeds", "evidence"} <= set(row)
    with pytest.raises(FakeitError, match="unknown finding 'nope'; valid: low_guidance_diverse"):
        fd.finding("nope")


def test_paper_values_are_computed_from_its_tables():
    # Table 1 IN-100 val top-1: (63.5+63.4+64.8+63.1)/4 - (43.1+46.9+47.9+51.5)/4 = 16.35
    assert fd.paper_value("low_guidance_better") == "+16.3 points (IN-100 val top-1, Table 1, prompts c, c_hc, c_dc, c_hc_inside_b)"
    # on the prompts a run compares: (63.5+63.4+64.8)/3 - (43.1+46.9+47.9)/3 = 17.93
    assert fd.paper_value("low_guidance_better", variants=["c", "c_hc", "c_dc"]).startswith("+17.9 points")
    assert fd.paper_value("definition_beats_name").startswith("+4.8 points")  # at 7.5: 47.9 - 43.1
    assert fd.paper_value("low_guidance_better", "imagenet1k").startswith("+16.7 points")  # 42.9 - 26.2, rows 17 and 15
    assert fd.paper_value("synthetic_trails_real").startswith("+22.6 points")  # 87.4 - 64.8
    assert fd.paper_value("largest_clone_transfers").startswith("+4.8 points")  # 63.2 - 58.4, the 50x clone
    # equal sizes only for ImageNet-1K: 68.4 - 65.7 (Table 2 rows 8 and 4)
    assert fd.paper_value("synthetic_beats_real_transfer").startswith("+2.7 points (IN-1K, 1x clone")
    assert fd.paper_value("gap_narrows_in_transfer").startswith("+33.2 points")  # 33.2 - max(-2.7, 0)
