"""Where a stage runs: the torch device (CUDA when available), mixed precision and data-loader settings per device.

Every stage that runs a network (generate, train, evaluate, transfer) takes `device` ("auto" by default) and
resolves it here, so a GPU owner gets the GPU without a flag and a CPU-only machine runs the same code. Under
torchrun each process takes the GPU of its LOCAL_RANK. Where a stage runs is not part of its identity: a result
computed on one GPU or eight, or on the CPU, lands in the same folder.
"""

from __future__ import annotations

import os
import re

from .errors import FakeitError

DEVICE_PATTERN = r"auto|cpu|mps|cuda(:\d+)?"
DEVICE_CHOICES = "auto, cpu, cuda, cuda:N, mps"


def check_device(device: str) -> str:
    """`device` if it names a device this library knows, else FakeitError naming it and the valid ones."""
    if not isinstance(device, str) or not re.fullmatch(DEVICE_PATTERN, device):
        raise FakeitError(f"unknown device {device!r}; valid: {DEVICE_CHOICES}")
    return device


def local_rank() -> int:
    """This process's LOCAL_RANK (torchrun, accelerate launch, Slurm scripts exporting it), 0 when unset."""
    value = os.environ.get("LOCAL_RANK", os.environ.get("RANK", "0"))
    try:
        return int(value)
    except ValueError:
        raise FakeitError(f"LOCAL_RANK must be an integer, got {value!r}") from None


def resolve_device(device: str = "auto") -> str:
    """The torch device to run on: for "auto" cuda:LOCAL_RANK when CUDA is available, else cpu; "cuda" needs CUDA."""
    import torch

    check_device(device)
    if device == "auto" and not torch.cuda.is_available():
        return "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise FakeitError(f"device {device!r} asked for, but CUDA is not available here; valid here: auto, cpu")
    if device in ("auto", "cuda"):
        return f"cuda:{local_rank() % max(1, torch.cuda.device_count())}"
    return device


def amp_dtype(device: str, enabled: bool = True):
    """The autocast dtype of inference on `device`: float16 on CUDA (the authors' `use_fp16`, naver/trex main.py),
    bfloat16 on the CPU (with channels-last, about 2.4x faster for the mini encoder: benchmarks/inference.py), None
    (full precision) when disabled."""
    import torch

    if not enabled:
        return None
    return torch.float16 if device.startswith("cuda") else torch.bfloat16


def default_workers(device: str) -> int:
    """DataLoader worker processes when none are given: 0 on the CPU (the workers would compete with the model for
    the same cores), else up to 8 per GPU process, within the machine's cores."""
    if not device.startswith("cuda"):
        return 0
    per_node = int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1)
    return max(1, min(8, (os.cpu_count() or 1) // max(1, per_node)))


def loader_kwargs(device: str, workers: int | None) -> dict:
    """DataLoader keyword arguments for inference on `device`: workers (auto when None), pinned memory on CUDA."""
    n = default_workers(device) if workers is None else workers
    kwargs = {"num_workers": n, "pin_memory": device.startswith("cuda")}
    if n > 0:
        kwargs["prefetch_factor"] = 4  # as the authors' training loader (naver/trex main.py)
    return kwargs


def prepare_for_inference(model, device: str):
    """`model` in eval mode on `device`, in channels-last memory format (faster convolutions under fp16 on CUDA and
    bf16 on the CPU)."""
    import torch

    model = model.eval().to(device).to(memory_format=torch.channels_last)
    if device.startswith("cuda"):
        torch.backends.cudnn.benchmark = True
    return model
