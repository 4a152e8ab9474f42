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


if __name__ == "__main__":
    globals()[sys.argv[1]](*sys.argv[2:])
