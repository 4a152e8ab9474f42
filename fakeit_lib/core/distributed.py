"""Work split over processes: the rank of this process under torchrun (or Slurm/accelerate), barriers, and gathering.

Generation, evaluation and feature extraction shard their work by RANK/WORLD_SIZE, the variables torchrun,
`accelerate launch` and Slurm+torchrun set: process r takes items r, r + W, r + 2W, ... Results are gathered back
in the original order, so a sharded run writes exactly what one process would. With a rendezvous (MASTER_ADDR
set) the processes talk through torch.distributed (NCCL on GPUs, gloo on the CPU); the process group is destroyed
before the process exits, which torchrun needs to end cleanly.
"""

from __future__ import annotations

import os
from datetime import timedelta

from .errors import FakeitError


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


class Ranks:
    """This process's rank, and barrier/gather: torch.distributed when launched with a rendezvous, else none.

    Use as a context manager (or call close()): a process group it started is destroyed on exit.
    """

    def __init__(self, device: str = "cpu"):
        self.rank, self.world, self.local_rank = env_rank()
        self.owned = False
        self.dist = None
        self.device = device
        if self.world > 1 and "MASTER_ADDR" in os.environ:
            import torch.distributed as dist

            if not dist.is_initialized():
                backend = "nccl" if device.startswith("cuda") else "gloo"
                # long timeout: rank 0 may fit a probe or merge manifests while the others wait at a barrier
                dist.init_process_group(backend, timeout=timedelta(hours=12))
                self.owned = True
            self.dist = dist

    def __enter__(self) -> Ranks:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def distributed(self) -> bool:
        return self.dist is not None

    def barrier(self) -> None:
        if self.dist is not None:
            if self.dist.get_backend() == "nccl":
                self.dist.barrier(device_ids=[int(self.device.split(":")[1])])
            else:
                self.dist.barrier()

    def gather(self, part, n: int):
        """The full tensor of n items from every process's `part` (its shard(n, rank, world) rows), on every
        process, in the original item order; `part` itself when not distributed."""
        import torch

        if self.dist is None:
            return part
        comm = "cuda" if self.dist.get_backend() == "nccl" else "cpu"
        size = -(-n // self.world)  # rows of the largest shard
        padded = torch.zeros((size, *part.shape[1:]), dtype=part.dtype, device=comm)
        padded[: len(part)] = part.to(comm)
        parts = [torch.empty_like(padded) for _ in range(self.world)]
        self.dist.all_gather(parts, padded)
        out = torch.empty((n, *part.shape[1:]), dtype=part.dtype)
        for r, p in enumerate(parts):
            rows = len(shard(n, r, self.world))
            out[r::self.world] = p[:rows].cpu()
        return out

    def close(self) -> None:
        if self.owned and self.dist is not None and self.dist.is_initialized():
            self.dist.destroy_process_group()
        self.owned = False
