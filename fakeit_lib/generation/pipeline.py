"""Text-to-image generators for synthetic datasets: a diffusers pipeline loaded from a hub id, a folder or "mini".

`load_generator` puts the pipeline on the resolved device (CUDA when available; float16 there, float32 on the CPU,
bfloat16 on the CPU under autocast) and identifies it by its hub commit or a content hash of its folder;
`generate_images` draws one batch, image k from its own `torch.Generator` seeded with its image seed.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.devices import resolve_device
from ..core.errors import FakeitError

PAPER_GENERATOR = "CompVis/stable-diffusion-v1-4"
MINI = "mini"
SD_WIDTH = 320  # channels of Stable Diffusion v1's first UNet block: a local generator this wide is paper-scale work
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


def _torch_dtype(name: str, device: str):
    import torch

    if name == "auto":
        return torch.float16 if device.startswith("cuda") else torch.float32
    if name == "float16" and device == "cpu":
        raise FakeitError("dtype float16 is not supported on the CPU; use float32 or bfloat16 (autocast)")
    return getattr(torch, name)


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


@functools.lru_cache(maxsize=None)
def generator_content(spec: str, revision: str | None = None) -> str:
    """The identity of a generator's weights: the content hash of its local folder (the mini generator included), or
    `hub:<id>@<revision>` for a hub model (the resolved snapshot is recorded as generator_revision once loaded)."""
    folder = _generator_folder(spec) if spec == MINI or Path(spec).expanduser().exists() else None
    if folder is not None:
        return folder_revision(folder)
    return f"hub:{spec}@{revision or 'default'}"


def paper_scale_work(spec: str, folder: Path | None) -> str | None:
    """What makes a generator paper-scale work (`--device auto` then needs a GPU): a hub id, or a local folder whose
    UNet is Stable Diffusion-sized (its first block at least SD_WIDTH channels); None for the mini and tiny ones."""
    if folder is None:
        return f"generator {spec!r} (from the Hugging Face hub)"
    try:
        widths = json.loads((folder / "unet" / "config.json").read_text()).get("block_out_channels") or [0]
    except (OSError, ValueError):
        return None
    if widths[0] >= SD_WIDTH:
        return f"generator {spec!r} (a Stable Diffusion-sized UNet, {widths[0]} channels wide)"
    return None


def _generator_folder(spec: str) -> Path | None:
    """The local folder a generator spec names, None for a hub id; FakeitError for a missing path."""
    if spec == MINI:
        from .mini.model import mini_generator_path

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

    folder = _generator_folder(spec)
    device = resolve_device(device, paper_scale_work(spec, folder))
    torch_dtype = _torch_dtype(dtype, device)
    autocast = None
    if device == "cpu" and torch_dtype == torch.bfloat16:
        autocast, torch_dtype = torch.bfloat16, torch.float32  # bf16 on the CPU: fp32 weights, bf16 autocast
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
            from .mini.model import MiniFashionPipeline

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
