"""The introduction's first lines and the discussion's recap: the result stated from findings.json, each finding
linked to its page, every verdict label counted (a label the rules gain later included), none hard-coded."""

from fakeit_lib.builder.pages import findings_summary, verdict_counts
from fakeit_lib.paper.summary import findings_markdown


def _finding(fid, verdict, page, after=None, **kw):
    return {"id": fid, "claim": f"Claim {fid}.", "source": "Sec. 1", "verdict": verdict, "after_holm": after or verdict,
            "page": f"notebooks/{page}", "scale": "smoke", "n_seeds": 2, "sesoi": 1.0, "unit": "points",
            "estimate": None if verdict == "cannot be tested" else {"mean": 2.0, "low": 1.5, "high": 2.5}, "p": 0.001, **kw}


FINDINGS = [
    _finding("a", "holds", "tab1_prompts"),
    _finding("b", "does not hold", "fig4_scaling"),
    _finding("c", "holds", "fig4_scaling", after="inconclusive", seeds_to_decide=7),
    _finding("d", "inconclusive", "ablations", seeds_to_decide=12),
    _finding("e", "inconclusive", "ablations"),
    _finding("f", "cannot be tested", "matched_backgrounds", reason="the images have no background: none at all."),
    _finding("g", "holds, below the smallest effect of interest", "tab2_transfer"),
]


def test_every_label_is_counted_in_the_library_s_order_then_new_ones():
    labels = [f["after_holm"] for f in FINDINGS]
    assert verdict_counts(labels) == {"holds": 1, "does not hold": 1, "inconclusive": 3, "cannot be tested": 1,
                                      "holds, below the smallest effect of interest": 1}
    assert verdict_counts([]) == {}


def test_the_summary_states_each_verdict_on_one_line_linked_to_its_page():
    text = findings_summary(FINDINGS, {"notebooks/fig4_scaling": "Fig. 4", "notebooks/ablations": "Ablations"})
    lines = text.splitlines()
    assert lines[0] == ("**The result at the smoke scale.** Of the paper's 7 findings, this build could test 6; a verdict "
                        "on them counts only if it survives Holm's correction for testing those 6 at once. "
                        "{ref}`The introduction's table <intro-findings>` gives every finding.")
    beyond = findings_summary([*FINDINGS, _finding("h", "inconclusive", "matched_backgrounds", group="beyond the paper")])
    # the family the line names is the one the table's Holm correction runs over: the paper's tested findings
    assert "Of the paper's 7 findings, this build could test 6; a verdict on them counts only if it survives Holm's " \
           "correction for testing those 6 at once. It also checks 1 finding beyond the paper, at 95% on its " \
           "own." in beyond.splitlines()[0]
    # the verdicts' lines count the paper's findings only (as the first line does); the one beyond it has its own line
    assert "- **Inconclusive** (3): " in beyond and beyond.splitlines()[-1] == (
        "- **Beyond the paper** (1): {doc}`Claim h <../notebooks/matched_backgrounds>`: inconclusive.")
    bullets = [ln for ln in lines if ln.startswith("- ")]
    assert bullets == [
        "- **Holds** (1): {doc}`Claim a <../notebooks/tab1_prompts>`.",
        "- **Holds, below the smallest effect of interest** (1): {doc}`Claim g <../notebooks/tab2_transfer>`.",
        "- **Does not hold** (1): {doc}`Claim b <../notebooks/fig4_scaling>`.",
        "- **Inconclusive** (3): {doc}`1 on Fig. 4 <../notebooks/fig4_scaling>`, {doc}`2 on Ablations "
        "<../notebooks/ablations>`; the intervals are too wide to decide (about 7 to 12 seeds would decide them).",
        "- **Cannot be tested** (1): {doc}`1 on matched backgrounds <../notebooks/matched_backgrounds>` "
        "(the images have no background).",
    ]
    assert findings_summary([]) == "No finding of the paper was checked in this build.\n"


def test_the_findings_table_has_four_columns_and_both_verdicts_where_holm_changes_one():
    table = findings_markdown(FINDINGS)
    rows = [ln for ln in table.splitlines() if ln.startswith("| ")]
    assert rows[0] == "| finding (paper) | verdict | this run | paper |"
    assert all(r.count(" | ") == 3 for r in rows)
    assert "| **holds** | +2.0 [+1.5, +2.5] points (2 seeds; smallest effect of interest 1 point) |" in table
    assert not any("1 points" in r for r in rows)


def test_the_table_says_what_each_of_its_units_is_and_only_those():
    from fakeit_lib.paper.summary import units_text

    table = findings_markdown([*FINDINGS, _finding("s", "inconclusive", "tab1_prompts", unit="points²")])
    units = next(ln for ln in table.splitlines() if ln.startswith("Units: "))
    assert units.startswith("Units: **points** are accuracy points (percentage points of top-1); **points²** sum")
    assert "judge units" not in units
    assert "**judge units** are distances" in units_text({"judge units per doubling"})
    assert units_text({"of the images"}) == ""


def test_the_forest_plot_s_range_is_its_intervals_and_the_text_reads_it():
    from fakeit_lib.paper.summary import forest_figure

    fig = forest_figure(FINDINGS)  # intervals 1.5 to 2.5 over a smallest effect of 1, and 0 and 1 always shown
    lo, hi = fig.layout.xaxis.range
    assert (round(lo, 3), round(hi, 3)) == (-0.125, 2.625)
    assert fig.layout.legend.orientation == "v" and fig.layout.legend.yanchor == "bottom"  # above the panel
    assert "0 is no effect (solid line), 1 the smallest effect that matters (dashed line)" in findings_markdown(FINDINGS)
    untested = [_finding("f", "cannot be tested", "matched_backgrounds", reason="none.")]
    assert "In the plot" not in findings_markdown(untested)


def test_a_composite_finding_shows_its_part_in_the_part_s_unit_and_smallest_effect():
    from fakeit_lib.paper.findings import estimate_text

    f = _finding("k", "holds", "fig2_qualitative", unit="judge units", sesoi=0.3,
                 estimate={"mean": 0.0367, "low": 0.015, "high": 0.0584},
                 evidence={"shown part": {"name": "fidelity (7.5 minus 2.0)", "smallest effect of interest": 0.02,
                                          "unit": "of images"}})
    assert estimate_text(f) == "fidelity (7.5 minus 2.0): +0.037 [+0.015, +0.058] of images"
    assert ("fidelity (7.5 minus 2.0): +0.037 [+0.015, +0.058] of images (2 seeds; smallest effect of interest 0.02 "
            "of images)") in findings_markdown([f])
    assert "judge units" not in findings_markdown([f]).split("Units:")[0]


def test_a_page_s_table_shows_no_seed_count_for_an_untested_finding():
    from fakeit_lib.paper import findings as fd
    from fakeit_lib.paper.summary import table

    rows = table([fd.cannot_test("backgrounds_help_high_guidance", "mini", "no backgrounds here")])
    assert rows[0]["seeds"] == "–" and rows[0]["this run"] == "–" and rows[0]["verdict"] == "cannot be tested"


def test_a_composite_s_part_in_the_finding_s_own_unit_is_not_named():
    from fakeit_lib.paper.findings import estimate_text

    f = _finding("m", "holds", "tab1_prompts", estimate={"mean": 6.6, "low": 2.7, "high": 10.5},
                 evidence={"shown part": {"name": "class name, guidance 2 (1x)", "smallest effect of interest": 1.0,
                                          "unit": "points"}})
    assert estimate_text(f) == "+6.6 [+2.7, +10.5] points"


def test_a_null_from_a_generator_that_barely_reacts_says_so_in_the_headline():
    from fakeit_lib.builder.pages import DEAF
    from fakeit_lib.paper.summary import barely_reacts

    deaf = _finding("h", "does not hold", "fig2_qualitative", evidence={"prompt sensitivity": {"share": 0.06}})
    heard = _finding("i", "does not hold", "fig2_qualitative", evidence={"prompt sensitivity": {"share": 0.42}})
    several = _finding("j", "inconclusive", "tab1_prompts",
                       evidence={"prompt sensitivity": {"c_hc": {"share": 0.06}, "c_dc": {"share": 0.42}}})
    assert [barely_reacts(f) for f in (deaf, heard, several, FINDINGS[0])] == [True, False, True, False]
    line = next(ln for ln in findings_summary([deaf, heard]).splitlines() if ln.startswith("- **Does not hold**"))
    assert line == ("- **Does not hold** (2): {doc}`Claim h <../notebooks/fig2_qualitative>`" + DEAF +
                    "; {doc}`Claim i <../notebooks/fig2_qualitative>`.")
    assert "barely reacts" in DEAF


def test_the_forest_plot_s_legend_draws_each_verdict_filled_and_says_what_hollow_is():
    from fakeit_lib.paper.summary import forest_figure

    rows = [{**f, "p": 0.2} if f["id"] == "c" else f for f in FINDINGS]  # c: holds on its page, not after Holm
    fig = forest_figure(rows)
    assert "hollow: inconclusive after Holm" not in [t.name for t in forest_figure(FINDINGS).data]  # none is hollow
    legend = [(t.name, t.marker.symbol) for t in fig.data if t.showlegend is not False]
    assert legend == [("holds", "circle"), ("holds, below the smallest effect of interest", "circle"),
                      ("does not hold", "circle"), ("inconclusive", "circle"),
                      ("hollow: inconclusive after Holm", "circle-open")]
    holds = next(t for t in fig.data if t.name == "holds" and t.showlegend is False)
    assert list(holds.marker.symbol) == ["circle", "circle-open"]


def test_each_page_states_its_result_under_its_opening_once_linked_to_its_numbers(tmp_path):
    import nbformat

    from fakeit_lib.builder.pages import RESULT_TAG, page_result, put_results_first

    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Fig. 4: more images\n\nDo more synthetic images help?"),
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_markdown_cell("## The paper's findings, checked")])
    path = tmp_path / "notebooks" / "fig4_scaling.ipynb"
    path.parent.mkdir()
    nbformat.write(nb, path)
    rows = [FINDINGS[1], FINDINGS[2]]  # b: does not hold; c: holds on its page, inconclusive after Holm
    for _ in range(2):  # a second build over the same staged page replaces the result, never repeats it
        put_results_first(tmp_path, [path.relative_to(tmp_path)], [*rows, FINDINGS[0]])
    cells = nbformat.read(path, as_version=4).cells
    assert [c.cell_type for c in cells] == ["markdown", "markdown", "code", "markdown"]
    assert cells[1].metadata["tags"] == [RESULT_TAG]
    assert cells[3].source == "(verdicts-fig4-scaling)=\n## The paper's findings, checked"
    assert cells[1].source == page_result(rows, "verdicts-fig4-scaling")
    assert cells[1].source.splitlines() == [
        "**This page's result at the smoke scale** ({ref}`the numbers <verdicts-fig4-scaling>`):", "",
        "- Claim b: **does not hold**.",
        "- Claim c: **holds** on this page, inconclusive after Holm's correction over the paper's findings."]
    untested = page_result([FINDINGS[5]])
    assert untested.splitlines()[-1] == "- Claim f: **cannot be tested** (the images have no background)."


def test_the_forest_plot_labels_each_row_in_words_on_an_axis_of_categories():
    from fakeit_lib.paper.claims import FINDINGS as REGISTRY
    from fakeit_lib.paper.claims import SHORT
    from fakeit_lib.paper.summary import forest_figure

    assert set(SHORT) == set(REGISTRY) and max(map(len, SHORT.values())) <= 30  # every finding, short enough for a phone
    rows = [_finding("multicrop_helps", "holds", "ablations"), _finding("steps_enough", "inconclusive", "ablations")]
    fig = forest_figure(rows)
    # the legend-only traces come first with y=[None]: without the axis's type plotly reads the rows as numbers
    assert fig.layout.yaxis.type == "category"
    assert [y for t in fig.data for y in t.y if y is not None] == ["multi-crop helps", "default steps are enough"]


def test_a_finding_measured_on_image_samples_counts_samples_not_seeds():
    from fakeit_lib.paper.findings import replicates, seeds_text
    from fakeit_lib.paper.summary import findings_markdown

    images = _finding("s", "inconclusive", "ablations", seeds_to_decide=6,
                      evidence={"samples": "5 disjoint image samples per point"})
    assert replicates(images) == "image samples" and replicates(FINDINGS[0]) == "seeds"
    assert "(2 image samples; smallest effect of interest 1 point)" in findings_markdown([images])
    assert seeds_text(6, False, "beyond the paper", "image samples").startswith("about 6 image samples would decide it")
