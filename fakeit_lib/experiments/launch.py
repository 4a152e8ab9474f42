"""The plan's stages run as the plan prints them: `make book PRESET=paper` on a machine with several GPUs launches
each stage still to do as `torchrun --standalone --nproc-per-node N -m fakeit_lib ...` before the notebooks run, and
the notebooks then find the finished stage folders (a stage is identified by the hash of its config, inputs and code,
not by how many processes made it) instead of computing them in one process on one GPU.

Stages run one after the other in the plan's order; the plan is made again after each, so an evaluation waiting for
a checkpoint is launched once its training finished. A stage whose input is not there yet (a published checkpoint
to download) is left to the notebooks, which say what is missing.

torchrun exits with 1 whenever a process does not end with 0, whatever its code; each process therefore writes why it
ended into the error file torchrun gives it (cli.tell_torchrun), torchrun copies the first one into the file named
by its own TORCHELASTIC_ERROR_FILE, and a stage whose processes were stopped by a signal (SIGTERM, Slurm's USR1,
Ctrl-C: what they finished is saved) stops the build as a stop, with 128 + the signal's number as a stopped `fakeit`
command exits, not as a failure (2).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..core.errors import FakeitError, Stopped
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


STOP_GRACE_S = 60.0  # how long a stopped torchrun may take to stop its ranks (it gives them 30 s) before it is killed


def descendants(pid: int) -> list[int]:
    """The processes below `pid` (Linux: /proc/<pid>/task/*/children), deepest last; [] where /proc has no such file."""
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        for task in Path(f"/proc/{parent}/task").glob("*/children"):
            try:
                kids = [int(k) for k in task.read_text().split()]
            except (OSError, ValueError):
                continue
            found.extend(kids)
            frontier.extend(kids)
    return found


def run_command(argv: list[str], cwd: Path | None = None, grace: float = STOP_GRACE_S, env: dict | None = None) -> int:
    """Run `argv` (torchrun and its ranks) to its end and return its exit code. When this process is stopped meanwhile
    (SIGTERM turned into an exception by the book's runner, Ctrl-C), the signal is passed on to the command, which for
    torchrun passes it on to every rank (each in a session of its own, out of reach of a signal to this process
    group), and the command is given `grace` seconds to end; whatever still runs below it after that is killed."""
    proc = subprocess.Popen(argv, cwd=cwd, env=env)
    try:
        return proc.wait()
    except BaseException as stop:
        signum = signal.SIGINT if isinstance(stop, KeyboardInterrupt) else signal.SIGTERM
        below = {pid: _started(pid) for pid in descendants(proc.pid)}  # the ranks, found while torchrun still holds them
        proc.send_signal(signum)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        deadline = time.monotonic() + 5  # ranks torchrun did not reap: they were told; give them a moment, then kill
        for pid, started in below.items():
            while _started(pid) == started and time.monotonic() < deadline:
                time.sleep(0.1)
            if _started(pid) == started:  # the same process (not another under a reused pid), still running
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        raise


def _started(pid: int) -> int | None:
    """The start time of a running process (/proc/<pid>/stat), None when it is gone or a zombie."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] == "Z" else int(fields[19])


STOP_SIGNALS = (signal.SIGINT, signal.SIGUSR1, signal.SIGTERM)  # a process ended by one saved what it had


def first_reason(error_file: Path) -> tuple[str | None, int | None]:
    """(the line, the exit code) of the first process of a torchrun to end badly, from the error file torchrun wrote
    (torch.distributed.elastic's format); (None, None) when there is none (torchrun itself failed, or the process
    died before it could write)."""
    try:
        message = json.loads(Path(error_file).read_text())["message"]
    except (OSError, ValueError, KeyError, TypeError):
        return None, None
    if not isinstance(message, dict):
        return (str(message) or None), None
    code = message.get("errorCode")
    return (str(message.get("message") or "") or None), (int(code) if isinstance(code, int) else None)


def stage_end(stage: Stage, code: int, error_file: Path | None = None) -> BaseException:
    """What a stage that exited with `code` raises: Stopped (exit 128 + the signal) when its processes were stopped
    by a stop signal, else FakeitError naming the stage, its command and the first process's reason."""
    line, first = first_reason(error_file) if error_file is not None else (None, None)
    ended = first if first is not None else code  # torchrun's own code is 1 for any process's end
    where = f"stage {stage.step} {stage.what!r}"
    if ended - 128 in [int(s) for s in STOP_SIGNALS]:
        signum = ended - 128
        if line:
            return Stopped(f"{where} stopped: {line}", signum)
        return Stopped(f"{where} stopped by {signal.Signals(signum).name}; what it finished is kept: run the same "
                       "command to resume", signum)
    said = f"; the first process to fail said: {line}" if line else ""
    return FakeitError(f"{where} failed (exit {code}): {command_text(stage)}{said}")


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
        with tempfile.TemporaryDirectory(prefix="fakeit-launch-") as tmp:
            error_file = Path(tmp) / "error.json"  # where torchrun puts the first failing process's reason
            code = run_command(launch_argv(stage), cwd=cwd, env={**os.environ, "TORCHELASTIC_ERROR_FILE": str(error_file)})
            if code != 0:
                raise stage_end(stage, code, error_file)
        after = next((s for s in plan(p, gpus) if (s.step, s.what) == (stage.step, stage.what)), None)
        if after is None or after.done is not True:
            raise FakeitError(f"stage {stage.step} {stage.what!r} ran but its output is not finished: {command_text(stage)}")
        ran.append(stage)
