"""Screenshot every page of a built book at a laptop's and a phone's width, and list what does not fit.

    python scripts/screenshots.py _build/html shots/          # every page of _toc.yml, at 1300 and 420 px
    python scripts/screenshots.py _build/html shots/ --widths 1300 --pages notebooks/tab2_transfer

Pages are opened from disk in headless Chromium (Debian's /usr/bin/chromium, through Playwright), with every
request that would leave the machine refused, exactly as the book's browser tests open them (tests/browser.py).
Each page is saved as `<folder>/<width>/<page>.png` (full page); the table printed at the end names every table or
code block wider than its column, every plotly figure wider than the screen, and every figure's trace whose points
plotly could not place.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the browser set-up the tests use: one way to open a page


def pages_of(html: Path, only: list[str] | None) -> list[Path]:
    """The built pages in the book's reading order (`_toc.yml`), or only those named (without `.html`)."""
    from fakeit_lib.builder.notebooks import toc_files

    names = only or toc_files(ROOT)
    pages = [html / f"{n}.html" for n in names]
    missing = [str(p) for p in pages if not p.exists()]
    if missing:
        raise SystemExit(f"no such built page: {', '.join(missing)} (build the book first: make book)")
    return pages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("html", type=Path, help="the built book's html folder (e.g. _build/html)")
    parser.add_argument("out", type=Path, help="folder for the screenshots (created)")
    parser.add_argument("--widths", type=int, nargs="+", default=[1300, 420], help="viewport widths in px")
    parser.add_argument("--pages", nargs="+", metavar="PAGE", help="only these pages, e.g. book/intro")
    args = parser.parse_args(argv)
    if not (args.html / "index.html").exists():
        raise SystemExit(f"{args.html} holds no index.html: give the built book's html folder (e.g. _build/html)")
    if any(w < 200 for w in args.widths):
        raise SystemExit(f"--widths {args.widths}: every width must be at least 200 px")
    from tqdm import tqdm

    from browser import open_pages

    pages = pages_of(args.html, args.pages)
    problems = []
    for width in tqdm(args.widths, desc="widths"):
        for rep in open_pages(pages, screenshot_dir=args.out / str(width), width=width):
            name = rep.url.split("/html/", 1)[-1]
            problems += [(width, name, o) for o in rep.overflows]
            problems += [(width, name, e) for e in rep.console_errors]
            problems += [(width, name, u) for u in rep.undrawn]
    for width, name, what in problems:
        print(f"{width:>5} px  {name}  {what}")
    print(f"{len(pages)} pages at {', '.join(map(str, args.widths))} px in {args.out}; {len(problems)} problems")
    return 0


if __name__ == "__main__":
    sys.exit(main())
