"""The mini recipe's yardstick: the baseline learners as cached stages, and the benchmark that sets the recipe beside
them (benchmarks/mini_learner.py) in its fast version."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from fakeit_lib.core.errors import FakeitError
from fakeit_lib.datasets.images import export_fashion_mnist
from fakeit_lib.evaluation import baselines as bl
from fakeit_lib.experiments import table1

ROOT = Path(__file__).resolve().parents[1]


pytestmark = pytest.mark.usefixtures("one_thread")  # a small CNN on 50 images: a second thread only waits


@pytest.fixture(scope="module")
def tiny_real(tmp_path_factory) -> Path:
    return export_fashion_mnist(tmp_path_factory.mktemp("real") / "real5", "train", 5)


def test_baseline_is_a_cached_stage(tiny_real):
    first = bl.baseline_result("logistic", tiny_real, max_images=300)
    folder = bl.baseline_folder("logistic", tiny_real, max_images=300)
    assert folder.name.startswith("baseline-logistic-real5-")
    assert (folder / "DONE").is_file() and (folder / "config.yaml").is_file()
    assert first["train_images"] == 50 and first["images"] == 300
    assert 30.0 < first["top1"] < 95.0  # ten classes from 50 real images: far above chance (10%), below perfect
    stamp = (folder / bl.RESULTS).stat().st_mtime_ns
    assert bl.baseline_result("logistic", tiny_real, max_images=300) == first  # loaded, not refitted
    assert (folder / bl.RESULTS).stat().st_mtime_ns == stamp
    # other test images, or a seed for a learner that has one, are other stages; a seed changes nothing for
    # logistic regression, which has none
    assert bl.baseline_folder("logistic", tiny_real, max_images=200) != folder
    assert bl.baseline_folder("logistic", tiny_real, seed=3, max_images=300) == folder
    assert bl.baseline_folder("cnn", tiny_real, seed=3) != bl.baseline_folder("cnn", tiny_real, seed=4)


def test_unknown_learner_is_named():
    with pytest.raises(FakeitError, match=r"unknown baseline learner 'knn'; valid: logistic, svm, cnn"):
        bl.baseline_folder("knn", "somewhere")


def test_small_cnn_learns_and_is_seeded(tiny_real):
    x, y = bl.training_arrays(tiny_real)
    assert x.shape == (50, 1, 28, 28) and x.dtype == torch.uint8
    recipe = bl.CNNRecipe(epochs=20, batch_size=10)  # 100 steps
    test_x, test_y = bl.test_arrays(300)
    a = bl.fitted_learner("cnn", x, y, seed=0, recipe=recipe)(test_x)
    assert (a == bl.fitted_learner("cnn", x, y, seed=0, recipe=recipe)(test_x)).all()  # same seed, same model
    assert (a == test_y.numpy()).mean() > 0.3  # chance is 0.1


def test_shift_flip_moves_pixels_within_bounds():
    x = torch.arange(16.0).view(1, 1, 4, 4).repeat(64, 1, 1, 1)
    out = bl._shift_flip(x, 1, torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    assert not torch.equal(out, x)  # something moved
    # a shift by at most one pixel keeps the centre 2x2 values inside the image, flipped or not
    for img in out[:, 0]:
        assert {5.0, 6.0, 9.0, 10.0} <= set(img.flatten().tolist())


def test_benchmark_fast_prints_both_sides_and_ratio_last():
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FAKEIT_JOBS": "1"}
    done = subprocess.run([sys.executable, "benchmarks/mini_learner.py", "--fast"], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    for name in ("mini recipe", "logistic regression", "support-vector machine", "small CNN"):
        row = next((line for line in lines if name in line), None)
        assert row is not None, f"no row for {name} in:\n{done.stdout}"
        assert re.search(r"\d+\.\d core-s a model", row)
    assert re.fullmatch(r"ratio \d+\.\d{3}", lines[-1])
    assert float(lines[-1].split()[1]) > 0


def test_benchmark_help_names_its_options(monkeypatch, capsys):
    import runpy

    monkeypatch.setattr(sys, "argv", ["mini_learner.py", "--help"])  # in this process: no interpreter started again
    with pytest.raises(SystemExit) as done:
        runpy.run_path(str(ROOT / "benchmarks" / "mini_learner.py"), run_name="__main__")
    assert done.value.code == 0
    out = capsys.readouterr().out
    for option in ("--fast", "--seeds", "--per-class", "--max-images"):
        assert option in out
    assert "the mini preset's, [0, 1, 2, 3, 4]" in " ".join(out.split())  # its seeds, read from the preset


@pytest.mark.parametrize("change, message", [
    ("weight_decay=1e-3", "parameter weight_decay='1e-3' must be a number"),
    ("epochz=60", "unknown parameter(s) epochz for TrainConfig"),
])
def test_a_bad_recipe_change_is_refused_before_any_model_trains(monkeypatch, capsys, change, message):
    import runpy

    monkeypatch.setattr(sys, "argv", ["mini_learner.py", "--learners", "--set", change])
    with pytest.raises(SystemExit) as done:
        runpy.run_path(str(ROOT / "benchmarks" / "mini_learner.py"), run_name="__main__")
    assert done.value.code == 2
    err = capsys.readouterr()
    assert message in err.err and "thread pools" not in err.out  # refused before the workers started


# ---- the mini recipe's own choices (training/train.py PRESETS["mini"], data/mini_recipe.yaml)


def test_mini_recipe_is_the_measured_one():
    from fakeit_lib.training.train import make_config

    c = make_config("mini", data="d")
    assert (c.epochs, c.batch_size, c.lr, c.label_smoothing) == (80, 16, 0.2, 0.1)
    assert c.global_scale == [0.6, 1.0] and c.local_crops == 0 and (c.blur, c.solarize) == ([0.0, 0.0], 0.0)
    assert c.bn_stats == "global" and c.local_scale == [0.25, 0.6]  # for the ablations' local crops
    paper = make_config("paper", data="d")
    assert (paper.blur, paper.solarize, paper.jitter, paper.bn_stats) == ([0.2, 0.5], 0.2, 0.8, "all")  # DINO, trex


def test_every_measured_step_is_a_valid_recipe_and_its_cell_is_computed():
    from fakeit_lib.chapters.tab1_prompts import recipe_changes, recipe_changes_frame
    from fakeit_lib.paper.stats import mean_interval
    from fakeit_lib.training.train import make_config

    measured = recipe_changes()
    for step in measured["steps"]:
        make_config("mini", data="d", **step["set"])  # each step can be run again with --set
        assert len(step["top1"]) >= 4
    frame = recipe_changes_frame(measured)
    before = mean_interval(measured["steps"][0]["top1"])
    cell = frame.iloc[0, 2]
    assert cell == f"{before.mean:.1f}\u00a0±\u00a0{(before.high - before.low) / 2:.1f}"


def test_global_bn_stats_leave_the_running_statistics_to_the_global_crops():
    from fakeit_lib.training.models import MultiCropClassifier, build_model

    g, local = torch.randn(4, 3, 28, 28), torch.randn(4, 3, 14, 14)
    means = {}
    for mode, crops in (("global", [g]), ("global", [g, local]), ("all", [g, local])):
        torch.manual_seed(0)
        model = build_model("resnet10_narrow", 10, cifar_stem=True)
        MultiCropClassifier(model, mode).train()(crops)
        bn = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)][-1]
        means[(mode, len(crops))] = bn.running_mean.clone()
        assert bn.momentum == 0.1  # put back after the local pass
    assert torch.equal(means[("global", 1)], means[("global", 2)])
    assert not torch.equal(means[("global", 1)], means[("all", 2)])
    with pytest.raises(FakeitError, match=r"bn_stats='crops' is not valid; valid: all, global"):
        MultiCropClassifier(build_model("resnet10_narrow", 10), "crops")


def test_solarisation_probability_reaches_the_batch_augmentation():
    from fakeit_lib.training.batch_augment import BatchMultiCrop

    images = torch.full((8, 1, 28, 28), 230, dtype=torch.uint8)  # bright: solarised, every pixel becomes dark
    mean, std = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)
    for p, bright in ((1.0, False), (0.0, True)):
        aug = BatchMultiCrop(1, 28, (0.6, 1.0), 0, 14, (0.25, 0.6), mean, std, blur=(0.0, 0.0), solarize=p, jitter=0.0)
        (crop,) = aug(images, torch.Generator().manual_seed(0))
        assert bool((crop * 0.5 + 0.5 > 0.5).all()) is bright


def test_ablations_add_local_crops_to_a_recipe_without_them():
    from fakeit_lib.chapters.ablations import AblationParams, multicrop_specs

    with_spec, without_spec, with_name, _ = multicrop_specs(AblationParams(recipe="mini"))
    assert (with_spec, without_spec, with_name) == ({"local_crops": 2}, {}, "with 2 local crops added")
    with_spec, without_spec, with_name, _ = multicrop_specs(AblationParams(recipe="paper"))
    assert (with_spec, without_spec, with_name) == ({}, {"local_crops": 0}, "with the paper recipe's 8 local crops")


def _real_runs(top1: list[float]):
    from fakeit_lib.experiments.stages import ModelRuns

    n = len(top1)
    return ModelRuns("real", "real", None, None, 1.0, Path("/x/real"), 500, list(range(n)),
                     [Path(f"/c/{s}") for s in range(n)],
                     [{"datasets": {"fashion-mnist-test": {"top1": t / 100, "top5": 0.99}}} for t in top1])


def test_table1_page_sets_the_real_model_beside_the_baselines():
    from fakeit_lib.chapters import tab1_prompts as ch

    p = table1.Table1Params(scale="mini", class_set="fashion-mnist", recipe="mini", train_seeds=[0, 1, 2])
    baselines = {"logistic": [{"name": bl.LEARNERS["logistic"][0], "top1": 77.0}],
                 "cnn": [{"name": bl.LEARNERS["cnn"][0], "top1": t} for t in (82.0, 83.0, 84.0)]}
    frame = ch.learner_frame(p, {"real": _real_runs([85.0, 85.5, 84.5])}, baselines)
    assert list(frame["learner"]) == ["the recipe's model trained on the real images (mini recipe)",
                                      "logistic regression on pixels (C = 0.1)", "textbook small CNN (four 3x3 convolutions)"]
    column = "top-1 on real test images (%), mini scale"
    assert list(frame[column])[1] == "77.0" and list(frame["models"]) == [3, 1, 3]
    text = ch.learner_text(p, {"real": _real_runs([85.0, 85.5, 84.5])}, baselines)
    assert "reaches 85.0 top-1 (mini scale)" in text and "the textbook small CNN (four 3x3 convolutions), reaches 83.0" in text
    assert "level with it within the seeds' noise (+2.0 points" in text  # intervals of +-1.2 and +-2.5 overlap
    ahead = ch.learner_text(p, {"real": _real_runs([88.0, 88.5, 87.5])}, baselines)
    assert "ahead of it by 5.0 points, more than the seeds' noise" in ahead
    behind = ch.learner_text(p, {"real": _real_runs([75.0, 75.5, 74.5])}, baselines)
    assert "behind it by 8.0 points" in behind
    one = ch.learner_text(p, {"real": _real_runs([80.0])}, {"logistic": baselines["logistic"]})
    assert one.endswith("the recipe is ahead of it by 3.0 points (one seed: no interval).")
    paper = table1.Table1Params(scale="paper", class_set="imagenet100")
    assert ch.learner_baselines(paper, {}) is None
    assert "paper's own real baseline" in ch.learner_text(paper, {"real": _real_runs([87.0])}, None)
