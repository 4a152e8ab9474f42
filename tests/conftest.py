import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECT_OUTPUTS = ROOT / "outputs"  # the default output root of `make book`: tests never read nor write it


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run `python -m fakeit_lib ARGS` and capture its output."""
    return subprocess.run([sys.executable, "-m", "fakeit_lib", *args], capture_output=True, text=True,
                          cwd=cwd or ROOT, timeout=timeout)


def free_port() -> int:
    """A TCP port free on this machine now (for torchrun's rendezvous), instead of a fixed one."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _snapshot(folder: Path) -> dict[str, tuple[int, int]] | None:
    """Every path under `folder` with its (mtime in ns, size), or None when the folder does not exist."""
    if not folder.exists():
        return None
    return {str(p.relative_to(folder)): (p.lstat().st_mtime_ns, p.lstat().st_size) for p in [folder, *folder.rglob("*")]}


@pytest.fixture(scope="session", autouse=True)
def output_root(tmp_path_factory) -> Path:
    """The suite's own output root and cache: stages made by tests (and by notebooks and commands they start, which
    inherit the environment) go to temp folders, so stale runs in ./outputs are never reused and never changed."""
    before = _snapshot(PROJECT_OUTPUTS)
    root = tmp_path_factory.mktemp("outputs")
    patch = pytest.MonkeyPatch()
    patch.setenv("FAKEIT_OUTPUT", str(root))
    patch.setenv("FAKEIT_CACHE", str(tmp_path_factory.mktemp("cache")))
    yield root
    patch.undo()
    assert _snapshot(PROJECT_OUTPUTS) == before, f"the tests changed {PROJECT_OUTPUTS}"


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests keep artefacts worth looking at (screenshots): $FAKEIT_TEST_ARTIFACTS or ./test-artifacts."""
    d = Path(os.environ.get("FAKEIT_TEST_ARTIFACTS", ROOT / "test-artifacts"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def measured_judge_accuracy(root: Path) -> tuple[float, float]:
    """(accuracy recorded by the judge trained under `root`, its accuracy measured now on the real test split)."""
    import json

    import torch
    import yaml

    from fakeit_lib.judge import JudgeConfig, JudgeNet, judge_outputs
    from fakeit_lib.realdata import fashion_mnist

    (done,) = root.glob("judge-fmnist-*/DONE")  # trained in this test session: the root is new
    recorded = yaml.safe_load((done.parent / "config.yaml").read_text())
    assert recorded.pop("code")  # the judge's folder names the code version it was trained with
    cfg = JudgeConfig(**recorded)
    model = JudgeNet(cfg.width, cfg.feature_dim)
    model.load_state_dict(torch.load(done.parent / "judge.pt", map_location="cpu", weights_only=True))
    test = fashion_mnist("test")
    pred, _ = judge_outputs(model, test.data.unsqueeze(1).float() / 255.0)
    return json.loads(done.read_text())["real_test_accuracy"], float((pred == test.targets).float().mean())
