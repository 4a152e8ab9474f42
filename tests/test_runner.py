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
    assert "| **chapters and HTML** | **72.0** | **1.2** |" in text and "| HTML (Jupyter Book) | 12.0 | 0.2 |" in text
    assert "from a fresh output folder: this build started from one and was within it (1.2 minutes on" in text
    assert "PENDING" not in text
    assert "budget" not in pages.cost_table("smoke", "smoke", {"notebooks/prompts.ipynb": 1.0})


def test_a_build_that_found_finished_stages_does_not_test_the_budget(tmp_path: Path):
    (tmp_path / "book").mkdir()
    page = tmp_path / "book" / "build_cost.html"
    page.write_text(pages.cost_table("mini", "mini", {"notebooks/prompts.ipynb": 360.0}, reused=12, precision="bf16"))
    pages.finish_cost_page(tmp_path / "index.html", 360.0, 24.0)
    text = page.read_text()
    assert ("from a fresh output folder. This build does not test it: its output folder already held 12 finished stages "
            "when it started (an earlier build's, or commands run by hand), and a build loads the stages it needs instead "
            "of computing them, so its 6.4 minutes below are those of a rebuild (the chapters still compute their "
            "statistics and figures from what they load).") in text
    assert text.index("This build does not test it") < text.index("| step | seconds | minutes |")  # said first
    assert "within it" not in text and "over it" not in text and "PENDING" not in text
    assert "already held 1 finished stage when" in pages.cost_table("mini", "mini", {}, reused=1, precision="bf16")


def test_the_cost_page_says_why_a_build_overruns_and_which_precision_this_one_took():
    why = ("runs in bf16 only where the CPU has fast bf16 kernels (AVX-512 or AMX on x86, BF16 on Arm); elsewhere, e.g. on "
           "a CPU with AVX2 only, it runs in float32, and a full mini build took 138 minutes on such a 2-core machine")
    slow = pages.cost_table("mini", "mini", {"notebooks/prompts.ipynb": 60.0}, precision="float32")
    assert why in slow and "This machine's CPU has no fast bf16 kernels: training here runs in float32.\n\n| step" in slow
    fast = pages.cost_table("mini", "mini", {"notebooks/prompts.ipynb": 60.0}, precision="bf16")
    assert "This machine's CPU has fast bf16 kernels: training here runs in bf16.\n\n| step" in fast
    assert pages.mini_precision() in ("bf16", "float32", "fp16")  # this machine's own path, as the runner states it


def test_the_cost_table_names_chapters_not_notebook_files():
    timings = {"notebooks/prompts.ipynb": 1.0, "notebooks/tab1_prompts.ipynb": 2.0, "notebooks/fig2_qualitative.ipynb": 3.0}
    table = pages.cost_table("smoke", "smoke", timings, {"notebooks/tab1_prompts": "Table 1"})
    assert "| Prompts | 1.0 | 0.0 |" in table and "| Table 1 | 2.0 | 0.0 |" in table
    assert "| Fig. 2 qualitative | 3.0 | 0.1 |" in table and ".ipynb" not in table and "notebooks/" not in table


def test_the_cost_page_refers_to_the_table_of_what_was_computed_only_when_it_shows_one(tmp_path: Path):
    from fakeit_lib.builder.accounting import found_finished, levers_markdown
    from fakeit_lib.experiments.presets import load_preset

    acc = {k: {"computed": 0, "loaded": 2, "seconds": 0.0} for k in ("generate", "train", "evaluate", "transfer")}
    acc["generate"].update(drawn=0, viewed=0, kept=0)
    acc["train"].update(epochs=0, images=0)
    params = load_preset("mini", ROOT)
    reused = levers_markdown(acc, params)
    assert found_finished(acc) == 8 and "The table says" not in reused and "| stage |" not in reused
    acc["train"].update(computed=1, seconds=42.0, epochs=10, images=500)
    computed = levers_markdown(acc, params)
    assert found_finished(acc) == 8 and computed.startswith("The table says how many stages of each kind this build computed")
    assert "| stage | computed | found finished | core-seconds |" in computed
    page = tmp_path / pages.COST_PAGE
    page.parent.mkdir(parents=True)
    static = (ROOT / pages.COST_PAGE).read_text()
    assert "The table above" not in static  # the sentence about that table is generated with it
    for levers, told, found in ((reused, False, 8), (computed, True, 8), ("", False, 0)):
        page.write_text(static)
        pages.write_cost_page(tmp_path, "mini", "mini", {"notebooks/prompts.ipynb": 60.0}, levers, found)
        text = page.read_text()
        assert ("The table says" in text) == told and ("| stage | computed |" in text) == told
        assert ("This build does not test it: its output folder already held 8 finished stages" in text) == bool(found)
        assert "| Prompts | 60.0 | 1.0 |" in text
