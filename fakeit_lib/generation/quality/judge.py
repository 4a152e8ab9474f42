"""A small CNN trained on REAL Fashion-MNIST that judges generated images: fidelity and diversity.

Fidelity: the fraction of generated images the judge labels as their prompt's class (overall and per class).
Diversity: the mean pairwise Euclidean distance between the judge's penultimate features of images of the same
class, averaged over classes (larger = more varied images within a class).
The judge the book and the tests use is SHIPPED with the package (`data/judge/`: float32 safetensors weights, their
sha256 and the record of how they were trained, `judge.json`), so every machine measures generators with the same
network: a judge trained anew on another CPU would differ in its last bits, and so would thin margins it measures.
`fakeit train-judge --out DIR` trains one the same way (on the real train split, tested on the real test split);
`load_judge(cfg)` with settings other than the shipped ones trains and caches one under the output root.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import importlib.resources
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ...core.errors import FakeitError
from ...core.params import from_dict

MEAN, STD = 0.2860, 0.3530  # Fashion-MNIST train pixel statistics
WEIGHTS = "weights.safetensors"  # a judge folder: the weights ...
RECORD = "judge.json"  # ... and how they were made (config, sha256 of the weights, real test accuracy, versions)


@dataclass
class JudgeConfig:
    """How the judge is trained (on the real Fashion-MNIST train split)."""

    epochs: int = 2  # passes over the 60k real train images
    batch_size: int = 128  # images per step
    lr: float = 2e-3  # Adam learning rate, cosine-decayed to 0
    width: int = 16  # channels of the first conv block (doubled in the second)
    feature_dim: int = 128  # penultimate feature size (the diversity space)
    seed: int = 0  # initialisation and batch order
    threads: int = 1  # torch CPU threads (1 is fastest on a shared, busy machine)

    def validate(self) -> None:
        """Raise FakeitError on values that cannot train."""
        bad = [f.name for f in dataclasses.fields(self) if f.name not in ("seed", "lr") and getattr(self, f.name) < 1]
        bad += ["lr"] if self.lr <= 0 else []
        if bad:
            raise FakeitError(f"invalid judge parameter(s): {', '.join(f'{k}={getattr(self, k)!r}' for k in bad)}")


class JudgeNet(nn.Module):
    """Two conv blocks and two linear layers: 28x28 greyscale -> penultimate features -> 10 logits."""

    def __init__(self, width: int = 32, feature_dim: int = 128, classes: int = 10):
        super().__init__()

        def block(cin: int, cout: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            )

        self.features = nn.Sequential(block(1, width), block(width, 2 * width), nn.Flatten(),
                                      nn.Dropout(0.25), nn.Linear(2 * width * 7 * 7, feature_dim), nn.ReLU(inplace=True))
        self.head = nn.Sequential(nn.Dropout(0.25), nn.Linear(feature_dim, classes))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits, penultimate features) of images in [0, 1], shape (B, 1, 28, 28)."""
        f = self.features((x - MEAN) / STD)
        return self.head(f), f


def as_tensor(images) -> torch.Tensor:
    """(B, 1, 28, 28) floats in [0, 1] from PIL images, a (B,28,28[,1]) uint8/float array, or a tensor."""
    if isinstance(images, torch.Tensor):
        x = images.float()
    elif isinstance(images, np.ndarray):
        x = torch.from_numpy(images).float()
    else:
        x = torch.from_numpy(np.stack([np.asarray(im.convert("L")) for im in images])).float()
    if x.max() > 1.0:
        x = x / 255.0
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x.permute(0, 3, 1, 2)
    if x.ndim == 3:
        x = x.unsqueeze(1)
    if tuple(x.shape[1:]) != (1, 28, 28):
        raise FakeitError(f"the judge reads 28x28 greyscale images; got a batch of shape {tuple(x.shape)}")
    return x


@torch.no_grad()
def judge_outputs(model, images, batch_size: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
    """(predicted labels, penultimate features) of the images, by this Fashion-MNIST judge or by any judge with an
    `outputs(images)` method of its own (the paper scale's ImageNet classifier, evaluation.judges)."""
    if not isinstance(model, JudgeNet):
        if not hasattr(model, "outputs"):
            raise FakeitError(f"a judge is a JudgeNet or has outputs(images); got a {type(model).__name__}")
        return model.outputs(images)
    model.eval()
    x = as_tensor(images)
    preds, feats = [], []
    for i in range(0, len(x), batch_size):
        logits, f = model(x[i : i + batch_size])
        preds.append(logits.argmax(1))
        feats.append(f)
    return torch.cat(preds), torch.cat(feats)


def _real_tensors(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    from ...datasets.fashion_mnist import fashion_mnist

    ds = fashion_mnist(split)
    return ds.data.unsqueeze(1).float() / 255.0, ds.targets.clone()


def train_judge(cfg: JudgeConfig, progress: bool = True) -> tuple[JudgeNet, float]:
    """A judge trained on the real train split, and its accuracy on the real test split."""
    cfg.validate()
    threads = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    try:
        return _train(cfg, progress)
    finally:
        torch.set_num_threads(threads)  # later work in this process keeps its threads


def _train(cfg: JudgeConfig, progress: bool) -> tuple[JudgeNet, float]:
    from tqdm.auto import tqdm

    torch.manual_seed(cfg.seed)
    x, y = _real_tensors("train")
    model = JudgeNet(cfg.width, cfg.feature_dim)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    steps = cfg.epochs * (len(x) // cfg.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=steps, pct_start=0.15)
    g = torch.Generator().manual_seed(cfg.seed)
    model.train()
    with tqdm(total=steps, desc="judge", unit="step", disable=not progress) as bar:
        for _ in range(cfg.epochs):
            order = torch.randperm(len(x), generator=g)
            for i in range(len(x) // cfg.batch_size):
                idx = order[i * cfg.batch_size : (i + 1) * cfg.batch_size]
                batch = x[idx]
                # small random shifts (up to 2 px), so the judge does not hinge on exact centring
                dx, dy = torch.randint(-2, 3, (2,), generator=g).tolist()
                batch = torch.roll(batch, shifts=(dy, dx), dims=(2, 3))
                loss = F.cross_entropy(model(batch)[0], y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                bar.update(1)
    xt, yt = _real_tensors("test")
    pred, _ = judge_outputs(model, xt)
    return model, float((pred == yt).float().mean())


def shipped_judge_path() -> Path:
    """The folder of the judge shipped with the package (`weights.safetensors`, `judge.json`)."""
    return Path(str(importlib.resources.files("fakeit_lib") / "data" / "judge"))


def save_judge(model: JudgeNet, cfg: JudgeConfig, accuracy: float, folder: Path | str) -> Path:
    """Write a judge folder: its weights (safetensors) and `judge.json` (settings, sha256, real test accuracy)."""
    from safetensors.torch import save

    from ...core.store import atomic_write_bytes, atomic_write_json

    folder = Path(folder)
    data = save({k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()})
    atomic_write_bytes(folder / WEIGHTS, data)
    atomic_write_json(folder / RECORD, {
        "config": dataclasses.asdict(cfg), "weights_sha256": hashlib.sha256(data).hexdigest(),
        "real_test_accuracy": accuracy, "trained_on": "Fashion-MNIST train split (60,000 real images)",
        "tested_on": "Fashion-MNIST test split (10,000 real images)", "torch": torch.__version__,
    })
    return folder


def read_judge(folder: Path | str) -> tuple[JudgeNet, float, JudgeConfig]:
    """(judge, its recorded real test accuracy, its settings) from a judge folder, its weights checked by sha256."""
    from safetensors.torch import load

    folder = Path(folder)
    try:
        record = json.loads((folder / RECORD).read_text())
        data = (folder / WEIGHTS).read_bytes()
    except (OSError, ValueError) as e:
        raise FakeitError(f"{folder} is not a judge folder ({WEIGHTS} and {RECORD}): {e}") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != record.get("weights_sha256"):
        raise FakeitError(f"{folder / WEIGHTS} has sha256 {digest[:12]}..., not the {str(record.get('weights_sha256'))[:12]}... "
                          f"its {RECORD} records; reinstall the package or train one with `fakeit train-judge`")
    cfg = JudgeConfig(**record["config"])
    model = JudgeNet(cfg.width, cfg.feature_dim)
    model.load_state_dict(load(data))
    return model.eval(), float(record["real_test_accuracy"]), cfg


def _identity(cfg: JudgeConfig) -> dict:
    from ...core.store import code_version

    return {**dataclasses.asdict(cfg), "code": code_version("fakeit_lib.generation.quality.judge")}


def judge_folder(cfg: JudgeConfig, root: Path | None = None) -> Path:
    """The cache folder of a judge trained with settings `cfg` under the output root (not the shipped judge)."""
    from ...core.store import stage_dir

    return stage_dir("judge-fmnist", _identity(cfg), root)


def load_judge(cfg: JudgeConfig | None = None, root: Path | None = None, progress: bool = True) -> tuple[JudgeNet, float]:
    """(judge, its real test accuracy): the shipped judge (cfg None), or one trained with `cfg` on first use and
    cached under the output root."""
    from ...core.store import claim_folder, is_done, mark_done

    if cfg is None:
        model, accuracy, _ = read_judge(shipped_judge_path())
        return model, accuracy
    cfg.validate()
    folder = judge_folder(cfg, root)
    if is_done(folder):
        model, accuracy, _ = read_judge(folder)
        return model, accuracy
    claim_folder(folder, _identity(cfg))
    model, acc = train_judge(cfg, progress=progress)
    save_judge(model, cfg, acc, folder)
    mark_done(folder, {"real_test_accuracy": acc})
    return model.eval(), acc


def fidelity(predicted: Sequence[int] | torch.Tensor, labels: Sequence[int] | torch.Tensor) -> float:
    """The fraction of images whose judged label equals their prompt's class."""
    p, y = torch.as_tensor(predicted), torch.as_tensor(labels)
    if len(p) != len(y) or len(y) == 0:
        raise FakeitError(f"fidelity needs as many labels as predictions (got {len(p)} and {len(y)}), at least one")
    return float((p == y).float().mean())


def per_class_fidelity(predicted, labels) -> dict[int, float]:
    """Fidelity of each class present in `labels`."""
    p, y = torch.as_tensor(predicted), torch.as_tensor(labels)
    return {int(c): float((p[y == c] == c).float().mean()) for c in torch.unique(y)}


def within_class_spread(features: torch.Tensor) -> float:
    """The mean pairwise Euclidean distance between the rows of `features` (0 for fewer than two rows)."""
    n = len(features)
    if n < 2:
        return 0.0
    d = torch.cdist(features.double(), features.double())
    return float(d.sum() / (n * (n - 1)))


def per_class_diversity(features: torch.Tensor, labels) -> dict[int, float]:
    """Within-class spread of judge features, per class."""
    y = torch.as_tensor(labels)
    return {int(c): within_class_spread(features[y == c]) for c in torch.unique(y)}


def diversity(features: torch.Tensor, labels) -> float:
    """Mean over classes of the within-class spread of judge features."""
    return float(np.mean(list(per_class_diversity(features, labels).values())))


def score_images(model, images, labels) -> dict:
    """Fidelity, per-class fidelity, diversity and per-class diversity of images meant to show `labels`, by `model`:
    the Fashion-MNIST judge, or any judge with `outputs(images)` (the judge is the measures' one parameter)."""
    pred, feats = judge_outputs(model, images)
    y = torch.as_tensor(labels)
    return {
        "images": len(y),
        "fidelity": fidelity(pred, y),
        "per_class_fidelity": per_class_fidelity(pred, y),
        "diversity": diversity(feats, y),
        "per_class_diversity": per_class_diversity(feats, y),
    }


# ----------------------------------------------------------------------------------------------------------------
# Command line: `fakeit train-judge`


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Options of `fakeit train-judge` (defaults: the shipped judge's settings)."""
    d = JudgeConfig()
    parser.add_argument("--out", required=True, metavar="DIR", help="judge folder to write (weights.safetensors, judge.json)")
    for f in dataclasses.fields(JudgeConfig):
        parser.add_argument(f"--{f.name.replace('_', '-')}", type=type(getattr(d, f.name)), default=getattr(d, f.name),
                            help=f"default {getattr(d, f.name)}")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """`fakeit train-judge`: train a judge on the real train split and write it as the package ships it."""
    cfg = from_dict(JudgeConfig, {f.name: getattr(args, f.name) for f in dataclasses.fields(JudgeConfig)})
    cfg.validate()
    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FakeitError(f"cannot write the judge to {out}: it is not an empty folder; choose a new folder")
    model, accuracy = train_judge(cfg, progress=not args.no_progress)
    save_judge(model, cfg, accuracy, out)
    print(f"judge written to {out}: real test accuracy {accuracy:.4f}")
    return 0
