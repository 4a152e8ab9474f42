"""A job for worker processes in tests/test_lifetime.py (workers import a job by its module and name)."""

import time
from pathlib import Path


def mark_then_sleep(mark: str, seconds: float) -> None:
    """Write `mark` (the worker has started its job), then sleep."""
    Path(mark).write_text("started")
    time.sleep(seconds)
