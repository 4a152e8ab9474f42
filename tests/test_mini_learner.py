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

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # a small CNN on 50 images: a second thread only waits
    yield
    torch.set_num_threads(before)


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


def test_benchmark_help_names_its_options():
    done = subprocess.run([sys.executable, "benchmarks/mini_learner.py", "--help"], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert done.returncode == 0
    for option in ("--fast", "--seeds", "--per-class", "--max-images"):
        assert option in done.stdout
    assert "the mini preset's, [0, 1, 2, 3, 4]" in " ".join(done.stdout.split())  # its seeds, read from the preset
