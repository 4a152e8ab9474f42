"""The findings that test the paper's words at the scale it says them: Sec. 5.1 (e)'s equivalence at guidance 2.0,
the abstract's "a large part of the gap", ImageNet-1K's backgrounds, and the generator's measured reaction shown
beside a prompt verdict instead of a "cannot be tested"."""

from types import SimpleNamespace

import numpy as np

from fakeit_lib.chapters import tab1_prompts as t
from fakeit_lib.paper import claims
from fakeit_lib.paper import findings as fd
from fakeit_lib.paper.stats import Family
from fakeit_lib.experiments import table1

SEEDS = [0.3, -0.2, 0.1, -0.4, 0.2]


def family(means: dict) -> Family:
    return Family("t", {table1.key_label(k): [m + s + 0.05 * i for i, s in enumerate(SEEDS)] for k, m in means.items()})


def test_prompts_alike_is_an_equivalence_over_every_pair():
    p = SimpleNamespace(scale="mini")
    close = family({"real": 70.0, ("c", 2.0): 60.0, ("c_hc", 2.0): 60.2, ("c_dc", 2.0): 59.9})
    v = t.prompts_alike(p, close, ["c", "c_hc", "c_dc"], 2.0, {}, "imagenet100")
    assert v.verdict == fd.HOLDS and v.rule == "both"
    # the parts are read in the page's prose: the variants in words, not the paper's templates
    assert set(v.evidence) >= {"class name and class name + hypernym within 1 point", "class name and class name + definition within 1 point",
                               "class name + hypernym and class name + definition within 1 point"}
    apart = family({"real": 70.0, ("c", 2.0): 60.0, ("c_hc", 2.0): 63.0, ("c_dc", 2.0): 59.9})
    assert t.prompts_alike(p, apart, ["c", "c_hc", "c_dc"], 2.0, {}, "imagenet100").verdict == fd.FAILS
    one = t.prompts_alike(p, close, ["c"], 2.0, {}, "imagenet100")
    assert one.verdict == fd.UNTESTABLE and "fewer than two prompt variants" in one.reason


def test_a_large_part_of_the_gap_is_a_third_of_it_closed():
    p = SimpleNamespace(scale="mini")
    runs = {("c", 7.5): SimpleNamespace(label="c at 7.5"), ("c_dc", 2.0): SimpleNamespace(label="c, d_c at 2.0")}
    # gap 30 -> 15: half closed, 15 - 30/3 = +5 points
    half = family({"real": 70.0, ("c", 7.5): 40.0, ("c_dc", 2.0): 55.0})
    v = t.closes_gap(p, half, runs, {}, "imagenet100")
    assert v.verdict == fd.HOLDS and abs(v.estimate["mean"] - 5.0) < 1e-9
    # gap 30 -> 27: a tenth closed, 3 - 10 = -7 points
    little = family({"real": 70.0, ("c", 7.5): 40.0, ("c_dc", 2.0): 43.0})
    w = t.closes_gap(p, little, runs, {}, "imagenet100")
    assert w.verdict == fd.FAILS and abs(w.estimate["mean"] + 7.0) < 1e-9
    assert t.closes_gap(p, half, {}, {}, "imagenet100").verdict == fd.UNTESTABLE
    assert claims.paper_value("prompt_engineering_closes_gap").startswith("+6.9 points: the gap 44.3 to 22.6, 49%")


def test_backgrounds_at_imagenet1k_say_why_another_set_cannot_test_them():
    p = SimpleNamespace(scale="mini", class_set="fashion-mnist")
    v = t.backgrounds_in1k(p, family({"real": 1.0, ("c", 7.5): 0.0}), {}, {}, "imagenet100")
    assert v.verdict == fd.UNTESTABLE and v.reason == ("the claim is ImageNet-1K's; the run has no clone of class name + "
                                                      "hypernym + background or of class name + definition at guidance 7.5")
    both = {("c_hc_inside_b", 7.5): None, ("c_dc", 7.5): None}
    assert t.backgrounds_in1k(p, family({"real": 1.0}), both, {}, "imagenet100").reason == (
        "the claim is ImageNet-1K's; the run's classes are Fashion-MNIST's")
    assert v.made_for == "ImageNet-1K" and "+3.9 points (IN-1K val top-1, Table 1 rows 16 and 15)" in v.paper


def test_a_prompt_the_generator_ignores_is_decided_with_its_sensitivity_beside_it():
    note = fd.sensitivity_note(0.023, "adding the hypernym")
    assert note.startswith("measured: adding the hypernym moves the same-seed images by 2% of a seed change, below 10%")
    assert "a null here speaks of the generator" in note
    assert fd.sensitivity_note(0.25, "adding the definition") == (
        "measured: adding the definition moves the same-seed images by 25% of a seed change")
    est = family({("c_hc", 7.5): 50.1, ("c", 7.5): 50.0}).difference(table1.key_label(("c_hc", 7.5)), table1.key_label(("c", 7.5)))
    v = fd.check("hypernym_beats_name", est, "mini", {}, "", note)
    assert v.verdict != fd.UNTESTABLE and "2% of a seed change" in v.sentence()
