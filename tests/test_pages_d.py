"""Reader-facing words and layout of the ablations, ImageNet-1K, matched-backgrounds and verdict-errors pages: plain
words where the code has names, numbers formatted as they are set, figure titles and tick labels that fit."""

from types import SimpleNamespace

import nbformat
import pandas as pd
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _sweeps() -> pd.DataFrame:
    rows = [{"sweep": "guidance", "value": g, "guidance": g, "steps": 10.0, "sample": -1, "images": 40.0,
             "fidelity": 0.9, "diversity": 15.0} for g in (1.0, 2.0, 7.5)]
    rows += [{"sweep": "steps", "value": s, "guidance": 2.0, "steps": s, "sample": -1, "images": 40.0,
              "fidelity": 0.9, "diversity": 15.0} for s in (5.0, 10.0)]
    return pd.DataFrame(rows)


def test_the_sweep_table_prints_guidance_as_set_and_whole_steps():
    from fakeit_lib.chapters.ablations import sweep_styled

    html = sweep_styled(_sweeps()).to_html()
    assert ">7.5<" in html and ">1<" in html and ">2<" in html and "2.000" not in html and "7.500" not in html
    assert ">10<" in html and "10.000" not in html and ">0.900<" in html


def test_the_sweep_figure_units_are_said_in_words():
    from fakeit_lib.chapters.ablations import sweep_units_text

    text = sweep_units_text()
    assert "**judge units** are distances" in text and "**of images** is a share" in text


def test_the_trained_models_and_the_guidance_parts_are_named_in_words():
    from fakeit_lib.chapters import ablations as ch

    run = SimpleNamespace(scores=lambda: [70.0, 71.0, 72.0], label="a clone")
    t = ch.Trained({2.0: run}, run, run, run, run)
    settings = ch.trained_frame(t)["setting"].tolist()
    assert "class name alone" in settings and 'CLIP template ("a photo of a [class name]")' in settings
    assert not any("(c)" in s or "a photo of a c" in s for s in settings)
    source = Path(ch.__file__).read_text()
    # the fall of diversity is measured as a positive amount lost, so its sign and its name agree
    assert '"diversity lost with guidance"' in source and "falls with guidance" not in source
    assert '"of images judged faithful per doubling"' in source


def test_a_title_keeps_its_own_line_breaks_and_wraps_each_line():
    from fakeit_lib.nb import TITLE_LINE, title_lines

    lines = title_lines("Paper (reported): ImageNet-1K-SD minus<br>RSB-A1, per test set and transfer dataset")
    assert lines == ["Paper (reported): ImageNet-1K-SD minus", "RSB-A1, per test set and transfer dataset"]
    assert title_lines("a<br>b<br />c") == ["a", "b", "c"]
    long = title_lines("word " * 30)
    assert len(long) > 1 and all(len(x) <= TITLE_LINE for x in long)
    assert title_lines("short") == ["short"]


def test_the_poster_figure_labels_every_row_and_names_its_column_in_words():
    from fakeit_lib.chapters import imagenet1k as ch
    from fakeit_lib.nb import TITLE_LINE

    frame = ch.poster_frame()
    assert "test set or dataset" in frame.columns and "axis" not in frame.columns
    fig = ch.poster_figure()
    assert all(t.orientation == "h" for t in fig.data)  # names on the y axis: none dropped on a phone
    shown = [y for t in fig.data for y in t.y]
    assert len(shown) == frame["synthetic minus real (points)"].notna().sum() and fig.layout.yaxis.dtick == 1
    assert fig.layout.title.y is None and fig.layout.title.yanchor is None  # placed by the book's renderer's margin
    assert all(len(line) <= TITLE_LINE for line in fig.layout.title.text.split("<br>"))  # not re-wrapped on a phone


def test_the_imagenet1k_page_says_first_that_nothing_is_trained_at_a_smaller_scale():
    from fakeit_lib.chapters import imagenet1k as ch

    p = ch.ImageNet1KParams(scale="mini")
    assert ch.first_line(p, []).startswith("Nothing on this page is trained at the mini scale: every number is the paper's")
    first = nbformat.read(ROOT / "notebooks/imagenet1k.ipynb", as_version=4).cells[0].source.split("\n\n")
    assert first[1] == "**What this build shows.** {glue:text}`first_line`"
    prose = "\n".join(c.source for c in nbformat.read(ROOT / "notebooks/imagenet1k.ipynb", as_version=4).cells
                      if c.cell_type == "markdown")
    assert "paper-1k" not in prose
    assert "paper-1k" not in ch.shown_not_decided(p, [])


def test_the_matched_backgrounds_page_names_its_prompt_in_words_and_says_what_did_not_run(monkeypatch):
    from fakeit_lib.chapters import matched_backgrounds as ch

    cells = nbformat.read(ROOT / "notebooks/matched_backgrounds.ipynb", as_version=4).cells
    prose = "\n".join(c.source for c in cells if c.cell_type == "markdown")
    assert "h_c" not in prose and "*class name + hypernym + background*" in prose
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda x: shown.append(x.data))
    ch.show_runs(ch.MatchedParams(scale="mini", class_set="fashion-mnist"), {})
    assert shown and shown[0].startswith("Not trained at the mini scale: Fashion-MNIST images")


def test_the_verdict_errors_result_comes_after_the_first_paragraph():
    cells = nbformat.read(ROOT / "notebooks/verdict_errors.ipynb", as_version=4).cells
    title, first = cells[0].source.split("\n\n")
    assert title.startswith("# ") and first.startswith("Every verdict in this book")
    assert cells[1].source.startswith("**The result.**")
    assert "registry" not in "\n".join(c.source for c in cells if c.cell_type == "markdown")


def test_the_verdict_errors_result_says_the_budget_and_what_two_draws_decide():
    from fakeit_lib.chapters import verdict_errors as ch
    from fakeit_lib.paper import calibration as cal

    R = cal.Row
    rows = [R("trend", "unequal variance 3:1", 10, 0.943, 0.005, 0.024, 0.006, 0.036, 0.007, 0.887, 0.012, 0.0),
            R("greater", "with draw variance, 2 draws", 10, 1.0, 0.0, 0.0, 0.001, 0.0, 0.001, 0.004, 0.002, 1.0),
            R("greater", "with draw variance, 4 draws (mini)", 10, 0.983, 0.003, 0.01, 0.004, 0.014, 0.004, 0.544,
              0.019, 0.0)]
    text = ch.calibration_text(ch.VerdictErrorsParams(scale="mini", calibration_families=10), rows)
    worst = max(rows, key=lambda r: r.ratio())
    assert f"uses {100 * worst.ratio():.0f}% of what the goal allows" in text and "of it." not in text
    assert ("With the default 2 draws a comparison of clones is almost never decided: \"greater\" holds in 0.4% of "
            "the families") in text
    assert text.endswith("the fallback firing in 100% of them; with 4 draws, in 54.4%.")
    assert ch.draws_power_text(rows[:1]) == ""  # no rows with measured draws: nothing said of them
