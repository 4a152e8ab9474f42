"""The book's bibliography and page-wide layout rules: every author-year citation names one paper; static figures
of many small labels keep a readable width on a phone."""
import re

from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_no_two_references_share_a_first_author_and_year():
    from pybtex.database import parse_file

    bib = parse_file(ROOT / "book" / "references.bib")
    labels = Counter((e.persons["author"][0].last_names[0], e.fields["year"]) for e in bib.entries.values())
    assert [k for k, n in labels.items() if n > 1] == []
    assert bib.entries["sariyildiz2023fakeit"].fields["year"] == "2023a"
    assert bib.entries["sariyildiz2023trex"].fields["year"] == "2023b"


def test_static_figures_of_small_labels_keep_a_readable_width_on_a_phone():
    import nbformat

    css = (ROOT / "book" / "_static" / "fakeit.css").read_text()
    # only on a narrow screen: at 1300 px the column is about 700 px, and 720 cut the grids' last column
    narrow = css.split("@media (max-width: 760px) {", 1)[1].split("\n}", 1)[0]
    assert ".bd-article .tag_wide-image .cell_output img { min-width: 720px; }" in narrow
    assert ".bd-article div.citation > span.label { display: none; }" in css  # no alphabetic labels beside author-year
    for name, start in (("fig2_qualitative", "grids = ch.class_grids"), ("fig1_spider", "static = ch.spider_static")):
        cells = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4).cells
        cell = next(c for c in cells if c.source.startswith(start))
        assert cell.metadata["tags"] == ["wide-image"]
