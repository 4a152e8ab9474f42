"""How often a verdict is wrong, in a small version: the rows that earlier rules failed meet their goal, the draw left
out of the error is shown to fail it, the power column tells a rule that decides from one that never does, the
benchmark prints its ratio last, and bad input is refused by name.

The goal of every row is coverage >= 0.94 and each false rate <= 2.5% + 3 Monte-Carlo errors. A small run measures
coverage with a Monte-Carlo error of its own (about 0.004 at 1,000 families per boundary), so these tests accept a
coverage of 0.94 minus 3 of the row's own Monte-Carlo errors; the false rates' goal already carries its allowance. The
full run (`python benchmarks/verdicts.py`, 2,000 families per row and boundary) prints `ratio` <= 1: every counted
row meets the goal without allowance on its coverage."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from fakeit_lib.chapters import verdict_errors as ch
from fakeit_lib.core.errors import FakeitError
from fakeit_lib.paper import calibration as cal

ROOT = Path(__file__).resolve().parents[1]


def row(rule, k, method, families=1000):
    return cal.calibrate_row(rule, k, method, families, np.random.default_rng(0))


def meets_goal(r):
    assert r.coverage >= cal.GOAL_COVERAGE - 3 * r.coverage_se, (r.rule, r.method, r.coverage)
    assert r.false_holds <= cal.GOAL_RATE + 3 * r.false_holds_se, (r.rule, r.method, r.false_holds)
    assert r.false_fails <= cal.GOAL_RATE + 3 * r.false_fails_se, (r.rule, r.method, r.false_fails)


def test_both_fails_a_true_claim_at_most_at_its_rate():
    """Eight parts each exactly at the smallest effect of interest: an uncorrected `both` said "does not hold" 11.6%
    of the time; failing a part at alpha / 2k keeps it near 2.5%."""
    meets_goal(row("both", 8, "blocked", 600))


@pytest.mark.parametrize("rule, method", [
    ("greater", "unequal variance 2:1"), ("greater", "unequal variance 3:1"), ("trend", "unequal variance 3:1"),
    ("greater", "4 draws, real arm 2:1"), ("greater", "4 draws, real arm 3:1"), ("trend", "4 draws, compared arms 2:1"),
    ("clone minus clone", "4 draws, twice the draw variance"), ("greater", "with draw variance, 2 draws"),
])
def test_draw_and_unequal_variances_keep_the_goal(rule, method):
    """The family's pooled error covered 0.813 where two compared models had twice its seed deviation, 0.805 where the
    real arm of a drawn comparison had three times it (the draws turned the old fallback off); each compared model's
    own variance keeps every one of these rows at its goal."""
    meets_goal(row(rule, 1, method))


def test_a_draw_left_out_of_the_error_fails_the_goal_and_is_not_counted():
    """Fig. 4's trend over drawn clones whose draw is not in the error: its coverage falls far below 0.94 (why the
    measured draws join every comparison of clones); the row is shown on the page but not counted against the goal."""
    r = row("trend", 1, cal.SHOWN, 600)
    assert r.coverage < 0.90 and r.ratio() > 1.5 and not r.counted
    assert r.cells()["meets the goal"] == "no (shown, not counted)"


def test_power_tells_a_rule_that_decides_from_one_that_never_does():
    """Two draws leave one degree of freedom (t = 12.7): the rows meet the goal by never deciding, and the power column
    says so; the blocked error decides most claims true by two smallest effects of interest."""
    two, blocked = row("greater", 1, "with draw variance, 2 draws", 300), row("greater", 1, "blocked", 300)
    assert two.power < 0.05 and two.fallback == 1.0
    assert blocked.power > 0.6 and blocked.fallback == 0.0
    assert row("greater", 1, "with draw variance, 4 draws (mini)", 300).fallback == 0.0


def test_the_trend_is_simulated_at_the_mini_presets_sizes():
    sizes = yaml.safe_load((ROOT / "presets" / "mini.yaml").read_text())["multipliers"]
    assert cal.fig4_sizes() == tuple(sorted(float(m) for m in sizes))
    seen = []
    trend = cal.Family.trend
    try:
        cal.Family.trend = lambda fam, s: seen.append((list(fam.values), dict(s))) or trend(fam, s)
        cal._trend(np.random.default_rng(0), 0.0, "blocked")
    finally:
        cal.Family.trend = trend
    labels = [f"{m:g}x" for m in sorted(sizes)]
    assert seen == [(["real"] + labels, {k: m for k, m in zip(labels, sorted(sizes)) if m >= 1.0})]


def test_a_row_counts_against_its_goal():
    r = cal.Row("greater", "blocked", 100, 0.95, 0.01, 0.02, 0.01, 0.06, 0.01)
    assert r.ratio() == pytest.approx(0.06 / 0.055)  # the false-fail rate over 2.5% + 3 x 1%
    assert r.cells()["meets the goal"] == "no" and r.cells()["false does not hold"] == "6.0%\u00a0±\u00a01.0"
    ok = cal.Row("greater", "blocked", 100, 0.95, 0.01, 0.02, 0.01, 0.02, 0.01, 0.7, 0.05, 0.25)
    assert ok.ratio() == pytest.approx(max(0.05 / 0.06, 0.02 / 0.055)) and ok.cells()["meets the goal"] == "yes"
    assert ok.cells()["power"] == "70.0%\u00a0±\u00a05.0" and ok.cells()["fallback fired"] == "25%"
    idle = cal.Row("greater", "with draw variance, 2 draws", 100, 0.95, 0.01, 0.02, 0.01, 0.02, 0.01, 0.004, 0.004, 1.0)
    assert idle.cells()["meets the goal"] == "yes, but rarely decides"  # its error rates are kept by not deciding


def test_the_page_states_its_table():
    p = ch.VerdictErrorsParams(scale="smoke", calibration_families=10)
    rows = cal.calibrate(10, rules=[("greater", 1), ("any", 2)], methods=["blocked", "paired"], progress=False)
    assert [(r.rule, r.method) for r in rows] == [("greater", "blocked"), ("any over 2 parts", "blocked"),
                                                  ("greater", "paired"), ("any over 2 parts", "paired")]
    frame = ch.calibration_frame(rows)
    assert list(frame.columns) == ["rule", "error method", "families", "95% coverage", "false holds",
                                   "false does not hold", "power", "fallback fired", "meets the goal"]
    assert ch.calibration_text(p, rows).startswith("With 10 simulated families per row and boundary (smoke scale), ")
    shown = cal.calibrate(10, rules=[("trend", 1)], methods=[cal.SHOWN], progress=False)
    text = ch.calibration_text(p, rows + shown)
    assert "of the 4 counted rows" in text and "left out of the error, coverage falls to" in text


def test_bad_input_is_refused_by_name():
    with pytest.raises(FakeitError, match="unknown error method bootstrap; valid: blocked"):
        cal.calibrate(10, methods=["bootstrap"])
    with pytest.raises(FakeitError, match="at least 10 families per row, got 3"):
        cal.calibrate(3)
    with pytest.raises(FakeitError, match="parameter calibration_families=2 must be at least 10"):
        ch.VerdictErrorsParams(calibration_families=2)


def test_the_benchmark_prints_every_row_and_its_ratio_last():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "verdicts.py"), "--families", "10"],
                         capture_output=True, text=True, check=True, cwd=ROOT).stdout.strip().splitlines()
    assert out[-1].startswith("ratio ") and float(out[-1].split()[1]) > 0
    rows = (cal.FIRST * len(cal.RULE_ROWS) + (len(cal.METHODS) - cal.FIRST) * len(cal.CORE_ROWS)
            + len(cal.SPREAD_METHODS))
    assert out[-2].startswith(f"{rows} rows, 10 families per row and boundary")
    assert sum(line.startswith("both over 8 parts") for line in out) == cal.FIRST
    assert sum(line.startswith("spread difference") for line in out) == len(cal.SPREAD_METHODS) == 3
    assert sum(line.endswith("(shown, not counted)") for line in out) == len(cal.CORE_ROWS)


def test_the_benchmark_meets_the_goal_on_the_added_cases():
    """A seeded run of the cases the review found failing (unequal variances with and without draws): its ratio, the
    worst counted row over its goal, is at most 1."""
    args = [sys.executable, str(ROOT / "benchmarks" / "verdicts.py"), "--families", "400"]
    for m in ("unequal variance 3:1", "4 draws, real arm 3:1"):
        args += ["--method", m]
    out = subprocess.run(args, capture_output=True, text=True, check=True, cwd=ROOT).stdout.strip().splitlines()
    assert out[-2].startswith(f"{2 * len(cal.CORE_ROWS)} rows, 400 families")
    assert float(out[-1].split()[1]) <= 1.0
