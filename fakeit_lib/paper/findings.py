"""The paper's findings that the book checks, each with a stated rule; verdicts are computed from seeds, never typed.

A finding is data: a one-sentence claim, where the paper makes it, the metric, the comparison and the rule. A
chapter measures both sides of the comparison on several seeds (or independent image samples) and calls the rule,
which returns a `Verdict`: **holds**, **does not hold**, **inconclusive**, or **cannot be tested** at that scale,
with the estimate, its 95% interval, what each side saw and the paper's own value for the same comparison
(computed from `data/paper_results.yaml`). The pages' wording comes from `Verdict.sentence()`; `make book`
collects every page's verdicts into `_build/findings.json` and the introduction's table.

Rules (all on paired per-seed values, two-sided 95% Student-t intervals, see `stats.mean_interval`):
- `greater`: the difference a - b; holds if its interval lies above 0, does not hold if below 0.
- `trend`: per seed, the least-squares slope of the metric against log2(clone size), over every point (not the
  end points); holds if the interval of the slopes lies above 0, does not hold if below 0.
- `noninferior`: a - b with a margin m; holds if the interval lies above -m, does not hold if it lies below -m.
- `both`: a claim made of two parts; holds if both hold, does not hold if either does not.
Anything else is inconclusive; one seed gives no interval and so is always inconclusive.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from ..core.errors import FakeitError
from .stats import Interval, mean_interval, paired_differences, slope

HOLDS, FAILS, INCONCLUSIVE, UNTESTABLE = "holds", "does not hold", "inconclusive", "cannot be tested"
VERDICTS = (HOLDS, FAILS, INCONCLUSIVE, UNTESTABLE)
RULES = {
    "greater": "holds when the 95% interval of the paired difference over seeds lies above 0, does not hold when "
               "it lies below 0, inconclusive otherwise",
    "trend": "per seed, the least-squares slope against log2 of the clone size over all sizes; holds when the 95% "
             "interval of the slopes lies above 0, does not hold when it lies below 0, inconclusive otherwise",
    "noninferior": "holds when the 95% interval of the paired difference lies above minus the margin, does not hold "
                   "when it lies below minus the margin, inconclusive otherwise",
    "both": "holds when both parts hold, does not hold when either part does not, inconclusive otherwise",
}


RULES_SHORT = {"greater": "holds if the 95% interval lies above 0", "trend": "holds if the 95% interval of the slopes lies above 0",
               "noninferior": "holds if the 95% interval lies above minus the margin", "both": "holds if both parts hold"}
VERB = {HOLDS: "**holds**", FAILS: "**does not hold**", INCONCLUSIVE: "is **inconclusive**", UNTESTABLE: "**cannot be tested**"}


@dataclass(frozen=True)
class Finding:
    """One claim of the paper and how the book checks it."""

    id: str
    claim: str  # one sentence, as the paper makes it
    source: str  # where in the paper
    chapter: str  # the notebook (stem) that checks it
    metric: str  # what is measured
    comparison: str  # a - b, in words
    rule: str  # a key of RULES
    margin: float = 0.0  # for the noninferior rule, in the metric's unit
    unit: str = "points"  # unit of differences


FINDINGS: dict[str, Finding] = {f.id: f for f in [
    Finding("low_guidance_diverse", "A lower guidance scale gives more diverse but less faithful images.",
            "Sec. 4.3, Fig. 2", "fig2_qualitative",
            "judge diversity (within-class feature spread) and fidelity (share judged as the prompt's class)",
            "guidance 2.0 minus 7.5, each averaged over the prompt variants", "both", unit="judge units"),
    Finding("low_guidance_better", "Clones made at guidance 2.0 train better models than clones made at 7.5.",
            "Sec. 5.1, Table 1 rows 2-9", "tab1_prompts", "top-1 on real test images of the training classes (%)",
            "guidance 2.0 minus 7.5, each averaged over the prompt variants", "greater"),
    Finding("definition_beats_name", "At guidance 7.5, adding the WordNet definition to the class name (c, d_c) beats the name alone (c).",
            "Sec. 4.2 and 5.1, Table 1 rows 2, 4", "tab1_prompts", "top-1 on real test images of the training classes (%)",
            "prompt c, d_c minus prompt c at guidance 7.5", "greater"),
    Finding("prompt_matters_less_low_guidance", "At the lower guidance scale the choice of prompt matters less.",
            "Sec. 5.1, Table 1 rows 2-9", "tab1_prompts", "spread (standard deviation) of top-1 over prompt variants (points)",
            "spread at guidance 7.5 minus spread at 2.0", "greater"),
    Finding("backgrounds_help_high_guidance", "Backgrounds (c, h_c inside b) help at guidance 7.5.",
            "Sec. 4.3 and 5.1, Table 1 rows 3, 5", "tab1_prompts", "top-1 on real test images of the training classes (%)",
            "prompt c, h_c inside b minus prompt c, h_c at guidance 7.5", "greater"),
    Finding("synthetic_trails_real", "On the training classes, every 1x synthetic clone trails the real training set.",
            "Sec. 5.1, Table 1 rows 1-9", "tab1_prompts", "top-1 on real test images of the training classes (%)",
            "real minus the best 1x clone", "greater"),
    Finding("more_images_help", "More synthetic images help on the training classes.",
            "Sec. 5.1, Table 1 rows 8, 10-12", "fig4_scaling",
            "top-1 on real test images of the training classes (%)", "slope per doubling of the clone size, from 1x up", "trend",
            unit="points per doubling"),
    Finding("largest_clone_transfers", "The largest synthetic clone matches or beats the real training set in transfer.",
            "Sec. 5.3, Fig. 4, Table 2 rows 2-3", "fig4_scaling",
            "linear-probe top-1 averaged over the out-of-domain transfer datasets (%)",
            "largest clone minus real", "noninferior", margin=1.0),
    Finding("synthetic_beats_real_transfer", "An encoder trained on a synthetic clone of the real set's size transfers better than one trained on the real set.",
            "Sec. 5.3, Table 2 rows 4, 8", "tab2_transfer", "linear-probe top-1 averaged over the out-of-domain transfer datasets (%)",
            "1x clone minus real", "greater"),
    Finding("synthetic_holds_up_under_shift", "Models trained on a synthetic clone hold up better under domain shift than the real-trained model.",
            "Sec. 1 and 5.2, Table 1 (Sketch, R, A)", "domain_shift",
            "share of in-domain top-1 kept on the shifted tests (shifted top-1 / in-domain top-1, mean over tests)",
            "best 1x clone minus real", "greater", unit="of in-domain top-1"),
    Finding("multicrop_helps", "Multi-crop augmentation gives large gains to models trained on synthetic images.",
            "Sec. 5 (setup) and supplementary", "ablations", "top-1 on real test images of the training classes (%)",
            "with local crops minus without, same clone", "greater"),
    Finding("name_beats_clip_template", "The class name alone makes better prompts than CLIP's template \"a photo of a c\".",
            "Sec. 4.1", "ablations", "top-1 on real test images of the training classes (%)",
            "prompt c minus prompt \"a photo of a c\", same guidance", "greater"),
    Finding("gap_narrows_in_transfer", "Training on a synthetic clone of the real set's size costs accuracy on the training classes, and much less in transfer.",
            "Sec. 1, Fig. 1", "fig1_spider", "real-minus-synthetic gap in top-1 (points), 1x clone",
            "gap on the training classes (above 0), minus the gap left in transfer (0 where synthetic is ahead)", "both"),
    Finding("matched_backgrounds_help", "Backgrounds matched to the class beat randomly drawn ones.",
            "Sec. 4.3 (future work), beyond the paper", "matched_backgrounds",
            "top-1 on real test images of the training classes (%)",
            "prompt c, h_c inside b with matched scenes minus with random scenes, averaged over guidance scales", "greater"),
]}


@dataclass
class Verdict:
    """The outcome of checking one finding at one scale."""

    id: str
    claim: str
    source: str
    chapter: str
    metric: str
    comparison: str
    rule: str
    verdict: str
    scale: str
    n_seeds: int
    estimate: dict | None = None  # Interval of the compared quantity (to_dict), None when not tested
    evidence: dict = field(default_factory=dict)  # per-seed values, what each side saw, the test set
    reason: str = ""  # why it cannot be tested, or what the verdict rests on
    paper: str = ""  # the paper's own value for the same comparison
    unit: str = "points"

    def to_dict(self) -> dict:
        """The verdict as a plain dict (what `_build/findings.json` holds)."""
        return asdict(self)

    def sentence(self) -> str:
        """The page's wording: the claim, its verdict at this scale, and what the verdict rests on."""
        claim = self.claim[0].lower() + self.claim[1:].rstrip(".")
        if self.verdict == UNTESTABLE:
            return f"The paper's finding that {claim} {VERB[UNTESTABLE]} at the {self.scale} scale: {self.reason.rstrip('.')}."
        est = Interval(**self.estimate)
        detail = f"{self.comparison}: {est.text(digits(self.unit), signed=True)} {self.unit}"
        if est.low is not None:
            detail += f", 95% interval [{est.low:+.{digits(self.unit) + 1}f}, {est.high:+.{digits(self.unit) + 1}f}]"
        if self.reason:
            detail += f"; {self.reason}"
        return f"The paper's finding that {claim} {VERB[self.verdict]} at the {self.scale} scale ({detail}; {RULES_SHORT[self.rule]})."


def digits(unit: str) -> int:
    """Decimals a value in `unit` is shown with: points 1, judge units 2, shares ("of ...") 3."""
    return 3 if unit.startswith("of ") else 2 if unit == "judge units" else 1


def estimate_text(verdict: dict) -> str:
    """`mean [low, high] unit` of a verdict's dict (as in findings.json), or a dash when it was not tested."""
    est, unit = verdict.get("estimate"), verdict.get("unit", "")
    if not est:
        return "–"
    d = digits(unit)
    text = f"{est['mean']:+.{d}f}"
    if est.get("low") is not None:
        text += f" [{est['low']:+.{d}f}, {est['high']:+.{d}f}]"
    return f"{text} {unit}"


def finding(finding_id: str) -> Finding:
    """The registered finding `finding_id`."""
    if finding_id not in FINDINGS:
        raise FakeitError(f"unknown finding {finding_id!r}; valid: {', '.join(FINDINGS)}")
    return FINDINGS[finding_id]


def _verdict(f: Finding, verdict: str, scale: str, est: Interval | None, evidence: dict, reason: str = "",
             paper: str = "") -> Verdict:
    return Verdict(f.id, f.claim, f.source, f.chapter, f.metric, f.comparison, f.rule, verdict, scale,
                   est.n if est else 0, est.to_dict() if est else None, evidence, reason, paper, f.unit)


def _sided(est: Interval, threshold: float = 0.0) -> str:
    if est.low is None:
        return INCONCLUSIVE
    if est.low > threshold:
        return HOLDS
    if est.high < threshold:
        return FAILS
    return INCONCLUSIVE


def check_greater(finding_id: str, a: list[float], b: list[float], scale: str, evidence: dict | None = None,
                  paper: str = "") -> Verdict:
    """Rule `greater` on paired per-seed values a[s], b[s]: is a - b above 0?"""
    f = finding(finding_id)
    d = paired_differences(a, b)
    est = mean_interval(d)
    ev = {"a": list(map(float, a)), "b": list(map(float, b)), "differences": d, **(evidence or {})}
    reason = "one seed gives no interval" if est.n < 2 else ""
    return _verdict(f, _sided(est), scale, est, ev, reason, paper)


def check_noninferior(finding_id: str, a: list[float], b: list[float], scale: str, evidence: dict | None = None,
                      paper: str = "") -> Verdict:
    """Rule `noninferior` on paired per-seed values: is a - b above minus the finding's margin?"""
    f = finding(finding_id)
    d = paired_differences(a, b)
    est = mean_interval(d)
    ev = {"a": list(map(float, a)), "b": list(map(float, b)), "differences": d, "margin": f.margin, **(evidence or {})}
    reason = f"margin {f.margin:g} {f.unit}" + ("; one seed gives no interval" if est.n < 2 else "")
    return _verdict(f, _sided(est, -f.margin), scale, est, ev, reason, paper)


def check_trend(finding_id: str, sizes: list[float], values: list[list[float]], scale: str,
                evidence: dict | None = None, paper: str = "") -> Verdict:
    """Rule `trend`: values[k][s] is seed s at size sizes[k]; the per-seed slope against log2(size) above 0?"""
    f = finding(finding_id)
    if len(sizes) != len(values) or len(sizes) < 2:
        raise FakeitError(f"a trend needs one list of per-seed values per size, at least two sizes; got {len(sizes)} sizes")
    seeds = {len(v) for v in values}
    if len(seeds) != 1:
        raise FakeitError(f"every size needs the same number of seeds, got {sorted(seeds)}")
    x = [math.log2(s) for s in sizes]
    slopes = [slope(x, [values[k][s] for k in range(len(sizes))]) for s in range(seeds.pop())]
    est = mean_interval(slopes)
    ev = {"sizes": list(map(float, sizes)), "values": [list(map(float, v)) for v in values], "slopes": slopes,
          **(evidence or {})}
    return _verdict(f, _sided(est), scale, est, ev, "one seed gives no interval" if est.n < 2 else "", paper)


def check_both(finding_id: str, parts: dict[str, Verdict], scale: str, paper: str = "") -> Verdict:
    """Rule `both`: the verdict of a two-part claim from its parts' verdicts (each checked with `greater`)."""
    f = finding(finding_id)
    verdicts = [v.verdict for v in parts.values()]
    verdict = FAILS if FAILS in verdicts else HOLDS if all(v == HOLDS for v in verdicts) else INCONCLUSIVE
    first = next(iter(parts.values()))
    est = Interval(**first.estimate)
    reason = "; ".join(f"{name}: {v.verdict}, {Interval(**v.estimate).text(3, signed=True)}" for name, v in parts.items())
    ev = {name: {"verdict": v.verdict, "estimate": v.estimate, **v.evidence} for name, v in parts.items()}
    return _verdict(f, verdict, scale, est, ev, reason, paper)


def part(name: str, a: list[float], b: list[float]) -> Verdict:
    """One part of a `both` finding, checked with the `greater` rule (a - b above 0)."""
    d = paired_differences(a, b)
    est = mean_interval(d)
    f = Finding(name, name, "", "", name, "a - b", "greater")
    return _verdict(f, _sided(est), "", est, {"a": list(map(float, a)), "b": list(map(float, b)), "differences": d})


def cannot_test(finding_id: str, scale: str, reason: str, paper: str = "") -> Verdict:
    """The verdict of a finding the run cannot test, with the reason."""
    return _verdict(finding(finding_id), UNTESTABLE, scale, None, {}, reason, paper)


def table(verdicts: list[Verdict]) -> list[dict]:
    """Rows (finding, source, verdict, estimate, n) for a page's summary table."""
    rows = []
    for v in verdicts:
        est = Interval(**v.estimate) if v.estimate else None
        rows.append({"finding": v.claim, "paper": v.source, "verdict": v.verdict,
                     "this run": est.text(digits(v.unit), signed=True) if est else "-",
                     "paper's value": v.paper or "-", "seeds": v.n_seeds})
    return rows


def summary_counts(verdicts: list[Verdict]) -> dict[str, int]:
    """How many verdicts of each kind."""
    return {k: sum(v.verdict == k for v in verdicts) for k in VERDICTS}


def spread(values: list[float]) -> float:
    """The sample standard deviation of a few values (ddof 1)."""
    return float(np.std(np.asarray(values, float), ddof=1))


def paper_value(finding_id: str, train: str = "imagenet100", variants: tuple[str, ...] | list[str] | None = None) -> str:
    """The paper's own value for a finding's comparison, computed from its tables (`data/paper_results.yaml`);
    `variants`: the prompt variants this run averages over (default: the four of Table 1)."""
    from .results import paper_rows, table1_value

    finding(finding_id)
    variants = tuple(v for v in (variants or ("c", "c_hc", "c_dc", "c_hc_inside_b"))
                     if v in ("c", "c_hc", "c_dc", "c_hc_inside_b"))
    tag = {"imagenet100": "IN-100", "imagenet1k": "IN-1K"}[train]

    def top1(v, g, m=1.0):
        return table1_value(train, v, g, "in_val_top1", m)

    if finding_id == "low_guidance_diverse":
        return "shown qualitatively (Fig. 2), no number"
    if finding_id == "multicrop_helps":
        return "\"large performance gains\" (Sec. 5); the numbers are in the supplementary, not transcribed here"
    if finding_id == "name_beats_clip_template":
        return "stated without a number (Sec. 4.1)"
    if train == "imagenet100" and finding_id == "low_guidance_better":
        d = np.mean([top1(v, 2.0) for v in variants]) - np.mean([top1(v, 7.5) for v in variants])
        return f"{d:+.1f} points ({tag} val top-1, Table 1, prompts {', '.join(variants)})"
    if train == "imagenet1k" and finding_id == "low_guidance_better":  # one prompt at both scales in IN-1K's rows
        return f"{top1('c_dc', 2.0) - top1('c_dc', 7.5):+.1f} points ({tag} val top-1, Table 1 rows 15 and 17, prompt c_dc)"
    if train == "imagenet100" and finding_id == "definition_beats_name":
        return f"{top1('c_dc', 7.5) - top1('c', 7.5):+.1f} points ({tag} val top-1, Table 1)"
    if train == "imagenet100" and finding_id == "prompt_matters_less_low_guidance":
        d = spread([top1(v, 7.5) for v in variants]) - spread([top1(v, 2.0) for v in variants])
        return f"{d:+.1f} points ({tag} val top-1, Table 1, prompts {', '.join(variants)})"
    if train == "imagenet100" and finding_id == "backgrounds_help_high_guidance":
        return f"{top1('c_hc_inside_b', 7.5) - top1('c_hc', 7.5):+.1f} points ({tag} val top-1, Table 1)"
    if finding_id == "synthetic_trails_real":
        clones = [r["in_val_top1"] for r in paper_rows("table1", train=train, data="synthetic", scale=1)]
        real = paper_rows("table1", train=train, data="real")[0]["in_val_top1"]
        return f"{real - max(clones):+.1f} points ({tag} val top-1, Table 1)"
    if train == "imagenet100" and finding_id == "more_images_help":
        rows = paper_rows("table1", train=train, data="synthetic", variant="c_dc", guidance=2.0)
        s = slope([math.log2(r["scale"]) for r in rows], [r["in_val_top1"] for r in rows])
        return f"{s:+.1f} points per doubling ({tag} val top-1, 1x to 50x, Table 1)"
    if train == "imagenet100" and finding_id == "largest_clone_transfers":
        real = paper_rows("table2", train=train, data="real")[0]["average"]
        syn = max(r["average"] for r in paper_rows("table2", train=train, data="synthetic"))
        return f"{syn - real:+.1f} points ({tag}, 50x clone, 10-dataset average, Table 2)"
    if finding_id == "synthetic_beats_real_transfer":  # equal sizes are reported for ImageNet-1K only
        real = paper_rows("table2", row=4)[0]["average"]
        syn = paper_rows("table2", row=8)[0]["average"]
        return f"{syn - real:+.1f} points (IN-1K, 1x clone against real, Table 2 rows 4 and 8)"
    if finding_id == "gap_narrows_in_transfer":
        t1r, t1s = paper_rows("table1", row=13)[0]["in_val_top1"], paper_rows("table1", row=17)[0]["in_val_top1"]
        t2r, t2s = paper_rows("table2", row=4)[0]["average"], paper_rows("table2", row=8)[0]["average"]
        return (f"{(t1r - t1s) - max(t2r - t2s, 0.0):+.1f} points (IN-1K: val top-1 gap {t1r - t1s:.1f}, "
                f"transfer gap {t2r - t2s:.1f}; Tables 1-2 rows 13/17, 4/8)")
    return "not reported for this training set"
