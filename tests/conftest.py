import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run `python -m fakeit_lib ARGS` and capture its output."""
    return subprocess.run([sys.executable, "-m", "fakeit_lib", *args], capture_output=True, text=True,
                          cwd=cwd or ROOT, timeout=timeout)


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests keep artefacts worth looking at (screenshots): $FAKEIT_TEST_ARTIFACTS or ./test-artifacts."""
    d = Path(os.environ.get("FAKEIT_TEST_ARTIFACTS", ROOT / "test-artifacts"))
    d.mkdir(parents=True, exist_ok=True)
    return d
