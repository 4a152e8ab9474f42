"""The book's bibliography: every author-year citation names one paper."""

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
