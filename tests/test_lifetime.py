"""Nothing outlives what started it: job workers end with their parent, a killed `fakeit book` leaves no kernel and no
worker, and SIGTERM stops a build with one line and exit code 143. Processes are followed through /proc (Linux)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.integration, pytest.mark.timeout(300),
              pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="follows processes through /proc")]


def stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, start time) of a process, None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return fields[0], int(fields[1]), int(fields[19])


def descendants(pid: int) -> dict[int, int]:
    """pid -> start time of every process below `pid`."""
    table = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (s := stat(int(entry.name))) is not None:
            table[int(entry.name)] = s
    found, frontier = {}, [pid]
    while frontier:
        parent = frontier.pop()
        for child, (_, ppid, start) in table.items():
            if ppid == parent and child not in found:
                found[child] = start
                frontier.append(child)
    return found


def alive(procs: dict[int, int]) -> list[int]:
    """Which of the recorded processes still run (a zombie or a new process under a reused pid does not count)."""
    return sorted(p for p, start in procs.items() if (s := stat(p)) is not None and s[0] != "Z" and s[2] == start)


def wait_for(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} within {seconds} s")


def workers_below(pid: int, marks: Path) -> dict[int, int]:
    """Wait until both jobs of SLEEPING_JOBS run (their marks are written), then return every process below `pid`."""
    wait_for(lambda: len(list(marks.glob("job*"))) == 2, 120, f"two jobs did not start below {pid}")
    procs = descendants(pid)
    assert sum(b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes() for p in procs) == 2, procs
    return procs


def kill_all(procs: dict[int, int]) -> None:
    for p in alive(procs):
        os.kill(p, signal.SIGKILL)


def sleeping_jobs(marks: Path) -> str:
    """Python source running two jobs side by side in worker processes, each marking its start and sleeping 300 s."""
    return ("from fakeit_lib.core.parallel import run_jobs\nfrom lifetime_jobs import mark_then_sleep\n"
            f"run_jobs(mark_then_sleep, [({str(marks / 'job0')!r}, 300), ({str(marks / 'job1')!r}, 300)])\n")


def job_env() -> dict:
    return {**os.environ, "FAKEIT_JOBS": "2", "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}


def test_workers_end_with_their_parent(tmp_path):
    parent = subprocess.Popen([sys.executable, "-c", sleeping_jobs(tmp_path)], env=job_env(), start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs = {}
    try:
        procs = workers_below(parent.pid, tmp_path)
        os.kill(parent.pid, signal.SIGKILL)  # the parent alone: its workers are left to themselves
        parent.wait()
        wait_for(lambda: not alive(procs), 20, f"workers {alive(procs)} still run after their parent was killed")
    finally:
        kill_all(procs)


@pytest.fixture
def sleeping_book(tmp_path) -> Path:
    """A one-notebook book whose notebook runs two sleeping jobs side by side in worker processes."""
    import nbformat

    root = tmp_path / "book"
    (root / "presets").mkdir(parents=True)
    (root / "presets" / "smoke.yaml").write_text("scale: smoke\n")
    (root / "_config.yml").write_text("title: sleeping\n")
    (root / "_toc.yml").write_text("format: jb-book\nroot: sleeping\n")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(sleeping_jobs(tmp_path))]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, root / "sleeping.ipynb")
    return root


def start_book(root: Path, log: Path) -> subprocess.Popen:
    with open(log, "w") as out:
        return subprocess.Popen([sys.executable, "-m", "fakeit_lib", "book", "--preset", "smoke", "--build-dir",
                                 str(root / "_build")], cwd=root, env=job_env(), start_new_session=True, stdout=out,
                                stderr=out)


def test_a_killed_book_leaves_no_kernel_and_no_worker(sleeping_book, tmp_path):
    book = start_book(sleeping_book, tmp_path / "book.log")
    procs = {}
    try:
        procs = workers_below(book.pid, tmp_path)  # the kernel (a session of its own), its job workers, their resource tracker
        os.killpg(book.pid, signal.SIGKILL)  # the build's process group: the kernel is not in it
        book.wait()
        wait_for(lambda: not alive(procs), 60, f"processes {alive(procs)} of the killed build still run")
    finally:
        kill_all(procs)


def test_sigterm_stops_a_book_with_one_line_and_no_worker_left(sleeping_book, tmp_path):
    book = start_book(sleeping_book, tmp_path / "book.log")
    procs = {}
    try:
        procs = workers_below(book.pid, tmp_path)
        os.kill(book.pid, signal.SIGTERM)
        assert book.wait(timeout=60) == 128 + signal.SIGTERM
        lines = (tmp_path / "book.log").read_text().strip().splitlines()
        assert lines[-1] == ("fakeit book: stopped by SIGTERM while executing sleeping.ipynb; the finished stages are "
                             "kept: run the same command to resume")
        wait_for(lambda: not alive(procs), 30, f"processes {alive(procs)} of the stopped build still run")
    finally:
        kill_all(procs)
