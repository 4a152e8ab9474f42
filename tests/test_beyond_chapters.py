"""The chapters past the paper and the ImageNet-1K chapter: verdicts on crafted seeds, nothing trained where a
chapter must not train, paper tables read from the data file, a finished paper-1k run found without computing."""

from pathlib import Path

import pytest

from fakeit_lib.chapters import matched_backgrounds as mb
from fakeit_lib.experiments.table1 import NO_SCENES
from fakeit_lib.experiments import stages as ex


def _runs(variant, guidance, top1):
    result = lambda t: {"datasets": {"imagenet-val": {"top1": t / 100, "top5": 0.9}}}
    return ex.ModelRuns(f"{variant} {guidance}", "synthetic", variant, guidance, 1.0, Path("/x"), 1300, [0, 1, 2],
                        [Path("/c")] * 3, [result(t) for t in top1])


def test_matched_backgrounds_untestable_on_fashion_mnist_and_trains_nothing(monkeypatch):
    def no_training(*a, **k):
        raise AssertionError("the chapter must not train at a class set without backgrounds")

    monkeypatch.setattr(mb, "model_runs_many", no_training)
    p = mb.MatchedParams(scale="mini", class_set="fashion-mnist", generator="mini", images_per_class=50, recipe="mini",
                         eval_suite="mini", train_seeds=[0, 1, 2])
    runs = mb.matched_runs(p)
    assert runs == {}
    (v,) = mb.matched_findings(p, runs)
    assert v.id == "matched_backgrounds_help" and v.verdict == "cannot be tested" and v.reason == NO_SCENES
    assert v.paper == mb.PAPER_VALUE
    assert "Nothing was generated or trained for the Fashion-MNIST classes" in mb.runs_note(p, runs)


@pytest.mark.parametrize("matched, expected", [
    ([[55.0, 56.0, 55.5], [66.0, 65.5, 66.5]], "holds"),  # +3 points at each scale, tight
    ([[50.0, 51.0, 50.5], [62.0, 61.5, 62.5]], "does not hold"),
])
def test_matched_backgrounds_verdict_averages_the_guidance_scales(monkeypatch, matched, expected):
    from fakeit_lib.experiments.table1 import test_set_name

    p = mb.MatchedParams(scale="paper", class_set="imagenet100", real_root="/in100", train_seeds=[0, 1, 2])
    runs = {("c_hc_inside_b", 7.5): _runs("c_hc_inside_b", 7.5, [52.0, 53.0, 52.5]),
            ("c_hc_inside_b_matched", 7.5): _runs("c_hc_inside_b_matched", 7.5, matched[0]),
            ("c_hc_inside_b", 2.0): _runs("c_hc_inside_b", 2.0, [63.0, 62.5, 63.5]),
            ("c_hc_inside_b_matched", 2.0): _runs("c_hc_inside_b_matched", 2.0, matched[1])}
    (v,) = mb.matched_findings(p, runs)
    assert v.verdict == expected and v.n_seeds == 3 and v.method in ("blocked", "pooled")
    assert v.evidence["guidances"] == [7.5, 2.0]
    table = mb.matched_frame_of_runs(p, runs)
    assert table["paper row"].tolist() == [5, "-", 9, "-"]  # Table 1 has the random-scene rows only
    assert table["paper (reported) IN-val top-1"].tolist()[::2] == [51.5, 63.1]
    # the prompt and the test set in words, not the variant code and the test split's file name
    assert table["prompt"].tolist()[:2] == ["class name + hypernym + background",
                                            "class name + hypernym + matched background"]
    assert "this run: " + test_set_name("imagenet-val") + " top-1" in table.columns


def test_imagenet1k_tables_come_from_the_data_file():
    from fakeit_lib.chapters import imagenet1k as in1k

    t1 = in1k.table1_frame()
    assert t1["row"].tolist() == [13, 14, 15, 16, 17]
    assert t1.set_index("row").loc[17, "IN-val top-5"] == 70.3 and t1.set_index("row").loc[14, "IN-A top-1"] == 11.1
    assert in1k.table2_frame()["row"].tolist() == [4, 5, 6, 7, 8]
    poster = in1k.poster_frame().set_index("test set or dataset")
    diff = "synthetic minus real (points)"
    assert poster.loc["IN-val top-1", diff] == pytest.approx(42.9 - 80.1)
    assert poster.loc["Aircraft", diff] == pytest.approx(55.3 - 46.8)
    assert len(poster) == 10 + 15 and poster.loc["CoG level 3", "source"].startswith("supplementary")
    assert in1k.linear_probe_text() == "70.4%"


PRESET_1K = """scale: paper
class_set: imagenet1k
generator: CompVis/stable-diffusion-v1-4
steps: 50
gen_batch_size: 8
images_per_class: 1300
variants: [c_dc]
guidances: [2.0]
recipe: paper
train_seeds: [0]
real_root: ""
eval_suite: imagenet
eval_roots: {val: /data/imagenet/val}
multipliers: [1.0]
best_variant: c_dc
best_guidance: 2.0
best_multiplier: 1.0
transfer_suite: paper
transfer_roots: {}
"""


def test_imagenet1k_chapter_finds_what_the_command_it_prints_wrote(tmp_path: Path, monkeypatch):
    """The chapter's stage command run through the CLI (not a folder placed by the chapter's own identity function):
    the chapter then finds the results that command wrote, with the numbers in them."""
    import json

    from conftest import run_main
    from test_evaluate import B, IN1K, T, _authors_checkpoint, _tree

    from fakeit_lib.chapters import imagenet1k as in1k

    monkeypatch.setenv("FAKEIT_OUTPUT", str(tmp_path / "outputs"))
    monkeypatch.chdir(tmp_path)
    val = _tree(tmp_path / "val", {T: 1, B: 1})  # two ImageNet-1K classes, one photograph each
    (tmp_path / "p1k.yaml").write_text(PRESET_1K.replace("/data/imagenet/val", str(val)))
    p = in1k.ImageNet1KParams(scale="mini", imagenet1k_preset=str(tmp_path / "p1k.yaml"))
    stages = in1k.preset_stages(p)
    assert in1k.finished(stages) == []
    assert in1k.run_status(p, stages, []).startswith("This build did not run ImageNet-1K: none of the")
    assert "`make book PRESET=" in in1k.run_status(p, stages, [])
    # the authors' ImageNet-1K-SD checkpoint downloaded (a ResNet-50 in their format that ranks T first, B second)
    _authors_checkpoint(tmp_path / "imagenet_1k_sd.pth", IN1K)
    (stage,) = [s for s in in1k.preset_stages(p) if s.step == "evaluate" and "imagenet_1k_sd.pth" in s.command]
    res = run_main(*stage.command, "--device", "cpu")  # the words the page prints (on a machine without a GPU)
    assert res.returncode == 0, res.stderr[-2000:]
    printed = json.loads(res.stdout)["val"]
    assert (printed["top1"], printed["top5"]) == (0.5, 1.0)
    # run on this CPU, the command computed in bf16 or float32, not in the fp16 the stage is planned in for GPU nodes
    # (precision is part of a result's identity): the chapter does not take that result for the planned one
    (written,) = (tmp_path / "outputs").iterdir()
    assert json.loads((written / "results.json").read_text())["precision"] in ("bfloat16 autocast", "float32")
    stages = in1k.preset_stages(p)
    (planned,) = [s for s in stages if s.step == "evaluate" and "imagenet_1k_sd.pth" in s.command]
    assert Path(planned.output) != written and Path(planned.output).parent == written.parent
    assert Path(planned.output).name.rsplit("-", 1)[0] == written.name.rsplit("-", 1)[0]  # same stage, other identity
    assert in1k.finished(stages) == []
    # the same results in the planned folder (as a GPU node writes them): the chapter shows them, with their numbers
    written.rename(planned.output)
    stages = in1k.preset_stages(p)
    done = in1k.finished(stages)
    assert len(done) == 1 and done[0][0].paper == "T1 r17"
    row = in1k.run_frame(done).iloc[0]
    assert row["IN-val top-1"] == 50.0 and row["IN-val top-5"] == 100.0
    assert in1k.run_status(p, stages, done).startswith("The ImageNet-1K run at the paper scale: 1 evaluate or transfer stage")
    assert f"`make book PRESET={tmp_path / 'p1k.yaml'}`" in in1k.run_status(p, stages, done)  # the preset: in the command

def test_a_smaller_build_says_in_words_what_it_shows_of_the_imagenet1k_run():
    from fakeit_lib.chapters import imagenet1k as in1k

    p = in1k.ImageNet1KParams(scale="mini")
    assert in1k.shown_not_decided(p, []) == ("this build holds no finished model of the ImageNet-1K run at the paper "
                                             "scale, and a mini build never decides the paper's findings on them")
    assert in1k.shown_not_decided(p, [("a",)]).startswith("the finished model of the ImageNet-1K run at the paper scale "
                                                          "is shown beside the paper's")
    assert in1k.shown_not_decided(p, [("a",), ("b",)]).startswith("the 2 finished models of the ImageNet-1K run")


def test_the_spider_plot_colours_every_synthetic_model_red_and_the_real_ones_blue_in_both_copies():
    from fakeit_lib.chapters.fig1_spider import model_colours

    assert model_colours(["ImageNet-1K (PyTorch ResNet-50)", "ImageNet-1K (RSB-A1 ResNet-50)",
                          "ImageNet-1K-SD (class name + definition, guidance 2.0)"]) == ["#1f77b4", "#17becf", "#d62728"]
    assert model_colours(["real", "synthetic (1x)"]) == ["#1f77b4", "#d62728"]


def test_the_sweep_table_shows_each_point_once_with_whole_steps_and_no_repeated_value():
    import pandas as pd

    from fakeit_lib.chapters.ablations import sweep_table

    rows = [{"sweep": "steps", "value": 5.0, "guidance": 2.0, "steps": 5.0, "sample": s, "images": 40.0,
             "fidelity": 0.9, "diversity": 15.3} for s in (-1, 0, 1)]
    table = sweep_table(pd.DataFrame(rows))
    assert list(table.columns) == ["sweep", "guidance", "steps", "images", "fidelity", "diversity"]
    assert table.steps.tolist() == [5] and str(table.steps.dtype) == "int64"


def test_the_representations_agreement_is_said_in_words():
    import pandas as pd

    from fakeit_lib.chapters.representations import agreement_text

    sides = ["worse side"] * 11 + ["unclear (interval spans 0)"] * 5
    assert agreement_text(pd.DataFrame({"synthetic is on the": sides})) == (
        "In none of the 16 pairs of a data set and a measure does the interval over seeds put the synthetic-trained "
        "encoder on the side that the measure associates with better transfer (11 on the worse side, 5 unclear, their "
        "interval spanning 0).")
    assert agreement_text(pd.DataFrame({"synthetic is on the": ["better side"] * 2})).startswith("In all of the 2 pairs")


def test_the_guidance_sweep_labels_each_point_by_its_scale_alone():
    import pandas as pd

    from fakeit_lib.chapters.ablations import sweep_figure

    rows = [{"sweep": "guidance", "value": g, "guidance": g, "steps": 20.0, "sample": -1, "images": 40.0,
             "fidelity": f, "diversity": d} for g, f, d in ((1.0, 0.6, 16.0), (2.0, 0.7, 15.5), (4.0, 0.72, 15.3), (7.5, 0.75, 15.0))]
    rows += [{**r, "sweep": "steps", "value": s, "steps": s} for r in rows[:1] for s in (10.0, 20.0)]
    fig = sweep_figure(pd.DataFrame(rows))
    points = next(t for t in fig.data if t.mode == "lines+markers+text")
    assert list(points.text) == ["1", "2", "4", "7.5"] and points.name == "guidance sweep (points labelled by scale)"
    # the least diverse point's label to its right, the most diverse one's to its left: both inside the panel
    assert list(points.textposition) == ["bottom left", "top center", "bottom center", "top right"]
