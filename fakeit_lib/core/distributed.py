"""Work split over processes: the rank of this process under torchrun (or Slurm/accelerate), and its collectives.

Generation, evaluation and feature extraction shard their work by RANK/WORLD_SIZE, the variables torchrun,
`accelerate launch` and Slurm+torchrun set: process r takes items r, r + W, r + 2W, ... Results are gathered back
in the original order, so a sharded run writes exactly what one process would. With a rendezvous (MASTER_ADDR
set) the processes talk through torch.distributed (NCCL on GPUs, gloo on the CPU), or through a process group the
caller already started; a group started here is destroyed before the process exits, which torchrun needs to end
cleanly.

`Ranks` is the package's only door to torch.distributed (a test scans the package for any other): every collective
(barrier, all_reduce, gather) moves its tensors to the device the backend communicates on, the process's GPU for
NCCL (which refuses CPU tensors) and the CPU for gloo, and hands the result back on the caller's device.
"""

from __future__ import annotations

import os
from datetime import timedelta

from .errors import FakeitError

REDUCE_OPS = ("sum", "max", "min")  # what Ranks.all_reduce combines with
# How long a process waits in a collective for the others before it gives up, per stage: the longest wait a healthy
# run makes, with room to spare, so that a hung process frees the node's GPUs within minutes, not after 12 hours.
STAGE_TIMEOUT_MINUTES = {
    "train": 30,  # a step (0.3 s at paper scale) or process 0 writing a checkpoint (seconds); a node's first cuDNN tuning
    "evaluate": 30,  # a batch of 128 images, or process 0 writing results
    "generate": 60,  # a batch of 50 diffusion steps (~1 min), or process 0 merging 1.28 M manifest rows
    "transfer": 6 * 60,  # the processes wait at the end for the longest probe (iNaturalist 2018: hours on one GPU)
}
DEFAULT_TIMEOUT_MINUTES = 60  # a stage not named


def env_rank() -> tuple[int, int, int]:
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


def shard(n: int, rank: int, world: int) -> range:
    """The positions of n items that process `rank` of `world` takes: rank, rank + world, ..."""
    return range(rank, n, world)


def comm_device(backend: str | None, device: str, local_rank: int) -> str:
    """The device a backend's collectives take tensors on: the process's GPU for NCCL (`device` when it names one,
    else cuda:LOCAL_RANK), the CPU for gloo and without a backend."""
    if backend != "nccl":
        return "cpu"
    return device if device.startswith("cuda:") else f"cuda:{local_rank}"


class Ranks:
    """This process's rank and its collectives: torch.distributed when launched with a rendezvous (or inside a
    process group the caller started), else a single process whose collectives return their input.

    Use as a context manager (or call close()): a process group it started is destroyed on exit.
    """

    def __init__(self, device: str = "cpu", stage: str | None = None, timeout_s: float | None = None):
        self.rank, self.world, self.local_rank = env_rank()
        self.owned = False
        self._dist = None
        self.device = device
        self.at = "the start"  # where the stage is (an epoch and step), named when a collective gives up
        minutes = STAGE_TIMEOUT_MINUTES.get(stage or "", DEFAULT_TIMEOUT_MINUTES)
        self.timeout = timedelta(seconds=timeout_s) if timeout_s is not None else timedelta(minutes=minutes)
        if self.world > 1 and "MASTER_ADDR" in os.environ:
            import torch.distributed as dist

            if not dist.is_initialized():
                backend = "nccl" if device.startswith("cuda") else "gloo"
                dist.init_process_group(backend, timeout=self.timeout)
                self.owned = True
            self._dist = dist
        else:
            import torch.distributed as dist

            if dist.is_available() and dist.is_initialized():  # a group the caller started (a notebook, accelerate)
                self._dist = dist
                self.rank, self.world = dist.get_rank(), dist.get_world_size()

    def __enter__(self) -> Ranks:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def distributed(self) -> bool:
        return self._dist is not None

    @property
    def backend(self) -> str | None:
        """The process group's backend (nccl, gloo), None when not distributed."""
        return str(self._dist.get_backend()) if self._dist is not None else None

    @property
    def comm_device(self) -> str:
        """The device this process's collectives move their tensors to."""
        return comm_device(self.backend, self.device, self.local_rank)

    def _collective(self, what: str, call, *args, **kwargs):
        """`call(*args, **kwargs)`; a collective that fails (another process gone, or waiting past the stage's
        timeout) raises FakeitError naming this process, the collective and where the stage was."""
        try:
            return call(*args, **kwargs)
        except RuntimeError as e:
            first = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
            raise FakeitError(f"process {self.rank} of {self.world} gave up in a {what} at {self.at}: another process "
                              f"stopped, failed or hangs (the stage's timeout is {self.timeout}); {first}") from None

    def barrier(self) -> None:
        """Wait until every process reaches this point (nothing when not distributed)."""
        if self._dist is None:
            return
        if self.backend == "nccl":  # NCCL's barrier runs on a device: this process's GPU, not a guessed one
            self._collective("barrier", self._dist.barrier, device_ids=[int(self.comm_device.split(":")[1])])
        else:
            self._collective("barrier", self._dist.barrier)

    def agree(self, value: bool) -> bool:
        """Process 0's `value` on every process (`value` itself when not distributed). Whatever decides whether to
        enter a collective (a finished marker, a cached file) is looked at by process 0 alone and shared: with NFS
        attribute caches two processes can see a file differently, and one entering a collective alone waits forever."""
        import torch

        if self._dist is None:
            return bool(value)
        flag = torch.tensor([1 if value else 0], dtype=torch.int64).to(self.comm_device)
        self._collective("broadcast", self._dist.broadcast, flag, src=0)
        return bool(flag.cpu()[0])

    def all_reduce(self, tensor, op: str = "sum"):
        """`tensor` combined element-wise over every process (sum, max or min), on `tensor`'s device; a copy of
        `tensor` when not distributed."""
        if op not in REDUCE_OPS:
            raise FakeitError(f"unknown reduction {op!r}; valid: {', '.join(REDUCE_OPS)}")
        if self._dist is None:
            return tensor.clone()
        x = tensor.to(self.comm_device, copy=True)
        self._collective("all_reduce", self._dist.all_reduce, x, op=getattr(self._dist.ReduceOp, op.upper()))
        return x.to(tensor.device)

    def gather(self, part, n: int):
        """The full tensor of n items from every process's `part` (its shard(n, rank, world) rows), on every
        process, in the original item order, on `part`'s device; `part` itself when not distributed."""
        import torch

        if self._dist is None:
            return part
        size = -(-n // self.world)  # rows of the largest shard
        padded = torch.zeros((size, *part.shape[1:]), dtype=part.dtype, device=part.device)
        padded[: len(part)] = part
        padded = padded.to(self.comm_device)
        parts = [torch.empty_like(padded) for _ in range(self.world)]
        self._collective("all_gather", self._dist.all_gather, parts, padded)
        out = torch.empty((n, *part.shape[1:]), dtype=part.dtype, device=part.device)
        for r, p in enumerate(parts):
            rows = len(shard(n, r, self.world))
            out[r::self.world] = p[:rows].to(part.device)
        return out

    def close(self) -> None:
        if self.owned and self._dist is not None and self._dist.is_initialized():
            self._dist.destroy_process_group()
        self.owned = False
