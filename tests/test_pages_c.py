"""What a reader meets on the domain-shift, Fig. 4, Table 2, Fig. 1 and representations pages: cells that do not wrap
a mean away from its interval, one guidance format, short verdict reasons without nested brackets, figure text that
fits a phone, the developers' details collapsed, this run's gaps stated, one table per spider panel, the result on
the first screen and fixed decimals per measure."""

import re
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pandas as pd
import pytest

from fakeit_lib.experiments import stages as ex
from fakeit_lib.experiments import table1

from test_fig4_draws import params as fig4_params
from test_fig4_draws import runs as fig4_runs
from test_fig4_draws import scaling

ROOT = Path(__file__).resolve().parents[1]
TEST = "fashion-mnist-test"


def notebook(name):
    return nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)


def prose(name):
    return "".join(c.source for c in notebook(name).cells if c.cell_type == "markdown")


def model(label, data, variant, guidance, top1, multiplier=1.0):
    result = lambda t: {"datasets": {TEST: {"top1": t / 100, "top5": 0.99}}}
    return ex.ModelRuns(label, data, variant, guidance, multiplier, Path(f"/x/{label}"), 500, list(range(len(top1))),
                        [Path(f"/c/{label}/{s}") for s in range(len(top1))], [result(t) for t in top1])


# domain shift ------------------------------------------------------------------------------------------------------

def test_domain_shift_cells_keep_mean_and_interval_together_and_guidance_has_one_format():
    from fakeit_lib.chapters import domain_shift as ch

    runs = {"real": model("real", "real", None, None, [80.0, 81.0, 79.0]),
            ("c", 2.0): model("c 2", "synthetic", "c", 2.0, [60.0, 61.0, 59.0])}
    scores = {k: [{"in-domain": r.scores()[i], "sketch": 30.0 + i, "inverted": 20.0 - i} for i in range(3)]
              for k, r in runs.items()}
    frame = ch.shift_frame(runs, scores)
    assert frame.guidance.tolist() == ["-", "2.0"]
    cell = frame["in-domain top-1"].iloc[0]
    assert "\u00a0±\u00a0" in cell and " " not in cell  # never wrapped between the mean and its interval
    paper = ch.paper_frame("fashion-mnist")
    assert set(paper.guidance) <= {"-", "2.0", "7.5"} and {"2.0", "7.5"} <= set(paper.guidance)


# Fig. 4 ------------------------------------------------------------------------------------------------------------

def test_fig4_is_titled_as_its_neighbours_and_its_note_says_what_the_table_shows():
    from fakeit_lib.chapters import fig4_scaling as ch

    text = prose("fig4_scaling")
    assert text.startswith("# Fig. 4: more synthetic images") and "Figure 4" not in text
    assert "in brackets: {glue:text}`seeds_note`" not in text  # the note no longer glues `mean ± ...` after "brackets"
    note = ch.interval_note([0, 1, 2])
    assert note == ("Each value is this run's mean over 3 training seeds (0, 1, 2), with its 95% Student-t interval "
                    "over them in brackets.")
    assert "±" not in note and ch.interval_note([4]) == "Each value is this run's one training seed (4): no interval."


def test_fig4_reasons_are_short_and_hold_no_brackets():
    from fakeit_lib.chapters import fig4_scaling as ch

    for draws in (4, 1):
        s = scaling() if draws == 4 else scaling([])
        for v in ch.scaling_findings(fig4_params(draws=draws), s):
            if v.id in ("more_images_help", "more_images_transfer_better"):
                # the chapter's clauses, after the parts' summary (`10x minus real: ..., its interval as above`)
                own = v.reason.split(" as above; ", 1)[-1] if v.id == "more_images_transfer_better" else v.reason
                assert "(" not in own and "tested: the first clause" not in own, own
                assert len(own) < 420, (len(own), own)
    t = next(v for v in ch.scaling_findings(fig4_params(draws=4), scaling()) if v.id == "more_images_transfer_better")
    assert "as above; only the 10x clause is tested, as the clones stop at 10x" in t.reason


def test_fig4_figure_has_one_y_title_and_level_ticks():
    from fakeit_lib.chapters import fig4_scaling as ch

    p = fig4_params(draws=4)
    fig = ch.scaling_figure(p, scaling())
    assert fig.layout.yaxis.title.text == "top-1 (%)" and fig.layout.yaxis2.title.text is None
    for axis in (fig.layout.xaxis, fig.layout.xaxis2):
        assert axis.tickangle == 0 and all("x" not in t for t in axis.ticktext)
        assert "× the real set" in axis.title.text


# Table 2 -----------------------------------------------------------------------------------------------------------

OURS = {"real": [{"digits": 90.0, "mnist": 80.0, "average": 85.0}, {"digits": 91.0, "mnist": 81.0, "average": 86.0}],
        "class name + definition, guidance 2 (1x)": [{"digits": 92.0, "mnist": 79.0, "average": 85.5},
                                                     {"digits": 93.0, "mnist": 80.0, "average": 86.5}]}


def test_table2_paper_panel_says_which_rows_it_shows():
    from fakeit_lib.chapters import tab2_transfer as ch

    assert ch.row_span([1, 2, 3, 4, 8]) == "1-4 and 8" and ch.row_span([5]) == "5"
    assert ch.row_span([1, 3, 5, 6]) == "1, 3 and 5-6"
    fig = ch.averages_figure(ch.averages_frame(OURS, "this run"), ch.averaged_datasets(OURS, "this run"))
    paper_title = fig.layout.annotations[0].text
    assert "Table 2 rows 1-4 and 8 (of 8)" in paper_title
    assert "rows" not in fig.layout.annotations[-1].text  # this run's panel is all of its models


def test_table2_sources_are_collapsed_for_developers():
    from fakeit_lib.chapters import tab2_transfer as ch

    html = ch.sources_note("mini").data
    assert html.startswith("<details") and "<summary>For developers" in html and "<details open" not in html
    assert ch.sources_note("paper") is None
    cells = notebook("tab2_transfer").cells
    shown = next(c for c in cells if c.cell_type == "code" and "transfer_sets_frame" in c.source)
    assert "sources_note" in shown.source and "transfer_sources_frame" not in shown.source


def test_table2_states_this_runs_two_gaps_from_its_results():
    from fakeit_lib.chapters import tab2_transfer as ch

    p = SimpleNamespace()
    real = model("real", "real", None, None, [84.0, 85.0])
    same = model("class name + definition, guidance 2 (1x)", "synthetic", "c_dc", 2.0, [75.0, 76.0])
    text = ch.gaps_text(p, real, same, OURS)
    assert text == ("In this run the real-trained encoder is 9.0 points above the clone of the same size (1x) on the "
                    "training classes (the Fashion-MNIST test split, top-1) and 0.5 points below it in transfer (the "
                    "average over its transfer datasets), means over 2 training seeds.")
    assert "{glue:text}`gaps_text`" in prose("tab2_transfer")


# Fig. 1 ------------------------------------------------------------------------------------------------------------

PANELS = {"paper (reported)": {"A": {"IN-val (top-5)": 94.5, "small-scale (8 sets, avg top-1)": 73.4},
                               "B-SD": {"IN-val (top-5)": 70.3, "small-scale (8 sets, avg top-1)": 75.3}},
          "this run (mini scale)": {"real": {"real test images (in-domain)": 83.9, "transfer: handwriting": 93.0},
                                    "synthetic: x (1x)": {"real test images (in-domain)": 75.3,
                                                          "transfer: handwriting": 93.3}}}


def test_fig1_values_come_one_table_per_panel_without_empty_cells():
    from fakeit_lib.chapters import fig1_spider as ch

    tables = ch.spider_tables(PANELS)
    assert [t.caption for t in tables] == list(PANELS)
    for t, (title, models) in zip(tables, PANELS.items()):
        assert list(t.data.columns) == ["axis", *models] and t.data.notna().all().all()
        assert "–" not in t.to_html()


def test_fig1_axis_labels_are_short_and_wrapped_at_their_bracket():
    from fakeit_lib.chapters import fig1_spider as ch

    assert ch.fig1_axes()[-3:] == ["small-scale (8 sets, avg top-1)", "long-tail (iNat 2018-19, avg top-1)",
                                   "ImageNet-CoG (5 levels, avg top-1)"]
    assert ch._wrap("real test images (in-domain)", "|") == "real test|images|(in-domain)"
    assert ch._wrap("IN-val (top-5)", "|") == "IN-val (top-5)"


def test_fig1_static_copy_keeps_its_labels_outside_the_circle_and_inside_the_image():
    import io

    import matplotlib

    matplotlib.use("Agg")
    from PIL import Image

    from fakeit_lib.chapters import fig1_spider as ch

    fig = ch.spider_static(PANELS)
    ax = fig.axes[0]
    fig.canvas.draw()
    aligns = {lab.get_text(): lab.get_horizontalalignment() for lab in ax.get_xticklabels()}
    assert set(aligns.values()) <= {"left", "right", "center"} and "left" in aligns.values()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    renderer = fig.canvas.get_renderer()
    box = fig.get_tightbbox(renderer)
    for lab in ax.get_xticklabels():  # every label within what the tight PNG keeps
        ext = lab.get_window_extent(renderer).transformed(fig.dpi_scale_trans.inverted())
        assert box.x0 - 1e-6 <= ext.x0 and ext.x1 <= box.x1 + 1e-6
    assert Image.open(buf).size[0] > 500


def test_fig1_says_which_clone_the_radar_shows():
    from fakeit_lib.chapters import fig1_spider as ch

    assert ch.radar_clone_text(SimpleNamespace(multiplier=1.0)) == "the radar above shows this very clone"
    assert "50 times the real set's size" in ch.radar_clone_text(SimpleNamespace(multiplier=50.0))
    text = prose("fig1_spider")
    assert "may show a larger clone" not in text and "{glue:text}`radar_clone`" in text


# representations ---------------------------------------------------------------------------------------------------

def long_frame():
    rows = []
    for m, shift in (("real", 0.0), ("synthetic", 1.0)):
        for s in (0, 1, 2):
            for metric, v in (("sparsity", 0.0597 + 0.02 * shift), ("intra-class distance", 0.3203 - 0.07 * shift),
                              ("feature redundancy", 0.221 + 0.005615 * shift + 0.001 * s),
                              ("coding length", 20141.49 - 4881.6 * shift + 10 * s)):
                rows.append({"model": m, "seed": s, "dataset": "UCI digits", "metric": metric, "value": v + 0.0001 * s})
    return pd.DataFrame(rows)


def test_representations_tables_use_fixed_decimals_per_measure_and_one_direction_label():
    from fakeit_lib.chapters import representations as ch

    long = long_frame()
    summary = ch.summary_table(long).data.set_index("metric")
    assert "better transfer" in summary.columns and "better (t-ReX)" not in summary.columns
    assert summary.loc["sparsity", "real"] == "0.060" and summary.loc["intra-class distance", "real"] == "0.320"
    assert summary.loc["coding length", "real"] == "20,151"
    agree = ch.agreement_table(ch.agreement_with_direction(long, "synthetic", "real")).data.set_index("metric")
    assert "synthetic − real" in agree.columns and "synthetic - real" not in agree.columns
    assert "better transfer" in agree.columns and "better" not in agree.columns
    decimals = lambda x: len(x.split(".")[1]) if "." in x else 0
    for metric, row in agree.iterrows():
        cells = [row["synthetic − real"], row["95% low"], row["95% high"]]
        assert {decimals(c) for c in cells} == {ch.DECIMALS[metric]}, cells
        assert all(re.fullmatch(r"[+-][\d,]+(\.\d+)?", c) for c in cells), cells
    assert set(ch.metrics_explained().columns) >= {"better transfer"}


def test_representations_state_their_result_first_and_title_their_figure_on_one_line():
    from fakeit_lib.chapters import representations as ch
    from fakeit_lib.nb import title_lines

    first = notebook("representations").cells[0].source
    title, first_paragraph, *rest = first.split("\n\n")
    assert title.startswith("# ") and rest[0].startswith("{glue:text}`agreement`")  # right after the first paragraph
    text = prose("representations")
    assert "Read from the transfer results the probes" not in text
    assert "Read from what Table 2's probes stored: the four measures per dataset and seed" in text
    fig = ch.repmetrics_figure(long_frame())
    assert len(title_lines(fig.layout.title.text)) == 1 and "<br>" not in fig.layout.title.text
    assert fig.layout.margin.t <= 100 and fig.layout.title.y is None
