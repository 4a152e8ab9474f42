"""The book: every notebook executed with the smoke preset, built with warnings as errors, and looked at in a
real headless browser with no network. Its stages run under the suite's own temp output root (conftest), so
every number on the pages is computed by this run, never read from ./outputs.

The book is the smoke build the session makes once (conftest's `built_book`, shared with
tests/test_browser_layout.py), or a book already built at any scale: set FAKEIT_BOOK to its build folder (or that
folder's html/), e.g. `FAKEIT_BOOK=_build pytest tests/test_book.py` after `make book`, to check a mini build
without rebuilding it. What a page must state is then read at the scale that book ran at."""

import re
from pathlib import Path

import nbformat
import pytest
from conftest import JUDGE_FLIP_TOLERANCE, book_scale, measured_judge_accuracy

from fakeit_lib.builder import notebooks, runner

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.book, pytest.mark.timeout(3600)]

# A results page and how its prose states this run's numbers and the paper's finding. The wording is the findings
# module's (Verdict.sentence, pasted by tab1_prompts' "What we see"): when it changes, change these lines only.
RESULTS_PAGE = "notebooks/tab1_prompts.html"
RUN_TOP1 = re.compile(r"real minus each 1x clone: ([+-]?\d{1,3}\.\d) points")
VERDICTS = ("does not hold", "holds, below the smallest effect of interest", "holds", "inconclusive", "cannot be tested")


def stated_finding(f: dict) -> str:
    """How a results page states a finding of findings.json (Verdict.sentence as the browser shows it: no markup):
    its claim, its verdict and the number behind it, as the file holds them."""
    from fakeit_lib.paper.findings import UNTESTABLE, VERB, digits, shown_measure

    first = f["claim"].split(" ", 1)[0]  # a name keeps its capital: "ImageNet-v2 tells ...", "CLIP ..."
    claim = (f["claim"][0].lower() + f["claim"][1:] if first[1:] == first[1:].lower() else f["claim"]).rstrip(".")
    if f.get("made_for"):  # the training set(s) the paper makes the claim for
        claim += f" (the paper: {f['made_for']})"
    head = f"The paper's finding that {claim} {VERB[f['verdict']].replace('**', '')} at the {f['scale']} scale"
    if f["verdict"] == UNTESTABLE:
        return head
    part, unit, _ = shown_measure(f)  # a composite finding states the part it shows, in that part's unit
    return f"{head} ({f['comparison']}: " + (f"{part} " if part else "") + f"{f['estimate']['mean']:+.{digits(unit)}f} {unit}"


def stated_results(text: str, scale: str = "smoke") -> tuple[float | None, str | None]:
    """(this run's real-minus-clone top-1 gap, the verdict word) as a results page of a book built at `scale` states
    them, None where absent."""
    top1 = RUN_TOP1.search(text)
    verdict = next((v for v in VERDICTS if re.search(rf"\b{v}\b at the {scale} scale", text)), None)
    return (float(top1[1]) if top1 else None), verdict


def _html_pages(build: Path) -> list[Path]:
    html = next(build.rglob("html"))
    pages = [html / f"{f}.html" for f in notebooks.toc_files(ROOT)]
    assert all(p.exists() for p in pages), [p for p in pages if not p.exists()]
    return pages


def test_prompts_page_holds_the_papillon_prompt(built_book: Path):
    page = next(built_book.rglob("html")) / "notebooks" / "prompts.html"
    html = page.read_text()
    assert "papillon, toy spaniel" in html
    assert "papillon, small slender toy spaniel with erect ears and a black-spotted brown to white coat" in html
    assert f"Ran at scale <strong>{book_scale(built_book)}</strong>" in html


def test_executed_notebooks_keep_their_papermill_parameters(built_book: Path):
    executed = nbformat.read(built_book / "src" / "notebooks" / "prompts.ipynb", as_version=4)
    assert executed.metadata["papermill"]["parameters"]["scale"] == book_scale(built_book)
    assert executed.metadata["papermill"]["parameters"]["class_set"] == "fashion-mnist"


def test_every_page_in_the_browser_offline(built_book: Path, artifacts_dir: Path):
    from browser import open_pages

    reports = open_pages(_html_pages(built_book), screenshot_dir=artifacts_dir / "book")
    for rep in reports:
        assert rep.blocked_requests == [], f"{rep.url} reaches for the network"
        assert rep.failed_requests == [], rep.url
        assert rep.console_errors == [], rep.url
        assert rep.broken_images == [], rep.url
        assert rep.plotly_figures == rep.plotly_divs, f"{rep.url}: {rep.plotly_divs - rep.plotly_figures} plotly figures not drawn"
    prompts = next(r for r in reports if r.url.endswith("notebooks/prompts.html"))
    assert prompts.plotly_figures >= 1
    assert "papillon, toy spaniel" in prompts.text
    assert (artifacts_dir / "book" / "notebooks__prompts.png").stat().st_size > 10_000
    results = next(r for r in reports if r.url.endswith(RESULTS_PAGE))
    top1, verdict = stated_results(results.text, book_scale(built_book))
    assert top1 is not None and verdict in VERDICTS, f"{RESULTS_PAGE} states no top-1 gap of this run, or no verdict"
    # every number and verdict the page states is the one in findings.json, which the build wrote from this run
    import json

    text = " ".join(results.text.replace("\u2019", "'").replace("\u201c", '"').replace("\u201d", '"').split())
    page_findings = [f for f in json.loads((built_book / "findings.json").read_text()) if f["chapter"] == "tab1_prompts"]
    assert page_findings and all(stated_finding(f) in text for f in page_findings), \
        [stated_finding(f) for f in page_findings if stated_finding(f) not in text]
    assert "synthetic_trails_real" in {f["id"] for f in page_findings}  # the gap stated above among them
    assert results.plotly_figures >= 1


def test_stated_finding_is_how_a_verdict_words_itself():
    from fakeit_lib.paper import findings as fd
    from fakeit_lib.paper.stats import estimate_from_values

    for values in ([2.0, 2.5, 1.5], [-0.2, 9.0, -9.4]):
        v = fd.check("low_guidance_better", estimate_from_values(values), "smoke")
        assert stated_finding(v.to_dict()) in v.sentence().replace("**", ""), (v.sentence(), stated_finding(v.to_dict()))
    untested = fd.cannot_test("hypernym_beats_name", "smoke", "no c_hc clone in this run")
    assert stated_finding(untested.to_dict()) in untested.sentence().replace("**", "")
    moved = {**v.to_dict(), "estimate": {**v.to_dict()["estimate"], "mean": v.estimate["mean"] + 0.1}}
    assert stated_finding(moved) not in v.sentence().replace("**", "")  # another number is not found on the page


def test_stated_results_reads_numbers_and_verdicts():
    text = ("Training on real images beats every clone (real minus each 1x clone: -0.2 points, 95% interval [-9.7, "
            "+9.3]); ... Lower guidance gives better training data: does not hold at the smoke scale (guidance 2.0 minus 7.5")
    assert stated_results(text) == (-0.2, "does not hold")
    assert stated_results(text.replace("does not hold", "holds")) == (-0.2, "holds")
    assert stated_results("real minus each 1x clone: {glue:text}`gap` ... holds in this run") == (None, None)


def test_judge_accuracy_on_the_page_is_the_shipped_judge_s(built_book: Path):
    recorded, measured = measured_judge_accuracy()
    assert abs(recorded - measured) <= JUDGE_FLIP_TOLERANCE  # the shipped weights give the accuracy they record
    page = (next(built_book.rglob("html")) / "notebooks" / "fig2_qualitative.html").read_text()
    assert f"{recorded:.3f}" in page


def test_cost_page_lists_the_versions_it_was_built_with(built_book: Path):
    import importlib.metadata

    html = (next(built_book.rglob("html")) / "book" / "build_cost.html").read_text()
    text = " ".join(re.sub(r"<[^>]+>", " ", html).split())
    for package in ("torch", "diffusers", "jupyter-book", "papermill"):
        assert re.search(rf"\b{package} {re.escape(importlib.metadata.version(package))} ", text), package
    assert "requirements/lock-" in text


def test_findings_json_and_the_introduction_agree(built_book: Path):
    import json

    from fakeit_lib.paper.claims import FINDINGS, registry_hash

    findings = json.loads((built_book / "findings.json").read_text())
    assert sorted(f["id"] for f in findings) == sorted(FINDINGS)  # every registered finding, each once
    for f in findings:
        assert {"id", "claim", "source", "verdict", "n_seeds", "evidence", "page", "sesoi", "after_holm"} <= set(f), f
        assert f["registry"] == registry_hash()  # the pre-registration these verdicts came from
        assert f["verdict"] in VERDICTS and f["scale"] == book_scale(built_book) and f["sesoi"] > 0
        if f["verdict"] != "cannot be tested":
            assert f["n_seeds"] >= 2 and f["df"] and f["method"], f  # the smoke preset trains two seeds, mini five
        else:
            assert f["reason"], f  # an untested finding says why
    intro = (next(built_book.rglob("html")) / "book" / "intro.html").read_text()
    plain = lambda s: re.sub(r"[\u201c\u201d]|&quot;", '"', s).replace("\u2019", "'")  # Sphinx sets curly quotes
    for f in findings:
        assert plain(f["claim"]) in plain(intro), f["id"]
    table = intro[intro.index("finding (paper)"):]
    assert table.count("<strong>") >= len(findings)


def test_pages_show_the_parameters_used_not_the_defaults(built_book: Path):
    executed = nbformat.read(built_book / "src" / "notebooks" / "tab1_prompts.ipynb", as_version=4)
    tagged = [c.metadata.get("tags", []) for c in executed.cells]
    hidden = [t for t in tagged if "parameters" in t or "injected-parameters" in t]
    assert len(hidden) == 2 and all("remove-cell" in t for t in hidden)
    page = (next(built_book.rglob("html")) / "notebooks" / "tab1_prompts.html").read_text()
    assert 'scale: str = "paper"' not in page and "CompVis/stable-diffusion-v1-4" not in page  # the defaults
    assert "Parameters of this run" in page and f"""<span class="pre">'{book_scale(built_book)}'</span>""" in page  # the table of what ran
