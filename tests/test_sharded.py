"""Evaluation and feature extraction sharded over 2 torchrun processes (gloo, CPU) equal one process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from fakeit_lib.training.models import CHECKPOINT_FORMAT, IMAGENET_MEAN, IMAGENET_STD, build_model

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """A randomly initialised mini classifier saved in this library's checkpoint format."""
    torch.manual_seed(0)
    model = build_model("resnet10_narrow", 10, cifar_stem=True)
    meta = dict(arch="resnet10_narrow", num_classes=10, cifar_stem=True, fc_bias=True, class_set="fashion-mnist",
                eval_resize=32, eval_crop=32, mean=list(IMAGENET_MEAN), std=list(IMAGENET_STD), data="-")
    path = tmp_path_factory.mktemp("ckpt") / "checkpoint.pt"
    torch.save({"format": CHECKPOINT_FORMAT, "model": model.state_dict(), "meta": meta, "config_hash": "test"}, path)
    return path


def launch(args: list[str], output: Path, processes: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "FAKEIT_OUTPUT": str(output), "OMP_NUM_THREADS": "1"}
    prefix = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes)] if processes > 1 else [sys.executable]
    proc = subprocess.run([*prefix, "-m", "fakeit_lib", *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@pytest.mark.integration
def test_two_process_evaluation_equals_one(tmp_path, checkpoint):
    args = ["evaluate", str(checkpoint), "--suite", "mini", "--max-images", "51", "--batch-size", "8", "--device", "cpu"]
    launch([*args, "--out", str(tmp_path / "one")], tmp_path / "o1", 1)
    two = launch([*args, "--out", str(tmp_path / "two")], tmp_path / "o2", 2)
    a, b = (json.loads((tmp_path / n / "results.json").read_text()) for n in ("one", "two"))
    x, y = a["datasets"]["fashion-mnist-test"], b["datasets"]["fashion-mnist-test"]
    assert x["images"] == y["images"] == 51 and x["classes"] == y["classes"] == 10  # the same images, each once
    # bf16 autocast over other batch compositions (shards of 26 and 25 images): logits equal up to rounding, so an
    # image whose two best classes nearly tie may flip; at most one of 51 here
    assert abs(x["top1"] - y["top1"]) <= 1 / 51 + 1e-9 and abs(x["top5"] - y["top5"]) <= 1 / 51 + 1e-9
    assert (a["processes"], b["processes"]) == (1, 2)
    assert json.loads(two.stdout) == b["datasets"]  # printed once, by rank 0
    assert "terminate called" not in two.stderr


@pytest.mark.integration
def test_two_process_feature_extraction_equals_one(tmp_path, checkpoint):
    args = ["transfer", str(checkpoint), "--suite", "mini", "--mini-sets", "digits", "clipart",
            "--batch-size", "64", "--device", "cpu"]
    launch([*args, "--out", str(tmp_path / "one")], tmp_path / "o1", 1)
    launch([*args, "--out", str(tmp_path / "two")], tmp_path / "o2", 2)
    a, b = (json.loads((tmp_path / n / "results.json").read_text()) for n in ("one", "two"))
    feats = {n: sorted((tmp_path / n / "features").iterdir()) for n in ("o1", "o2")}
    assert [p.name for p in feats["o1"]] == [p.name for p in feats["o2"]] and len(feats["o1"]) == 4
    for p, q in zip(feats["o1"], feats["o2"]):
        x, y = torch.load(p), torch.load(q)
        # same images in the same order; values equal up to float rounding (other batch compositions)
        assert torch.equal(x["y"], y["y"]) and torch.allclose(x["x"], y["x"], atol=1e-4)
    for name in a["datasets"]:  # a probe on features equal up to rounding: top-1 within one test image or two
        assert abs(a["datasets"][name]["top1"] - b["datasets"][name]["top1"]) <= 2 / a["datasets"][name]["test_images"] + 2e-6  # top-1 is stored to 6 decimals
