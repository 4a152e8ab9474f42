"""Simple learners a reviewer tries first, trained on a small grey training set and scored on the real Fashion-MNIST
test split: the yardstick of the mini recipe ("how good is this learner?", the Table 1 page).

Three of them, on the same images the mini recipe's real model trains on:
- logistic regression on raw pixels (scikit-learn, C = 0.1);
- a support-vector machine with an RBF kernel on raw pixels (scikit-learn, C = 10);
- a textbook small CNN: two blocks of two 3x3 convolutions with batch norm (32, then 64 channels), max-pooling and
  dropout, a 128-unit head; horizontal flips and shifts of up to 2 pixels; AdamW with a one-cycle schedule, label
  smoothing 0.1, 80 epochs (one model per seed).
Each is a cached stage: its folder (`baseline-<learner>-<dataset>-<hash>`) is named by its settings, the content of
its training set, the test images it is scored on and the version of this code; it holds `config.yaml`,
`results.json` (top-1, images, the CPU seconds of its training) and the DONE marker, written last.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..core.errors import FakeitError
from ..core.parallel import run_jobs

RESULTS = "results.json"
# learner -> (readable name, whether it depends on a seed)
LEARNERS = {
    "logistic": ("logistic regression on pixels (C = 0.1)", False),
    "svm": ("RBF support-vector machine on pixels (C = 10)", False),
    "cnn": ("textbook small CNN (four 3x3 convolutions)", True),
}


@dataclass(frozen=True)
class CNNRecipe:
    """The textbook small CNN's training recipe."""

    epochs: int = 80  # passes over the training set
    batch_size: int = 32  # images per AdamW step
    max_lr: float = 3e-3  # peak of the one-cycle schedule (torch OneCycleLR)
    weight_decay: float = 5e-4  # AdamW's decoupled weight decay
    label_smoothing: float = 0.1  # cross-entropy label smoothing
    shift: int = 2  # random shifts of up to this many pixels (zero padding), and a horizontal flip with p = 0.5


class SmallCNN(nn.Sequential):
    """Two blocks of two 3x3 convolutions with batch norm and ReLU (32, then 64 channels), each block max-pooled and
    followed by dropout 0.25; a 128-unit head with dropout 0.5. Input (B, 1, 28, 28) in [0, 1]."""

    def __init__(self, num_classes: int = 10):
        def block(cin: int, cout: int) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                    nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                    nn.MaxPool2d(2), nn.Dropout(0.25)]

        super().__init__(*block(1, 32), *block(32, 64), nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(inplace=True),
                         nn.Dropout(0.5), nn.Linear(128, num_classes))


def _shift_flip(x: torch.Tensor, shift: int, g: torch.Generator) -> torch.Tensor:
    """Each image of (B, 1, H, W) shifted by up to `shift` pixels each way (zero padding) and flipped with p = 0.5."""
    b, _, h, w = x.shape
    padded = F.pad(x, (shift, shift, shift, shift))
    dy = torch.randint(0, 2 * shift + 1, (b,), generator=g)
    dx = torch.randint(0, 2 * shift + 1, (b,), generator=g)
    rows = dy.view(-1, 1) + torch.arange(h).view(1, -1)  # (B, H): source rows of each image
    cols = dx.view(-1, 1) + torch.arange(w).view(1, -1)  # (B, W)
    out = padded[torch.arange(b).view(-1, 1, 1), 0, rows.view(b, h, 1), cols.view(b, 1, w)].unsqueeze(1)
    flip = torch.rand(b, generator=g) < 0.5
    return torch.where(flip.view(-1, 1, 1, 1), out.flip(-1), out)


def train_small_cnn(images: torch.Tensor, labels: torch.Tensor, seed: int, recipe: CNNRecipe = CNNRecipe(),
                    num_classes: int = 10) -> SmallCNN:
    """The textbook small CNN trained on (N, 1, 28, 28) uint8 images, seeded (initialisation, order, augmentation)."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    model = SmallCNN(num_classes)
    x, y = images.float() / 255.0, labels.long()
    steps = recipe.epochs * -(-len(y) // recipe.batch_size)
    opt = torch.optim.AdamW(model.parameters(), lr=recipe.max_lr, weight_decay=recipe.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=recipe.max_lr, total_steps=steps)
    model.train()
    for _ in range(recipe.epochs):
        order = torch.randperm(len(y), generator=g)
        for start in range(0, len(y), recipe.batch_size):
            idx = order[start: start + recipe.batch_size]
            loss = F.cross_entropy(model(_shift_flip(x[idx], recipe.shift, g)), y[idx],
                                   label_smoothing=recipe.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            schedule.step()
    return model.eval()


@torch.no_grad()
def cnn_predictions(model: nn.Module, images: torch.Tensor, batch: int = 1000) -> np.ndarray:
    """Predicted classes of (N, 1, 28, 28) uint8 images."""
    return torch.cat([model(images[i: i + batch].float() / 255.0).argmax(1) for i in range(0, len(images), batch)]).numpy()


def training_arrays(data: Path | str, class_set: str = "fashion-mnist") -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 1, H, W) uint8 grey images and labels of a training set folder (a real export or a grey clone)."""
    from ..datasets.classes import load_class_set
    from ..datasets.images import training_samples
    from ..training.loaders import decoded_images

    samples, _ = training_samples(data, load_class_set(class_set))
    return decoded_images(samples)


def test_arrays(max_images: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 1, 28, 28) uint8 images and labels of the real Fashion-MNIST test split (its first `max_images`)."""
    from ..datasets.fashion_mnist import fashion_mnist

    ds = fashion_mnist("test")
    n = len(ds.targets) if not max_images else min(max_images, len(ds.targets))
    return ds.data[:n].unsqueeze(1).clone(), ds.targets[:n].clone()


def fitted_learner(learner: str, train_x: torch.Tensor, train_y: torch.Tensor, seed: int = 0,
                   recipe: CNNRecipe = CNNRecipe()):
    """One learner trained on (N, 1, 28, 28) uint8 images: a function from test images to predicted classes."""
    check_learner(learner)
    if learner == "cnn":
        model = train_small_cnn(train_x, train_y, seed, recipe)
        return lambda test_x: cnn_predictions(model, test_x)
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import SVC

    from threadpoolctl import threadpool_limits

    flat = lambda t: t.reshape(len(t), -1).numpy().astype(np.float32) / 255.0  # noqa: E731
    model = LogisticRegression(C=0.1, max_iter=2000) if learner == "logistic" else SVC(C=10.0, kernel="rbf")
    with threadpool_limits(limits=1):  # a small problem: more BLAS threads only spin (on 2 cores, 17x slower)
        model.fit(flat(train_x), train_y.numpy())

    def predict(test_x: torch.Tensor) -> np.ndarray:
        with threadpool_limits(limits=1):
            return model.predict(flat(test_x))

    return predict


def check_learner(learner: str) -> None:
    if learner not in LEARNERS:
        raise FakeitError(f"unknown baseline learner {learner!r}; valid: {', '.join(LEARNERS)}")


def baseline_identity(learner: str, data: Path | str, seed: int, max_images: int | None) -> dict:
    """What a baseline's folder name hashes: the learner and its settings, its seed (seeded learners only), the
    content of its training set, the test images and the version of this code."""
    from ..core.store import code_version, content_identity

    check_learner(learner)
    settings = dict(vars(CNNRecipe())) if learner == "cnn" else {"C": 0.1 if learner == "logistic" else 10.0}
    return {"learner": learner, "settings": settings, "seed": seed if LEARNERS[learner][1] else None,
            "data_content": content_identity(data, missing_ok=True), "test": "fashion-mnist test split",
            "max_images": max_images or None, "code": code_version("fakeit_lib.evaluation.baselines")}


def baseline_folder(learner: str, data: Path | str, seed: int = 0, max_images: int | None = None) -> Path:
    """The stage folder of one baseline: `<output root>/baseline-<learner>-<dataset>-<hash of its identity>`."""
    from ..core.store import stage_dir

    return stage_dir(f"baseline-{learner}-{Path(os.path.normpath(str(data))).name}",
                     baseline_identity(learner, data, seed, max_images))


def baseline_result(learner: str, data: Path | str, seed: int = 0, max_images: int | None = None) -> dict:
    """Top-1 (%) on the real Fashion-MNIST test split of one learner trained on `data` (computed, or loaded when its
    folder is done): {learner, name, seed, top1, images, train_images, cpu_seconds}."""
    import json

    from ..core.store import atomic_write_json, claim_explained, is_done, mark_done

    folder = baseline_folder(learner, data, seed, max_images)
    if is_done(folder):
        return json.loads((folder / RESULTS).read_text())
    claim_explained(folder, baseline_identity(learner, data, seed, max_images))
    train_x, train_y = training_arrays(data)
    test_x, test_y = test_arrays(max_images)
    t0 = time.process_time()
    predict = fitted_learner(learner, train_x, train_y, seed)
    cpu = time.process_time() - t0  # training only, as a training run's seconds
    predicted = predict(test_x)
    result = {"learner": learner, "name": LEARNERS[learner][0], "seed": seed if LEARNERS[learner][1] else None,
              "top1": round(100.0 * float((predicted == test_y.numpy()).mean()), 4), "images": len(test_y),
              "train_images": len(train_y), "cpu_seconds": round(cpu, 2)}
    atomic_write_json(folder / RESULTS, result)
    mark_done(folder, {"top1": result["top1"]})
    return result


def _baseline_done(learner: str, data: str, seed: int, max_images: int | None) -> bool:
    from ..core.store import is_done

    return is_done(baseline_folder(learner, data, seed, max_images))


def baseline_results(data: Path | str, seeds: list[int], max_images: int | None = None,
                     learners: tuple[str, ...] = tuple(LEARNERS)) -> dict[str, list[dict]]:
    """Every learner's results on `data` ({learner: [result per seed]}, one result for an unseeded learner), the
    missing ones computed side by side in worker processes (fakeit_lib.core.parallel)."""
    for learner in learners:
        check_learner(learner)
    if not seeds:
        raise FakeitError("baselines need at least one seed")
    jobs = [(learner, str(data), s, max_images) for learner in learners for s in (seeds if LEARNERS[learner][1] else seeds[:1])]
    results = run_jobs(baseline_result, jobs, [_baseline_done(*j) for j in jobs], desc="baselines")
    out: dict[str, list[dict]] = {learner: [] for learner in learners}
    for (learner, *_), r in zip(jobs, results):
        out[learner].append(r)
    return out
