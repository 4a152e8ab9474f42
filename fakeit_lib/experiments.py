"""The paper's experiments as chains of cached stages: prompts -> generate -> train -> evaluate / transfer.

Each function returns the output of one stage, computing it only when its folder (named by a hash of its
settings, under the output root) is not finished yet. Notebooks that need the same synthetic set or model share it.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.resources
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import FakeitError
from .params import from_dict
from .store import stage_dir

SCALES = ("smoke", "mini", "paper")
RECIPES = ("smoke", "mini", "paper")


@dataclass
class PipelineParams:
    """Settings every experiment notebook shares (one name, one meaning, in every preset)."""

    scale: str = "paper"  # label of the preset this ran with: smoke, mini or paper
    class_set: str = "imagenet100"  # classes of the clone; paper: imagenet100 (and imagenet1k); mini: fashion-mnist
    generator: str = "CompVis/stable-diffusion-v1-4"  # diffusers model (hub id or folder) or "mini"; paper: SD v1.4
    steps: int = 50  # denoising steps; paper: 50
    gen_batch_size: int = 8  # images per generator call (part of a dataset's identity: fixed batches)
    images_per_class: int | str = "match"  # synthetic images per class at 1x: N, or "match" (the real set's counts, real_root); paper: match
    recipe: str = "paper"  # training recipe: paper (ResNet-50, multi-crop, 100 epochs), mini or smoke
    real_root: str = ""  # real training set (ImageFolder of wnid folders) for the baseline; "" at mini: Fashion-MNIST
    eval_suite: str = "imagenet"  # imagenet (val, v2, sketch, r, a from eval_roots) or mini (Fashion-MNIST test)
    eval_roots: dict = field(default_factory=dict)  # imagenet suite: {val: root, v2: root, sketch: ..., r: ..., a: ...}
    eval_max_images: int = 0  # evaluate on the first N images of each test set (0: all)
    seed: int = 0  # seeds generation and training

    def validate(self) -> None:
        if self.scale not in SCALES:
            raise FakeitError(f"parameter scale={self.scale!r} is not valid; valid: {', '.join(SCALES)}")
        if self.recipe not in RECIPES:
            raise FakeitError(f"parameter recipe={self.recipe!r} is not valid; valid: {', '.join(RECIPES)}")
        if self.eval_suite not in ("imagenet", "mini"):
            raise FakeitError(f"parameter eval_suite={self.eval_suite!r} is not valid; valid: imagenet, mini")
        bad = sorted(set(self.eval_roots) - {"val", "v2", "sketch", "r", "a"})
        if bad:
            raise FakeitError(f"parameter eval_roots has unknown test set(s) {', '.join(bad)}; valid: val, v2, sketch, r, a")
        if self.steps < 1 or self.gen_batch_size < 1:
            raise FakeitError("parameters steps and gen_batch_size must be at least 1")
        if isinstance(self.images_per_class, str) and self.images_per_class != "match":
            raise FakeitError(f"parameter images_per_class={self.images_per_class!r} must be a number >= 1 or 'match'")
        if isinstance(self.images_per_class, int) and self.images_per_class < 1:
            raise FakeitError(f"parameter images_per_class={self.images_per_class} must be at least 1")


@dataclass
class CloneChoice:
    """The synthetic clone compared with real data in Table 2, Fig. 1 and the representation metrics."""

    best_variant: str = "c_dc"  # prompt variant of the compared clone; paper (IN-100, Table 2 row 3): c_dc
    best_guidance: float = 2.0  # guidance scale of the compared clone; paper: 2.0
    best_multiplier: float = 50.0  # its size relative to the real set; paper (IN-100): 50x


def images_spec(p: PipelineParams, multiplier: float = 1.0) -> int | str:
    """The images-per-class spec of a clone `multiplier` times the 1x size (a count, or a spec of the real counts)."""
    if p.images_per_class == "match":
        if not p.real_root:
            raise FakeitError("images_per_class 'match' needs real_root, the real training set whose counts are matched")
        return f"match:{p.real_root}" if multiplier == 1 else f"x{multiplier:g}:{p.real_root}"
    return max(1, round(int(p.images_per_class) * multiplier))


def synthetic_clone(p: PipelineParams, variant: str, guidance: float, multiplier: float = 1.0) -> Path:
    """The folder of a synthetic clone of `p.class_set`, `multiplier` times the 1x size (generated unless complete)."""
    from .generate import GenerateConfig, generate_dataset

    cfg = from_dict(GenerateConfig, dict(
        classes=p.class_set, variant=variant, generator=p.generator, guidance=float(guidance), steps=p.steps,
        images_per_class=images_spec(p, multiplier), seed=p.seed, batch_size=p.gen_batch_size,
    ))
    return generate_dataset(cfg)


def real_training_set(p: PipelineParams) -> Path:
    """The real training set of the baseline: `p.real_root`, or real Fashion-MNIST train images at mini scale."""
    from .datasets import export_fashion_mnist

    if p.real_root:
        root = Path(p.real_root).expanduser()
        if not root.is_dir():
            raise FakeitError(f"real_root {root} is not a folder; give the real training set (ImageFolder of wnid folders)")
        return root
    if p.class_set != "fashion-mnist":
        raise FakeitError(f"real_root is empty; class set {p.class_set} needs its real training images (e.g. ImageNet-100 train)")
    if p.images_per_class == "match":
        raise FakeitError("images_per_class 'match' needs real_root; at mini scale give a number of images per class")
    n = int(p.images_per_class)
    return export_fashion_mnist(stage_dir(f"real-fashion-mnist-train{n}", {"split": "train", "per_class": n}), "train", n)


def trained_checkpoint(p: PipelineParams, data: Path) -> Path:
    """The checkpoint of a classifier trained from scratch on `data` with `p.recipe` (trained unless done)."""
    from .train import CHECKPOINT, make_config, train

    cfg = make_config(p.recipe, data=str(data), class_set=p.class_set, seed=p.seed)
    return Path(train(cfg, log=lambda *a, **k: None)) / CHECKPOINT


def evaluation(p: PipelineParams, checkpoint: Path) -> dict:
    """Top-1/top-5 of a checkpoint on the real test sets of `p.eval_suite` (evaluated unless done)."""
    from .evaluate import EvalConfig, evaluate

    roots = {f"{k}_root": v for k, v in p.eval_roots.items()}
    cfg = from_dict(EvalConfig, dict(checkpoint=str(checkpoint), suite=p.eval_suite, class_set=p.class_set,
                                     max_images=p.eval_max_images or None, workers=0, **roots))
    return evaluate(cfg)


def transfer_results(p: PipelineParams, checkpoint: Path, suite: str, roots: dict, **settings) -> dict:
    """Linear-probe top-1 of a checkpoint's frozen encoder on a transfer suite (probed unless done)."""
    from .transfer import TransferConfig, transfer

    cfg = from_dict(TransferConfig, dict(checkpoint=str(checkpoint), suite=suite, workers=0,
                                         **{f"{k}_root": v for k, v in roots.items()}, **settings))
    return transfer(cfg)


@functools.lru_cache(maxsize=1)
def paper_results() -> dict:
    """The numbers the paper reports (Tables 1 and 2), with their citation."""
    path = Path(str(importlib.resources.files("fakeit_lib") / "data" / "paper_results.yaml"))
    return yaml.safe_load(path.read_text())


def paper_rows(table: str, **match) -> list[dict]:
    """Rows of a paper table (`table1` or `table2`) whose fields equal `match`, values keyed by column."""
    t = paper_results()[table]
    out = []
    for row in t["rows"]:
        if all(row.get(k) == v for k, v in match.items()):
            out.append({**{k: v for k, v in row.items() if k != "values"}, **dict(zip(t["columns"], row["values"]))})
    return out


def params_dict(p) -> dict:
    """A parameter dataclass as a plain dict."""
    return dataclasses.asdict(p)
