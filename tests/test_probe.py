"""The probe's two solvers: which one the size picks (the authors' choice per dataset), the minibatch solver on
separable data, and the authors' per-class validation split."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fakeit_lib.core.errors import FakeitError
from fakeit_lib.evaluation.probe import (
    FULL_BATCH_MAX_LOGITS, SGDSettings, choose_solver, linear_probe, per_class_validation,
)
from fakeit_lib.datasets.transfer_data import PUBLISHED

CLASSES = {"aircraft": 100, "cars": 196, "dtd": 47, "eurosat": 10, "flowers": 102, "pets": 37, "food101": 101,
           "sun397": 397, "inat2018": 8142, "inat2019": 1010, "in1k": 1000, **{f"cog_l{i}": 1000 for i in range(1, 6)}}


def test_auto_solver_reproduces_the_authors_choice_per_dataset():
    """naver/trex transfer/README.md: L-BFGS (scikit-learn) on the eight small-scale sets, SGD on iNaturalist,
    ImageNet-1K and the CoG levels."""
    chosen = {name: choose_solver("auto", int(PUBLISHED[name][0] * 0.8), CLASSES[name]) for name in CLASSES}
    assert {n for n, s in chosen.items() if s == "lbfgs"} == {"aircraft", "cars", "dtd", "eurosat", "flowers", "pets", "food101", "sun397"}
    assert FULL_BATCH_MAX_LOGITS == 67_108_864
    assert choose_solver("sgd", 10, 2) == "sgd" and choose_solver("lbfgs", 10**7, 10**4) == "lbfgs"
    with pytest.raises(FakeitError, match=r"unknown probe solver 'adam'; valid: auto, lbfgs, sgd"):
        choose_solver("adam", 1, 1)


def test_minibatch_solver_separates_blobs_and_records_its_choice():
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(5, 32, generator=g) * 3
    y = torch.arange(1000) % 5
    x = centres[y] + torch.randn(1000, 32, generator=g)
    settings = SGDSettings(lrs=[0.1, 10.0], wds=[1e-6], epochs=5, batch_size=64)
    res = linear_probe(x[:800], y[:800], x[800:], y[800:], solver="sgd", norm="l2", split="per-class", sgd=settings)
    assert res["solver"] == "sgd" and res["norm"] == "l2" and res["top1"] >= 0.95
    assert res["lr"] in (0.1, 10.0) and set(res["val_top1"]) == {"lr=0.1,wd=1e-06", "lr=10,wd=1e-06"}
    assert (res["train_images"], res["val_images"], res["test_images"]) == (800, 160, 200)
    full = linear_probe(x[:800], y[:800], x[800:], y[800:], weight_decays=[1e-3], solver="auto")
    assert full["solver"] == "lbfgs" and full["top1"] >= 0.95


def test_diverging_minibatch_solver_is_a_clear_error():
    x, y = torch.randn(100, 4) * 1e30, torch.arange(100) % 2
    with pytest.raises(FakeitError, match=r"the minibatch probe diverged for every learning rate of \[1e\+30\]"):
        linear_probe(x[:80], y[:80], x[80:], y[80:], solver="sgd", norm="none", sgd=SGDSettings([1e30], [0.0], 2, 16))


def test_per_class_validation_is_the_authors_split():
    labels = np.repeat(np.arange(4), [10, 7, 2, 25])
    train, val = per_class_validation(labels, 0.2, seed=0)
    assert np.bincount(labels[val]).tolist() == [2, 1, 1, 5]  # int(n * 0.2), at least one
    assert sorted(train.tolist() + val.tolist()) == list(range(44))
    assert np.array_equal(per_class_validation(labels, 0.2, seed=0)[1], val)
    with pytest.raises(FakeitError, match=r"class 1 has 1 training image; a validation split needs at least 2 a class"):
        per_class_validation(np.array([0, 0, 1]), 0.2, 0)


def test_minibatch_features_go_to_the_gpu_only_when_they_fit():
    from fakeit_lib.evaluation.probe import FEATURES_DEVICE_SHARE, features_device

    imagenet = 1_281_167 * 2048 * 4  # ImageNet-1K's features in float32: 10.5 GB
    assert features_device(imagenet, "cuda:0", free_bytes=78 * 2**30) == "cuda:0"  # an 80 GB A100
    assert features_device(imagenet, "cuda:1", free_bytes=16 * 2**30) == "cpu"  # a 16 GB card: batches copied over
    assert features_device(int(FEATURES_DEVICE_SHARE * 1000), "cuda:0", free_bytes=1000) == "cuda:0"
    assert features_device(10, "cpu") == "cpu" and features_device(10, "mps") == "cpu"
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(120, 8, generator=g), torch.arange(120) % 3
    x[torch.arange(120), y] += 6.0  # each class along its own feature: separable after L2 normalisation
    res = linear_probe(x[:90], y[:90], x[90:], y[90:], solver="sgd", norm="l2", sgd=SGDSettings([1.0], [1e-6], 20, 32))
    assert res["features_on"] == "cpu" and res["top1"] >= 0.9  # on the CPU the features stay where they are
