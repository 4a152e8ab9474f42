"""The book's count over its findings: each verdict after Holm's correction over the paper's tested findings (the
family-wise error the introduction states), the counts of each kind, and the page and introduction tables.
"""

from __future__ import annotations

from .claims import PAPER_GROUP
from .findings import FAILS, HOLDS, INCONCLUSIVE, SMALL, UNTESTABLE, VERDICTS, Verdict, estimate_text
from .stats import ALPHA


def table(verdicts: list[Verdict]) -> list[dict]:
    """Rows (finding, source, verdict, estimate, seeds, paper's value) for a page's summary table."""
    rows = []
    for v in verdicts:
        rows.append({"finding": v.claim, "paper": v.source, "verdict": v.verdict,
                     "this run": estimate_text(v.to_dict()), "smallest effect of interest": f"{v.sesoi:g} {v.unit}",
                     "paper's value": v.paper or "-", "seeds": v.n_seeds})
    return rows


def summary_counts(verdicts: list[Verdict] | list[dict]) -> dict[str, int]:
    """How many verdicts of each kind."""
    kinds = [v["verdict"] if isinstance(v, dict) else v.verdict for v in verdicts]
    return {k: sum(v == k for v in kinds) for k in VERDICTS}


def holm(verdicts: list[dict], alpha: float = ALPHA) -> list[str]:
    """Each verdict after Holm's step-down correction over the tested ones (family-wise error `alpha`): a decisive
    verdict stays when its p-value clears alpha / (number of tests left), in order of p; the others become
    inconclusive. Untested findings, and those beyond the paper (outside its family), stay as they are."""
    out = [v["verdict"] for v in verdicts]
    family = [v.get("group", PAPER_GROUP) == PAPER_GROUP for v in verdicts]
    tested = sorted((v["p"], i) for i, v in enumerate(verdicts)
                    if family[i] and v["verdict"] != UNTESTABLE and v.get("p") is not None)
    k = len(tested)
    stopped = False
    for rank, (p, i) in enumerate(tested):
        if stopped or p > alpha / (k - rank):
            stopped = True
            if out[i] in (HOLDS, SMALL, FAILS):
                out[i] = INCONCLUSIVE
    for i, v in enumerate(verdicts):  # a tested finding without a p-value (no interval) is never decisive
        if v["verdict"] in (HOLDS, SMALL, FAILS) and v.get("p") is None:
            out[i] = INCONCLUSIVE
    return out


def with_holm(findings: list[dict]) -> list[dict]:
    """The verdicts (findings.json's rows) with their verdict after Holm (`after_holm`) and the registry's hash."""
    from .claims import registry_hash

    digest = registry_hash()
    return [{**f, "after_holm": a, "registry": digest} for f, a in zip(findings, holm(findings))]


def family_counts(findings: list[dict]) -> dict:
    """The introduction's count: findings, tested ones in the paper's family, each verdict's count after Holm there,
    and the findings beyond the paper (tested apart, at 95% each)."""
    adjusted = holm(findings)
    paper = [(f, a) for f, a in zip(findings, adjusted) if f.get("group", PAPER_GROUP) == PAPER_GROUP]
    tested = [(f, a) for f, a in paper if f["verdict"] != UNTESTABLE]
    return {"findings": len(findings), "paper": len(paper), "tested": len(tested),
            "after_holm": {k: sum(a == k for _, a in tested) for k in (HOLDS, SMALL, FAILS, INCONCLUSIVE)},
            "untested": len(paper) - len(tested), "beyond": len(findings) - len(paper)}


def findings_markdown(findings: list[dict]) -> str:
    """A markdown table of the verdicts (each linked to the page that checks it), with the paper's value for the
    comparison, each verdict as its page states it (95% each) and after Holm's correction over the paper's tested
    findings, and the counts after that correction."""
    from .claims import registry_hash

    if not findings:
        return "No finding was checked in this build.\n"
    adjusted = holm(findings)
    c = family_counts(findings)
    n, after = c["tested"], c["after_holm"]
    small = f", {after[SMALL]} hold with an effect below the smallest of interest" if after[SMALL] else ""
    beyond = (f" The {c['beyond']} findings beyond the paper are tested apart, outside that family, at 95% each."
              if c["beyond"] else "")
    lines = [f"Of the paper's {c['paper']} findings, {n} could be tested at this scale. After Holm's correction over "
             f"those {n} (a family-wise error of 5%: the chance that any decisive verdict below is wrong by chance stays "
             f"under 5%), {after[HOLDS]} hold{small}, {after[FAILS]} do not hold and {after[INCONCLUSIVE]} are "
             f"inconclusive; {c['untested']} cannot be tested. Each page states its own verdicts at 95% each.{beyond} "
             f"The registry of findings these verdicts come from has the content hash `{registry_hash()}`.", "",
             "| finding (paper) | verdict (its page) | after Holm | this run | smallest effect of interest | paper's value | seeds | page |",
             "|---|---|---|---|---|---|---:|---|"]
    for f, a in zip(findings, adjusted):
        sesoi = f"{f['sesoi']:g} {f['unit']}" if f.get("sesoi") is not None else "–"
        if f.get("group", PAPER_GROUP) != PAPER_GROUP:
            a = f"{a} (beyond the paper: not in the family)"
        lines.append(f"| {f['claim']} ({f['source']}) | **{f['verdict']}** | {a} | {estimate_text(f)} | {sesoi} | "
                     f"{f.get('paper') or '–'} | {f['n_seeds']} | {{doc}}`../{f['page']}` |")
    return "\n".join(lines) + "\n"
