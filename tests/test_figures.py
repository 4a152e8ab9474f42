"""Figures and tables of the result chapters, on hand-made inputs and the paper's own numbers."""

import dataclasses
import json
import math

import numpy as np
import pytest
from PIL import Image

from fakeit_lib import figures
from fakeit_lib.classes import load_class_set
from fakeit_lib.errors import FakeitError
from fakeit_lib.experiments import PipelineParams, paper_rows


def _transfer(**top1):
    return {"datasets": {k: {"top1": v, "repmetrics_test": {}} for k, v in top1.items()}}


def test_paper_spider_takes_fig1_values_from_tables_1_and_2():
    s = figures.paper_spider()
    syn = s["IN-1K-SD synthetic (c_dc, gs 2)"]
    assert [syn[a] for a in ("IN-val", "IN-v2", "IN-Sketch", "IN-R", "IN-A")] == [70.3, 70.3, 35.1, 45.3, 15.1]
    assert syn[figures.TRANSFER_AXIS] == 68.4
    real = s["IN-1K real (PyTorch ResNet-50)"]
    assert [real[a] for a in ("IN-val", "IN-A")] == [92.9, 14.4] and real[figures.TRANSFER_AXIS] == 65.7
    assert s["IN-1K real (RSB-A1 ResNet-50)"][figures.TRANSFER_AXIS] == 66.5
    assert all(len(axes) == 6 for axes in s.values())  # the CoG axes are not given in the text: absent


def test_transfer_top1_in_percent_with_average():
    assert figures.transfer_top1(_transfer(digits=0.9, **{"fashion-mnist": 0.8})) == pytest.approx(
        {"digits": 90.0, "fashion-mnist": 80.0, "average": 85.0})
    with pytest.raises(FakeitError, match="no dataset"):
        figures.transfer_top1({"datasets": {}})


def test_table2_frame_puts_paper_rows_beside_this_run():
    paper = paper_rows("table2", train="imagenet100")
    ours = {"fashion-mnist real": {"digits": 91.0, "average": 91.0},
            "fashion-mnist synthetic": {"digits": 88.0, "average": 88.0}}
    df = figures.table2_frame(paper, ours, figures.run_label("smoke", "abc123"))
    assert list(df.index) == [
        ("paper (reported)", "IN-100 real (Baseline)"),
        ("paper (reported)", "IN-100-SD (c_dc, gs 2, 50x)"),
        ("this run (smoke, abc123)", "fashion-mnist real"),
        ("this run (smoke, abc123)", "fashion-mnist synthetic"),
    ]
    assert df.columns[-1] == "average" and df.columns[0] == "aircraft"
    assert df.loc[("paper (reported)", "IN-100-SD (c_dc, gs 2, 50x)"), "average"] == 63.2
    assert df.loc[("this run (smoke, abc123)", "fashion-mnist real"), "digits"] == 91.0
    assert math.isnan(df.loc[("paper (reported)", "IN-100 real (Baseline)"), "digits"])
    assert math.isnan(df.loc[("this run (smoke, abc123)", "fashion-mnist real"), "aircraft"])
    assert figures.synthetic_minus_real(58.4, 63.2) == 4.8


def test_run_spider_adds_transfer_axes_only_when_too_few():
    mini_eval = {"datasets": {"fashion-mnist-test": {"top1": 0.5, "top5": 0.9}}}
    axes = figures.run_spider(mini_eval, _transfer(digits=0.7, **{"fashion-mnist": 0.6}))
    assert axes == pytest.approx({"fashion-mnist-test (top-5)": 90.0, "digits (transfer top-1)": 70.0,
                                  "fashion-mnist (transfer top-1)": 60.0, figures.TRANSFER_AXIS: 65.0})
    paper_eval = {"datasets": {k: {"top1": 0.1, "top5": 0.2} for k in ("val", "v2", "sketch", "r", "a")}}
    axes = figures.run_spider(paper_eval, _transfer(aircraft=0.5, cars=0.3))
    assert list(axes) == ["IN-val", "IN-v2", "IN-Sketch", "IN-R", "IN-A", figures.TRANSFER_AXIS]
    assert axes["IN-R"] == pytest.approx(20.0) and axes[figures.TRANSFER_AXIS] == pytest.approx(40.0)


def test_spider_figure_draws_closed_polygons_per_panel():
    panels = {"paper (reported)": figures.paper_spider(),
              "this run": {"real": {"a": 10, "b": 20, "c": 30}, "synthetic": {"a": 5, "b": 25, "c": 35}}}
    fig = figures.spider_figure(panels)
    assert len(fig.data) == 5
    assert all(t.r[0] == t.r[-1] and t.theta[0] == t.theta[-1] for t in fig.data)
    assert fig.data[2].r[:6] == (70.3, 70.3, 35.1, 45.3, 15.1, 68.4)
    assert fig.data[3].subplot == "polar2" and fig.layout.height == 960
    long = figures.spider_frame(panels)
    assert len(long) == 3 * 6 + 2 * 3 and set(long.panel) == set(panels)
    table = figures.spider_table(panels)
    assert list(table.index[5:8]) == [("paper (reported)", figures.TRANSFER_AXIS), ("this run", "a"), ("this run", "b")]
    assert table.loc[("this run", "c"), "synthetic"] == 35 and math.isnan(table.loc[("this run", "c"), "IN-1K real (RSB-A1 ResNet-50)"])
    assert list(table.columns)[-1] == "synthetic"
    static = figures.spider_static(panels)
    assert len(static.axes) == 2 and static.axes[0].get_ylim() == (0, 100)


def test_shown_classes_paper_examples_or_evenly_spaced():
    in100 = load_class_set("imagenet100")
    picked = figures.shown_classes(in100, ["n03947888", "n02086910", "n01820546"])
    assert [c.wnid for c in picked] == ["n03947888", "n02086910", "n01820546"]
    fm = figures.shown_classes(load_class_set("fashion-mnist"), ["n02086910", "n01820546", "n03947888"])
    assert [c.index for c in fm] == [0, 4, 9]


def test_paper_table1_top1_of_a_clone():
    assert figures.paper_table1_top1("imagenet100", "c_dc", 2.0) == 64.8
    assert figures.paper_table1_top1("imagenet1k", "c_dc", 2.0) == 42.9
    assert figures.paper_table1_top1("imagenet100", "clip", 2.0) is None


def _fake_clone(folder, per_class=2, classes=(0, 1)):
    folder.mkdir(parents=True)
    rows = []
    for c in classes:
        (folder / f"k{c}").mkdir()
        for i in range(per_class):
            path = f"k{c}/{i:03d}.png"
            Image.fromarray(np.full((28, 28), 40 * c + i, dtype=np.uint8)).save(folder / path)
            rows.append({"path": path, "class_index": c})
    (folder / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def test_synthetic_images_follow_the_manifest(tmp_path):
    folder = _fake_clone(tmp_path / "clone", per_class=3)
    ims = figures.synthetic_images(folder, 1, 2)
    assert [int(np.asarray(im)[0, 0]) for im in ims] == [40, 41]
    assert len(figures.synthetic_images(folder, 0)) == 3


def test_real_images_from_a_real_root_and_missing_class(tmp_path):
    info = load_class_set("imagenet100").by_wnid("n02086910")
    (tmp_path / "n02086910").mkdir()
    for name, v in (("b.jpg", 20), ("a.png", 10), ("notes.txt", 0)):
        if name.endswith("txt"):
            (tmp_path / "n02086910" / name).write_text("x")
        else:
            Image.fromarray(np.full((8, 8, 3), v, dtype=np.uint8)).save(tmp_path / "n02086910" / name)
    p = PipelineParams(real_root=str(tmp_path))
    ims = figures.real_images(p, info, 5)
    assert [int(np.asarray(im)[0, 0, 0]) for im in ims] == [10, 20]
    other = load_class_set("imagenet100").by_wnid("n01820546")
    with pytest.raises(FakeitError, match="has no folder n01820546 for class lorikeet"):
        figures.real_images(p, other, 5)
    assert figures.real_images(PipelineParams(real_root=""), info, 5) == []


def test_image_grid_has_one_row_per_label():
    ims = [Image.fromarray(np.zeros((28, 28), dtype=np.uint8))] * 3
    fig = figures.image_grid([("real", ims), ("c, gs 2", ims[:2]), ("none", [])], "t")
    assert len(fig.axes) == 9 and fig.axes[0].get_ylabel() == "real" and fig.axes[6].get_ylabel() == "none\n(none)"


def test_judge_scores_rows_per_clone_plus_real(tmp_path):
    import torch

    from fakeit_lib.judge import JudgeNet

    torch.manual_seed(0)
    judge = JudgeNet(4, 8).eval()
    clones = {("c", 7.5): _fake_clone(tmp_path / "a"), ("c_dc", 2.0): _fake_clone(tmp_path / "b", per_class=3)}
    df = figures.judge_scores(judge, clones)
    assert list(df["images"]) == ["c, gs 7.5", "c_dc, gs 2", "real (Fashion-MNIST train)"]
    assert list(df["count"]) == [4, 6, 30]  # real: as many per class as the largest clone, all 10 classes
    assert df["fidelity"].between(0, 1).all() and (df["diversity"] >= 0).all()
    assert list(df["paper (reported): IN-100 val top-1"]) == [43.1, 64.8, 87.4]
    fig = figures.fidelity_diversity_figure(df)
    assert {t.name.split(",")[0] for t in fig.data} == {"7.5", "2", "real"}


def test_repmetrics_tables_and_direction():
    res = {
        "real": {"datasets": {"digits": {"repmetrics_test": {"sparsity": 0.5, "intra_class_distance": 0.3,
                                                             "feature_redundancy": 0.2, "coding_length": 100.0}}}},
        "synthetic": {"datasets": {"digits": {"repmetrics_test": {"sparsity": 0.4, "intra_class_distance": 0.2,
                                                                  "feature_redundancy": 0.1, "coding_length": 120.0}}}},
    }
    long = figures.repmetrics_frame(res)
    assert len(long) == 8
    wide = figures.repmetrics_wide(long)
    assert wide.loc[("coding_length", "higher"), ("digits", "synthetic")] == 120.0
    assert list(wide.index) == [("coding_length", "higher"), ("feature_redundancy", "lower"),
                                ("intra_class_distance", "higher"), ("sparsity", "lower")]
    agree = figures.agreement_with_direction(long, "synthetic", "real").set_index("metric")
    assert agree.loc["sparsity", "synthetic on the better side"]
    assert not agree.loc["intra_class_distance", "synthetic on the better side"]
    assert agree.loc["coding_length", "synthetic - real"] == pytest.approx(20.0)
    with pytest.raises(FakeitError, match="carry no repmetrics_test"):
        figures.repmetrics_frame({"x": {"datasets": {"d": {"top1": 0.1}}}})
    assert list(figures.metrics_explained()["better transfer"]) == ["lower", "higher", "lower", "higher"]


def test_chapter_params_share_the_pipeline_fields_and_check_values():
    names = [f.name for f in dataclasses.fields(figures.ComparisonParams)]
    assert names[: len(dataclasses.fields(PipelineParams))] == [f.name for f in dataclasses.fields(PipelineParams)]
    assert names[-5:] == ["best_variant", "best_guidance", "best_multiplier", "transfer_suite", "transfer_roots"]
    with pytest.raises(FakeitError, match="unknown prompt variant 'c_xx'"):
        figures.ComparisonParams(best_variant="c_xx").validate()
    with pytest.raises(FakeitError, match="transfer_suite='tiny' is not valid; valid: paper, mini"):
        figures.ComparisonParams(transfer_suite="tiny").validate()
    q = figures.QualitativeParams(class_set="fashion-mnist", generator="mini", images_per_class=4)
    p = q.pipeline()
    assert (p.class_set, p.generator, p.images_per_class, p.recipe) == ("fashion-mnist", "mini", 4, "paper")
    with pytest.raises(FakeitError, match="images_shown=0 must be >= 1"):
        figures.QualitativeParams(images_shown=0).validate()


def test_guidance_means_and_the_papers():
    import pandas as pd

    scores = pd.DataFrame({"guidance": [7.5, 2.0, 7.5, 2.0, float("nan")], "fidelity": [0.8, 0.6, 0.6, 0.4, 0.9],
                           "diversity": [3.0, 5.0, 4.0, 6.0, 7.0]})
    means = figures.guidance_means(scores)
    assert list(means) == [2.0, 7.5]
    assert means[2.0] == pytest.approx({"fidelity": 0.5, "diversity": 5.5})
    assert means[7.5] == pytest.approx({"fidelity": 0.7, "diversity": 3.5})
    # Table 1 rows 2-5 (7.5) and 6-9 (2.0), IN-val top-1
    assert figures.paper_guidance_means() == {7.5: round((43.1 + 46.9 + 47.9 + 51.5) / 4, 1), 2.0: round((63.5 + 63.4 + 64.8 + 63.1) / 4, 1)}


def test_model_labels_name_the_clone():
    p = figures.ComparisonParams(class_set="fashion-mnist", best_multiplier=4.0)
    assert figures.model_labels(p) == ("fashion-mnist real", "fashion-mnist synthetic (c_dc, gs 2, 4x)")


def test_guidance_summary_text_and_no_judge_outside_fashion_mnist():
    import pandas as pd

    scores = pd.DataFrame({"guidance": [7.5, 2.0], "fidelity": [0.81, 0.62], "diversity": [3.0, 5.25]})
    summary = figures.guidance_summary(scores, [7.5, 2.0])
    assert summary.pop("diversity_verdict") == "holds in this run: guidance 2 gives more diverse images than 7.5"
    assert summary == {"gs_hi": "7.5", "gs_lo": "2", "fid_hi": "0.810", "div_hi": "3.000",
                       "fid_lo": "0.620", "div_lo": "5.250"}
    flipped = scores.assign(diversity=[5.25, 3.0])
    assert figures.guidance_summary(flipped, [7.5, 2.0])["diversity_verdict"] == (
        "does not hold in this run: guidance 2 gives less diverse images than 7.5")
    assert figures.guidance_summary(None, [7.5, 2.0])["div_lo"] == "not measured"
    assert figures.guidance_summary(None, [7.5, 2.0])["diversity_verdict"].startswith("cannot be checked")
    acc, table = figures.clone_scores("imagenet100", {})
    assert math.isnan(acc) and table is None


def test_transfer_gaps_and_average_rows_quote_table2():
    ours = {"r": {"average": 60.0}, "s": {"average": 57.55}}
    gaps = figures.transfer_gaps(ours, "r", "s")
    assert gaps == {"paper_gap_in100": "+4.8", "paper_gap_in1k": "+2.7", "run_real_avg": "60.0",
                    "run_synthetic_avg": "57.5", "run_gap": "-2.5",
                    "run_verdict": "does not hold in this run: the synthetic-trained encoder trails the real-trained one "
                                   "by 2.5 points"}
    better = figures.transfer_gaps({"r": {"average": 60.0}, "s": {"average": 62.1}}, "r", "s")
    assert better["run_gap"] == "+2.1" and better["run_verdict"] == (
        "holds in this run: the synthetic-trained encoder transfers better than the real-trained one")
    rows = figures.average_rows(ours, "this run (mini, x)")
    assert [r["average"] for r in rows] == [58.4, 63.2, 65.7, 68.4, 60.0, 57.55]
    assert rows[3]["trained on"] == "IN-1K-SD (c_dc, gs 2, 1x)" and rows[4]["source"] == "this run (mini, x)"


def test_spider_gaps_read_both_panels():
    run = {"fashion-mnist real": {"fashion-mnist-test (top-5)": 91.25, figures.TRANSFER_AXIS: 70.0},
           "fashion-mnist synthetic (c_dc, gs 2, 1x)": {"fashion-mnist-test (top-5)": 80.0, figures.TRANSFER_AXIS: 71.0}}
    g = figures.spider_gaps(figures.paper_spider(), run)
    assert (g["paper_real_first"], g["paper_syn_first"], g["paper_real_transfer"], g["paper_syn_transfer"]) == ("92.9", "70.3", "65.7", "68.4")
    assert (g["run_first_axis"], g["run_real_first"], g["run_syn_first"], g["run_syn_transfer"]) == ("fashion-mnist-test (top-5)", "91.2", "80.0", "71.0")
