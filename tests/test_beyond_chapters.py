"""The chapters past the paper and the ImageNet-1K chapter: verdicts on crafted seeds, nothing trained where a
chapter must not train, paper tables read from the data file, a finished paper-1k run found without computing."""

from pathlib import Path

import pytest

from fakeit_lib import experiments as ex
from fakeit_lib.chapters import matched_backgrounds as mb
from fakeit_lib.chapters.tab1_prompts import NO_SCENES


def _runs(variant, guidance, top1):
    result = lambda t: {"datasets": {"imagenet-val": {"top1": t / 100, "top5": 0.9}}}
    return ex.ModelRuns(f"{variant} {guidance}", "synthetic", variant, guidance, 1.0, Path("/x"), 1300, [0, 1, 2],
                        [Path("/c")] * 3, [result(t) for t in top1])


def test_matched_backgrounds_untestable_on_fashion_mnist_and_trains_nothing(monkeypatch):
    def no_training(*a, **k):
        raise AssertionError("the chapter must not train at a class set without backgrounds")

    monkeypatch.setattr(mb, "model_runs", no_training)
    p = mb.MatchedParams(scale="mini", class_set="fashion-mnist", generator="mini", images_per_class=50, recipe="mini",
                         eval_suite="mini", train_seeds=[0, 1, 2])
    runs = mb.matched_runs(p)
    assert runs == {}
    (v,) = mb.matched_findings(p, runs)
    assert v.id == "matched_backgrounds_help" and v.verdict == "cannot be tested" and v.reason == NO_SCENES
    assert v.paper == mb.PAPER_VALUE
    assert "Nothing was generated or trained for the fashion-mnist classes" in mb.runs_note(p, runs)


@pytest.mark.parametrize("matched, expected", [
    ([[55.0, 56.0, 55.5], [66.0, 65.5, 66.5]], "holds"),  # +3 points at each scale, tight
    ([[50.0, 51.0, 50.5], [62.0, 61.5, 62.5]], "does not hold"),
])
def test_matched_backgrounds_verdict_averages_the_guidance_scales(monkeypatch, matched, expected):
    p = mb.MatchedParams(scale="paper", class_set="imagenet100", real_root="/in100", train_seeds=[0, 1, 2])
    runs = {("c_hc_inside_b", 7.5): _runs("c_hc_inside_b", 7.5, [52.0, 53.0, 52.5]),
            ("c_hc_inside_b_matched", 7.5): _runs("c_hc_inside_b_matched", 7.5, matched[0]),
            ("c_hc_inside_b", 2.0): _runs("c_hc_inside_b", 2.0, [63.0, 62.5, 63.5]),
            ("c_hc_inside_b_matched", 2.0): _runs("c_hc_inside_b_matched", 2.0, matched[1])}
    (v,) = mb.matched_findings(p, runs)
    assert v.verdict == expected and v.n_seeds == 3
    assert v.evidence["guidances"] == [7.5, 2.0]
    table = mb.matched_frame_of_runs(p, runs)
    assert table["paper row"].tolist() == [5, "-", 9, "-"]  # Table 1 has the random-scene rows only
    assert table["paper (reported) IN-val top-1"].tolist()[::2] == [51.5, 63.1]
