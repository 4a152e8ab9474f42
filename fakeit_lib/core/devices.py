"""Where a stage runs: the torch device (CUDA when available), mixed precision and data-loader settings per device.

Every stage that runs a network (generate, train, evaluate, transfer) takes `device` ("auto" by default) and
resolves it here, so a GPU owner gets the GPU without a flag and a CPU-only machine runs the same code. Under
torchrun each process takes the GPU of its LOCAL_RANK, made its current device; more processes on a machine than GPUs,
or one named GPU for several processes, is refused in one line. Where a stage runs is not part of its identity: a result
computed on one GPU or eight lands in the same folder. The precision it computes in is (precision_of): bf16 on one
CPU and float32 on another give other numbers, so other folders.

No silent CPU for paper-scale work: "auto" falls back to the CPU only for work a CPU finishes. Work a stage names
as paper-scale (`fakeit generate` with a hub generator or a Stable Diffusion-sized local one, `fakeit train` with
224 px crops, as the paper recipe) stops instead with one line saying why no GPU was found (the installed torch's
CUDA build, the driver it needs, the driver found) and the fix; `--device cpu` runs it on the CPU anyway. The locked
x86_64 torch is a CUDA 13 build: with an NVIDIA driver older than 580 it sees no GPU and says nothing else.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from pathlib import Path

from .errors import FakeitError

DEVICE_PATTERN = r"auto|cpu|mps|cuda(:\d+)?"
DEVICE_CHOICES = "auto, cpu, cuda, cuda:N, mps"
# The oldest Linux NVIDIA driver a CUDA major version runs on (NVIDIA's CUDA release notes, "CUDA Toolkit and
# Corresponding Driver Versions", minor version compatibility)
CUDA_DRIVER_MIN = {"11": "450.80.02", "12": "525.60.13", "13": "580.65.06"}
NVIDIA_PROC = Path("/proc/driver/nvidia/version")  # the loaded NVIDIA kernel module's version (Linux)


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


def nvidia_driver() -> str | None:
    """The version of the NVIDIA driver loaded on this machine (/proc/driver/nvidia/version, else nvidia-smi), or None."""
    try:
        m = re.search(r"Kernel Module(?:\s+for\s+\S+)?\s+(\d+\.\d+(?:\.\d+)?)", NVIDIA_PROC.read_text())
        if m:
            return m[1]
    except OSError:
        pass
    exe = shutil.which("nvidia-smi")
    if exe:
        try:
            out = subprocess.run([exe, "--query-gpu=driver_version", "--format=csv,noheader"], capture_output=True,
                                 text=True, timeout=20).stdout.split()
            return out[0] if out else None
        except (OSError, subprocess.TimeoutExpired):
            return None
    return None


def _older(version: str, than: str) -> bool:
    as_tuple = lambda v: tuple(int(p) for p in re.findall(r"\d+", v))  # noqa: E731
    return as_tuple(version) < as_tuple(than)


def no_gpu_reason() -> str:
    """Why torch sees no GPU, and the fix, in one clause: the installed torch's CUDA build, the driver it needs and
    the driver found here."""
    import torch

    base = torch.__version__.split("+")[0]
    build = torch.version.cuda
    if build is None:
        return (f"torch {torch.__version__} is a CPU-only build; install the locked CUDA build of torch "
                "(scripts/setup.sh)")
    major = build.split(".")[0]
    need = CUDA_DRIVER_MIN.get(major, "?")
    text = f"torch {torch.__version__} is a CUDA {build} build, which needs an NVIDIA driver >= {need}"
    driver = nvidia_driver()
    if driver is not None and (need == "?" or not _older(driver, need)):
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        shown = f" (CUDA_VISIBLE_DEVICES={visible!r})" if visible is not None else ""
        return f"{text}; driver {driver} is loaded, yet torch sees no GPU{shown}: give this process a GPU (Slurm --gpus)"
    found = (f"this machine's driver is {driver}" if driver is not None
             else f"no NVIDIA driver was found (no {NVIDIA_PROC}, no nvidia-smi)")
    fix = (f"on GPUs with an older driver install torch {base}'s CUDA 12 build (README: Older NVIDIA drivers)"
           if int(major) >= 13 else f"update the NVIDIA driver to {need} or newer")
    return f"{text}, and {found}; {fix}"


def local_world_size() -> int:
    """How many processes of this run share this machine (LOCAL_WORLD_SIZE, set by torchrun), 1 when unset."""
    value = os.environ.get("LOCAL_WORLD_SIZE", "1")
    try:
        return max(1, int(value))
    except ValueError:
        raise FakeitError(f"LOCAL_WORLD_SIZE must be an integer, got {value!r}") from None


def cores_per_process() -> int:
    """This process's share of the machine's cores (the ones it may run on, over LOCAL_WORLD_SIZE), at least 1: the
    threads a CPU solver or the loader workers may take, whatever torchrun's OMP_NUM_THREADS=1 says."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, cores // local_world_size())


def check_one_gpu_per_process(device: str, gpus: int) -> None:
    """Refuse, in one line, a launch that would put two processes of this machine on one GPU: more processes than
    GPUs, or one named GPU (`cuda:N`) for several processes. NCCL would fail later with a duplicate-GPU error."""
    procs = local_world_size()
    if procs <= 1:
        return
    if re.fullmatch(r"cuda:\d+", device):
        raise FakeitError(f"--device {device} puts all {procs} processes of this machine on one GPU; pass --device auto "
                          "(each process takes the GPU of its LOCAL_RANK)")
    if procs > gpus:
        raise FakeitError(f"{procs} processes on this machine (torchrun --nproc-per-node {procs}) but {gpus} GPU(s) "
                          f"visible: launch at most {gpus} processes per machine, one per GPU")


def resolve_device(device: str = "auto", work: str | None = None) -> str:
    """The torch device to run on, made this process's current CUDA device (torch.cuda.set_device, so that pinned
    memory and cuDNN open no context on GPU 0 from every process): for "auto" cuda:LOCAL_RANK when CUDA is available,
    else cpu unless `work` names paper-scale work (then FakeitError saying why there is no GPU); "cuda" needs CUDA.
    Several processes per machine need a GPU each (check_one_gpu_per_process)."""
    import torch

    check_device(device)
    if device == "auto" and not torch.cuda.is_available():
        if work:
            raise FakeitError(f"{work} is paper-scale work and --device auto found no GPU: {no_gpu_reason()}; or pass "
                              "--device cpu to run it on the CPU anyway")
        return "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise FakeitError(f"device {device!r} asked for, but CUDA is not available here; valid here: auto, cpu. "
                          f"Why: {no_gpu_reason()}")
    if not device.startswith(("auto", "cuda")):
        return device
    gpus = torch.cuda.device_count()
    check_one_gpu_per_process(device, gpus)
    chosen = f"cuda:{local_rank()}" if device in ("auto", "cuda") else device
    if int(chosen.split(":")[1]) >= gpus:
        raise FakeitError(f"device {chosen} asked for, but this process sees {gpus} GPU(s) (cuda:0 to cuda:{gpus - 1})")
    torch.cuda.set_device(chosen)
    return chosen


@functools.cache
def cpu_bf16_fast() -> bool:
    """Whether this CPU runs bfloat16 convolutions at speed: torch's own test (oneDNN's bf16 kernels: AVX-512 on x86,
    BF16 on Arm). Without it bf16 is emulated: on an AVX2 CPU the mini recipe's training step ran 6.7x slower under
    bf16 autocast than in float32 (84 against 563 ms, channels-last, one thread), so the CPU falls back to float32."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a torch without oneDNN: no fast bf16 either
        return False


def amp_dtype(device: str, enabled: bool = True):
    """The autocast dtype of mixed precision on `device`: float16 on CUDA (the authors' `use_fp16`, naver/trex
    main.py), bfloat16 on MPS and on a CPU with fast bf16 kernels (with channels-last, about 2.4x faster for the mini
    encoder: benchmarks/inference.py), None (full precision) when disabled or on a CPU that would emulate bf16
    (`cpu_bf16_fast`)."""
    import torch

    if not enabled:
        return None
    if device.startswith("cuda"):
        return torch.float16
    if device == "cpu":
        return torch.bfloat16 if cpu_bf16_fast() else None
    return torch.bfloat16  # mps


def precision(device: str, enabled: bool = True) -> str:
    """The arithmetic work on `device` computes in, as a stage records it: "float16 autocast", "bfloat16 autocast"
    (amp_dtype) or "float32". Two CPUs can differ here (bf16 where it is native), and so can their numbers."""
    dtype = amp_dtype(device, enabled)
    return "float32" if dtype is None else f"{str(dtype).removeprefix('torch.')} autocast"


# The arithmetic a run computes in, as a config names it and its identity records it: "auto" resolves from the device
# the config names (precision_of); bf16 and fp16 are autocast, float32 is full precision
PRECISIONS = ("auto", "bf16", "fp16", "float32")
AUTOCAST = {"bf16": "bfloat16", "fp16": "float16", "float32": None}


def check_precision(value: str) -> str:
    """`value` if it names a precision, else FakeitError naming it and the valid ones."""
    if value not in PRECISIONS:
        raise FakeitError(f"unknown precision {value!r}; valid: {', '.join(PRECISIONS)}")
    return value


def planned_device(device: str, paper_scale: bool, cuda_available: bool | None = None) -> str:
    """The kind of device ("cuda", "cpu", "mps") a config's `device` runs on: the one it names, and for "auto" a GPU
    when this machine has one or when the work is paper-scale ("auto" refuses the CPU for it: resolve_device), so a
    plan made on a CPU-only machine for GPU nodes names what those nodes compute in."""
    check_device(device)
    if device != "auto":
        return device.split(":")[0]
    if paper_scale:
        return "cuda"
    if cuda_available is None:
        import torch

        cuda_available = torch.cuda.is_available()
    return "cuda" if cuda_available else "cpu"


def precision_of(value: str, device: str, amp: bool = True, paper_scale: bool = False, *,
                 cuda_available: bool | None = None, cpu_bf16: bool | None = None) -> str:
    """The precision ("bf16", "fp16" or "float32") a run of a config computes in: `value` when it names one, else, for
    "auto", the one `amp_dtype` gives on the device the config names (planned_device): fp16 on CUDA, bf16 on MPS and on
    a CPU with fast bf16 (`cpu_bf16`, default: this CPU's cpu_bf16_fast), float32 without amp or elsewhere. It depends
    on the config and, for a CPU, on the CPU's bf16 kernels, not on which machine computes it. fp16 off CUDA is
    refused (the CPU has no fast fp16 kernels)."""
    check_precision(value)
    kind = planned_device(device, paper_scale, cuda_available)
    if value == "auto":
        if not amp:
            return "float32"
        if kind == "cuda":
            return "fp16"
        if kind == "cpu":
            return "bf16" if (cpu_bf16_fast() if cpu_bf16 is None else cpu_bf16) else "float32"
        return "bf16"
    if value == "fp16" and kind != "cuda":
        raise FakeitError(f"precision fp16 runs on CUDA only, and device {device!r} runs on {kind}; valid there: "
                          "auto, bf16, float32")
    return value


def autocast_dtype(value: str):
    """The torch autocast dtype of a resolved precision ("bf16", "fp16", "float32"), None for full precision."""
    import torch

    if value not in AUTOCAST:
        raise FakeitError(f"precision {value!r} is not resolved; resolved: {', '.join(AUTOCAST)} (devices.precision_of)")
    return getattr(torch, AUTOCAST[value]) if AUTOCAST[value] else None


def default_workers(device: str) -> int:
    """DataLoader worker processes when none are given: 0 on the CPU (the workers would compete with the model for
    the same cores), else up to 8 per GPU process, within its share of the machine's cores."""
    if not device.startswith("cuda"):
        return 0
    return min(8, cores_per_process())


def training_workers(asked: int) -> int:
    """Training loader workers of this process: `asked`, within its share of the node's cores less one (the training
    process itself); 8 processes on a 64-core node: 7 each."""
    return max(0, min(asked, cores_per_process() - 1))


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
