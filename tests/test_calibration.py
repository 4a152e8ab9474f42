"""How often a verdict is wrong, in a small version: the rows that earlier rules failed meet their goal, the
benchmark prints its ratio last, and bad input is refused by name."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fakeit_lib.chapters import verdict_errors as ch
from fakeit_lib.core.errors import FakeitError
from fakeit_lib.paper import calibration as cal

ROOT = Path(__file__).resolve().parents[1]


def row(rule, k, method, families=400):
    return cal.calibrate_row(rule, k, method, families, np.random.default_rng(0))


def test_both_fails_a_true_claim_at_most_at_its_rate():
    """Eight parts each exactly at the smallest effect of interest: an uncorrected `both` said "does not hold" 11.6%
    of the time; failing a part at alpha / 2k keeps it near 2.5%."""
    r = row("both", 8, "blocked")
    assert r.false_fails <= 0.025 + 3 * r.false_fails_se
    assert r.coverage >= 0.93


def test_draw_and_unequal_variances_keep_the_coverage():
    """Left out, the draw variance covered 0.908 (clone minus real); two compared models at twice the family's seed
    deviation covered 0.813 with the family's error."""
    for method in ("with draw variance, 2 draws", "with draw variance, 4 draws (mini)", "unequal variance 2:1"):
        r = row("greater", 1, method)
        assert r.coverage >= 0.93, (method, r.coverage)
        assert r.false_holds <= 0.025 + 3 * r.false_holds_se, (method, r.false_holds)


def test_a_row_counts_against_its_goal():
    r = cal.Row("greater", "blocked", 100, 0.95, 0.01, 0.02, 0.01, 0.06, 0.01)
    assert r.ratio() == pytest.approx(0.06 / 0.055)  # the false-fail rate over 2.5% + 3 x 1%
    assert r.cells()["meets the goal"] == "no" and r.cells()["false does not hold"] == "6.0% ± 1.0"
    ok = cal.Row("greater", "blocked", 100, 0.95, 0.01, 0.02, 0.01, 0.02, 0.01)
    assert ok.ratio() == pytest.approx(max(0.05 / 0.06, 0.02 / 0.055)) and ok.cells()["meets the goal"] == "yes"


def test_the_page_states_its_table():
    p = ch.VerdictErrorsParams(scale="smoke", calibration_families=10)
    rows = cal.calibrate(10, rules=[("greater", 1), ("any", 2)], methods=["blocked", "paired"], progress=False)
    assert [(r.rule, r.method) for r in rows] == [("greater", "blocked"), ("any over 2 parts", "blocked"),
                                                  ("greater", "paired"), ("any over 2 parts", "paired")]
    frame = ch.calibration_frame(rows)
    assert list(frame.columns) == ["rule", "error method", "families", "95% coverage", "false holds",
                                   "false does not hold", "meets the goal"]
    assert ch.calibration_text(p, rows).startswith("With 10 simulated families per row and boundary (smoke scale), ")


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
    assert out[-2].startswith(f"{len(cal.METHODS) * len(cal.RULE_ROWS)} rows, 10 families per row and boundary")
    assert sum(line.startswith("both over 8 parts") for line in out) == len(cal.METHODS)
