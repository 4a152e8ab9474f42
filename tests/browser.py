"""Open built pages from disk in headless Debian Chromium (through Playwright), with every network request refused
and counted: a page of an offline book makes none."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-quic"]
LOCAL_SCHEMES = ("file", "data", "blob", "about")
LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]", "::1")
# drawn: every plotly container holds its SVG, every image has loaded (or failed), MathJax (if any) has typeset
RENDERED = """() => [...document.querySelectorAll('div.plotly-graph-div')].every(d => d.querySelector('svg.main-svg'))
    && [...document.images].every(i => i.complete)"""
# what does not fit: every table and every code block of the book's own prose wider than the text column it sits in
# (its scroll width against the width of the page's article), and every plotly figure wider than the screen
OVERFLOWS = """() => {
    const article = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
    const column = article.clientWidth, out = [];
    const name = e => (e.closest('section[id]') ? '#' + e.closest('section[id]').id + ' ' : '') +
        (e.innerText || '').trim().replace(/\\s+/g, ' ').slice(0, 60);
    for (const t of article.querySelectorAll('table')) {
        const holder = t.parentElement;
        const wide = Math.max(t.scrollWidth, t.getBoundingClientRect().width);
        if (wide > column + 1 || holder.scrollWidth > holder.clientWidth + 1)
            out.push(`table ${Math.round(wide)} px in a ${column} px column: ${name(t)}`);
    }
    for (const pre of article.querySelectorAll('div.highlight pre')) {
        if (pre.closest('.cell_input')) continue;  // a notebook's code cell scrolls like an editor
        if (pre.scrollWidth > pre.clientWidth + 1)
            out.push(`code ${pre.scrollWidth} px in a ${pre.clientWidth} px block: ${name(pre)}`);
    }
    for (const f of document.querySelectorAll('div.plotly-graph-div')) {
        const r = f.getBoundingClientRect();
        if (r.right > window.innerWidth + 1) out.push(`figure ending at ${Math.round(r.right)} px on a ${window.innerWidth} px screen`);
        // inside it: a title, label or legend entry drawn past the figure's edge is cut; two that cross hide each other
        const box = (f.querySelector('svg.main-svg') || f).getBoundingClientRect();
        const texts = [...f.querySelectorAll('svg text')].map(t => [t.textContent.trim(), t.getBoundingClientRect()])
            .filter(([s, b]) => s && b.width > 0);
        for (const [s, b] of texts)
            if (b.left < box.left - 1 || b.right > box.right + 1)
                out.push(`figure text cut at the edge: "${s.slice(0, 60)}" spans ${Math.round(b.left - box.left)} to ${Math.round(b.right - box.left)} px of ${Math.round(box.width)}`);
        // titles, annotations, legend entries, text drawn beside markers, and the tick labels of cartesian axes
        const labels = [...new Set(f.querySelectorAll('.gtitle, .xtitle, .ytitle, g.annotation text, g.legend text, ' +
                                                      'g.textpoint text, g.xtick text, g.ytick text'))]
            .map(t => [t.textContent.trim(), t.getBoundingClientRect(), !!t.closest('g.xtick, g.ytick')])
            .filter(([s, b]) => s && b.width > 0);
        for (let i = 0; i < labels.length; i++) for (let j = i + 1; j < labels.length; j++) {
            const [s, a, tick] = labels[i], [u, c, tock] = labels[j];
            if (tick && tock) continue;  // plotly spaces an axis's own ticks (rotated ones have crossing boxes)
            if (a.left < c.right - 2 && c.left < a.right - 2 && a.top < c.bottom - 2 && c.top < a.bottom - 2)
                out.push(`figure texts overlap: "${s.slice(0, 40)}" and "${u.slice(0, 40)}"`);
        }
    }
    return out;
}"""
MATHJAX_DONE = "() => (window.MathJax && MathJax.startup && MathJax.startup.promise) ? MathJax.startup.promise.then(() => true) : true"


def is_local(url: str) -> bool:
    """True for URLs a page may load offline: files, inline data, and this machine."""
    u = urlparse(url)
    return u.scheme in LOCAL_SCHEMES or (u.scheme in ("http", "https", "ws", "wss") and u.hostname in LOCAL_HOSTS)


@dataclass
class PageReport:
    """What a page did in the browser."""

    url: str
    console_errors: list[str] = field(default_factory=list)
    blocked_requests: list[str] = field(default_factory=list)  # requests that would have left the machine
    failed_requests: list[str] = field(default_factory=list)  # any request that failed (blocked ones included)
    broken_images: list[str] = field(default_factory=list)
    plotly_figures: int = 0  # figures with a drawn SVG
    plotly_divs: int = 0  # figure containers on the page
    overflows: list[str] = field(default_factory=list)  # tables, code blocks and figures wider than their column
    undrawn: list[str] = field(default_factory=list)  # plotly traces that place fewer points than they are given
    text: str = ""


# Each plotly scatter trace's points that have both coordinates, against those plotly placed (finite in its calcdata).
# A point given as a category on an axis plotly typed as numbers (e.g. from a legend-only trace of y=[None] drawn
# first) is placed nowhere: the figure draws its axes and legend and none of its data.
UNDRAWN = """() => [...document.querySelectorAll('div.plotly-graph-div')].flatMap((gd, n) =>
    (gd.calcdata || []).flatMap((cd, i) => {
        const t = (gd._fullData || [])[i];
        if (!t || t.visible !== true || t.type !== 'scatter') return [];
        const has = v => v !== null && v !== undefined && v !== '';
        const ys = t.y || [], xs = t.x || [];
        const given = Math.max(ys.length, xs.length) ? [...Array(Math.max(ys.length, xs.length)).keys()]
            .filter(k => (!t.x || has(xs[k])) && (!t.y || has(ys[k]))).length : 0;
        const placed = cd.filter(p => Number.isFinite(p.x) && Number.isFinite(p.y)).length;
        return placed < given ? [`figure ${n + 1}, trace "${t.name}": ${placed} of ${given} points placed`] : [];
    }))"""


def open_pages(pages: list[Path], screenshot_dir: Path | None = None, timeout_ms: int = 120_000,
               width: int = 1280) -> list[PageReport]:
    """Load each page (file://) offline in a `width` px wide window, wait until it has drawn, and report requests,
    errors, images, figures and what does not fit.
    `timeout_ms` bounds each wait, it measures no speed: a page of several plotly figures took over 30 s to draw on a
    2-core machine busy with the rest of the suite."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    reports = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        context = browser.new_context(viewport={"width": width, "height": 900})
        for page_path in pages:
            url = page_path.resolve().as_uri()
            rep = PageReport(url)
            page = context.new_page()

            def route(r, _request, rep=rep):
                if is_local(r.request.url):
                    r.continue_()
                else:
                    rep.blocked_requests.append(r.request.url)
                    r.abort()

            page.route("**/*", route)
            page.on("console", lambda m, rep=rep: rep.console_errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e, rep=rep: rep.console_errors.append(str(e)))
            page.on("requestfailed", lambda r, rep=rep: rep.failed_requests.append(r.url))
            in_flight: set = set()
            page.on("request", lambda r, s=in_flight: s.add(r))
            page.on("requestfinished", lambda r, s=in_flight: s.discard(r))
            page.on("requestfailed", lambda r, s=in_flight: s.discard(r))
            page.goto(url, wait_until="load", timeout=timeout_ms)
            for what, condition in (("figures and images drawn", RENDERED), ("MathJax typeset", MATHJAX_DONE)):
                try:  # a figure that never draws is reported below (plotly_figures < plotly_divs), not raised here
                    page.wait_for_function(condition, timeout=timeout_ms)
                except PlaywrightTimeout:
                    rep.console_errors.append(f"page not drawn within {timeout_ms} ms: {what}")
            # no request in flight for half a second (Playwright's own "networkidle" event did not always fire for
            # file:// pages whose requests had all finished)
            quiet, waited = 0, 0
            while quiet < 500 and waited < timeout_ms:
                page.wait_for_timeout(100)
                waited += 100
                quiet = quiet + 100 if not in_flight else 0
            if in_flight:
                rep.console_errors.append(f"requests still in flight after {timeout_ms} ms: {[r.url for r in in_flight][:3]}")
            rep.broken_images = page.eval_on_selector_all(
                "img", "els => els.filter(e => !(e.complete && e.naturalWidth > 0)).map(e => e.src)")
            rep.plotly_divs = page.eval_on_selector_all("div.plotly-graph-div", "els => els.length")
            rep.plotly_figures = page.eval_on_selector_all("div.plotly-graph-div svg.main-svg", "els => new Set(els.map(e => e.closest('.plotly-graph-div'))).size")
            rep.text = page.inner_text("body")
            rep.overflows = page.evaluate(OVERFLOWS)
            rep.undrawn = page.evaluate(UNDRAWN)
            if screenshot_dir is not None:
                screenshot_dir.mkdir(parents=True, exist_ok=True)
                name = page_path.with_suffix("").as_posix().split("/html/", 1)[-1].replace("/", "__")
                page.screenshot(path=str(screenshot_dir / f"{name}.png"), full_page=True)
            page.close()
            reports.append(rep)
        browser.close()
    return reports
