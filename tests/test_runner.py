"""The book runner's limits: a notebook cell or an HTML build that runs past its time is stopped with a clear error."""

from pathlib import Path

import nbformat
import pytest

from fakeit_lib.builder import html, notebooks, pages, runner
from fakeit_lib.core.errors import FakeitError

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.timeout(300)


def test_a_cell_past_its_limit_stops_the_notebook(tmp_path: Path, monkeypatch):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("scale = 'smoke'", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("import time\ntime.sleep(60)")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    src = tmp_path / "slow.ipynb"
    nbformat.write(nb, src)
    monkeypatch.setitem(notebooks.CELL_TIMEOUT, "smoke", 3)
    with pytest.raises(FakeitError, match=r"notebook slow did not finish: .*3 seconds.* \(per-cell limit at scale smoke"):
        notebooks.execute_notebook(src, tmp_path / "out" / "slow.ipynb", {"scale": "smoke"}, tmp_path, "slow")


def test_an_html_build_past_its_limit_is_stopped(tmp_path: Path, monkeypatch):
    runner.stage_book(ROOT, tmp_path / "stage")  # the book's own pages: seconds of Sphinx to build
    monkeypatch.setattr(html, "BUILD_TIMEOUT", 1.0)
    with pytest.raises(FakeitError, match=r"the book build did not finish within 1.0 s: .*jupyter-book build"):
        html.build_html(tmp_path / "stage", tmp_path / "_build")


def test_the_cost_page_says_whether_a_mini_build_kept_its_budget(tmp_path: Path):
    assert pages.budget_verdict(1140.0, 2) == "within it (19.0 minutes on 2 cores)"
    assert pages.budget_verdict(1818.0, 2) == "over it by 5.3 minutes (30.3 minutes on 2 cores)"
    (tmp_path / "book").mkdir()
    page = tmp_path / "book" / "build_cost.html"
    page.write_text(pages.cost_table("mini", "mini", {"notebooks/prompts.ipynb": 60.0}))
    pages.finish_cost_page(tmp_path / "index.html", 60.0, 12.0)
    text = page.read_text()
    assert "| **notebooks and HTML** | **72.0** | **1.2** |" in text and "| HTML (Jupyter Book) | 12.0 | |" in text
    assert "this build was within it (1.2 minutes on" in text and "PENDING" not in text
    assert "budget" not in pages.cost_table("smoke", "smoke", {"notebooks/prompts.ipynb": 1.0})
