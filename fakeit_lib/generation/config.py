"""What a synthetic dataset holds before any image is drawn: its config, per-class counts, seeds, prompts and batches.

Reproducibility contract of every generated dataset:
- Image `i` of class `c` gets the seed `image_seed(seed, c, i)` and its own `torch.Generator`, so its initial noise
  is the same whatever the batch size, the number of processes or where a run resumed.
- Batches are prefix-stable: batch k of class c is always the `batch_size` images [k*B, (k+1)*B) of that class,
  whatever the clone's size. When a clone holds fewer images of a class than the end of its last batch, that batch
  is still drawn whole and the surplus images are discarded. An image is therefore computed with the same
  companions (the same pipeline call) in a 1x clone and in a 50x clone, so the first n images of every class of a
  larger clone are, byte for byte, the images of a smaller one: smaller clones can be views of a larger one.
  The surplus costs at most B-1 images a class (paper scale, B=8 and ~1,300 images a class: under 0.6%).
- Background prompts (`c_hc_inside_b`, one prompt per class and Places365 scene): image `i` of class `c` uses scene
  number `(i + c) mod 365`, so every scene is used equally often within a class and classes start at different
  scenes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..core import store
from ..core.devices import DEVICE_CHOICES, DEVICE_PATTERN
from ..core.errors import FakeitError
from ..datasets.classes import load_class_set
from ..prompts.variants import BACKGROUND_VARIANTS, check_variant
from .pipeline import DTYPES, MINI, PAPER_GENERATOR, SCHEDULERS, generator_content

# known real training-set sizes per class, for `match` and `x<M>` without a root
REAL_COUNTS_KNOWN = ("fashion-mnist",)
# fields that say where, how fast or in which files a dataset is made, not what it holds: left out of its identity
# (a clone stored as shards holds the very images of one stored as folders, so it is the same dataset)
NOT_IDENTITY = ("device", "storage", "shard_images")
STORAGES = ("folder", "shards")


@dataclass
class GenerateConfig:
    """What a synthetic dataset is made of; the paper's ImageNet-1K-SD settings are the defaults."""

    classes: str = "imagenet1k"  # class set (imagenet1k, imagenet100, imagenet-r, imagenet-a, fashion-mnist) or class file
    variant: str = "c_dc"  # prompt variant (c, c_hc, c_dc, c_hc_inside_b, clip); paper's ImageNet-1K-SD: c_dc
    generator: str = PAPER_GENERATOR  # hub id, local diffusers folder, or "mini"; paper: Stable Diffusion v1.4
    images_per_class: int | str = 1300  # N, "match[:<ImageFolder root>]" or "x<M>[:<root>]"; paper: match the real set
    guidance: float = 7.5  # classifier-free guidance scale; paper: 7.5 (default) and 2.0 (more diverse)
    steps: int = 50  # denoising steps; paper: 50
    seed: int = 0  # dataset seed; image seeds derive from (seed, class index, image index)
    size: int | None = None  # image side in pixels; None: the generator's native size (SD v1.4: 512, the paper's)
    batch_size: int = 8  # images per pipeline call; part of the result: an image is always made with the same batch
    scheduler: str | None = None  # sampler (ddim, pndm, dpm++, euler, ...); None: the generator's own (SD v1.4: PNDM)
    dtype: str = "auto"  # auto: float16 on CUDA, float32 on CPU; bfloat16 on CPU runs under autocast
    device: str = "auto"  # auto: cuda:LOCAL_RANK when CUDA is available, else cpu (not part of the identity)
    safety_checker: bool = False  # keep the NSFW filter: off, as it blacks out false positives (images silently lost)
    revision: str | None = None  # hub revision (branch, tag or commit) of the generator; None: the default branch
    storage: str = "folder"  # folder: one PNG file an image in class folders; shards: WebDataset-style tar shards
    # (`<key>.png` + `<key>.json` members, datasets/shards.py), a file per `shard_images` images instead of per image
    # (the paper presets: ~7.2 M images in ~2,900 files). Not part of the identity: the images are the same
    shard_images: int = 2500  # images a tar shard holds at least (whole batches): 2,500 512-px PNGs are about 1 GB

    def validate(self) -> None:
        """Raise FakeitError naming the first bad field."""
        check_variant(self.variant)
        if not math.isfinite(self.guidance) or self.guidance < 0:
            raise FakeitError(f"guidance must be a number >= 0 (paper: 7.5 or 2.0), got {self.guidance}")
        if self.steps < 1:
            raise FakeitError(f"steps must be >= 1 (paper: 50), got {self.steps}")
        if self.seed < 0:
            raise FakeitError(f"seed must be >= 0, got {self.seed}")
        if self.batch_size < 1:
            raise FakeitError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.storage not in STORAGES:
            raise FakeitError(f"unknown storage {self.storage!r}; valid: {', '.join(STORAGES)}")
        if self.shard_images < 1:
            raise FakeitError(f"shard_images must be >= 1, got {self.shard_images}")
        if self.size is not None and self.size < 8:
            raise FakeitError(f"size must be >= 8 pixels or None (the generator's native size), got {self.size}")
        if self.scheduler is not None and self.scheduler not in SCHEDULERS:
            raise FakeitError(f"unknown scheduler {self.scheduler!r}; valid: {', '.join(SCHEDULERS)}")
        if self.dtype not in DTYPES:
            raise FakeitError(f"unknown dtype {self.dtype!r}; valid: {', '.join(DTYPES)}")
        if not re.fullmatch(DEVICE_PATTERN, self.device):
            raise FakeitError(f"unknown device {self.device!r}; valid: {DEVICE_CHOICES}")
        if not self.generator:
            raise FakeitError(f"generator must be a hub id, a local folder or {MINI!r}, got {self.generator!r}")
        parse_images_per_class(self.images_per_class)


def identity(config: GenerateConfig) -> dict:
    """What decides a dataset's content, and what its folder name hashes: its settings (all but where and how it is
    stored and run), the generator's weights (a content hash of a local folder, named by its folder's name, or the hub
    id and revision) and the generation code. Never a path: `match:<root>` counts as `match` (the counts it resolves
    to are recorded beside the identity, and a folder holding other counts is refused), so the same clone keeps its
    folder wherever the real data and the generator are mounted, and a plan names it before the real data is there."""
    plain = {k: v for k, v in dataclasses.asdict(config).items() if k not in NOT_IDENTITY}
    if parse_images_per_class(config.images_per_class)[2] is not None:
        plain["images_per_class"] = str(config.images_per_class).strip().partition(":")[0]
    if config.generator != MINI and Path(config.generator).expanduser().exists():
        plain["generator"] = Path(config.generator.rstrip("/")).name
    return {**plain, "generator_content": generator_content(config.generator, config.revision),
            "classes_content": classes_content(config.classes, config.variant),
            "code": store.code_version("fakeit_lib.generation.generate")}


# The package's data files that background prompts read (the Places365 scene list, the scenes matched to the built-in
# class sets): part of a background clone's identity, as the class list is part of every clone's.
SCENE_FILES = ("places365_categories.txt", "matched_scenes.tsv")
_CLASSES_CONTENT: dict[tuple, str] = {}


def classes_content(classes: str, variant: str) -> str:
    """A short hash of what a clone's prompts are made of: every class as its set resolves it (wnid, names, definition,
    parents; a class file by its content, so an edited file makes a new clone) and, for background prompts, the
    package's scene lists. Computed once per process and class file version."""
    path = Path(classes).expanduser()
    key = (classes, variant in BACKGROUND_VARIANTS, path.stat().st_mtime_ns if path.is_file() else None)
    if key not in _CLASSES_CONTENT:
        h = hashlib.sha256(json.dumps([c.to_dict() for c in load_class_set(classes)], sort_keys=True).encode())
        if variant in BACKGROUND_VARIANTS:
            data = Path(__file__).resolve().parents[1] / "data"
            for name in SCENE_FILES:
                h.update(name.encode() + b"\0" + (data / name).read_bytes())
        _CLASSES_CONTENT[key] = h.hexdigest()[:12]
    return _CLASSES_CONTENT[key]


def dataset_slug(config: GenerateConfig) -> str:
    """The readable part of a dataset's folder name: <classes>-<variant>-gs<guidance>-<generator>."""
    classes = Path(config.classes).stem if os.sep in config.classes else config.classes
    gen = Path(config.generator.rstrip("/")).name
    name = lambda text: store.slug(text, "-", keep=".") or "x"
    return f"{name(classes)}-{config.variant}-gs{config.guidance:g}-{name(gen)}"


def dataset_dir(config: GenerateConfig, root: Path | None = None) -> Path:
    """The default folder of a synthetic dataset: <output root>/<slug>-<hash of its identity>."""
    return store.stage_dir(dataset_slug(config), identity(config), root)


# ----------------------------------------------------------------------------------------------------------------
# How many images, which prompt, which seed


def parse_images_per_class(spec: int | str) -> tuple[str, float, str | None]:
    """(kind, value, root) of an images-per-class spec: ("n", N, None), ("x", M, root|None); match = x1."""
    if isinstance(spec, int):
        kind, value, root = "n", float(spec), None
    else:
        text = str(spec).strip()
        head, _, root_part = text.partition(":")
        root = root_part or None
        if re.fullmatch(r"\d+", text):
            kind, value, root = "n", float(int(text)), None
        elif head == "match":
            kind, value = "x", 1.0
        elif re.fullmatch(r"x(\d+(\.\d*)?|\.\d+)", head):
            kind, value = "x", float(head[1:])
        else:
            raise FakeitError(
                f"images per class {spec!r} is not valid; valid: a number N >= 1, match[:<ImageFolder root>] "
                "(the real per-class counts) or x<M>[:<root>] (M times them, e.g. x0.1, x2)"
            )
    if kind == "n" and value < 1:
        raise FakeitError(f"images per class must be >= 1, got {spec!r}")
    if kind == "x" and value <= 0:
        raise FakeitError(f"the multiplier of images per class must be > 0, got {spec!r}")
    return kind, value, root


def real_counts(class_set, root: str | Path | None) -> list[int]:
    """Real training images per class (class-set order): counted in an ImageFolder root, or known (fashion-mnist)."""
    if root is None:
        if class_set.name == "fashion-mnist":
            import torch

            from ..datasets.fashion_mnist import fashion_mnist

            counts = torch.bincount(fashion_mnist("train").targets, minlength=len(class_set)).tolist()
            return [int(counts[c.index]) for c in class_set]
        raise FakeitError(
            f"the real per-class counts of class set {class_set.name!r} are not known here; give the real training "
            "set as match:<ImageFolder root> or x<M>:<root> (one folder per class named by wnid)"
        )
    from torchvision.datasets.folder import IMG_EXTENSIONS

    root = Path(root).expanduser()
    if not root.is_dir():
        raise FakeitError(f"match root {root} is not a folder; expected an ImageFolder root (one folder per class)")
    counts, missing = [], []
    for c in class_set:
        folder = root / c.folder
        n = sum(1 for p in folder.iterdir() if p.is_file() and p.name.lower().endswith(IMG_EXTENSIONS)) if folder.is_dir() else 0
        if n == 0:
            missing.append(c.folder)
        counts.append(n)
    if missing:
        raise FakeitError(
            f"match root {root} has no images for {len(missing)} class(es) of {class_set.name}, e.g. "
            f"{', '.join(missing[:5])}; expected one image folder per class named by ClassInfo.folder"
        )
    return counts


def resolve_counts(spec: int | str, class_set) -> list[int]:
    """Images to generate per class (class-set order); real counts scaled by M, rounded, at least 1."""
    kind, value, root = parse_images_per_class(spec)
    if kind == "n":
        return [int(value)] * len(class_set)
    return [max(1, int(math.floor(n * value + 0.5))) for n in real_counts(class_set, root)]


def image_seed(seed: int, class_index: int, image_index: int) -> int:
    """The seed of one image, from (dataset seed, class index, image index) alone (63 bits of a sha256)."""
    digest = hashlib.sha256(f"fakeit-image:{seed}:{class_index}:{image_index}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & ((1 << 63) - 1)


def scene_number(class_index: int, image_index: int, n_scenes: int) -> int:
    """Which of a class's background prompts image `image_index` uses: (i + c) mod n_scenes."""
    return (image_index + class_index) % n_scenes


@dataclass(frozen=True, slots=True)
class ImageJob:
    """One image to generate: where it goes, from which prompt and seed."""

    path: str  # relative to the dataset folder: <class folder>/<class folder>_<image index>.png
    class_index: int
    wnid: str | None
    text: str
    scene: str | None
    seed: int


@dataclass(frozen=True)
class Batch:
    """One pipeline call: images [start, start + B) of one class; the dataset keeps the first `keep` of them."""

    jobs: tuple[ImageJob, ...]
    keep: int

    @property
    def kept(self) -> tuple[ImageJob, ...]:
        return self.jobs[: self.keep]


def _prompt_options(class_set, prompts: list) -> dict[int, list]:
    by_class: dict[int, list] = {}
    for p in prompts:
        by_class.setdefault(p.class_index, []).append(p)
    for c in class_set:
        if not by_class.get(c.index):
            raise FakeitError(f"class {c.name!r} (index {c.index}) has no prompt")
    return by_class


def _job(c, i: int, options: list, seed: int) -> ImageJob:
    p = options[scene_number(c.index, i, len(options))]
    return ImageJob(f"{c.folder}/{c.folder}_{i:05d}.png", c.index, c.wnid, p.text, p.scene, image_seed(seed, c.index, i))


def plan_images(class_set, prompts: list, counts: list[int], seed: int) -> list[ImageJob]:
    """Every image the dataset holds, in class then image order."""
    by_class = _prompt_options(class_set, prompts)
    return [_job(c, i, by_class[c.index], seed) for c, n in zip(class_set, counts) for i in range(n)]


def plan_batches(class_set, prompts: list, counts: list[int], seed: int, batch_size: int) -> list[Batch]:
    """The pipeline calls of a dataset, in class then image order: whole, prefix-stable batches (module docstring)."""
    by_class = _prompt_options(class_set, prompts)
    batches = []
    for c, n in zip(class_set, counts):
        for start in range(0, n, batch_size):
            jobs = tuple(_job(c, i, by_class[c.index], seed) for i in range(start, start + batch_size))
            batches.append(Batch(jobs, min(batch_size, n - start)))
    return batches


def is_prefix(small: dict, large: dict) -> bool:
    """True when the recorded config `large` holds the dataset `small` as the first images of each class: the same
    settings but images_per_class, and at least as many images in every class."""
    same = {k: v for k, v in small.items() if k not in ("images_per_class", "counts", "generator_revision")}
    other = {k: v for k, v in large.items() if k not in ("images_per_class", "counts", "generator_revision")}
    a, b = small.get("counts") or [], large.get("counts") or []
    return same == other and len(a) == len(b) and all(x <= y for x, y in zip(a, b))


def plan_shards(batches: list[Batch], shard_images: int) -> list[list[int]]:
    """The batch numbers each tar shard holds: consecutive whole batches, a new shard once one keeps at least
    `shard_images` images. Fixed before any image is drawn, so a shard's content does not depend on the processes,
    on where a run resumed, or on image sizes; under torchrun a shard is one rank's (shard s: rank s % WORLD_SIZE)."""
    shards: list[list[int]] = [[]]
    kept = 0
    for b, batch in enumerate(batches):
        if kept >= shard_images:
            shards.append([])
            kept = 0
        shards[-1].append(b)
        kept += batch.keep
    return shards if batches else []
