"""A book stopped with SIGTERM part-way and built again with the same command finishes with the findings of a build
that was never stopped, and takes up every stage finished before the stop instead of computing it again."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fakeit_lib.core.store import DONE_MARKER

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.book, pytest.mark.timeout(3600)]


def finished_stages(root: Path) -> dict[str, tuple[int, str]]:
    """Stage folder -> (time its done marker was written, the marker's text), for every finished stage under root."""
    if not root.is_dir():
        return {}
    return {p.name: ((p / DONE_MARKER).stat().st_mtime_ns, (p / DONE_MARKER).read_text())
            for p in sorted(root.iterdir()) if (p / DONE_MARKER).exists()}


def book(build: Path, outputs: Path, log: Path) -> subprocess.Popen:
    """`fakeit book --preset smoke` in its own process, with its own output root, writing to `log`."""
    env = {**os.environ, "FAKEIT_OUTPUT": str(outputs), "FAKEIT_CACHE": str(outputs.parent / "cache")}
    with open(log, "w") as out:
        return subprocess.Popen([sys.executable, "-m", "fakeit_lib", "book", "--preset", "smoke", "--build-dir",
                                 str(build)], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def test_a_book_stopped_by_sigterm_resumes_to_the_findings_of_an_unstopped_build(request, tmp_path):
    outputs, build = tmp_path / "outputs", tmp_path / "_build"
    first = book(build, outputs, tmp_path / "first.log")
    try:
        deadline = time.monotonic() + 2400
        while first.poll() is None and time.monotonic() < deadline and len(finished_stages(outputs)) < 2:
            time.sleep(0.5)  # stop once two stages are finished and the build is busy with the next ones
        assert first.poll() is None, "the build ended before two of its stages were finished:\n" + \
            (tmp_path / "first.log").read_text()[-3000:]
        os.kill(first.pid, signal.SIGTERM)
        assert first.wait(timeout=120) == 128 + signal.SIGTERM
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    said = (tmp_path / "first.log").read_text().strip().splitlines()[-1]
    assert said.startswith("fakeit book: stopped by SIGTERM while executing notebooks/") and \
        said.endswith("the finished stages are kept: run the same command to resume"), said
    before = finished_stages(outputs)
    assert len(before) >= 2 and not (build / "findings.json").exists()

    again = book(build, outputs, tmp_path / "again.log")
    try:
        straight = json.loads((request.getfixturevalue("smoke_book") / "findings.json").read_text())  # meanwhile
        assert again.wait(timeout=3000) == 0, (tmp_path / "again.log").read_text()[-3000:]
    finally:
        if again.poll() is None:
            again.kill()
            again.wait()
    after = finished_stages(outputs)
    # every stage finished before the stop is taken up as it was (a stage computed again writes its marker anew)
    assert {name: after.get(name) for name in before} == before
    assert len(after) > len(before)  # and the resumed build did the rest
    resumed = json.loads((build / "findings.json").read_text())
    assert len(resumed) >= 1 and resumed == straight
