"""The HTML build of the executed book (Jupyter Book, warnings as errors) in a build folder checked before any work,
and SIGTERM turned into a clean stop while a build runs."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from ..core.errors import FakeitError, Stopped


BUILD_TIMEOUT = 1800  # seconds the HTML build of the executed notebooks may take


def build_html(stage: Path, out: Path) -> Path:
    """Build the HTML book from the staging folder into `<out>/html` with warnings as errors; returns index.html."""
    jb = Path(sys.executable).with_name("jupyter-book")
    # jupyter-book writes to `<path-output>/_build/html`: aim it so that this is `<out>/html`
    path_output = out.parent if out.name == "_build" else out
    cmd = [str(jb if jb.exists() else "jupyter-book"), "build", str(stage), "--path-output", str(path_output),
           "--builder", "html", "-W", "-n", "--keep-going", "--all"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=BUILD_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise FakeitError(f"the book build did not finish within {BUILD_TIMEOUT} s: {' '.join(cmd)}") from None
    log = out / "build.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(proc.stdout + proc.stderr)
    warnings = [ln for ln in (proc.stdout + proc.stderr).splitlines() if "WARNING" in ln or "ERROR" in ln]
    if proc.returncode != 0 or warnings:
        detail = "\n".join(warnings[:20]) or (proc.stderr or proc.stdout)[-2000:]
        raise FakeitError(f"the book build failed (log: {log}):\n{detail}")
    index = path_output / "_build" / "html" / "index.html"
    if not index.exists():
        raise FakeitError(f"the book build wrote no {index} (log: {log})")
    return index


def check_build_dir(build_dir: Path) -> None:
    """Create `build_dir`, or raise FakeitError naming it when it cannot be created or written (before any work)."""
    if build_dir.exists() and not build_dir.is_dir():
        raise FakeitError(f"build folder {build_dir} is a file, not a folder; give a folder (default: ./_build)")
    existing = next((p for p in [build_dir, *build_dir.parents] if p.exists()), None)
    if existing is None or not os.access(existing, os.W_OK | os.X_OK):
        raise FakeitError(f"cannot write the build folder {build_dir}: {existing} is not writable; give another --build-dir")
    try:
        build_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise FakeitError(f"cannot write the build folder {build_dir}: {e.strerror}; give another --build-dir") from None


@contextlib.contextmanager
def stop_on_sigterm(doing: dict):
    """Within the block (in the main thread), SIGTERM raises Stopped naming `doing["step"]` instead of ending the
    process at once, so that the clean-up on the way out shuts the notebook's kernel down with its workers; a second
    SIGTERM ends the process at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        import logging

        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        # the cell nbclient was waiting on ends with its kernel, in a task nobody awaits any more: asyncio would log
        # that task's error at exit, after the one line that says why the build stopped
        logging.getLogger("asyncio").setLevel(logging.CRITICAL)
        raise Stopped(f"stopped by SIGTERM while {doing['step']}; the finished stages are kept: run the same command "
                      "to resume", signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
