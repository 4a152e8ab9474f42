"""Training curves a cluster user watches: TensorBoard event files in the run folder's tb/, written by process 0 with
each step's loss and learning rate, each window's images a second and loader share, each epoch's loss and top-1;
a run stopped within an epoch and resumed continues the same curve, without the steps it wrote past its checkpoint."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import free_port

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def real4(tmp_path_factory):
    from fakeit_lib.datasets.images import export_fashion_mnist

    return export_fashion_mnist(tmp_path_factory.mktemp("curves") / "real4", "train", per_class=4)


def scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar of the event files under `folder`, as TensorBoard reads them: tag -> [(step, value)]."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def config_of(real4, **over):
    from fakeit_lib.training.train import make_config

    return make_config("smoke", data=str(real4), batch_size=2, device="cpu", **over)  # 40 images: 20 steps an epoch


@pytest.mark.integration
@pytest.mark.timeout(600)
def test_the_event_file_holds_each_steps_loss_and_lr_and_each_epochs_metrics(real4, tmp_path, monkeypatch, one_thread):
    from fakeit_lib.training import curves, recipe
    from fakeit_lib.training.loop import read_metrics, train

    monkeypatch.setattr(curves, "WINDOW_STEPS", 7)  # windows end within an epoch too (7, 14, and the epoch's end)
    config = config_of(real4)
    run = train(config, tmp_path / "run", log=lambda *a: None)
    files = list((run / "tb").iterdir())
    assert len(files) == 1 and files[0].name.startswith("events.out.tfevents."), files
    got = scalars(run / "tb")
    assert sorted(got) == ["epoch/images_per_s", "epoch/loss", "epoch/train_top1", "step/images_per_s",
                           "step/learning_rate", "step/loader_share", "step/loss"]
    assert [s for s, _ in got["step/loss"]] == list(range(1, 41))
    # the learning rate of each step as the recipe schedules it (float32 in the file)
    schedule = [recipe.lr_at(s, 40, 20, config) for s in range(40)]
    assert [v for _, v in got["step/learning_rate"]] == pytest.approx(schedule, rel=1e-6)
    rows = read_metrics(run)
    assert [s for s, _ in got["epoch/loss"]] == [20, 40]
    assert [v for _, v in got["epoch/loss"]] == pytest.approx([r["loss"] for r in rows], abs=1e-6)
    assert [v for _, v in got["epoch/train_top1"]] == pytest.approx([r["train_top1"] for r in rows], abs=1e-6)
    assert [v for _, v in got["epoch/images_per_s"]] == pytest.approx([r["images_per_s"] for r in rows], rel=1e-6)
    # every step holds 2 images and no label is missing: an epoch's loss is the mean of its steps' losses
    for e, row in enumerate(rows):
        steps = [v for s, v in got["step/loss"] if 20 * e < s <= 20 * (e + 1)]
        assert sum(steps) / 20 == pytest.approx(row["loss"], abs=1e-5)
    assert [s for s, _ in got["step/images_per_s"]] == [7, 14, 20, 27, 34, 40]
    assert all(v > 0 for _, v in got["step/images_per_s"])
    assert all(0 <= v <= 1 for _, v in got["step/loader_share"])


@pytest.mark.integration
@pytest.mark.timeout(600)
def test_a_run_stopped_within_an_epoch_continues_its_curve_without_the_steps_past_its_checkpoint(real4, tmp_path,
                                                                                                 monkeypatch, one_thread):
    from fakeit_lib.core.errors import Stopped
    from fakeit_lib.training import curves
    from fakeit_lib.training import loop as training

    monkeypatch.setattr(curves, "WINDOW_STEPS", 8)
    config = config_of(real4)
    straight = scalars(training.train(config, tmp_path / "straight", log=lambda *a: None) / "tb")
    real_lr, calls = training.lr_at, []

    def lr_then_usr1(*a, **k):  # Slurm's warning in the middle of epoch 2: the checkpoint is saved after its step 11
        calls.append(1)
        if len(calls) == 33:
            os.kill(os.getpid(), signal.SIGUSR1)
        return real_lr(*a, **k)

    monkeypatch.setattr(training, "lr_at", lr_then_usr1)
    with pytest.raises(Stopped):
        training.train(config, tmp_path / "run", log=lambda *a: None)
    stopped = scalars(tmp_path / "run" / "tb")
    assert [s for s, _ in stopped["step/loss"]] == list(range(1, 32))  # up to the checkpoint (epoch 2, step 11)
    # a step written after the checkpoint by a run killed outright, which the resumed run computes again
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(str(tmp_path / "run" / "tb")) as late:
        late.add_scalar("step/loss", 99.0, 32)
    monkeypatch.setattr(training, "lr_at", real_lr)
    training.train(config, tmp_path / "run", log=lambda *a: None)
    assert len(list((tmp_path / "run" / "tb").iterdir())) == 3  # one file a start, read as one curve
    resumed = scalars(tmp_path / "run" / "tb")
    assert [s for s, _ in resumed["step/loss"]] == list(range(1, 41))
    for tag in ("step/loss", "step/learning_rate", "epoch/loss", "epoch/train_top1"):
        assert resumed[tag] == straight[tag], tag  # CPU, one thread: the same run, bit for bit


@pytest.mark.integration
@pytest.mark.timeout(600)
def test_under_torchrun_process_0_alone_writes_the_curves_of_every_process(real4, tmp_path):
    out = tmp_path / "ddp"
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port",
                           str(free_port()), "-m", "fakeit_lib", "train", str(real4), "--preset", "smoke", "--device",
                           "cpu", "--batch-size", "4", "--out", str(out)], cwd=ROOT,
                          env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=540)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(list((out / "tb").iterdir())) == 1  # one writer, process 0's
    got = scalars(out / "tb")
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    # 40 images, 2 a process a step: 10 steps an epoch; the epoch rows are every process's (all-reduced)
    assert [s for s, _ in got["step/loss"]] == list(range(1, 21))
    assert [s for s, _ in got["epoch/loss"]] == [10, 20]
    assert [v for _, v in got["epoch/loss"]] == pytest.approx([r["loss"] for r in rows], abs=1e-6)
