"""The page on the rules' error rates names its rules in words, as its prose does ("at most", not at_most)."""

from fakeit_lib.chapters import verdict_errors as ch
from fakeit_lib.paper import calibration as cal


def test_the_table_and_its_text_name_rules_in_words():
    p = ch.VerdictErrorsParams(scale="smoke", calibration_families=10)
    rows = cal.calibrate(10, rules=[("at_most", 1), ("not_worse", 1)], methods=["blocked"], progress=False)
    assert [r.rule for r in rows] == ["at_most", "not_worse"]  # the registry's keys, as the library keeps them
    assert list(ch.calibration_frame(rows)["rule"]) == ["at most", "not worse"]
    text = ch.calibration_text(p, rows)
    assert "_" not in text and ("(at most, blocked)" in text or "(not worse, blocked)" in text), text
