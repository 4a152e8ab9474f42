"""The precision a stage computed in (bf16 autocast where the CPU has native bf16, float32 elsewhere: core.devices) is
in its record: a results file, a training run's metrics and config.yaml; it is part of a training, evaluation and
transfer result's identity, resolved from the device the config names (so a plan made on a CPU-only machine for GPU
nodes names the folders those nodes write); and features computed in one precision are never reused for another
(the transfer cache's key)."""

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


# a CPU with fast bf16 and one without, either with or without CUDA: the facts precision_of takes as parameters
MACHINES = [dict(cuda_available=c, cpu_bf16=b) for c in (False, True) for b in (False, True)]


def test_a_training_identity_differs_by_its_resolved_precision():
    from fakeit_lib.core.store import config_hash
    from fakeit_lib.training.recipe import identity
    from fakeit_lib.training.train import make_config

    cfg = make_config("mini", data="not-here", class_set="fashion-mnist", device="cpu")
    bf16, f32 = identity(cfg, cpu_bf16=True), identity(cfg, cpu_bf16=False)
    assert (bf16["precision"], f32["precision"]) == ("bf16", "float32")
    assert config_hash(bf16) != config_hash(f32)  # two CPUs, two folders
    assert {k: v for k, v in bf16.items() if k != "precision"} == {k: v for k, v in f32.items() if k != "precision"}
    # named in the config, the precision is the same on both CPUs; without amp "auto" is float32 on both
    named = make_config("mini", data="not-here", class_set="fashion-mnist", device="cpu", precision="float32")
    assert identity(named, cpu_bf16=True) == identity(named, cpu_bf16=False) == f32
    plain = make_config("mini", data="not-here", class_set="fashion-mnist", device="cpu", amp=False)
    assert identity(plain, cpu_bf16=True)["precision"] == "float32"


@pytest.mark.parametrize("machine", MACHINES, ids=lambda m: f"cuda={m['cuda_available']},bf16={m['cpu_bf16']}")
def test_a_paper_config_has_its_gpus_precision_wherever_it_is_planned(machine):
    """The paper recipe on "auto" runs on GPUs (auto refuses the CPU for it): a CPU login node, with or without fast
    bf16, gives it the identity a GPU node gives it."""
    from fakeit_lib.training.recipe import identity
    from fakeit_lib.training.train import make_config

    cfg = make_config("paper", data="not-here", class_set="imagenet100")
    assert identity(cfg, **machine) == identity(cfg, cuda_available=True, cpu_bf16=False)
    assert identity(cfg, **machine)["precision"] == "fp16"
    assert devices.precision_of("auto", "cuda:3", **machine) == "fp16"
    # a small run on "auto" computes where it lands: this machine's GPU, else its CPU
    expected = "fp16" if machine["cuda_available"] else ("bf16" if machine["cpu_bf16"] else "float32")
    assert devices.precision_of("auto", "auto", **machine) == expected


def test_evaluation_and_transfer_identities_name_the_precision(monkeypatch):
    from fakeit_lib.evaluation.evaluate import EvalConfig
    from fakeit_lib.evaluation.transfer_config import TransferConfig

    monkeypatch.setattr(devices, "cpu_bf16_fast", lambda: True)
    # paper-scale suites on "auto" run on GPUs: fp16 even on this CPU-only planning machine
    assert EvalConfig(checkpoint="x.pt", suite="imagenet", val_root="v").identity("0", None)["precision"] == "fp16"
    assert TransferConfig(checkpoint="x.pt", suite="paper").identity("0")["precision"] == "fp16"
    ev, tc = EvalConfig(checkpoint="x.pt", suite="mini", device="cpu"), TransferConfig(checkpoint="x.pt", suite="mini", device="cpu")
    on_bf16 = ev.identity("0", None), tc.identity("0")
    monkeypatch.setattr(devices, "cpu_bf16_fast", lambda: False)
    assert (on_bf16[0]["precision"], ev.identity("0", None)["precision"]) == ("bf16", "float32")
    assert (on_bf16[1]["precision"], tc.identity("0")["precision"]) == ("bf16", "float32")


@pytest.mark.parametrize("named,recorded,computed", [("auto", "float32", "float32"), ("bf16", "bf16", "bfloat16 autocast")])
def test_a_run_records_its_precision_in_config_yaml(tmp_path, named, recorded, computed):
    """The smoke recipe (amp off): "auto" is float32; a named bf16 trains under bf16 autocast and says so."""
    import json

    import yaml

    from fakeit_lib.datasets.images import export_fashion_mnist
    from fakeit_lib.training.loop import train
    from fakeit_lib.training.train import make_config

    data = export_fashion_mnist(tmp_path / "real1", "train", per_class=1)
    run = train(make_config("smoke", data=str(data), epochs=1, device="cpu", precision=named), tmp_path / "run", log=lambda *a: None)
    assert yaml.safe_load((run / "config.yaml").read_text())["precision"] == recorded
    assert json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])["precision"] == computed


@pytest.mark.parametrize("value", ["bf32", "float16", ""])
def test_an_unknown_precision_is_refused_before_work(tmp_path, value):
    from fakeit_lib.core.errors import FakeitError
    from fakeit_lib.training.loop import train
    from fakeit_lib.training.train import TrainConfig

    with pytest.raises(FakeitError, match=rf"parameter precision: unknown precision {value!r}; valid: auto, bf16, fp16, float32"):
        train(TrainConfig(data=str(tmp_path / "data"), precision=value), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_fp16_off_cuda_is_refused_naming_the_device():
    from fakeit_lib.core.errors import FakeitError

    with pytest.raises(FakeitError, match="precision fp16 runs on CUDA only, and device 'cpu' runs on cpu; valid there: auto, bf16, float32"):
        devices.precision_of("fp16", "cpu")
    assert devices.precision_of("fp16", "auto", cuda_available=False, paper_scale=True) == "fp16"
