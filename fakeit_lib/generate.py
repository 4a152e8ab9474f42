"""Synthetic datasets: a class set's prompts turned into images by a diffusers text-to-image model (paper Sec. 3-5).

`generate_dataset(GenerateConfig(...))` writes one ImageFolder-compatible folder per class (named by
`ClassInfo.folder`), a `manifest.jsonl` with one row per image (its label is `class_index`: for Fashion-MNIST the
official label, which sorted folder names would not give), the resolved `config.yaml`, and a `DONE` marker last.

Reproducibility contract:
- Image `i` of class `c` gets the seed `image_seed(seed, c, i)` and its own `torch.Generator`, so its initial noise
  is the same whatever the batch size, the number of processes or where a run resumed.
- Images are grouped into FIXED batches of `batch_size` (in class, then image order); a batch is the unit of work,
  so an image is always computed with the same companions. A killed run, rerun with the same command, skips the
  batches whose manifest rows were written and ends byte-identical to an uninterrupted run.
- Under `torchrun` / `accelerate launch` (RANK, WORLD_SIZE, LOCAL_RANK), batch `b` goes to rank `b % WORLD_SIZE`;
  each rank appends to `manifest.rank{r}.jsonl`; when all are finished, the shards are merged into
  `manifest.jsonl` (rows in class, then image order) and `DONE` is written.

Background prompts (`c_hc_inside_b`, one prompt per class and Places365 scene): image `i` of class `c` uses scene
number `(i + c) mod 365`, so every scene is used equally often within a class and classes start at different
scenes.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import io
import json
import math
import os
import re
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from . import store
from .errors import FakeitError
from .params import from_dict

PAPER_GENERATOR = "CompVis/stable-diffusion-v1-4"
MINI = "mini"
MANIFEST = "manifest.jsonl"
DTYPES = ("auto", "float32", "float16", "bfloat16")
# scheduler names -> diffusers classes (each built with from_config(pipe.scheduler.config))
SCHEDULERS = {
    "ddim": "DDIMScheduler",
    "ddpm": "DDPMScheduler",
    "pndm": "PNDMScheduler",
    "lms": "LMSDiscreteScheduler",
    "euler": "EulerDiscreteScheduler",
    "euler-a": "EulerAncestralDiscreteScheduler",
    "heun": "HeunDiscreteScheduler",
    "dpm++": "DPMSolverMultistepScheduler",
    "dpm++sde": "DPMSolverSDEScheduler",
    "unipc": "UniPCMultistepScheduler",
}
# known real training-set sizes per class, for `match` and `x<M>` without a root
REAL_COUNTS_KNOWN = ("fashion-mnist",)
MANIFEST_FIELDS = (
    "path", "class_index", "wnid", "variant", "text", "scene", "seed",
    "guidance", "steps", "generator", "revision", "size", "sha256",
)  # fmt: skip


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
    device: str = "auto"  # auto: cuda:LOCAL_RANK when CUDA is available, else cpu
    safety_checker: bool = False  # keep the NSFW filter: off, as it blacks out false positives (images silently lost)
    revision: str | None = None  # hub revision (branch, tag or commit) of the generator; None: the default branch

    def validate(self) -> None:
        """Raise FakeitError naming the first bad field."""
        from .prompts import check_variant

        check_variant(self.variant)
        if not math.isfinite(self.guidance) or self.guidance < 0:
            raise FakeitError(f"guidance must be a number >= 0 (paper: 7.5 or 2.0), got {self.guidance}")
        if self.steps < 1:
            raise FakeitError(f"steps must be >= 1 (paper: 50), got {self.steps}")
        if self.seed < 0:
            raise FakeitError(f"seed must be >= 0, got {self.seed}")
        if self.batch_size < 1:
            raise FakeitError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.size is not None and self.size < 8:
            raise FakeitError(f"size must be >= 8 pixels or None (the generator's native size), got {self.size}")
        if self.scheduler is not None and self.scheduler not in SCHEDULERS:
            raise FakeitError(f"unknown scheduler {self.scheduler!r}; valid: {', '.join(SCHEDULERS)}")
        if self.dtype not in DTYPES:
            raise FakeitError(f"unknown dtype {self.dtype!r}; valid: {', '.join(DTYPES)}")
        if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", self.device):
            raise FakeitError(f"unknown device {self.device!r}; valid: auto, cpu, cuda, cuda:N, mps")
        if not self.generator:
            raise FakeitError(f"generator must be a hub id, a local folder or {MINI!r}, got {self.generator!r}")
        parse_images_per_class(self.images_per_class)


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

            from .realdata import fashion_mnist

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


def plan_images(class_set, prompts: list, counts: list[int], seed: int) -> list[ImageJob]:
    """Every image of the dataset, in class then image order."""
    by_class: dict[int, list] = {}
    for p in prompts:
        by_class.setdefault(p.class_index, []).append(p)
    jobs = []
    for c, n in zip(class_set, counts):
        options = by_class.get(c.index)
        if not options:
            raise FakeitError(f"class {c.name!r} (index {c.index}) has no prompt")
        for i in range(n):
            p = options[scene_number(c.index, i, len(options))]
            jobs.append(ImageJob(f"{c.folder}/{c.folder}_{i:05d}.png", c.index, c.wnid, p.text, p.scene, image_seed(seed, c.index, i)))
    return jobs


def fixed_batches(n_images: int, batch_size: int) -> list[range]:
    """Positions of the images of each batch: consecutive runs of batch_size (the last may be shorter)."""
    return [range(s, min(s + batch_size, n_images)) for s in range(0, n_images, batch_size)]


# ----------------------------------------------------------------------------------------------------------------
# The generator


def _torch_dtype(name: str, device: str):
    import torch

    if name == "auto":
        return torch.float16 if device.startswith("cuda") else torch.float32
    if name == "float16" and device == "cpu":
        raise FakeitError("dtype float16 is not supported on the CPU; use float32 or bfloat16 (autocast)")
    return getattr(torch, name)


def resolve_device(device: str = "auto") -> str:
    """The torch device to run on: cuda:LOCAL_RANK when CUDA is available for "auto", else cpu."""
    import torch

    if device == "auto" and not torch.cuda.is_available():
        return "cpu"
    if device in ("auto", "cuda"):
        return f"cuda:{_env_rank()[2] % max(1, torch.cuda.device_count())}"
    return device


def folder_revision(folder: Path) -> str:
    """A content hash of a local model folder: every file's path, size, and bytes if the folder is under 256 MB."""
    folder = Path(folder)
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not any(s.startswith(".") for s in p.relative_to(folder).parts))
    small = sum(p.stat().st_size for p in files) < 256 * 2**20
    h = hashlib.sha256()
    for p in files:
        h.update(f"{p.relative_to(folder).as_posix()}:{p.stat().st_size}\n".encode())
        if small or p.name == "model_index.json" or p.suffix == ".json":
            h.update(p.read_bytes())
    return "sha256:" + h.hexdigest()[:16]


def _generator_folder(spec: str) -> Path | None:
    """The local folder a generator spec names, None for a hub id; FakeitError for a missing path."""
    if spec == MINI:
        from .minigen import mini_generator_path

        path = mini_generator_path()
        if not (path / "model_index.json").exists():
            raise FakeitError(f"the mini generator's weights are missing from {path}; train them with `fakeit train-generator`")
        return path
    path = Path(spec).expanduser()
    if path.exists():
        if not (path / "model_index.json").is_file():
            raise FakeitError(f"generator folder {path} holds no model_index.json; expected a diffusers pipeline saved with save_pretrained")
        return path
    looks_like_path = spec.startswith(("/", ".", "~")) or spec.count("/") != 1 or os.sep != "/" and os.sep in spec
    if looks_like_path:
        raise FakeitError(
            f"generator {spec!r} does not exist; valid: {MINI!r}, a local diffusers folder, "
            f"or a hub id such as {PAPER_GENERATOR}"
        )
    return None


@dataclass
class LoadedGenerator:
    """A ready pipeline and what identifies it."""

    pipe: Any  # a diffusers DiffusionPipeline
    name: str  # the spec it was loaded from (hub id, folder, or "mini")
    revision: str  # hub commit, or a content hash of a local folder
    device: str
    autocast: Any  # torch.bfloat16 when running under CPU autocast, else None
    native_size: int | None


def load_generator(
    spec: str,
    device: str = "auto",
    dtype: str = "auto",
    scheduler: str | None = None,
    safety_checker: bool = False,
    revision: str | None = None,
) -> LoadedGenerator:
    """A text-to-image pipeline from a hub id, a local diffusers folder or "mini", on `device`, with its revision."""
    import torch
    from diffusers import DiffusionPipeline

    device = resolve_device(device)
    torch_dtype = _torch_dtype(dtype, device)
    autocast = None
    if device == "cpu" and torch_dtype == torch.bfloat16:
        autocast, torch_dtype = torch.bfloat16, torch.float32  # bf16 on the CPU: fp32 weights, bf16 autocast
    folder = _generator_folder(spec)
    if folder is None:  # a hub id: download (or find in the cache) the snapshot, without the safety checker's weights
        skip = {} if safety_checker else {"safety_checker": None}
        try:
            folder = Path(DiffusionPipeline.download(spec, revision=revision, **skip))
        except Exception as e:  # offline, unknown repository, gated model...
            raise FakeitError(
                f"generator {spec!r} is not a local folder and could not be had from the Hugging Face hub or its "
                f"cache ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); valid: {MINI!r}, a local "
                f"diffusers folder, or a hub id reachable from here"
            ) from None
        rev = folder.name if folder.parent.name == "snapshots" else folder_revision(folder)
    else:
        rev = folder_revision(folder)
    index = json.loads((folder / "model_index.json").read_text())
    kwargs: dict[str, Any] = {"torch_dtype": torch_dtype}
    if not safety_checker and (index.get("safety_checker") or [None])[0] is not None:
        kwargs["safety_checker"] = None
        import inspect

        import diffusers

        pipeline_class = getattr(diffusers, str(index.get("_class_name")), None)
        if pipeline_class is not None and "requires_safety_checker" in inspect.signature(pipeline_class.__init__).parameters:
            kwargs["requires_safety_checker"] = False  # deliberate: no warning about it
    try:
        warnings.filterwarnings("ignore", message="`torch_dtype` is deprecated")  # its replacement is too new to rely on
        if index.get("_class_name") == "MiniFashionPipeline":
            from .minigen import MiniFashionPipeline

            pipe = MiniFashionPipeline.from_pretrained(folder, **kwargs)
        else:
            pipe = DiffusionPipeline.from_pretrained(folder, local_files_only=True, **kwargs)
    except FakeitError:
        raise
    except Exception as e:
        raise FakeitError(f"cannot load generator {spec!r} from {folder}: {type(e).__name__}: {e}") from None
    if scheduler is not None:
        import diffusers

        try:
            pipe.scheduler = getattr(diffusers, SCHEDULERS[scheduler]).from_config(pipe.scheduler.config)
        except (ImportError, AttributeError, OSError, ValueError) as e:  # e.g. dpm++sde needs the torchsde package
            raise FakeitError(f"scheduler {scheduler!r} is not available here: {' '.join(str(e).split())}") from None
    pipe.set_progress_bar_config(disable=True)
    pipe = pipe.to(device)  # attention runs through PyTorch SDPA (diffusers' default processor on torch >= 2)
    native = getattr(pipe, "native_size", None)
    if native is None and getattr(pipe, "unet", None) is not None and hasattr(pipe, "vae_scale_factor"):
        native = int(pipe.unet.config.sample_size) * int(pipe.vae_scale_factor)
    return LoadedGenerator(pipe, spec, rev, device, autocast, native)


def generate_images(gen: LoadedGenerator, texts: list[str], seeds: list[int], guidance: float, steps: int, size: int | None) -> list:
    """PIL images for the prompts, image k drawn from its own torch.Generator seeded with seeds[k]."""
    import torch

    generators = [torch.Generator("cpu").manual_seed(s) for s in seeds]
    kwargs = {} if size is None else {"height": size, "width": size}
    ctx = torch.autocast("cpu", dtype=gen.autocast) if gen.autocast is not None else contextlib.nullcontext()
    with ctx:
        out = gen.pipe(prompt=texts, num_inference_steps=steps, guidance_scale=guidance, generator=generators, output_type="pil", **kwargs)
    return out.images


# ----------------------------------------------------------------------------------------------------------------
# Processes


def _env_rank() -> tuple[int, int, int]:
    """(rank, world size, local rank) as set by torchrun, accelerate launch or a Slurm script exporting them."""
    env = os.environ
    try:
        world = int(env.get("WORLD_SIZE", "1"))
        rank = int(env.get("RANK", "0"))
        local = int(env.get("LOCAL_RANK", str(rank)))
    except ValueError:
        raise FakeitError(
            f"RANK/WORLD_SIZE/LOCAL_RANK must be integers, got {env.get('RANK')!r}/{env.get('WORLD_SIZE')!r}/{env.get('LOCAL_RANK')!r}"
        ) from None
    if world < 1 or not 0 <= rank < world:
        raise FakeitError(f"RANK={rank} is not within WORLD_SIZE={world}")
    return rank, world, local


class _Ranks:
    """This process's rank, and a barrier: torch.distributed when launched with a rendezvous, else none."""

    def __init__(self, device: str):
        self.rank, self.world, self.local_rank = _env_rank()
        self.owned = False
        self.dist = None
        if self.world > 1 and "MASTER_ADDR" in os.environ:
            import torch.distributed as dist

            if not dist.is_initialized():
                backend = "nccl" if device.startswith("cuda") else "gloo"
                dist.init_process_group(backend, timeout=timedelta(hours=12))
                self.owned = True
            self.dist = dist
            self.device = device

    def barrier(self) -> None:
        if self.dist is not None:
            if self.dist.get_backend() == "nccl":
                self.dist.barrier(device_ids=[int(self.device.split(":")[1])])
            else:
                self.dist.barrier()

    def close(self) -> None:
        if self.owned and self.dist is not None and self.dist.is_initialized():
            self.dist.destroy_process_group()


# ----------------------------------------------------------------------------------------------------------------
# Manifest shards


def _shard(folder: Path, rank: int) -> Path:
    return folder / f"manifest.rank{rank}.jsonl"


def _read_rows(path: Path) -> tuple[list[dict], int]:
    """The complete rows of a JSON-lines file and the byte length they span (a truncated last line is left out)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return [], 0
    rows, end = [], 0
    for line in data.split(b"\n")[:-1]:  # the part after the last newline is incomplete
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            break
        end += len(line) + 1
    return rows, end


def _complete_batches(rows: list[dict], batch_of: dict[str, int], sizes: list[int]) -> dict[int, list[dict]]:
    """The rows of the batches all of whose images have a row, by batch number."""
    found: dict[int, dict[str, dict]] = {}
    for r in rows:
        b = batch_of.get(r.get("path"))
        if b is not None:
            found.setdefault(b, {})[r["path"]] = r
    return {b: list(v.values()) for b, v in found.items() if len(v) == sizes[b]}


def _append_rows(path: Path, rows: list[dict]) -> None:
    """Append rows in one write, flushed to disk: a batch's rows are all there or (after a crash) cut short."""
    data = "".join(json.dumps(r) + "\n" for r in rows).encode()
    with open(path, "ab") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _repair_shard(path: Path, keep: dict[int, list[dict]]) -> None:
    """Rewrite a shard to hold only rows of complete batches (drops a truncated line or a cut-short batch)."""
    rows, end = _read_rows(path)
    n_keep = sum(len(v) for v in keep.values())
    if path.exists() and (end != path.stat().st_size or n_keep != len(rows)):
        store.atomic_write_bytes(path, b"".join((json.dumps(r) + "\n").encode() for b in sorted(keep) for r in keep[b]))


def _done_batches(folder: Path, batch_of: dict[str, int], sizes: list[int]) -> dict[int, list[dict]]:
    """Complete batches found in manifest.jsonl and every rank's shard (the first source holding one wins)."""
    done: dict[int, list[dict]] = {}
    sources = [folder / MANIFEST] + sorted(folder.glob("manifest.rank*.jsonl"))
    for src in sources:
        for b, rows in _complete_batches(_read_rows(src)[0], batch_of, sizes).items():
            done.setdefault(b, rows)
    return done


def _remove_temporaries(folder: Path, class_folders: list[str]) -> None:
    for name in class_folders:
        for tmp in (folder / name).glob(".*.tmp"):
            tmp.unlink(missing_ok=True)


def _finish(folder: Path, jobs: list[ImageJob], batch_of: dict[str, int], sizes: list[int], class_folders: list[str], summary: dict) -> bool:
    """Merge the shards into a sorted manifest.jsonl and write DONE, if every batch is complete; True if so."""
    done = _done_batches(folder, batch_of, sizes)
    if len(done) < len(sizes):
        return False
    by_path = {r["path"]: r for rows in done.values() for r in rows}
    text = "".join(json.dumps(by_path[j.path]) + "\n" for j in jobs)
    store.atomic_write_text(folder / MANIFEST, text)
    for shard in folder.glob("manifest.rank*.jsonl"):
        shard.unlink(missing_ok=True)
    _remove_temporaries(folder, class_folders)
    store.mark_done(folder, summary)
    return True


# ----------------------------------------------------------------------------------------------------------------
# The dataset


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9.]+", "-", text.lower()).strip("-") or "x"


def dataset_dir(config: GenerateConfig, root: Path | None = None) -> Path:
    """The default folder of a synthetic dataset: <output root>/<classes>-<variant>-gs<guidance>-<generator>-<hash>."""
    classes = Path(config.classes).stem if os.sep in config.classes else config.classes
    gen = Path(config.generator.rstrip("/")).name
    return store.stage_dir(f"{_slug(classes)}-{config.variant}-gs{config.guidance:g}-{_slug(gen)}", config, root)


def _check_output_folder(folder: Path, recorded: dict) -> bool:
    """Raise FakeitError if `folder` cannot take this dataset; True if it already holds it complete."""
    if folder.exists():
        if not folder.is_dir():
            raise FakeitError(f"output folder {folder} exists and is not a folder")
        existing = store.read_config(folder)
        if existing is not None:
            mine = {k: v for k, v in recorded.items() if k != "generator_revision"}
            theirs = {k: v for k, v in existing.items() if k != "generator_revision"}
            if mine != theirs:
                diff = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
                raise FakeitError(
                    f"output folder {folder} holds a dataset made with another config (differs in: {', '.join(diff)}); "
                    "choose another folder or remove it"
                )
            if store.is_done(folder):
                return True
        elif any(p.name != ".gitkeep" for p in folder.iterdir()):
            raise FakeitError(f"output folder {folder} is not empty and holds no {store.CONFIG_FILE}; choose an empty or new folder")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise FakeitError(f"output folder {folder} is not writable")
        return False
    parent = folder.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise FakeitError(f"cannot create output folder {folder}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise FakeitError(f"cannot create output folder {folder}: {parent} is not writable")
    return False


def _png(image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def _write_image(folder: Path, job: ImageJob, image, config: GenerateConfig, revision: str) -> dict:
    """Save one image as PNG (temp file + atomic rename) and return its manifest row."""
    data = _png(image)
    store.atomic_write_bytes(folder / job.path, data)
    return {
        "path": job.path, "class_index": job.class_index, "wnid": job.wnid, "variant": config.variant,
        "text": job.text, "scene": job.scene, "seed": job.seed, "guidance": config.guidance, "steps": config.steps,
        "generator": config.generator, "revision": revision, "size": list(image.size),
        "sha256": hashlib.sha256(data).hexdigest(),
    }  # fmt: skip


def _wait_for(path: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if time.monotonic() > deadline:
            raise FakeitError(f"{path} did not appear within {seconds:.0f} s; did rank 0 fail?")
        time.sleep(0.5)


def generate_dataset(config: GenerateConfig, out: str | Path | None = None, progress: bool = True) -> Path:
    """Write (or finish, or find finished) the synthetic dataset of `config` in `out` and return its folder."""
    from .classes import load_class_set
    from .prompts import build_prompts

    config.validate()
    class_set = load_class_set(config.classes)
    prompts = build_prompts(class_set, config.variant)
    counts = resolve_counts(config.images_per_class, class_set)
    folder = Path(out).expanduser() if out is not None else dataset_dir(config)
    recorded = {**dataclasses.asdict(config), "class_set": class_set.name, "counts": counts}
    if _check_output_folder(folder, recorded):
        print(f"complete dataset found: {folder}", file=sys.stderr)
        return folder
    gen = load_generator(config.generator, config.device, config.dtype, config.scheduler, config.safety_checker, config.revision)
    fixed = getattr(gen.pipe, "native_size", None)  # generators that draw one size only (the mini generator)
    if config.size is not None and fixed is not None and config.size != fixed:
        raise FakeitError(f"generator {config.generator!r} draws only {fixed}x{fixed} images; got size {config.size}")
    if config.size is not None and fixed is None and config.size % 8:
        raise FakeitError(f"size must be a multiple of 8 for {config.generator!r}, got {config.size}")
    recorded["generator_revision"] = gen.revision

    jobs = plan_images(class_set, prompts, counts, config.seed)
    batches = fixed_batches(len(jobs), config.batch_size)
    sizes = [len(b) for b in batches]
    batch_of = {jobs[k].path: b for b, positions in enumerate(batches) for k in positions}
    class_folders = [c.folder for c in class_set]
    summary = {"images": len(jobs), "classes": len(class_set), "generator": config.generator, "revision": gen.revision}

    ranks = _Ranks(gen.device)
    try:
        if ranks.rank == 0:
            store.claim_folder(folder, recorded)
            ranks.barrier()
        else:
            ranks.barrier()
            _wait_for(folder / store.CONFIG_FILE, 600)
            store.claim_folder(folder, recorded)
        if ranks.world == 1:
            _remove_temporaries(folder, class_folders)
        for name in class_folders:
            (folder / name).mkdir(exist_ok=True)
        shard = _shard(folder, ranks.rank)
        done = _done_batches(folder, batch_of, sizes)
        mine = list(range(ranks.rank, len(batches), ranks.world))
        _repair_shard(shard, _complete_batches(_read_rows(shard)[0], batch_of, sizes))
        todo = [b for b in mine if b not in done]
        n_mine = sum(sizes[b] for b in mine)
        n_todo = sum(sizes[b] for b in todo)
        from tqdm.auto import tqdm

        desc = "generate" if ranks.world == 1 else f"generate rank {ranks.rank}"
        bar = tqdm(total=n_mine, initial=n_mine - n_todo, unit="img", desc=desc, position=ranks.rank, disable=not progress, dynamic_ncols=True)
        start = time.perf_counter()

        def save(batch: list[ImageJob], images: list) -> None:  # images first, then the batch's manifest rows
            _append_rows(shard, [_write_image(folder, j, image, config, gen.revision) for j, image in zip(batch, images)])
            bar.update(len(batch))

        # one writer thread saves batch b (PNG, fsync, rows) while batch b+1 is generated; at most one batch waits
        with ThreadPoolExecutor(max_workers=1) as writer:
            pending = None
            for b in todo:
                batch = [jobs[k] for k in batches[b]]
                images = generate_images(gen, [j.text for j in batch], [j.seed for j in batch], config.guidance, config.steps, config.size)
                if pending is not None:
                    pending.result()  # raises the writer's error, if any
                pending = writer.submit(save, batch, images)
            if pending is not None:
                pending.result()
        bar.close()
        seconds = time.perf_counter() - start
        who = "" if ranks.world == 1 else f"rank {ranks.rank}: "
        print(
            f"{who}generated {n_todo} images in {seconds:.1f} s ({n_todo / max(seconds, 1e-9):.2f} images/s); "
            f"{n_mine - n_todo} were already done -> {folder}",
            file=sys.stderr,
        )
        ranks.barrier()
        if ranks.rank == 0 or ranks.dist is None:
            finished = _finish(folder, jobs, batch_of, sizes, class_folders, summary)
            if not finished and ranks.dist is not None:
                raise FakeitError(f"{folder}: some batches are missing after every rank finished; rerun the same command")
            if not finished:
                print(f"{who}waiting for the other ranks; the last to finish writes {store.DONE_MARKER}", file=sys.stderr)
        ranks.barrier()
    finally:
        ranks.close()
    return folder


# ----------------------------------------------------------------------------------------------------------------
# Command line


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Options of `fakeit generate` (defaults: GenerateConfig, the paper's)."""
    d = GenerateConfig()
    parser.add_argument("--classes", required=True, metavar="SET", help="imagenet1k, imagenet100, imagenet-r, imagenet-a, fashion-mnist or a class file")
    parser.add_argument("--variant", default=d.variant, metavar="V", help=f"prompt variant (default {d.variant})")
    parser.add_argument("--generator", default=d.generator, metavar="ID|PATH|mini", help=f"hub id, local diffusers folder or mini (default {d.generator})")
    parser.add_argument("--revision", default=None, help="hub revision of the generator (branch, tag or commit)")
    parser.add_argument(
        "--images-per-class", default=str(d.images_per_class), metavar="N|match[:ROOT]|xM[:ROOT]",
        help="N, the real per-class counts of an ImageFolder ROOT (match:ROOT), or M times them (x0.1:ROOT ... x50:ROOT); "
        f"without ROOT the known real counts (only {', '.join(REAL_COUNTS_KNOWN)}). Default {d.images_per_class}",
    )  # fmt: skip
    parser.add_argument("--guidance", type=float, default=d.guidance, help=f"classifier-free guidance scale (default {d.guidance})")
    parser.add_argument("--steps", type=int, default=d.steps, help=f"denoising steps (default {d.steps})")
    parser.add_argument("--seed", type=int, default=d.seed, help=f"dataset seed (default {d.seed})")
    parser.add_argument("--size", default="native", metavar="PX|native", help="image side in pixels (default: the generator's native size)")
    parser.add_argument("--batch-size", type=int, default=d.batch_size, help=f"images per pipeline call (default {d.batch_size})")
    parser.add_argument("--scheduler", default=None, choices=list(SCHEDULERS), help="sampler (default: the generator's own)")
    parser.add_argument("--dtype", default=d.dtype, choices=list(DTYPES), help="auto: float16 on CUDA, float32 on CPU")
    parser.add_argument("--device", default=d.device, help="auto, cpu, cuda, cuda:N (default auto: cuda:LOCAL_RANK if available)")
    parser.add_argument("--keep-safety-checker", action="store_true", help="keep the generator's NSFW filter (off: it blacks out false positives)")
    parser.add_argument("--out", default=None, metavar="DIR", help="dataset folder (default: <output root>/<slug>-<config hash>)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """`fakeit generate`: write a synthetic dataset and print its folder."""
    ipc: int | str = args.images_per_class
    if re.fullmatch(r"-?\d+", ipc.strip()):
        ipc = int(ipc)
    if args.size == "native":
        size = None
    elif re.fullmatch(r"\d+", args.size):
        size = int(args.size)
    else:
        raise FakeitError(f"--size must be a number of pixels or 'native', got {args.size!r}")
    config = from_dict(GenerateConfig, {
        "classes": args.classes, "variant": args.variant, "generator": args.generator,
        "images_per_class": ipc, "guidance": args.guidance, "steps": args.steps, "seed": args.seed, "size": size,
        "batch_size": args.batch_size, "scheduler": args.scheduler, "dtype": args.dtype, "device": args.device,
        "safety_checker": args.keep_safety_checker, "revision": args.revision,
    })  # fmt: skip
    folder = generate_dataset(config, args.out, progress=not args.no_progress)
    print(folder)
    return 0
