"""The built book as a reader meets it, in headless Chromium: every table and code block fits its column at a laptop's
width, every plotly figure fits a phone's, and no label, legend, axis or sentence shows a name that only the code
uses (a prompt variant's code, a parameter's name, a config hash, a file path) or raw Markdown.

The book is the smoke build the session makes once (conftest's `built_book`, shared with tests/test_book.py), or an
already built one: set FAKEIT_BOOK to its build folder (the one holding `html/` and `findings.json`, e.g. `_build`)
or to that folder's `html/`, to check a mini build without rebuilding it:

    FAKEIT_BOOK=_build python -m pytest tests/test_browser_layout.py tests/test_book.py -q
"""

import re
import shutil
from pathlib import Path

import pytest
from browser import CHROMIUM, open_pages
from conftest import book_html

from fakeit_lib.builder import notebooks, runner

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.skipif(not shutil.which(CHROMIUM), reason="Debian's chromium is not installed"),
              pytest.mark.book, pytest.mark.timeout(3600)]
# commands, paths, versions and FLOP counts are these pages' text
DEVELOPER_PAGES = ("book/reproduce", "book/paper_scale", "book/build_cost")


@pytest.fixture(scope="module")
def book(built_book: Path) -> Path:
    """The html folder of the book under test (conftest's `built_book`: $FAKEIT_BOOK's or a smoke build)."""
    return book_html(built_book)


def _pages(html: Path) -> list[Path]:
    return [html / f"{f}.html" for f in notebooks.toc_files(ROOT)]


# What a reader reads, as text: the page's article without code (cells' inputs, code blocks, inline code), without
# the notes for developers (provenance, parameters) and without MathJax; and apart, the text plotly draws (titles,
# axis titles, tick labels, legends, annotations) and inline code outside developers' notes and tables.
READ_TEXT = """() => {
    const article = (document.querySelector('article.bd-article') || document.body).cloneNode(true);
    const code = [...article.querySelectorAll('p code, li code, dd code')]
        .filter(c => !c.closest('.fakeit-developers')).map(c => c.innerText);
    article.querySelectorAll('pre, .cell_input, code, .fakeit-developers, mjx-container, .MathJax, script, style, .headerlink, svg')
        .forEach(e => e.remove());
    const figures = [...document.querySelectorAll('div.plotly-graph-div svg text')].map(t => t.textContent);
    return {prose: article.innerText, figures: figures.join(' | '), code: code.join(' | ')};
}"""


def identifiers() -> dict[str, re.Pattern]:
    """Names the book defines that a reader should never meet as words, by kind."""
    from fakeit_lib.nb import notebook_parameter_names
    from fakeit_lib.paper.claims import RULES
    from fakeit_lib.prompts.variants import VARIANTS

    codes = sorted((v for v in VARIANTS if "_" in v), key=len, reverse=True)
    params = sorted((n for n in notebook_parameter_names() if "_" in n), key=len, reverse=True)
    return {
        "prompt variant code": re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, codes)) + r")(?![\w])"),
        "parameter name": re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, params)) + r")(?!\w)"),
        "decision rule's code": re.compile(r"(?<![\w-])(" + "|".join(r for r in RULES if "_" in r) + r")(?!\w)"),
        "file path": re.compile(r"(fakeit_lib|_build/|/tmp/|/work/|/home/|\w+\.(?:py|ya?ml|jsonl?|ipynb)\b)"),
        "raw Markdown": re.compile(r"(`|\*\*|\{glue|\{doc\}|\{cite\})"),
        "number in code notation": re.compile(r"\d\.\d+e[+-]\d+"),
        "singular with a plural": re.compile(r"(?<![\d.])1 (points|seeds|images|classes|runs|models|degrees)\b"),
        "hedged plural": re.compile(r"\w\(s\)"),
    }


def config_hashes(html_text: str) -> set[str]:
    """The config hashes a page's provenance line states (`config <hash>`)."""
    return set(re.findall(r"<strong>config</strong>\s*<code[^>]*><span class=\"pre\">([0-9a-f]{6,})</span>", html_text))


def find_identifiers(text: str, hashes: set[str] = frozenset(), kinds: dict | None = None) -> list[str]:
    """Every identifier of `kinds` (default: all) found in `text`, with what it is and a little context."""
    found = []
    for kind, pattern in (kinds or identifiers()).items():
        for m in pattern.finditer(text):
            found.append(f"{kind} {m.group(0)!r} in '...{text[max(0, m.start() - 40):m.end() + 40]}...'")
    for h in hashes:
        for m in re.finditer(rf"\b{h}\b", text):
            found.append(f"config hash {h!r} in '...{text[max(0, m.start() - 40):m.end() + 40]}...'")
    return found


def test_find_identifiers_on_known_text():
    assert find_identifiers("trained on c_hc, gs 7.5 with train_seeds") == [
        "prompt variant code 'c_hc' in '...trained on c_hc, gs 7.5 with train_seeds...'",
        "parameter name 'train_seeds' in '...trained on c_hc, gs 7.5 with train_seeds...'"]
    assert find_identifiers("class name + hypernym, guidance 7.5; the paper's c, h_c; 10 points; 1 point") == []
    assert find_identifiers("rule at_most; at most, not worse") == [
        "decision rule's code 'at_most' in '...rule at_most; at most, not worse...'"]
    assert find_identifiers("this run (mini, dabc30)", {"dabc30"}) == ["config hash 'dabc30' in '...this run (mini, dabc30)...'"]
    assert [f.split(" '")[0] for f in find_identifiers("see fakeit_lib/paper/findings.py: 1 points, 1.825e+04, "
                                                        "**0** and classifier(s), 1 degrees of freedom")] == [
        "file path", "file path", "raw Markdown", "raw Markdown", "number in code notation", "singular with a plural",
        "singular with a plural", "hedged plural"]


def test_pages_speak_words_not_code_names(book: Path):
    from playwright.sync_api import sync_playwright

    from browser import ARGS

    problems = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        for path in _pages(book):
            name = path.relative_to(book).with_suffix("").as_posix()
            page.goto(path.resolve().as_uri(), wait_until="load")
            page.wait_for_function("() => [...document.querySelectorAll('div.plotly-graph-div')]"
                                   ".every(d => d.querySelector('svg.main-svg'))", timeout=120_000)
            seen = page.evaluate(READ_TEXT)
            hashes = config_hashes(path.read_text())
            kinds = identifiers()
            if name in DEVELOPER_PAGES:  # their prose names files and commands on purpose; what they draw may not
                kinds = {k: v for k, v in kinds.items()
                         if k not in ("file path", "parameter name", "prompt variant code", "number in code notation")}
            problems += [f"{name} (text): {f}" for f in find_identifiers(seen["prose"], hashes, kinds)]
            problems += [f"{name} (figure): {f}" for f in find_identifiers(seen["figures"], hashes)]
            if name not in DEVELOPER_PAGES:  # a path or a hash is not a word even in code style
                paths = {"file path": identifiers()["file path"]}
                problems += [f"{name} (inline code): {f}" for f in find_identifiers(seen["code"], hashes, paths)]
        browser.close()
    assert problems == [], "\n".join(problems)


def test_tables_and_figures_fit_the_page(book: Path):
    problems = []
    for width in (1300, 420):
        for rep in open_pages(_pages(book), width=width):
            name = rep.url.split("/html/", 1)[-1]
            # at a phone's width a table may scroll inside its column; a figure may not
            problems += [f"{width} px {name}: {o}" for o in rep.overflows if width == 1300 or o.startswith("figure")]
    assert problems == [], "\n".join(problems)


def test_every_figure_places_every_point_it_is_given(book: Path):
    """A plotly figure that draws its axes and legend but not its data (points on an axis of the wrong type) fails."""
    problems = [f"{rep.url.split('/html/', 1)[-1]}: {u}" for rep in open_pages(_pages(book), width=1300) for u in rep.undrawn]
    assert problems == [], "\n".join(problems)


def test_no_page_shows_a_folder_of_the_build_machine(book: Path):
    from fakeit_lib.core.store import output_root

    # the book's build folder is <project>/_build when FAKEIT_BOOK names one built elsewhere
    places = {str(output_root()), str(Path.home()), str(ROOT), str(book.resolve().parent.parent), "/tmp/"}
    found = [f"{p.relative_to(book)}: {place}" for p in book.rglob("*.html") for place in places
             if place in re.sub(r"<[^>]+>", "", p.read_text())]
    assert found == [], found


def test_the_introduction_s_first_screen_states_the_result(book: Path):
    """At a laptop's 1300 x 900 px, the result's first line (what held, what did not) starts on the first screen."""
    from playwright.sync_api import sync_playwright

    from browser import ARGS

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        page.goto((book / "book" / "intro.html").resolve().as_uri(), wait_until="load")
        top = page.evaluate("""() => { const s = [...document.querySelectorAll('article strong')]
            .find(e => e.innerText.startsWith('The result at the')); if (!s) return null;
            const list = s.closest('p').nextElementSibling; return [s.getBoundingClientRect().top,
            list && list.tagName === 'UL' ? list.getBoundingClientRect().top : null]; }""")
        browser.close()
    assert top is not None, "the introduction states no result"
    assert top[0] < 900 and top[1] is not None and top[1] < 900, f"the result starts at {top} px, below the first screen"
