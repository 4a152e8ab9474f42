"""A stage stopped part-way (a kill, an interrupt) never looks finished, and run again it finishes with what an
uninterrupted run gives: evaluate, transfer's feature cache, train-generator and train-judge (generate and train have
their own SIGKILL tests). The stop is an interrupt raised at a chosen point inside the stage, where a kill would land."""

import json
from pathlib import Path

import pytest
import torch
from test_minigen import TINY

from fakeit_lib.core import store


class Killed(BaseException):
    """What the test raises where a kill would land (a BaseException: no `except Exception` of the stage catches it)."""


def _kill_on_call(monkeypatch, owner, name: str, at: int = 1):
    """Make owner.name raise Killed on its `at`-th call (the calls before it run as usual)."""
    real, calls = getattr(owner, name), []

    def wrapped(*args, **kwargs):
        calls.append(1)
        if len(calls) == at:
            raise Killed(f"killed in {name}")
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, wrapped)


@pytest.mark.integration
def test_evaluate_stopped_while_scoring_finishes_on_the_next_run(tmp_path, monkeypatch):
    from test_evaluate import B, C, IN1K, T, _authors_checkpoint, _config, _tree

    from fakeit_lib.evaluation import evaluate as ev

    val = _tree(tmp_path / "val", {T: 1, B: 1, C: 1})
    ckpt = _authors_checkpoint(tmp_path / "in1k_sd.pth", IN1K)
    straight = ev.evaluate(_config(ckpt, val=val), tmp_path / "straight")
    folder = tmp_path / "stopped"
    with monkeypatch.context() as m:
        _kill_on_call(m, ev, "score_dataset")
        with pytest.raises(Killed):
            ev.evaluate(_config(ckpt, val=val), folder)
    assert (folder / "config.yaml").exists() and not store.is_done(folder) and not (folder / "results.json").exists()
    again = ev.evaluate(_config(ckpt, val=val), folder)  # the claimed folder is taken up, not refused
    assert store.is_done(folder) and again["datasets"] == straight["datasets"]
    assert json.loads((folder / "results.json").read_text())["datasets"]["val"]["top1"] == straight["datasets"]["val"]["top1"]


def test_a_feature_file_stopped_while_written_is_never_read(tmp_path, monkeypatch):
    from fakeit_lib.core import devices
    from fakeit_lib.evaluation import features as tr
    from fakeit_lib.evaluation.transfer_config import TransferConfig

    monkeypatch.setenv("FAKEIT_OUTPUT", str(tmp_path / "outputs"))
    monkeypatch.setattr(devices, "cpu_bf16_fast", lambda: False)  # float32: the features compare exactly below
    torch.manual_seed(0)
    data = torch.utils.data.TensorDataset(torch.rand(6, 3, 8, 8), torch.arange(6) % 2)
    enc = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1))
    config = TransferConfig(checkpoint="x.pt", suite="mini", workers=0)
    key = {"dataset": "toy", "split": "train"}
    features = tmp_path / "outputs" / "features"
    with monkeypatch.context() as m:
        _kill_on_call(m, store.os, "replace")  # the bytes are written, the rename that publishes them is not
        with pytest.raises(Killed):
            tr.cached_features(enc, "0" * 64, key, data, config)
    assert list(features.iterdir()) == []  # no half-written file under the cache's name, no temp file left
    calls = []
    extract = tr.extract_features
    monkeypatch.setattr(tr, "extract_features", lambda *a, **k: calls.append(1) or extract(*a, **k))
    x, _ = tr.cached_features(enc, "0" * 64, key, data, config)
    again, _ = tr.cached_features(enc, "0" * 64, key, data, config)
    assert len(calls) == 1 and torch.equal(x, again) and len(list(features.iterdir())) == 1
    with torch.no_grad():
        assert torch.allclose(x, enc(data.tensors[0]).flatten(1), atol=1e-6)  # the encoder's own features (channels-last)


@pytest.fixture(scope="module")
def tiny_tokenizer():
    from test_minigen import TEXTS

    from fakeit_lib.generation.mini.model import train_tokenizer

    return train_tokenizer(TEXTS * 20, vocab_size=600, max_length=16)


@pytest.mark.integration
def test_train_generator_stopped_after_a_checkpoint_resumes_to_the_same_weights(tmp_path, monkeypatch, tiny_tokenizer):
    from fakeit_lib.generation.mini.train import GeneratorTrainConfig, train_generator

    cfg = GeneratorTrainConfig(**TINY, max_steps=4, batch_size=8, log_every=2, checkpoint_every=2, warmup_steps=2)
    straight = train_generator(cfg, tmp_path / "straight", progress=False, tokenizer=tiny_tokenizer)
    run = tmp_path / "stopped"
    with monkeypatch.context() as m:
        _kill_on_call(m, torch.nn.utils, "clip_grad_norm_", at=3)  # in step 3, after the checkpoint of step 2
        with pytest.raises(Killed):
            train_generator(cfg, run, progress=False, tokenizer=tiny_tokenizer)
    assert not store.is_done(run) and torch.load(run / "checkpoint.pt", weights_only=False)["step"] == 2
    resumed = train_generator(cfg, run, progress=False, tokenizer=tiny_tokenizer)
    assert json.loads((run / "DONE").read_text())["steps"] == 4
    a = torch.load(straight.parent / "checkpoint.pt", weights_only=False)
    b = torch.load(resumed.parent / "checkpoint.pt", weights_only=False)
    for part in ("unet", "text_encoder"):  # bit-equal on the CPU: step s depends on (seed, s) alone
        assert all(torch.equal(a[part][k], b[part][k]) for k in a[part]), part
    rows = lambda r: [(x["step"], x["mse"]) for x in map(json.loads, (r / "metrics.jsonl").read_text().splitlines())]
    assert rows(run) == rows(tmp_path / "straight")


@pytest.mark.integration
def test_train_judge_stopped_before_its_marker_trains_again_and_finishes(tmp_path, monkeypatch):
    from fakeit_lib.generation.quality import judge

    cfg = judge.JudgeConfig(epochs=1, batch_size=512, width=2, feature_dim=4)
    with monkeypatch.context() as m:
        _kill_on_call(m, store, "mark_done")  # trained and saved, the marker not yet written
        with pytest.raises(Killed):
            judge.load_judge(cfg, root=tmp_path, progress=False)
    folder = judge.judge_folder(cfg, tmp_path)
    assert folder.is_dir() and not store.is_done(folder)
    trained = []
    real = judge.train_judge
    monkeypatch.setattr(judge, "train_judge", lambda *a, **k: trained.append(1) or real(*a, **k))
    model, accuracy = judge.load_judge(cfg, root=tmp_path, progress=False)
    assert trained == [1] and store.is_done(folder)  # the unfinished judge is not taken for a finished one
    assert json.loads((folder / "DONE").read_text())["real_test_accuracy"] == accuracy
    assert judge.load_judge(cfg, root=tmp_path, progress=False)[1] == accuracy and trained == [1]  # now reused
