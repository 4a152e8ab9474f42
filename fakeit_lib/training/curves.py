"""Training curves where a cluster user looks for them: TensorBoard event files in the run folder's `tb/`, written by
process 0 beside `metrics.jsonl` (`tensorboard --logdir <run folder>/tb`).

Per step: process 0's loss and the learning rate. Per window of steps: images a second over every process and the
share of the window spent waiting for the data loader. Per epoch: the epoch's loss, training top-1 and images a
second (all processes). Every value is on one axis, the global step, so that a resumed run's file continues the
curve (the steps after its checkpoint, written before a stop, are dropped: SummaryWriter's purge_step). A step's
number counts the steps done, so epoch e's row is at step e x (steps an epoch).

A step's loss stays on the device until its window is written: one read from the GPU a window (or with the epoch's
sums), never one a step.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

CURVES = "tb"  # the run folder's subfolder of TensorBoard event files
WINDOW_STEPS = 50  # steps between two writes of the per-step curves (one read of their losses from the device)


class Curves:
    """Writes a run's TensorBoard curves on process 0 (`enabled`); every method does nothing elsewhere."""

    def __init__(self, folder: Path, enabled: bool, done_steps: int, device: torch.device, window: int | None = None):
        window = WINDOW_STEPS if window is None else window
        if window < 1:
            raise ValueError(f"a window of curves needs at least one step, got {window}")
        self.window, self.writer = window, None
        self.losses = torch.zeros(window, dtype=torch.float32, device=device) if enabled else None
        self.steps: list[tuple[int, float]] = []  # (global step, learning rate) of the losses held on the device
        self.images, self.waited, self.started, self.fetched = 0, 0.0, time.perf_counter(), None
        if enabled:
            from torch.utils.tensorboard import SummaryWriter  # only where curves are written (tensorboard's import)

            # a run resumed after `done_steps` steps drops what a stopped one wrote past its checkpoint
            self.writer = SummaryWriter(str(Path(folder) / CURVES), purge_step=done_steps + 1 if done_steps else None)

    def data_ready(self) -> None:
        """Mark the moment a step's batch came out of the loader (the time since the last step ended was waited)."""
        if self.writer is None:
            return
        now = time.perf_counter()
        if self.fetched is not None:
            self.waited += now - self.fetched
        self.fetched = now

    def step(self, global_step: int, lr: float, loss: torch.Tensor, images: int) -> None:
        """Hold step `global_step`'s loss (on the device), learning rate and images (over every process)."""
        if self.writer is None:
            return
        self.losses[len(self.steps)] = loss.detach().float()
        self.steps.append((global_step, lr))
        self.images += images
        self.fetched = time.perf_counter()
        if len(self.steps) == self.window:
            self.write(self.losses.tolist())

    def pending(self) -> torch.Tensor | None:
        """The losses held and not yet written (read them with the epoch's sums: `write(values)`)."""
        return None if self.writer is None else self.losses[: len(self.steps)]

    def write(self, losses: list[float]) -> None:
        """Write the held steps with their `losses` (read from the device), and the window's throughput."""
        if self.writer is None or not self.steps:
            return
        for (step, lr), loss in zip(self.steps, losses):
            self.writer.add_scalar("step/loss", loss, step)
            self.writer.add_scalar("step/learning_rate", lr, step)
        seconds = max(time.perf_counter() - self.started, 1e-9)
        last = self.steps[-1][0]
        self.writer.add_scalar("step/images_per_s", self.images / seconds, last)
        self.writer.add_scalar("step/loader_share", min(1.0, self.waited / seconds), last)
        self.steps, self.images, self.waited, self.started = [], 0, 0.0, time.perf_counter()

    def epoch(self, global_step: int, row: dict) -> None:
        """Write an epoch's metrics row (loss, training top-1, images a second) at its last step."""
        if self.writer is None:
            return
        self.writer.add_scalar("epoch/loss", row["loss"], global_step)
        self.writer.add_scalar("epoch/train_top1", row["train_top1"], global_step)
        self.writer.add_scalar("epoch/images_per_s", row["images_per_s"], global_step)
        self.writer.flush()

    def start_epoch(self) -> None:
        """The loader's first batch of an epoch (its workers starting) counts as waiting, from now; a window starts
        here when none is open (saving the last epoch's checkpoint is not counted against the next one's speed)."""
        if self.writer is None:
            return
        self.fetched = time.perf_counter()
        if not self.steps:
            self.started, self.images, self.waited = self.fetched, 0, 0.0

    def close(self) -> None:
        """Write the steps still held (a run stopped within an epoch: they end at its checkpoint) and close the file."""
        if self.writer is None:
            return
        try:
            if self.steps:
                self.write(self.pending().tolist())
        except RuntimeError:  # the device failed, which is what the run reports: the curve ends a window early
            pass
        self.writer.close()
        self.writer = None
