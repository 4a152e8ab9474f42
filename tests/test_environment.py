"""The lock: what is installed is what is locked, the conda file pins the same versions, the book shows them."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

import pytest
import yaml
from packaging.markers import Marker
from packaging.version import Version

from fakeit_lib.builder import environment, pages
from fakeit_lib.core.errors import FakeitError

ROOT = Path(__file__).resolve().parents[1]
MACHINES = ("x86_64", "aarch64")


def _pins(lines: list[str]) -> dict[str, str]:
    """name -> version of `name==version` lines, read here without the library's parser."""
    out = {}
    for line in lines:
        m = re.fullmatch(r"([A-Za-z0-9._-]+)==(\S+)", line.strip())
        if m:
            out[re.sub(r"[-_.]+", "-", m[1]).lower()] = m[2]
    return out


def _lock(machine: str) -> dict[str, str]:
    return _pins((ROOT / "requirements" / f"lock-{machine}.txt").read_text().splitlines())


def test_locks_pin_torch_per_cpu_kind():
    x86, arm = _lock("x86_64"), _lock("aarch64")
    assert (x86["torch"], x86["torchvision"]) == ("2.14.1", "0.29.1")
    assert (arm["torch"], arm["torchvision"]) == ("2.9.1", "0.24.1")
    assert len(x86) > 150 and "jupyter-book" in x86 and "pytest-timeout" in x86 and "playwright" in x86
    assert {n for n in set(x86) & set(arm) if x86[n] != arm[n]} == {"torch", "torchvision"}


def test_installed_versions_equal_the_lock():
    machine = environment.lock_machine()
    differ = {}
    for name, want in _lock(machine).items():
        try:
            have = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            have = None
        if have is None or Version(have) != Version(want):
            differ[name] = (have, want)
    assert differ == {}, f"installed != lock-{machine}.txt (run scripts/setup.sh): {differ}"


def test_environment_yml_pins_the_locked_versions():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    for machine in MACHINES:
        applies = [p.split(";")[0] for p in pip
                   if ";" not in p or Marker(p.split(";", 1)[1]).evaluate({"platform_machine": machine})]
        assert _pins(applies) == _lock(machine), machine
    assert environment.conda_environment(ROOT) == (ROOT / "environment.yml").read_text()  # written by lock.sh


def test_the_lock_of_this_machine_is_found_from_the_package():
    assert environment.lock_file() == ROOT / "requirements" / f"lock-{environment.lock_machine()}.txt"
    assert environment.lock_file().is_file()


def test_lock_machine_names():
    assert environment.lock_machine("arm64") == "aarch64"
    assert environment.lock_machine("AMD64") == "x86_64"
    with pytest.raises(FakeitError, match="no lock for CPU kind 'riscv64'; locked: x86_64, aarch64"):
        environment.lock_machine("riscv64")


def test_versions_table_reads_the_running_environment(tmp_path: Path):
    lock = tmp_path / "lock-x86_64.txt"
    numpy = importlib.metadata.version("numpy")
    lock.write_text(f"torch==0.0.1\n    # via fakeit (pyproject.toml)\nnumpy=={numpy}\n")
    table = environment.versions_table(lock).splitlines()
    rows = [r for r in table if r.startswith("| ") and not r.startswith("| package")]
    assert len(rows) == 30  # 26 dependencies and 4 of the test extra in pyproject.toml
    installed = importlib.metadata.version("sentence-transformers")  # the version of this machine, whichever it is
    assert f"| sentence-transformers | {installed} | - (**differs**) |" in rows
    assert f"| torch | {importlib.metadata.version('torch')} | 0.0.1 (**differs**) |" in rows
    assert f"| numpy | {numpy} | {numpy} |" in rows
    assert f"| playwright | {importlib.metadata.version('playwright')} | - (**differs**) |" in rows


def test_cost_page_lists_the_installed_versions(tmp_path: Path):
    page = tmp_path / pages.COST_PAGE
    page.parent.mkdir(parents=True)
    page.write_text(f"# What this build cost\n\n{pages.COST_MARKER}\n")
    pages.write_cost_page(tmp_path, "smoke", "smoke", {"notebooks/prompts.ipynb": 1.5})
    text = page.read_text()
    assert "| Prompts | 1.5 | 0.0 |" in text
    assert f"| diffusers | {importlib.metadata.version('diffusers')} | " in text
    assert pages.COST_MARKER not in text
