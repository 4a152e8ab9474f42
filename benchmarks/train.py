"""Data loading images/s against model-step images/s for the mini training recipe, side by side in one run.

The loader side iterates the training DataLoader exactly as `fakeit train` builds it (multi-crop augmentation,
the preset's worker count, workers persisting across epochs, started once before timing as in a run) and
discards the batches; the model side runs forward/backward/SGD steps of the same architecture on batches
prepared beforehand. Both are timed alternately, per round one epoch of loading and `--batches` model steps, and
the best rounds are compared (timeit's convention), for a machine shared with other work. The loader is never the bottleneck when the ratio
is >= 1.5.
Last line: `ratio <loader images/s / model-step images/s>`.

    python benchmarks/train.py                 # real Fashion-MNIST, 100 images per class, mini preset
    python benchmarks/train.py --preset smoke --rounds 2
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from fakeit_lib.datasets import export_fashion_mnist
from fakeit_lib.models import build_model
from fakeit_lib.loaders import training_loader
from fakeit_lib.train import MultiCropClassifier, make_config, training_dataset


def loader_rate(loader, sampler, epoch: int) -> float:
    """Images/s of drawing one epoch of batches from the training DataLoader."""
    sampler.set_epoch(epoch)
    t0, n = time.perf_counter(), 0
    for crops, labels in loader:
        n += len(labels)
    return n / (time.perf_counter() - t0)


def step_rate(net, optimizer, batches: list, amp: bool) -> float:
    """Images/s of forward + backward + optimiser steps on prepared batches."""
    t0, n = time.perf_counter(), 0
    for crops, labels in batches:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            logits = net(crops)
        loss = F.cross_entropy(logits.float(), labels.repeat(len(crops)))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        n += len(labels)
    return n / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="mini")
    p.add_argument("--per-class", type=int, default=100)
    p.add_argument("--batches", type=int, default=8, help="prepared batches per round on the model side")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = export_fashion_mnist(Path(tmp) / "real", "train", args.per_class)
        config = make_config(args.preset, data=str(data))
        if config.threads is not None:
            torch.set_num_threads(config.threads)
        dataset, _, num_classes = training_dataset(config)
        loader, sampler, _ = training_loader(dataset, config, config.batch_size)
        loader_rate(loader, sampler, 0)  # starts the persistent workers, as the first epoch of a run does
        torch.manual_seed(0)
        net = MultiCropClassifier(build_model(config.arch, num_classes, config.cifar_stem)).train()
        optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
        sampler.set_epoch(0)
        prepared = list(itertools.islice(iter(loader), args.batches))
        step_rate(net, optimizer, prepared[:1], config.amp)  # warm-up
        loads, steps = [], []
        for r in range(args.rounds):
            loads.append(loader_rate(loader, sampler, r + 1))
            steps.append(step_rate(net, optimizer, prepared, config.amp))
            print(f"round {r + 1}: loader {loads[-1]:.1f} images/s, model step {steps[-1]:.1f} images/s")
        crops = config.global_crops + config.local_crops
        print(f"preset {args.preset}: {config.arch}, batch {config.batch_size}, {crops} crops/image, {len(dataset)} "
              f"images/epoch, {config.workers} persistent loader worker(s), torch threads {torch.get_num_threads()}")
        print(f"best: loader {max(loads):.1f} images/s, model step {max(steps):.1f} images/s")
        print(f"ratio {max(loads) / max(steps):.2f}")


if __name__ == "__main__":
    main()
