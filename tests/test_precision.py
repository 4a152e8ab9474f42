"""The precision a stage computed in (bf16 autocast where the CPU has native bf16, float32 elsewhere: core.devices) is
in its record: a results file, a training run's metrics; and features computed in one precision are never reused for
another (the transfer cache's key)."""

import pytest
import torch
from test_evaluate import B, C, IN1K, T, _authors_checkpoint, _config, _tree

from fakeit_lib.core import devices
from fakeit_lib.evaluation.evaluate import evaluate


@pytest.fixture
def cpu_without_bf16(monkeypatch):
    """This process on a CPU that would emulate bf16 (an AVX2 one): float32."""
    monkeypatch.setattr(devices, "cpu_bf16_fast", lambda: False)


def test_precision_names_what_autocast_computes_in(monkeypatch):
    assert devices.precision("cuda:0") == "float16 autocast" and devices.precision("mps") == "bfloat16 autocast"
    assert devices.precision("cuda:0", enabled=False) == "float32"
    monkeypatch.setattr(devices, "cpu_bf16_fast", lambda: True)
    assert devices.precision("cpu") == "bfloat16 autocast"
    monkeypatch.setattr(devices, "cpu_bf16_fast", lambda: False)
    assert devices.precision("cpu") == "float32"


@pytest.fixture(scope="module")
def val_and_checkpoint(tmp_path_factory):
    d = tmp_path_factory.mktemp("precision")
    return _tree(d / "val", {T: 1, B: 1, C: 1}), _authors_checkpoint(d / "in1k_sd.pth", IN1K)


@pytest.mark.parametrize("bf16", [True, False])
def test_evaluation_results_record_their_precision(tmp_path, monkeypatch, val_and_checkpoint, bf16):
    import json

    monkeypatch.setattr(devices, "cpu_bf16_fast", lambda: bf16)
    val, ckpt = val_and_checkpoint
    res = evaluate(_config(ckpt, val=val), tmp_path / "e")
    expected = "bfloat16 autocast" if bf16 else "float32"
    assert res["precision"] == expected
    assert json.loads((tmp_path / "e" / "results.json").read_text())["precision"] == expected


def test_transfer_features_are_cached_per_precision(tmp_path, monkeypatch):
    from fakeit_lib.evaluation import features as tr
    from fakeit_lib.evaluation.transfer_config import TransferConfig

    monkeypatch.setenv("FAKEIT_OUTPUT", str(tmp_path / "outputs"))
    data = torch.utils.data.TensorDataset(torch.rand(6, 3, 8, 8), torch.arange(6) % 2)
    enc = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1))
    config = TransferConfig(checkpoint="x.pt", suite="mini", workers=0)
    key = {"dataset": "toy", "split": "train"}
    calls = []
    extract = tr.extract_features
    monkeypatch.setattr(tr, "extract_features", lambda *a, **k: calls.append(1) or extract(*a, **k))
    features = tmp_path / "outputs" / "features"
    for bf16 in (True, False, True):
        monkeypatch.setattr(devices, "cpu_bf16_fast", lambda: bf16)
        x, y = tr.cached_features(enc, "0" * 64, key, data, config)
        assert x.shape == (6, 4) and y.tolist() == [0, 1, 0, 1, 0, 1]
    assert len(calls) == 2 and len(list(features.iterdir())) == 2  # the third call found its precision's features
