"""The book: every notebook executed with the smoke preset, built with warnings as errors, and looked at in a
real headless browser with no network."""

import os
from pathlib import Path

import nbformat
import pytest

from fakeit_lib import runner

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.book


@pytest.fixture(scope="module")
def built_book(tmp_path_factory) -> Path:
    build = tmp_path_factory.mktemp("book") / "_build"
    index = runner.build_book("smoke", root=ROOT, build_dir=build)
    assert index.exists()
    return build


def _html_pages(build: Path) -> list[Path]:
    html = next(build.rglob("html"))
    pages = [html / f"{f}.html" for f in runner.toc_files(ROOT)]
    assert all(p.exists() for p in pages), [p for p in pages if not p.exists()]
    return pages


def test_prompts_page_holds_the_papillon_prompt(built_book: Path):
    page = next(built_book.rglob("html")) / "notebooks" / "prompts.html"
    html = page.read_text()
    assert "papillon, toy spaniel" in html
    assert "papillon, small slender toy spaniel with erect ears and a black-spotted brown to white coat" in html
    assert "Ran at scale <strong>smoke</strong>" in html


def test_executed_notebooks_keep_their_papermill_parameters(built_book: Path):
    executed = nbformat.read(built_book / "src" / "notebooks" / "prompts.ipynb", as_version=4)
    assert executed.metadata["papermill"]["parameters"]["scale"] == "smoke"
    assert executed.metadata["papermill"]["parameters"]["class_set"] == "fashion-mnist"


def test_every_page_in_the_browser_offline(built_book: Path, artifacts_dir: Path):
    from browser import open_pages

    reports = open_pages(_html_pages(built_book), screenshot_dir=artifacts_dir / "book")
    for rep in reports:
        assert rep.console_errors == [], rep.url
        assert rep.broken_images == [], rep.url
        assert rep.failed_requests == [r for r in rep.failed_requests if r in rep.blocked_requests], rep.url
        assert rep.plotly_figures == rep.plotly_divs, f"{rep.url}: {rep.plotly_divs - rep.plotly_figures} plotly figures not drawn"
    prompts = next(r for r in reports if r.url.endswith("notebooks/prompts.html"))
    assert prompts.plotly_figures >= 1
    assert "papillon, toy spaniel" in prompts.text
    assert (artifacts_dir / "book" / "notebooks__prompts.png").stat().st_size > 10_000
