import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run `python -m fakeit_lib ARGS` and capture its output."""
    return subprocess.run([sys.executable, "-m", "fakeit_lib", *args], capture_output=True, text=True,
                          cwd=cwd or ROOT, timeout=timeout)


def run_main(*args: str) -> subprocess.CompletedProcess:
    """Run the CLI's main function on ARGS in this process (no interpreter start, no imports again): the exit code,
    stdout and stderr as `run_cli` gives them. Tests of the entry point itself use `run_cli`."""
    import contextlib
    import io

    from fakeit_lib.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as e:  # argparse's errors and --help
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    return subprocess.CompletedProcess(["fakeit", *args], code, out.getvalue(), err.getvalue())


def free_port() -> int:
    """A TCP port free on this machine now (for torchrun's rendezvous), instead of a fixed one."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_SESSION: dict[str, Path] = {}


def pytest_configure(config) -> None:
    """Before any test module is imported (some read class sets at import): the suite's own output root and cache in a
    temp folder, so stages made by tests (and by the notebooks and commands they start, which inherit the
    environment) never reuse nor change the user's ./outputs or ~/.cache/fakeit. A `make book` running beside the
    tests keeps its own."""
    import tempfile

    if getattr(config, "workerinput", None) is not None or _SESSION:
        return
    base = Path(tempfile.mkdtemp(prefix="fakeit-tests-"))
    _SESSION.update(base=base, outputs=base / "outputs", cache=base / "cache")
    for name in ("outputs", "cache"):
        _SESSION[name].mkdir()
    _SESSION["before"] = {k: os.environ.get(k) for k in ("FAKEIT_OUTPUT", "FAKEIT_CACHE")}
    os.environ["FAKEIT_OUTPUT"] = str(_SESSION["outputs"])
    os.environ["FAKEIT_CACHE"] = str(_SESSION["cache"])


def pytest_unconfigure(config) -> None:
    """The environment as it was, and the session's temp folder removed."""
    import shutil

    if not _SESSION:
        return
    for key, value in _SESSION.pop("before").items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    shutil.rmtree(_SESSION.pop("base"), ignore_errors=True)
    _SESSION.clear()


@pytest.fixture(scope="session")
def output_root() -> Path:
    """The suite's output root (FAKEIT_OUTPUT for the whole session, set before collection)."""
    return _SESSION["outputs"]


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture
def cli_main():
    """The CLI run in-process (conftest.run_main): for its messages and outputs, seconds faster than `cli`."""
    return run_main


@pytest.fixture(scope="session")
def smoke_book(output_root) -> Path:
    """The build folder of the book built once, uninterrupted, at the smoke scale under the suite's output root (the
    book tests read its pages; the resume test compares its findings with those of a build stopped and resumed)."""
    import tempfile

    from fakeit_lib.builder import runner

    build = Path(tempfile.mkdtemp(prefix="book-", dir=output_root.parent)) / "_build"
    assert runner.build_book("smoke", root=ROOT, build_dir=build).exists()
    return build


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests keep artefacts worth looking at (screenshots): $FAKEIT_TEST_ARTIFACTS or ./test-artifacts."""
    d = Path(os.environ.get("FAKEIT_TEST_ARTIFACTS", ROOT / "test-artifacts"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def book_html(build: Path) -> Path:
    """The html folder of a book's build folder: `html/`, or `_build/html/` where jupyter-book put it (a build folder
    not named `_build`)."""
    for html in (build / "html", build / "_build" / "html"):
        if (html / "index.html").exists():
            return html
    raise FileNotFoundError(f"{build} holds no html/index.html nor _build/html/index.html")


def existing_book() -> Path | None:
    """The build folder (holding `findings.json` and the html) of the built book $FAKEIT_BOOK names, or None when the
    variable is unset. It may name the build folder (e.g. `_build`, what `python -m fakeit_lib book` writes) or the
    html folder in it."""
    given = os.environ.get("FAKEIT_BOOK")
    if not given:
        return None
    path = Path(given).resolve()
    for build in (path, path.parent, path.parent.parent):  # the build folder, its html/ or its _build/html/
        if (build / "findings.json").exists():
            try:
                book_html(build)
                return build
            except FileNotFoundError:
                break
    raise pytest.UsageError(f"FAKEIT_BOOK={given}: no built book there (no findings.json beside an html/index.html); "
                            "give a built book's folder (the `_build` that `python -m fakeit_lib book` writes) or its "
                            "html folder")


@pytest.fixture(scope="session")
def built_book(request) -> Path:
    """The build folder of the book under test (holding `html/`, `src/` and `findings.json`): the one $FAKEIT_BOOK
    names (existing_book), or else the smoke build made once for the session (`smoke_book`), shared by the book's
    test modules and the resume test."""
    build = existing_book()
    if build is not None:
        return build
    return request.getfixturevalue("smoke_book")


def book_scale(build: Path) -> str:
    """The scale a built book ran at, as its findings state it (every finding carries the scale of its run)."""
    import json

    scales = {f["scale"] for f in json.loads((build / "findings.json").read_text())}
    assert len(scales) == 1, f"{build / 'findings.json'} mixes scales {sorted(scales)}"
    return scales.pop()


def measured_judge_accuracy() -> tuple[float, float]:
    """(real test accuracy the shipped judge records, its accuracy measured now on the real test split)."""
    from fakeit_lib.datasets.fashion_mnist import fashion_mnist
    from fakeit_lib.generation.quality.judge import judge_outputs, load_judge

    model, recorded = load_judge()
    test = fashion_mnist("test")
    pred, _ = judge_outputs(model, test.data.unsqueeze(1).float() / 255.0)
    return recorded, float((pred == test.targets).float().mean())


# A judge's predictions on another CPU (or the other locked torch) may differ from the recorded ones where two
# logits nearly tie: at most this share of the 10,000 real test images may flip.
JUDGE_FLIP_TOLERANCE = 0.002


@pytest.fixture
def one_thread():
    """torch on one thread within the test (runs equal bit for bit, and a small model is faster and steadier on the
    shared cores), its thread count put back after."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
