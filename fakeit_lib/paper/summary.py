"""The book's count over its findings: each verdict after Holm's correction over the paper's tested findings (the
family-wise error the introduction states), the counts of each kind, and the page and introduction tables.
"""

from __future__ import annotations

from ..core.errors import FakeitError
from .claims import PAPER_GROUP, SHORT, registry_hash
from .findings import (
    FAILS, HOLDS, INCONCLUSIVE, SMALL, UNTESTABLE, VERDICTS, Verdict, amount, estimate_text, family_level,
    replicates, seeds_needed, shown_measure,
)
from .stats import ALPHA, Estimate


def table(verdicts: list[Verdict]) -> list[dict]:
    """Rows (finding, source, verdict, estimate, seeds, paper's value) for a page's summary table."""
    rows = []
    for v in verdicts:
        _, unit, least = shown_measure(v.to_dict())  # a composite's shown part is in its own unit
        rows.append({"finding": v.claim, "paper": v.source, "verdict": v.verdict,
                     "this run": estimate_text(v.to_dict()), "smallest effect of interest": amount(least, unit),
                     "paper's value": v.paper or "-", "seeds": _n(v.to_dict()) if v.verdict != UNTESTABLE else "–"})
    return rows


def _n(verdict: dict) -> int | str:
    """A summary table's "seeds" cell: the number of training seeds, or "5 image samples" where the finding was
    measured on samples of generated images rather than trained models."""
    unit = replicates(verdict)
    return verdict["n_seeds"] if unit == "seeds" else f"{verdict['n_seeds']} {unit}"


def summary_counts(verdicts: list[Verdict] | list[dict]) -> dict[str, int]:
    """How many verdicts of each kind."""
    kinds = [v["verdict"] if isinstance(v, dict) else v.verdict for v in verdicts]
    return {k: sum(v == k for v in kinds) for k in VERDICTS}


def holm(verdicts: list[dict], alpha: float = ALPHA) -> list[str]:
    """Each verdict after Holm's step-down correction over the tested ones (family-wise error `alpha`), in order of
    their p-values (2 x the smaller one-sided p): at its step a decisive verdict keeps each direction ("holds", "does
    not hold") whose own two-sided p clears alpha / (number of tests left) — "holds, below the smallest effect of
    interest" only while both do, else the one that survives; past the first step that fails, inconclusive.
    Untested findings, and those beyond the paper (outside its family), stay as they are."""
    out = [v["verdict"] for v in verdicts]
    family = [v.get("group", PAPER_GROUP) == PAPER_GROUP for v in verdicts]
    tested = sorted((v["p"], i) for i, v in enumerate(verdicts)
                    if family[i] and v["verdict"] != UNTESTABLE and v.get("p") is not None)
    k = len(tested)
    stopped = False
    for rank, (p, i) in enumerate(tested):
        level = alpha / (k - rank)
        if stopped or p > level:
            stopped = True
            if out[i] in (HOLDS, SMALL, FAILS):
                out[i] = INCONCLUSIVE
        elif out[i] == SMALL:
            v = verdicts[i]
            hold = 2 * v.get("p_hold", p / 2) <= level
            fail = 2 * v.get("p_fail", p / 2) <= level
            out[i] = SMALL if hold and fail else HOLDS if hold else FAILS if fail else INCONCLUSIVE
    for i, v in enumerate(verdicts):  # a tested finding without a p-value (no interval) is never decisive
        if v["verdict"] in (HOLDS, SMALL, FAILS) and v.get("p") is None:
            out[i] = INCONCLUSIVE
    return out


def one_scale(findings: list[dict]) -> str | None:
    """The one scale every verdict was computed at; a FakeitError naming the pages of each scale when they differ
    (a page kept from a build with another preset must not join this build's count)."""
    scales: dict[str, list[str]] = {}
    for f in findings:
        scales.setdefault(f["scale"] if "scale" in f else "unknown", []).append(f.get("page", f["id"]))  # a finding, not a preset
    if len(scales) > 1:
        parts = "; ".join(f"{scale}: {', '.join(sorted(set(pages)))}" for scale, pages in sorted(scales.items()))
        raise FakeitError(f"the verdicts come from more than one preset ({parts}); re-execute the pages of the other "
                          "preset (without --only) so that the count is over one build")
    return next(iter(scales), None)


def with_holm(findings: list[dict]) -> list[dict]:
    """The verdicts (findings.json's rows) with their verdict after Holm (`after_holm`) and the registry's hash;
    refused when they come from more than one preset (`one_scale`)."""
    one_scale(findings)
    digest = registry_hash()
    tested = family_counts(findings)["tested"]
    return [{**f, **recount_seeds(f, tested), "after_holm": a, "registry": digest}
            for f, a in zip(findings, holm(findings))]


def recount_seeds(f: dict, tested: int) -> dict:
    """An inconclusive one-part finding's seeds to decide at Holm's first step over the `tested` findings the build
    has (a page counted over every paper finding, untested ones included); other findings as they are."""
    est = f.get("estimate")
    if f["verdict"] != INCONCLUSIVE or f.get("rule") in ("both", "any") or not est or est.get("low") is None or not tested:
        return {}
    if f.get("group", PAPER_GROUP) != PAPER_GROUP:  # outside Holm's family: its page's 95% count stands
        return {}
    needed, floor = seeds_needed(f["rule"], Estimate(**est), f["sesoi"], family_level(tested))
    return {"seeds_to_decide": needed, "seeds_cannot_decide": floor}


def family_counts(findings: list[dict]) -> dict:
    """The introduction's count: findings, tested ones in the paper's family, each verdict's count after Holm there,
    and the findings beyond the paper (tested apart, at 95% each)."""
    adjusted = holm(findings)
    paper = [(f, a) for f, a in zip(findings, adjusted) if f.get("group", PAPER_GROUP) == PAPER_GROUP]
    tested = [(f, a) for f, a in paper if f["verdict"] != UNTESTABLE]
    return {"findings": len(findings), "paper": len(paper), "tested": len(tested),
            "after_holm": {k: sum(a == k for _, a in tested) for k in (HOLDS, SMALL, FAILS, INCONCLUSIVE)},
            "untested": len(paper) - len(tested), "beyond": len(findings) - len(paper)}


def short_reason(reason: str) -> str:
    """A reason's first clause, for a summary line or a table's cell (its page gives the whole)."""
    cut = min([i for i in (reason.find(m) for m in (", so ", ": ", "; ", " (")) if i > 0] + [len(reason)])
    return reason[:cut].strip().rstrip(".")


def link(f: dict, text: str | None = None) -> str:
    """A MyST link to the page that checks finding `f`, reading `text` (default: its claim)."""
    text = (text or f["claim"]).replace("<", "&lt;").replace("`", "'")
    return f"{{doc}}`{text} <../{f['page']}>`"


def plural(label: str, n: int) -> str:
    """`holds` -> `hold` for several findings (and `does not hold` -> `do not hold`); other labels as they are."""
    if n == 1:
        return label
    if label == "holds" or label.startswith("holds,"):
        return "hold" + label[len("holds"):]
    if label.startswith("does not hold"):
        return "do not hold" + label[len("does not hold"):]
    return label


def findings_markdown(findings: list[dict]) -> str:
    """The introduction's table of verdicts, four columns that fit a page: the finding (linked to the page that checks
    it, with where the paper makes it), the verdict as its page states it (95% each) and after Holm's correction over
    the paper's tested findings when that differs, this run's estimate with its seeds and smallest effect of interest,
    and the paper's value; above it the counts after the correction and the forest plot, below it how to recompute."""
    if not findings:
        return "No finding was checked in this build.\n"
    adjusted = holm(findings)
    c = family_counts(findings)
    n = c["tested"]
    counted = "; ".join(f"{k} {plural(label, k)}" for label, k in c["after_holm"].items() if k) or "none decided"
    beyond = ((f" The {c['beyond']} findings beyond the paper are checked apart, outside that family, at 95% each."
               if c["beyond"] > 1 else " The finding beyond the paper is checked apart, outside that family, at 95%.")
              if c["beyond"] else "")
    plot = (" In the plot, each tested finding's 95% interval is measured in its smallest effect of interest: 0 is no "
            "effect (solid line), 1 the smallest effect that matters (dashed line); a hollow marker is a verdict that "
            "Holm's correction makes inconclusive." if forest_rows(findings) else "")
    lines = [f"Of the paper's {c['paper']} findings, {n} could be tested at this scale. After Holm's correction over "
             f"those {n} (a family-wise error of 5%: the chance that any decisive verdict below is wrong by chance stays "
             f"under 5%): {counted}; {c['untested']} cannot be tested. Each page states its own verdicts at 95% each; "
             f"where Holm's correction changes one, the table gives both.{beyond}{plot}", "",
             forest_html(findings),
             "| finding (paper) | verdict | this run | paper |", "|---|---|---|---|"]
    for f, a in zip(findings, adjusted):
        verdict = f"**{f['verdict']}**" + (f" ({a} after Holm)" if a != f["verdict"] else "")
        if f.get("group", PAPER_GROUP) != PAPER_GROUP:
            verdict += " (beyond the paper, outside the family)"
        run = estimate_text(f)
        if f["verdict"] == UNTESTABLE and f.get("reason"):  # why, in its first clause (the page gives the whole)
            run = short_reason(f["reason"])
        if f["verdict"] != UNTESTABLE:
            _, unit, least = shown_measure(f)
            sesoi = f"; smallest effect of interest {amount(least, unit)}" if least is not None else ""
            run += f" ({f['n_seeds']} {replicates(f)}{sesoi})"
        lines.append(f"| {link(f)} ({f['source']}) | {verdict} | {run} | {f.get('paper') or '–'} |")
    lines += ["", units_text({shown_measure(f)[1] for f in findings if f["verdict"] != UNTESTABLE})]
    lines += ["", f"*For developers:* the list of findings these verdicts come from has the content hash `{registry_hash()}`: a changed "
              "rule or bound shows here next to the verdicts it produced. The file of findings the build writes beside the "
              "book ({doc}`reproduce` says where) holds for every tested finding the numbers its verdict rests on: the models × seeds values of its "
              "family, the contrast's weights, the error method and the rule. With them any tool recomputes the "
              "interval (the residual mean square of a two-way analysis, model + seed, for a family's contrast) and "
              "the verdict."]
    return "\n".join(lines) + "\n"


UNITS = {  # what each unit a finding is measured in means, for the sentence under the introduction's table
    "points": "**points** are accuracy points (percentage points of top-1)",
    "judge units": "**judge units** are distances between the judge's features (the real-trained classifier that "
                   "scores the generated images): the spread of a class's images, its diversity",
    "of images": "**of images** is a share of the generated images (0.02: 2 in 100); fidelity is the share the judge "
                 "classifies as the class their prompt named",
    "points²": "**points²** sum the squared distances of the prompts' top-1 from their mean, in squared points: "
               "three prompts a point apart make 2",
}


def units_text(units: set[str]) -> str:
    """The sentence that says what the table's units are: only those it uses (`points per doubling` is points)."""
    used = [text for unit, text in UNITS.items() if any(u == unit or u.startswith(unit + " ") for u in units)]
    return ("Units: " + "; ".join(used) + ".") if used else ""


def barely_reacts(f: dict) -> bool:
    """Whether a verdict on a prompt change was drawn by a generator that barely reacts to it (its measured prompt
    sensitivity, one or several, below findings.SENSITIVITY_MIN of a seed change): a null there speaks of the
    generator, so a headline that says the finding does not hold, or is undecided, carries that caveat."""
    from .findings import SENSITIVITY_MIN

    sens = (f.get("evidence") or {}).get("prompt sensitivity")
    if not isinstance(sens, dict):
        return False
    shares = [sens["share"]] if "share" in sens else [v["share"] for v in sens.values() if isinstance(v, dict) and "share" in v]
    return bool(shares) and min(shares) < SENSITIVITY_MIN


COLOURS = {HOLDS: "#1a9850", SMALL: "#91bfdb", FAILS: "#d73027", INCONCLUSIVE: "#999999"}


def forest_rows(findings: list[dict]) -> list[dict]:
    """Each tested finding's effect and 95% interval in units of its smallest effect of interest (the shown part's,
    for a composite), with its verdict on its page and after Holm."""
    rows = []
    for f, after in zip(findings, holm(findings)):
        est = f.get("estimate") or {}
        if f["verdict"] == UNTESTABLE or est.get("low") is None:
            continue
        sesoi = shown_measure(f)[2]
        rows.append({"finding": SHORT.get(f["id"], f["id"].replace("_", " ")), "claim": f["claim"], "verdict": f["verdict"],
                     "after Holm": after, "effect": est["mean"] / sesoi, "low": est["low"] / sesoi,
                     "high": est["high"] / sesoi, "rule": f.get("rule", "")})
    return rows


def forest_figure(findings: list[dict]):
    """A forest plot: every tested finding's interval in units of its smallest effect of interest, against 0 and 1,
    coloured by its page's verdict; a hollow marker where Holm's correction leaves it inconclusive."""
    import plotly.graph_objects as go

    rows = forest_rows(findings)
    fig = go.Figure()
    for verdict, colour in COLOURS.items():
        mine = [r for r in rows if r["verdict"] == verdict]
        if not mine:
            continue
        # the legend draws a trace's first marker: its entry is a trace of its own with a filled one, so that a
        # verdict's first row being hollow (inconclusive after Holm) does not make the legend say "hollow = holds"
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=verdict, legendgroup=verdict,
                                 marker=dict(color=colour, size=10, symbol="circle")))
        fig.add_trace(go.Scatter(
            x=[r["effect"] for r in mine], y=[r["finding"] for r in mine], mode="markers", name=verdict,
            legendgroup=verdict, showlegend=False,
            marker=dict(color=colour, size=10, symbol=["circle" if r["after Holm"] == verdict else "circle-open"
                                                        for r in mine], line=dict(color=colour, width=2)),
            error_x=dict(type="data", symmetric=False, array=[r["high"] - r["effect"] for r in mine],
                         arrayminus=[r["effect"] - r["low"] for r in mine], color=colour),
            customdata=[[r["claim"], r["after Holm"], r["rule"]] for r in mine],
            hovertemplate="%{customdata[0]}<br>%{x:.2f} smallest effects of interest<br>rule %{customdata[2]}; "
                          "after Holm: %{customdata[1]}<extra></extra>"))
    if any(r["after Holm"] != r["verdict"] for r in rows):
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name="hollow: inconclusive after Holm",
                                 marker=dict(color="black", size=10, symbol="circle-open", line=dict(color="black", width=2))))
    fig.add_vline(x=0, line_color="black", line_width=1)
    fig.add_vline(x=1, line_dash="dash", line_color="black", line_width=1)
    # the range is the intervals' (an annotation would stretch it on a phone); the legend above the panel, one entry
    # a line (in a row, its five entries ran past a phone's edge), with room made for it; a short axis title, so a
    # phone keeps the intervals' width (the dashed line and hollow markers are said in the sentence above the plot)
    lo, hi = min([0.0, *(r["low"] for r in rows)]), max([1.0, *(r["high"] for r in rows)])
    pad = 0.05 * (hi - lo)
    entries = sum(t.showlegend is not False for t in fig.data)
    legend_px = 22 * (entries + 1)  # its entries and its title
    fig.update_layout(height=110 + 28 * max(len(rows), 1) + legend_px, margin=dict(l=10, r=10, t=40 + legend_px, b=40),
                      xaxis=dict(title_text="effect ÷ its smallest<br>effect of interest", range=[lo - pad, hi + pad]),
                      # categories: the legend-only traces come first with y=[None], and plotly would otherwise type
                      # the axis from them as numbers and draw none of the findings
                      yaxis=dict(type="category", autorange="reversed"), legend_title_text="verdict (its page)",
                      legend=dict(orientation="v", x=0, y=1, xanchor="left", yanchor="bottom"))
    return fig


def forest_html(findings: list[dict]) -> str:
    """The forest plot as a raw-HTML block for a markdown page (plotly.js inline: offline)."""
    if not forest_rows(findings):
        return ""
    html = forest_figure(findings).to_html(full_html=False, include_plotlyjs=True, include_mathjax=False,
                                           config={"displaylogo": False})
    return "```{raw} html\n" + html + "\n```\n"
