"""Package versions: the locks `make book` and `make test` install from, and what the running environment holds.

`requirements/lock-<machine>.txt` (one per CPU kind, written by `scripts/lock.sh`) pins every package; the book's
build-cost page shows the versions actually installed next to the locked ones, read at build time.
"""

from __future__ import annotations

import importlib.metadata
import platform
import re
from pathlib import Path

from ..core.errors import FakeitError

PROJECT_ROOT = Path(__file__).resolve().parents[2]  # the checkout the package is installed from (editable)
LOCK_MACHINES = ("x86_64", "aarch64")  # CPU kinds with a lock; torch differs between them (requirements/torch.in)
PYTHON = "3.11"  # the Python the locks are resolved for
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)")


def canonical_name(name: str) -> str:
    """A package name as the package index compares names: lower case, runs of `-_.` as one dash."""
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_machine(machine: str | None = None) -> str:
    """The CPU kind whose lock applies to `machine` (default: this one); arm64 is aarch64."""
    m = (machine or platform.machine()).lower()
    m = {"arm64": "aarch64", "amd64": "x86_64"}.get(m, m)
    if m not in LOCK_MACHINES:
        raise FakeitError(f"no lock for CPU kind {m!r}; locked: {', '.join(LOCK_MACHINES)}")
    return m


def lock_file(machine: str | None = None, root: Path | None = None) -> Path:
    """The lock file of a CPU kind: `<root>/requirements/lock-<machine>.txt`."""
    return Path(root or PROJECT_ROOT) / "requirements" / f"lock-{lock_machine(machine)}.txt"


def read_lock(path: Path) -> dict[str, str]:
    """Package (canonical name) -> exact version, from the `name==version` lines of a lock file."""
    pins = {}
    for line in Path(path).read_text().splitlines():
        m = _PIN.match(line.strip())
        if m:
            pins[canonical_name(m[1])] = m[2]
    if not pins:
        raise FakeitError(f"lock file {path} holds no name==version lines")
    return pins


def top_level_packages(extras: tuple[str, ...] = ("test",)) -> list[str]:
    """The packages the project names itself (its dependencies and these extras), from its installed metadata."""
    from packaging.requirements import Requirement

    out = []
    for text in importlib.metadata.requires("fakeit") or []:
        req = Requirement(text)
        if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in extras):
            out.append(canonical_name(req.name))
    return out


def installed_version(name: str) -> str | None:
    """The version of a package installed in the running environment, or None."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def versions_table(lock: Path | None = None) -> str:
    """A markdown table of the project's own dependencies: version installed here, version locked, and whether they differ."""
    lock = Path(lock or lock_file())
    locked = read_lock(lock) if lock.exists() else {}
    lines = [f"Packages of the environment that ran this build (Python {platform.python_version()}), next to "
             f"`{lock.parent.name}/{lock.name}`:", "", "| package | installed | locked |", "|---|---|---|"]
    for name in top_level_packages():
        have, want = installed_version(name) or "-", locked.get(name, "-")
        lines.append(f"| {name} | {have} | {want}{'' if have == want else ' (**differs**)'} |")
    return "\n".join(lines) + "\n"


def conda_environment(root: Path | None = None) -> str:
    """The text of `environment.yml`: Python and every locked package, with a marker where the CPU kinds differ."""
    locks = {m: read_lock(lock_file(m, root)) for m in LOCK_MACHINES}
    names = sorted(set().union(*locks.values()))
    pins = []
    for name in names:
        versions = {m: locks[m].get(name) for m in LOCK_MACHINES}
        if len(set(versions.values())) == 1:
            pins.append(f"{name}=={versions[LOCK_MACHINES[0]]}")
        else:
            pins += [f'{name}=={v}; platform_machine == "{m}"' for m, v in versions.items() if v]
    head = ["# conda route (see README): conda env create -f environment.yml && conda activate fakeit",
            "#   && pip install -e . --no-deps",
            "# Written by scripts/lock.sh from requirements/lock-*.txt: the same exact versions as `make book`.",
            "# WordNet: `python -c \"import nltk; nltk.download('wordnet')\"` (needs internet) or Debian's",
            "# wordnet-base + wordnet-sense-index.",
            "name: fakeit", "channels:", "  - conda-forge", "dependencies:", f"  - python={PYTHON}", "  - pip", "  - pip:"]
    return "\n".join(head + [f"      - '{p}'" for p in pins]) + "\n"
