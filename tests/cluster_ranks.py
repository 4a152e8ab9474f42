"""Programs run by torchrun in tests/test_cluster_job.py: each rank of a 2-process gloo group does one thing and
reports it in a file, so that the test can follow the ranks from outside."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path


def sleeper(marks: str) -> None:
    """Join the group, mark this rank as started, then sleep (a stage that is still training when stopped)."""
    from fakeit_lib.core.distributed import Ranks

    with Ranks("cpu") as ranks:
        ranks.barrier()
        Path(marks, f"rank{ranks.rank}").write_text(str(os.getpid()))
        time.sleep(300)


def stale_on_rank1(kind: str, target: str, out: str, report: str) -> None:
    """Run a stage whose output (a finished training run, cached transfer features) exists, while process 1 does not
    see it (an NFS attribute cache that has not caught up), and report what each process got."""
    import torch

    from fakeit_lib.core.distributed import env_rank

    rank = env_rank()[0]
    torch.set_num_threads(1)
    if kind == "train":
        from fakeit_lib.training import loop as stage
        from fakeit_lib.training.train import make_config

        if rank == 1:
            stage.is_done = lambda folder: False
        folder = stage.train(make_config("smoke", data=target, device="cpu"), out, log=lambda *a: None)
        got = sorted(p.name for p in Path(folder).iterdir())
    else:
        from fakeit_lib.evaluation import transfer as stage
        from fakeit_lib.evaluation.transfer_config import TransferConfig

        if rank == 1:
            real_exists = Path.exists
            Path.exists = lambda self: False if self.parent.name == "features" else real_exists(self)
        config = TransferConfig(checkpoint=target, suite="mini", mini_sets=["digits"], workers=0, max_iter=30,
                                device="cpu")
        got = stage.transfer(config, out)["datasets"]["digits"]["top1"]
    Path(report, f"rank{rank}.json").write_text(json.dumps(got))


def late_rank(report: str) -> None:
    """Process 1 comes late to a barrier (hung); process 0, with a 3 s timeout, reports the line it gives up with."""
    from fakeit_lib.core.distributed import Ranks
    from fakeit_lib.core.errors import FakeitError

    with Ranks("cpu", stage="train", timeout_s=3) as ranks:
        ranks.at = "epoch 2, step 7 of 20"
        if ranks.rank == 1:
            time.sleep(20)
            return
        try:
            ranks.barrier()
        except FakeitError as e:
            Path(report, "rank0.txt").write_text(str(e))


def command_ends(how: str) -> None:
    """`fakeit classes` through the command line, its work replaced by a stop (Slurm's USR1 in the middle of an epoch:
    `stopped`) or a refusal (`refused`), on every process; the process exits with the command line's code."""
    import signal

    from fakeit_lib import cli
    from fakeit_lib.core.errors import FakeitError, Stopped
    from fakeit_lib.datasets import classes

    def stop(args):
        if how == "stopped":
            raise Stopped("stopped by SIGUSR1 at epoch 2, step 11 of 20; the checkpoint is saved: run the same command "
                          "to resume", signal.SIGUSR1)
        raise FakeitError("training at 224 px crops (the paper recipe's size) is paper-scale work and --device auto "
                          "found no GPU")

    classes.run = stop
    sys.exit(cli.main(["classes", "--classes", "imagenet100"]))


if __name__ == "__main__":
    globals()[sys.argv[1]](*sys.argv[2:])
