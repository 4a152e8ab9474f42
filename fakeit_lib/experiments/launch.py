"""The plan's stages run as the plan prints them: `make book PRESET=paper` on a machine with several GPUs launches
each stage still to do as `torchrun --standalone --nproc-per-node N -m fakeit_lib ...` before the notebooks run, and
the notebooks then find the finished stage folders (a stage is identified by the hash of its config, inputs and code,
not by how many processes made it) instead of computing them in one process on one GPU.

Stages run one after the other in the plan's order; the plan is made again after each, so an evaluation waiting for
a checkpoint is launched once its training finished. A stage whose input is not there yet (a published checkpoint
to download) is left to the notebooks, which say what is missing.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ..core.errors import FakeitError
from .commands import Stage, command_text, stage_argv
from .plan import plan


def visible_gpus() -> int:
    """The number of CUDA devices this process sees (CUDA_VISIBLE_DEVICES applies), 0 without CUDA."""
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def launch_argv(stage: Stage) -> list[str]:
    """The words that run a stage from this Python: `stage_argv` with `torchrun` and `fakeit` as modules of this
    interpreter (python -m torch.distributed.run, python -m fakeit_lib), the rest word for word."""
    words = stage_argv(stage)
    head = {"torchrun": [sys.executable, "-m", "torch.distributed.run"], "fakeit": [sys.executable, "-m", "fakeit_lib"]}
    return head[words[0]] + words[1:]


def run_stages(p: dict, gpus: int, cwd: Path | None = None, log=print, dry_run: bool = False) -> list[Stage]:
    """Run every stage of the preset's plan that is still to do, in order, each over `gpus` processes; returns the
    stages run (with `dry_run`: the stages that would run first, without running them). Raises FakeitError naming the
    stage when one fails or leaves no finished output."""
    ran: list[Stage] = []
    tried: set[tuple[str, str]] = set()
    while True:
        todo = [s for s in plan(p, gpus, refuse_unset_data=True) if s.done is False and (s.step, s.what) not in tried]
        if dry_run:
            return todo
        if not todo:
            return ran
        stage = todo[0]
        tried.add((stage.step, stage.what))
        log(f"launching {stage.step} {stage.what}: {command_text(stage)}")
        proc = subprocess.run(launch_argv(stage), cwd=cwd)
        if proc.returncode != 0:
            raise FakeitError(f"stage {stage.step} {stage.what!r} failed (exit {proc.returncode}): {command_text(stage)}")
        after = next((s for s in plan(p, gpus) if (s.step, s.what) == (stage.step, stage.what)), None)
        if after is None or after.done is not True:
            raise FakeitError(f"stage {stage.step} {stage.what!r} ran but its output is not finished: {command_text(stage)}")
        ran.append(stage)
