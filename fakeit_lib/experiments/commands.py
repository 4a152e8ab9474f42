"""A step of a plan (`Stage`: what it runs, whether its output exists, its hours and disk) and its command line, as
the plan prints it and `launch` runs it."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Stage:
    """One step of the plan."""

    step: str  # generate, train, evaluate or transfer
    what: str  # which clone or model
    paper: str  # the paper's rows it serves
    command: list[str]  # fakeit arguments
    done: bool | None  # output finished; None: cannot be known before an earlier stage is done
    hours: float  # wall clock on the plan's GPUs
    disk_gb: float
    waits_for: str = "the stage above"  # what an undecided stage (done None) waits for
    output: Path | None = None  # evaluate/transfer: the results folder (known once the checkpoint exists)
    gpus: int = 1  # processes it runs as, one per GPU of the plan (every stage shards its work over them)
    bound: str = ""  # what limits it (the GPUs, the cores decoding images, the busiest process's probes)
    read_gb_s: float = 0.0  # train: GB/s of images it reads at its estimated speed (every image, every epoch)

    @property
    def status(self) -> str:
        return {True: "done", False: "to do", None: f"after {self.waits_for}"}[self.done]

    @property
    def gpu_hours(self) -> float:
        """The GPU time it holds: its hours on every GPU it runs on."""
        return self.hours * self.gpus


def _quote(arg: str) -> str:
    """A shell word; environment variables left to the shell ("$IMAGENET_VAL/x" stays expandable), and a command's
    output ("$(fakeit train ... --print-folder)/checkpoint.pt", finder_word) as it is."""
    if arg.startswith('"$(') and arg.endswith('"'):
        return arg
    if "$" in arg and all(c.isalnum() or c in "$_-./:{}" for c in arg):
        return f'"{arg}"'
    return shlex.quote(arg)


def stage_argv(stage: Stage) -> list[str]:
    """The stage's command line as words: `fakeit ARGS` on one GPU, `torchrun ... -m fakeit_lib ARGS` on several (one
    process per GPU of one machine; launch.run_stages runs exactly these words)."""
    if stage.gpus > 1:
        return ["torchrun", "--standalone", "--nproc-per-node", str(stage.gpus), "-m", "fakeit_lib", *stage.command]
    return ["fakeit", *stage.command]


def command_text(stage: Stage) -> str:
    """The stage's command line."""
    return " ".join(_quote(a) for a in stage_argv(stage))


def totals(stages: list[Stage]) -> tuple[float, float]:
    """(hours on the plan's GPUs, disk GB) of all stages."""
    return sum(s.hours for s in stages), sum(s.disk_gb for s in stages)


def hours_text(h: float) -> str:
    """Hours for a reader: `1.5 h`, or minutes below three (`2.4 min`)."""
    return f"{h:,.1f} h" if h >= 0.05 or h == 0 else f"{h * 60:,.1f} min"


def finder_word(train_args: list[str]) -> str:
    """A shell word that is the checkpoint of a run whose data is named by a variable not set here: the run folder
    `fakeit train ... --print-folder` finds once the data is there, then `/checkpoint.pt`."""
    return '"$(' + " ".join(_quote(a) for a in ["fakeit", *train_args, "--print-folder"]) + ')/checkpoint.pt"'
