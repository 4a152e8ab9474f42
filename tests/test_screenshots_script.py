"""scripts/screenshots.py reads the book's pages in reading order from the same table of contents the build uses."""

import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_pages_are_listed_from_the_toc_and_a_missing_page_is_named(tmp_path):
    script = runpy.run_path(str(ROOT / "scripts" / "screenshots.py"))
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "intro.html").write_text("<html></html>")
    assert script["pages_of"](tmp_path, ["book/intro"]) == [tmp_path / "book" / "intro.html"]
    with pytest.raises(SystemExit, match="no such built page: .*notebooks/prompts.html"):
        script["pages_of"](tmp_path, None)  # every page of _toc.yml, and only the introduction is built
