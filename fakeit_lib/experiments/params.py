"""The parameters of a preset as typed dataclasses: the settings every experiment shares (`PipelineParams`), the
groups some chapters share, and all of them together (`PresetParams`). Every reader of a preset (the plan, the
stages, the build's accounting, the chapters' own parameter dataclasses) takes its values and its defaults from
here, so a preset that leaves a parameter out plans what it runs."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ..core.errors import FakeitError
from ..core.params import from_dict
from .presets import SCALES


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
    seed: int = 0  # seeds generation: the synthetic sets are fixed whatever the training seeds
    train_seeds: list[int] = field(default_factory=lambda: [0])  # one model per seed behind every number; paper: [0]
    storage: str = "folder"  # how new clones store images: folder (a PNG file each) or shards (~1 GB tar files); paper presets: shards

    def validate(self) -> None:
        from ..training.train import PRESETS

        if self.scale not in SCALES:
            raise FakeitError(f"parameter scale={self.scale!r} is not valid; valid: {', '.join(SCALES)}")
        if self.recipe not in PRESETS:
            raise FakeitError(f"parameter recipe={self.recipe!r} is not valid; valid: {', '.join(PRESETS)}")
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
        if self.storage not in ("folder", "shards"):
            raise FakeitError(f"parameter storage={self.storage!r} is not valid; valid: folder, shards")
        if not self.train_seeds or len(set(self.train_seeds)) != len(self.train_seeds):
            raise FakeitError(f"parameter train_seeds={self.train_seeds} must list distinct seeds, at least one")


@dataclass
class ScalingLadderParams:
    """The clones of Fig. 4: one prompt setting at several sizes."""

    multipliers: list[float] = field(default_factory=lambda: [0.1, 1.0, 10.0, 20.0, 50.0])  # clone sizes; paper: 1/10x to 50x
    scaling_variant: str = "c_dc"  # prompt variant of the scaled clones; paper: c_dc (Table 1 rows 8, 10-12)
    scaling_guidance: float = 2.0  # guidance scale of the scaled clones; paper: 2.0
    scaling_budget: str = "epochs"  # epochs: every clone trains the recipe's epochs (naver/trex: 100 whatever the
    # size, so a 10x clone costs 10x); steps: every clone trains as many optimiser steps as the 1x clone (epochs and
    # warm-up scaled by 1/multiplier: a fixed training budget, more images seen fewer times). Paper: epochs


@dataclass
class BestCloneParams:
    """The clone set beside the real model in Table 2, Fig. 1 and the representations page."""

    best_variant: str = "c_dc"  # prompt variant of the compared clone; paper (IN-100, Table 2 row 3): c_dc
    best_guidance: float = 2.0  # guidance scale of the compared clone; paper: 2.0
    best_multiplier: float = 50.0  # its size relative to the real set; paper (IN-100): 50x


@dataclass
class TransferParams:
    """Where the linear probes of Table 2 and Fig. 4 run."""

    transfer_suite: str = "paper"  # paper (ten datasets from transfer_roots) or mini (offline out-of-domain sets)
    transfer_roots: dict = field(default_factory=dict)  # paper suite: {aircraft: root, cars: root, ...}
    transfer_sets: list[str] = field(default_factory=list)  # mini suite: datasets probed ([]: all four)


@dataclass
class PresetParams(TransferParams, BestCloneParams, ScalingLadderParams, PipelineParams):
    """Every setting of a preset that more than one notebook, or the plan, or the build's accounting reads: each
    declared once, here or in the groups above, with the paper's value as its default. A chapter's dataclass has
    them by inheriting a group or, when it shares only a few, declares one with `shared(name)`, which takes the
    default from here (tests/test_params_declared_once.py fails on any other default)."""

    variants: list[str] = field(default_factory=lambda: ["c", "c_hc", "c_dc", "c_hc_inside_b"])  # prompt variants of Table 1; paper: these four
    guidances: list[float] = field(default_factory=lambda: [7.5, 2.0])  # guidance scales of Table 1; paper: 7.5 (default) and 2.0
    draws: int = 2  # draws of Table 1's best clone (generation seeds seed, seed + 1, ...): the variance of a draw; mini: 4


def preset_params(preset: dict[str, Any] | PresetParams) -> PresetParams:
    """A preset's values (a YAML mapping) read through `PresetParams`: checked, with the declared defaults for what
    it leaves out; the parameters of one notebook alone are left to that notebook's dataclass."""
    if isinstance(preset, PresetParams):
        return preset
    return from_dict(PresetParams, preset, ignore_unknown=True)


_FIELDS = {f.name: f for f in dataclasses.fields(PresetParams)}


def shared(name: str) -> Any:
    """The field of preset parameter `name` with its one default (PresetParams), for a chapter's dataclass that
    declares it again (its own help comment stays beside it)."""
    if name not in _FIELDS:
        raise FakeitError(f"{name!r} is not a preset parameter; valid: {', '.join(_FIELDS)}")
    f = _FIELDS[name]
    if f.default_factory is not dataclasses.MISSING:
        return field(default_factory=f.default_factory)
    return field(default=f.default)
