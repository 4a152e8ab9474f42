"""The paper's findings that the book checks, each with a stated rule; verdicts are computed from seeds, never typed.

A finding is data: a one-sentence claim in the paper's words, where the paper makes it, the metric, the comparison,
the rule, and its **smallest effect of interest** (in the metric's unit, with the reason for its size). A chapter
estimates the effect with its 95% interval (`stats`: the seed error pooled over the chapter's models where they
share a recipe) and calls the rule, which returns a `Verdict`:
- **holds**: the interval lies above 0 (above the smallest effect of interest for a claim of a *large* effect);
- **does not hold**: the interval lies below the smallest effect of interest: any effect is too small to matter,
  or reversed (for a claim that an effect stays *small*, `at_most`: the interval lies above it);
- **inconclusive** otherwise, with how many seeds would decide it at the observed effect and seed deviation;
- **cannot be tested** at that scale, with the reason (e.g. the generator barely reacts to the prompt difference
  compared: `testability`).
Each verdict records its p-value for the decision it reached or came closest to, so that the introduction's count
can control the family-wise error over all findings (Holm). The pages' wording comes from `Verdict.sentence()`;
`make book` collects every page's verdicts into `_build/findings.json` and the introduction's table.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from ..core.errors import FakeitError
from .stats import ALPHA, Estimate, estimate_from_values, paired_differences, slope

HOLDS, FAILS, INCONCLUSIVE, UNTESTABLE = "holds", "does not hold", "inconclusive", "cannot be tested"
VERDICTS = (HOLDS, FAILS, INCONCLUSIVE, UNTESTABLE)
RULES = {
    "greater": "holds when the 95% interval lies above 0, does not hold when it lies below the smallest effect of "
               "interest (too small to matter, or reversed), inconclusive otherwise",
    "large": "holds when the 95% interval lies above the smallest effect of interest, does not hold when it lies below "
             "it, inconclusive otherwise",
    "trend": "the least-squares slope against log2 of the clone size; holds when its 95% interval lies above 0, does not "
             "hold when it lies below the smallest effect of interest, inconclusive otherwise",
    "at_most": "holds when the 95% interval lies below the smallest effect of interest, does not hold when it lies above "
               "it, inconclusive otherwise",
    "both": "holds when every part holds, does not hold when a part does not hold, inconclusive otherwise",
    "any": "holds when at least one part holds after Holm's correction over the parts, does not hold when no part "
           "can hold (each lies below the smallest effect of interest), inconclusive otherwise",
}
RULES_SHORT = {"greater": "holds if the 95% interval lies above 0, fails if below {d}",
               "large": "holds if the 95% interval lies above {d}, fails if below it",
               "trend": "holds if the 95% interval of the slope lies above 0, fails if below {d}",
               "at_most": "holds if the 95% interval lies below {d}, fails if above it",
               "both": "holds if every part holds", "any": "holds if a part holds after Holm over the parts"}
VERB = {HOLDS: "**holds**", FAILS: "**does not hold**", INCONCLUSIVE: "is **inconclusive**", UNTESTABLE: "**cannot be tested**"}
# A prompt (or background) comparison is testable only where the generator's images differ between the compared
# prompts: the same-seed pixel distance between them at least this share of the distance between two seeds of one
# prompt. Below it, the prompt changes an image less than a tenth of what a new seed does, and a model trained on the
# clone cannot tell the prompts apart beyond the noise of the draw itself.
SENSITIVITY_MIN = 0.10


@dataclass(frozen=True)
class Finding:
    """One claim of the paper and how the book checks it."""

    id: str
    claim: str  # one sentence, in the paper's words
    source: str  # where in the paper
    chapter: str  # the notebook (stem) that checks it
    metric: str  # what is measured
    comparison: str  # the effect, in words
    rule: str  # a key of RULES
    sesoi: float  # the smallest effect of interest, in `unit`
    sesoi_reason: str  # why that size
    unit: str = "points"  # unit of the effect


TOP1 = "top-1 on real test images of the training classes (%)"
TRANSFER = "linear-probe top-1 averaged over the out-of-domain transfer datasets (%)"
POINT = ("1 point: the paper's smallest prompt gain it reads as one (+3.8, the hypernym at 7.5, Table 1) scaled by "
         "the miniature's real-synthetic gap, about a fifth of the paper's")
POINT_T = ("1 point: the paper's real-synthetic transfer differences (2.7 to 4.8 points, Table 2) scaled by the "
           "miniature's gaps, about a fifth of the paper's")
FIDELITY = "0.02: 2 images in 100 judged as another class"
DIVERSITY = "0.3 judge units: 2% of the within-class spread (about 14), a fifth of what guidance 7.5 to 2.0 changes"

FINDINGS: dict[str, Finding] = {f.id: f for f in [
    Finding("low_guidance_diverse", "A lower guidance scale gives more diverse but less faithful images.",
            "Sec. 4.3, Fig. 2", "fig2_qualitative",
            "judge diversity (within-class feature spread) and fidelity (share judged as the prompt's class)",
            "guidance 2.0 minus 7.5 (diversity), 7.5 minus 2.0 (fidelity), averaged over the prompt variants", "both",
            0.3, DIVERSITY + "; fidelity: " + FIDELITY, unit="judge units"),
    Finding("definition_richer_images", "Adding the WordNet definition to the class name gives more faithful and more diverse images.",
            "Sec. 4.2-4.3, Fig. 2b, 2d", "fig2_qualitative", "judge fidelity and diversity at guidance 7.5",
            "prompt c, d_c minus prompt c, same seeds", "both", 0.3, DIVERSITY + "; fidelity: " + FIDELITY, unit="judge units"),
    Finding("hypernym_richer_images", "Adding the hypernym to the class name gives more faithful and more diverse images.",
            "Sec. 4.2-4.3, Fig. 2b, 2c", "fig2_qualitative", "judge fidelity and diversity at guidance 7.5",
            "prompt c, h_c minus prompt c, same seeds", "both", 0.3, DIVERSITY + "; fidelity: " + FIDELITY, unit="judge units"),
    Finding("low_guidance_better", "Clones made at guidance 2.0 train better models than clones made at 7.5.",
            "Sec. 5.1 (d), Table 1 rows 2-9", "tab1_prompts", TOP1,
            "guidance 2.0 minus 7.5, each averaged over the prompt variants", "greater", 1.0, POINT),
    Finding("definition_beats_name", "At guidance 7.5, adding the WordNet definition to the class name (c, d_c) beats the name alone (c).",
            "Sec. 5.1 (b), Table 1 rows 2, 4", "tab1_prompts", TOP1, "prompt c, d_c minus prompt c at guidance 7.5",
            "greater", 1.0, POINT),
    Finding("hypernym_beats_name", "At guidance 7.5, adding the hypernym to the class name (c, h_c) beats the name alone (c).",
            "Sec. 5.1 (b), Table 1 rows 2, 3", "tab1_prompts", TOP1, "prompt c, h_c minus prompt c at guidance 7.5",
            "greater", 1.0, POINT),
    Finding("prompt_matters_less_low_guidance", "The exact formulation of the prompt has less impact when lowering the guidance scale.",
            "Sec. 5.1 (e), Table 1 rows 2-9", "tab1_prompts",
            "spread of top-1 over the prompt variants (sum of squared deviations from their mean, seed noise removed)",
            "spread at guidance 7.5 minus spread at 2.0 (the variant x guidance interaction)", "greater", 2.0,
            "2 points squared: two prompts 1 point apart (the smallest prompt effect of interest) give a sum of 0.5, "
            "three prompts a point apart each 2", unit="points²"),
    Finding("backgrounds_help_high_guidance", "Generating objects on diverse backgrounds (c, h_c inside b) gives the best results at guidance 7.5.",
            "Sec. 5.1 (c), Table 1 rows 3, 5", "tab1_prompts", TOP1, "prompt c, h_c inside b minus prompt c, h_c at guidance 7.5",
            "greater", 1.0, POINT),
    Finding("synthetic_trails_real", "On the training classes, every 1x synthetic clone trails the real training set.",
            "Sec. 5.1, Table 1 rows 1-9", "tab1_prompts", TOP1, "real minus each 1x clone", "both", 1.0, POINT),
    Finding("more_images_help", "More synthetic images help on the training classes.",
            "Sec. 5.1, Table 1 rows 8, 10-12", "fig4_scaling", TOP1, "slope per doubling of the clone size, from 1x up",
            "trend", 0.3, "0.3 points per doubling: the paper's +8.5 points over 1x to 50x (1.5 per doubling) scaled by "
            "the miniature's gaps, about a fifth", unit="points per doubling"),
    Finding("more_images_transfer_better", "Generating 10x more images lets the synthetic model outperform the real one in transfer, and the gains increase with more images.",
            "Sec. 5.3, Fig. 4", "fig4_scaling", TRANSFER,
            "10x clone minus real, and the slope per doubling of the clone size from 1x up", "both", 1.0,
            POINT_T + "; slope: 0.3 points per doubling"),
    Finding("synthetic_beats_real_transfer", "An encoder trained on a synthetic clone of the real set's size transfers better than one trained on the real set.",
            "Sec. 5.3, Table 2 rows 4, 8", "tab2_transfer", TRANSFER, "1x clone minus real", "greater", 1.0, POINT_T),
    Finding("trained_beats_random_transfer", "Representations learned on synthetic images transfer far better than random weights.",
            "Sec. 5.3, Table 2 row 1", "tab2_transfer", TRANSFER,
            "1x clone's encoder minus the same network at its initialisation (its own seed)", "large", 5.0,
            "5 points: far better than random weights, as the paper's 42 to 52 points (Table 2) scaled by a fifth"),
    Finding("synthetic_outperforms_real_under_shift", "Several synthetic-trained models outperform the real-trained one on ImageNet-Sketch and ImageNet-R.",
            "Sec. 5.2, Table 1 (IN-Sketch, IN-R)", "domain_shift",
            "top-1 on the sketch- and rendition-like shifted tests (%)",
            "on each shifted test, some 1x clone minus real (Holm over the clones of each test)", "both", 1.0, POINT),
    Finding("multicrop_helps", "Multi-crop augmentation gives large performance gains to models trained on synthetic images.",
            "Sec. 5 (setup) and supplementary", "ablations", TOP1, "with local crops minus without, same clone", "large", 2.0,
            "2 points: large, twice the smallest prompt effect of interest"),
    Finding("name_beats_clip_template", "The class name alone makes better prompts than CLIP's template \"a photo of a c\".",
            "Sec. 4.1", "ablations", TOP1, "prompt c minus prompt \"a photo of a c\", same guidance", "greater", 1.0, POINT),
    Finding("guidance_trades_fidelity_for_diversity", "The guidance scale trades sample quality (fidelity) for diversity.",
            "Sec. 4.3", "ablations", "judge fidelity and diversity along the guidance sweep",
            "slopes against log2 of the guidance scale: fidelity rising, diversity falling", "both", 0.3,
            DIVERSITY + " (per doubling of the guidance scale); fidelity: " + FIDELITY, unit="judge units per doubling"),
    Finding("guidance_two_best", "Guidance 2.0 gives the best overall performance of the guidance scales trained.",
            "Sec. 5.1 (d) and the supplementary's guidance ablation", "ablations", TOP1,
            "guidance 2.0 minus each other trained scale (1.0 and 7.5)", "both", 1.0, POINT),
    Finding("steps_enough", "The default number of diffusion steps is enough: more steps do not make more faithful images.",
            "Sec. 5 (50 steps throughout) and the supplementary's steps ablation", "ablations",
            "judge fidelity (share judged as the prompt's class)", "the most steps swept minus the preset's steps",
            "at_most", 0.02, FIDELITY, unit="of images"),
    Finding("gap_narrows_in_transfer", "Training on a synthetic clone of the real set's size costs accuracy on the training classes, and much less in transfer.",
            "Sec. 1, Fig. 1", "fig1_spider", "real-minus-synthetic gap in top-1 (points), 1x clone",
            "gap on the training classes; that gap minus the gap left in transfer", "both", 1.0, POINT),
    Finding("matched_backgrounds_help", "Backgrounds matched to the class beat randomly drawn ones.",
            "Sec. 4.3 (future work), beyond the paper", "matched_backgrounds", TOP1,
            "prompt c, h_c inside b with matched scenes minus with random scenes, averaged over guidance scales",
            "greater", 1.0, POINT),
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
    estimate: dict | None = None  # the Estimate (to_dict) the verdict rests on, None when not tested
    evidence: dict = field(default_factory=dict)  # per-seed values, parts, what each side saw, the test set
    reason: str = ""  # why it cannot be tested, or what the verdict rests on
    paper: str = ""  # the paper's own value for the comparison the run stands for
    unit: str = "points"
    sesoi: float = 0.0  # the smallest effect of interest
    sesoi_reason: str = ""
    p: float | None = None  # two-sided p-value of the decision reached or nearest (for Holm over the findings)
    seeds_to_decide: int | None = None  # when inconclusive: seeds that would decide it at this effect and deviation
    df: float | None = None
    method: str = ""  # how the error was estimated (stats)

    def to_dict(self) -> dict:
        """The verdict as a plain dict (what `_build/findings.json` holds)."""
        return asdict(self)

    def sentence(self) -> str:
        """The page's wording: the claim, its verdict at this scale, and what the verdict rests on."""
        claim = self.claim[0].lower() + self.claim[1:].rstrip(".")
        if self.verdict == UNTESTABLE:
            return f"The paper's finding that {claim} {VERB[UNTESTABLE]} at the {self.scale} scale: {self.reason.rstrip('.')}."
        est = self.estimate
        d = digits(self.unit)
        detail = f"{self.comparison}: {est['mean']:+.{d}f} {self.unit}"
        if est.get("low") is not None:
            detail += f", 95% interval [{est['low']:+.{d + 1}f}, {est['high']:+.{d + 1}f}]"
        detail += f", {self.n_seeds} seeds" + (f", {self.df:g} degrees of freedom ({self.method})" if self.df else "")
        detail += f"; smallest effect of interest {amount(self.sesoi, self.unit)}"
        if self.reason:
            detail += f"; {self.reason}"
        if self.verdict == INCONCLUSIVE:
            detail += ("; " + (f"about {self.seeds_to_decide} seeds would decide it at this effect and seed deviation"
                               if self.seeds_to_decide else "no practical number of seeds would decide it at this effect"))
        rule = RULES_SHORT[self.rule].format(d=f"{self.sesoi:g}")
        return f"The paper's finding that {claim} {VERB[self.verdict]} at the {self.scale} scale ({detail}; {rule})."


def digits(unit: str) -> int:
    """Decimals a value in `unit` is shown with: points 1, judge units and points² 2, shares ("of ...") 3."""
    return 3 if unit.startswith("of ") else 2 if unit.startswith("judge") or unit == "points²" else 1


def amount(value: float, unit: str) -> str:
    """`value unit` as a sentence says it: `1 point`, `1 point per doubling`, `2 points`, `0.3 judge units`."""
    if value == 1 and unit.startswith("points"):
        unit = "point" + unit[len("points"):]
    return f"{value:g} {unit}"


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


# ----------------------------------------------------------------------------------------------------------------
# Deciding


def thresholds(rule: str, sesoi: float) -> tuple[float, float]:
    """(bound the interval must clear upwards to hold, bound it must stay under to fail) of a one-part rule."""
    if rule in ("greater", "trend"):
        return 0.0, sesoi
    if rule == "large":
        return sesoi, sesoi
    raise FakeitError(f"rule {rule!r} has no thresholds of its own")


def decide(rule: str, est: Estimate, sesoi: float) -> tuple[str, float, int | None]:
    """(verdict, two-sided p of the decision reached or nearest, seeds that would decide it) of a one-part rule."""
    if est.low is None:
        return INCONCLUSIVE, 1.0, None
    if rule == "at_most":  # the claim: the effect stays below the smallest effect of interest
        p_hold, p_fail = est.p_below(sesoi), est.p_above(sesoi)
        verdict = HOLDS if est.high < sesoi else FAILS if est.low > sesoi else INCONCLUSIVE
        needed = est.seeds_to_decide(sesoi, sesoi) if verdict == INCONCLUSIVE else None
        return verdict, min(1.0, 2 * min(p_hold, p_fail)), needed
    hold_at, fail_at = thresholds(rule, sesoi)
    p_hold, p_fail = est.p_above(hold_at), est.p_below(fail_at)
    verdict = HOLDS if est.low > hold_at else FAILS if est.high < fail_at else INCONCLUSIVE
    needed = est.seeds_to_decide(hold_at, fail_at) if verdict == INCONCLUSIVE else None
    return verdict, min(1.0, 2 * min(p_hold, p_fail)), needed


@dataclass
class Part:
    """One part of a composite claim: its own effect, rule and smallest effect of interest; or itself a composite of
    `parts` under rule both or any (e.g. "on Sketch and on R, some clone beats real")."""

    name: str
    estimate: Estimate | None
    rule: str = "greater"
    sesoi: float = 0.0
    unit: str = "points"
    evidence: dict = field(default_factory=dict)
    parts: list["Part"] | None = None

    def decision(self) -> tuple[str, float, int | None, float, float]:
        """(verdict, p, seeds to decide, one-sided p of holding, one-sided p of failing)."""
        if self.parts is not None:
            verdict, p_hold, p_fail, needed, shown = combine(self.rule, self.parts)
            self.estimate = shown.estimate
            return verdict, min(1.0, 2 * min(p_hold, p_fail)), needed, p_hold, p_fail
        verdict, p, needed = decide(self.rule, self.estimate, self.sesoi)
        est = self.estimate
        if self.rule == "at_most":
            return verdict, p, needed, est.p_below(self.sesoi), est.p_above(self.sesoi)
        hold_at, fail_at = thresholds(self.rule, self.sesoi)
        return verdict, p, needed, est.p_above(hold_at), est.p_below(fail_at)

    def to_dict(self, verdict: str) -> dict:
        """What findings.json records of the part."""
        out = {"verdict": verdict, "estimate": self.estimate.to_dict() if self.estimate else None,
               "smallest effect of interest": self.sesoi, "unit": self.unit, **self.evidence}
        if self.parts is not None:
            out["rule"] = self.rule
            out["parts"] = {q.name: q.to_dict(q.decision()[0]) for q in self.parts}
        return out


def combine(rule: str, parts: list[Part]) -> tuple[str, float, float, int | None, Part]:
    """(verdict, one-sided p of holding, of failing, seeds to decide, the part whose estimate is shown) of parts
    under rule `both` (every part must hold; intersection-union) or `any` (some part must hold, Holm over them)."""
    if not parts:
        raise FakeitError(f"rule {rule} needs at least one part")
    decisions = [q.decision() for q in parts]
    verdicts = [d[0] for d in decisions]
    if rule == "both":
        verdict = FAILS if FAILS in verdicts else HOLDS if all(v == HOLDS for v in verdicts) else INCONCLUSIVE
        p_hold, p_fail = max(d[3] for d in decisions), min(d[4] for d in decisions)
        order = sorted(range(len(parts)), key=lambda i: (verdicts[i] != FAILS, -decisions[i][3]))
        shown = parts[order[0]]  # the failing part, else the weakest
    elif rule == "any":
        k = len(parts)
        strongest = int(np.argmin([d[3] for d in decisions]))
        holds = decisions[strongest][3] <= (ALPHA / 2) / k  # Holm's first step: the strongest part against alpha / k
        verdict = HOLDS if holds else FAILS if all(v == FAILS for v in verdicts) else INCONCLUSIVE
        p_hold, p_fail = min(1.0, k * decisions[strongest][3]), max(d[4] for d in decisions)
        shown = parts[strongest]
    else:
        raise FakeitError(f"rule {rule!r} is not a composite one; valid: both, any")
    undecided = [d[2] for d in decisions if d[0] == INCONCLUSIVE and d[2] is not None]
    needed = max(undecided) if verdict == INCONCLUSIVE and undecided else None
    return verdict, p_hold, p_fail, needed, shown


def _verdict(f: Finding, verdict: str, scale: str, est: Estimate | None, evidence: dict, reason: str = "",
             paper: str = "", p: float | None = None, needed: int | None = None) -> Verdict:
    return Verdict(f.id, f.claim, f.source, f.chapter, f.metric, f.comparison, f.rule, verdict, scale,
                   est.n if est else 0, est.to_dict() if est else None, evidence, reason, paper, f.unit, f.sesoi,
                   f.sesoi_reason, p, needed, est.df if est else None, est.method if est else "")


def check(finding_id: str, est: Estimate, scale: str, evidence: dict | None = None, paper: str = "",
          reason: str = "") -> Verdict:
    """The verdict of a one-part finding (rules greater, large, trend, at_most) on an estimated effect."""
    f = finding(finding_id)
    verdict, p, needed = decide(f.rule, est, f.sesoi)
    if est.low is None and not reason:
        reason = "one seed gives no interval"
    return _verdict(f, verdict, scale, est, evidence or {}, reason, paper, p if est.low is not None else None, needed)


def check_parts(finding_id: str, parts: list[Part], scale: str, evidence: dict | None = None, paper: str = "") -> Verdict:
    """The verdict of a composite finding: rule `both` (every part must hold) or `any` (some part must hold, Holm's
    correction over the parts); parts may be composites themselves."""
    f = finding(finding_id)
    verdict, p_hold, p_fail, needed, shown = combine(f.rule, parts)
    verdicts = [q.decision()[0] for q in parts]
    has_interval = all(q.estimate is not None and q.estimate.low is not None for q in parts)
    reason = "; ".join(f"{q.name}: {v}, {q.estimate.text(digits(q.unit), signed=True)} {q.unit}"
                       for q, v in zip(parts, verdicts))
    ev = {q.name: q.to_dict(v) for q, v in zip(parts, verdicts)}
    p = min(1.0, 2 * min(p_hold, p_fail)) if has_interval else None
    return _verdict(f, verdict, scale, shown.estimate, {**ev, **(evidence or {})}, reason, paper, p, needed)


def cannot_test(finding_id: str, scale: str, reason: str, paper: str = "", evidence: dict | None = None) -> Verdict:
    """The verdict of a finding the run cannot test, with the reason."""
    return _verdict(finding(finding_id), UNTESTABLE, scale, None, evidence or {}, reason, paper)


def paired(a: list[float], b: list[float]) -> Estimate:
    """a - b per seed (or per image sample), with a Student-t interval and the two arms' correlation."""
    from .stats import correlation

    return estimate_from_values(paired_differences(a, b), "paired", correlation(a, b))


def testability(share: float, what: str) -> str | None:
    """Why a prompt comparison cannot be tested (the generator barely reacts to it), or None when it can: `share` is
    the same-seed distance between the two prompts' images over the distance between two seeds of one prompt."""
    if share >= SENSITIVITY_MIN:
        return None
    return (f"the generator barely reacts to {what} (same-seed images differ by {100 * share:.0f}% of a seed change, "
            f"below the {100 * SENSITIVITY_MIN:.0f}% a comparison needs), so a model trained on either clone sees "
            "nearly the same images")


# ----------------------------------------------------------------------------------------------------------------
# Summaries


def table(verdicts: list[Verdict]) -> list[dict]:
    """Rows (finding, source, verdict, estimate, seeds, paper's value) for a page's summary table."""
    rows = []
    for v in verdicts:
        rows.append({"finding": v.claim, "paper": v.source, "verdict": v.verdict,
                     "this run": estimate_text(v.to_dict()), "smallest effect of interest": amount(v.sesoi, v.unit),
                     "paper's value": v.paper or "-", "seeds": v.n_seeds})
    return rows


def summary_counts(verdicts: list[Verdict] | list[dict]) -> dict[str, int]:
    """How many verdicts of each kind."""
    kinds = [v["verdict"] if isinstance(v, dict) else v.verdict for v in verdicts]
    return {k: sum(v == k for v in kinds) for k in VERDICTS}


def holm(verdicts: list[dict], alpha: float = ALPHA) -> list[str]:
    """Each verdict after Holm's step-down correction over the tested ones (family-wise error `alpha`): a decisive
    verdict stays when its p-value clears alpha / (number of tests left), in order of p; the others become
    inconclusive. Untested findings stay as they are."""
    out = [v["verdict"] for v in verdicts]
    tested = sorted((v["p"], i) for i, v in enumerate(verdicts) if v["verdict"] != UNTESTABLE and v.get("p") is not None)
    k = len(tested)
    stopped = False
    for rank, (p, i) in enumerate(tested):
        if stopped or p > alpha / (k - rank):
            stopped = True
            if out[i] in (HOLDS, FAILS):
                out[i] = INCONCLUSIVE
    for i, v in enumerate(verdicts):  # a tested finding without a p-value (no interval) is never decisive
        if v["verdict"] in (HOLDS, FAILS) and v.get("p") is None:
            out[i] = INCONCLUSIVE
    return out


# ----------------------------------------------------------------------------------------------------------------
# The paper's own values


def spread_ss(values: list[float]) -> float:
    """The sum of squared deviations of a few values from their mean."""
    x = np.asarray(values, float)
    return float(((x - x.mean()) ** 2).sum())


def paper_value(finding_id: str, train: str = "imagenet100", variants: tuple[str, ...] | list[str] | None = None) -> str:
    """The paper's own value for a finding's comparison, computed from its tables (`data/paper_results.yaml`) for the
    training set the run stands for; `variants`: the prompt variants this run averages over (default: Table 1's)."""
    from .results import VARIANT_NAMES, paper_rows, table1_value

    finding(finding_id)
    variants = tuple(v for v in (variants or ("c", "c_hc", "c_dc", "c_hc_inside_b"))
                     if v in ("c", "c_hc", "c_dc", "c_hc_inside_b"))
    tag = {"imagenet100": "IN-100", "imagenet1k": "IN-1K"}[train]

    def top1(v, g, m=1.0, column="in_val_top1"):
        return table1_value(train, v, g, column, m)

    qualitative = {
        "low_guidance_diverse": "shown qualitatively (Fig. 2), no number",
        "definition_richer_images": "shown qualitatively (Fig. 2b, 2d), no number",
        "hypernym_richer_images": "shown qualitatively (Fig. 2b, 2c), no number",
        "guidance_trades_fidelity_for_diversity": "stated (Sec. 4.3), no number",
        "guidance_two_best": "Table 1's best rows are at 2.0 (Sec. 5.1 (d)); the guidance ablation is in the supplementary, not transcribed here",
        "steps_enough": "50 steps throughout; the steps ablation is in the supplementary, not transcribed here",
        "multicrop_helps": "\"large performance gains\" (Sec. 5); the numbers are in the supplementary, not transcribed here",
        "name_beats_clip_template": "stated without a number (Sec. 4.1)",
        "matched_backgrounds_help": "not measured in the paper (its Sec. 4.3 future work)",
    }
    if finding_id in qualitative:
        return qualitative[finding_id]
    if train == "imagenet100" and finding_id == "low_guidance_better":
        d = np.mean([top1(v, 2.0) for v in variants]) - np.mean([top1(v, 7.5) for v in variants])
        return f"{d:+.1f} points ({tag} val top-1, Table 1, prompts {', '.join(VARIANT_NAMES.get(v, v) for v in variants)})"
    if train == "imagenet1k" and finding_id == "low_guidance_better":  # one prompt at both scales in IN-1K's rows
        return f"{top1('c_dc', 2.0) - top1('c_dc', 7.5):+.1f} points ({tag} val top-1, Table 1 rows 15 and 17, prompt class name + definition)"
    if train == "imagenet100" and finding_id == "definition_beats_name":
        return f"{top1('c_dc', 7.5) - top1('c', 7.5):+.1f} points ({tag} val top-1, Table 1 rows 4 and 2)"
    if train == "imagenet100" and finding_id == "hypernym_beats_name":
        return f"{top1('c_hc', 7.5) - top1('c', 7.5):+.1f} points ({tag} val top-1, Table 1 rows 3 and 2)"
    if train == "imagenet100" and finding_id == "prompt_matters_less_low_guidance":
        d = spread_ss([top1(v, 7.5) for v in variants]) - spread_ss([top1(v, 2.0) for v in variants])
        return f"{d:+.1f} points² ({tag} val top-1, Table 1, prompts {', '.join(VARIANT_NAMES.get(v, v) for v in variants)})"
    if train == "imagenet100" and finding_id == "backgrounds_help_high_guidance":
        return f"{top1('c_hc_inside_b', 7.5) - top1('c_hc', 7.5):+.1f} points ({tag} val top-1, Table 1 rows 5 and 3)"
    if finding_id == "synthetic_trails_real":
        clones = [r["in_val_top1"] for r in paper_rows("table1", train=train, data="synthetic", scale=1)]
        real = paper_rows("table1", train=train, data="real")[0]["in_val_top1"]
        return f"{real - max(clones):+.1f} to {real - min(clones):+.1f} points ({tag} val top-1, every 1x clone of Table 1)"
    if train == "imagenet100" and finding_id == "more_images_help":
        rows = paper_rows("table1", train=train, data="synthetic", variant="c_dc", guidance=2.0)
        s = slope([math.log2(r["scale"]) for r in rows], [r["in_val_top1"] for r in rows])
        return f"{s:+.1f} points per doubling ({tag} val top-1, 1x to 50x, Table 1 rows 8, 10-12)"
    if train == "imagenet100" and finding_id == "more_images_transfer_better":
        real = paper_rows("table2", train=train, data="real")[0]["average"]
        syn = max(r["average"] for r in paper_rows("table2", train=train, data="synthetic"))
        return (f"10x above real in Fig. 4 (no number in the text); {syn - real:+.1f} points at 50x ({tag}, 10-dataset "
                "average, Table 2 rows 3 and 2)")
    if finding_id == "synthetic_beats_real_transfer":
        real, syn = paper_rows("table2", row=4)[0]["average"], paper_rows("table2", row=8)[0]["average"]
        in1k = f"{syn - real:+.1f} points for ImageNet-1K (Table 2 rows 8 and 4)"
        if train == "imagenet100":
            return f"below real at 1x for ImageNet-100 (Fig. 4, no number in the text); {in1k}"
        return in1k
    if finding_id == "trained_beats_random_transfer":
        random = paper_rows("table2", row=1)[0]["average"]
        if train == "imagenet100":
            syn = max(r["average"] for r in paper_rows("table2", train=train, data="synthetic"))
            return f"{syn - random:+.1f} points ({tag}-SD 50x against random weights, Table 2 rows 3 and 1)"
        return f"{paper_rows('table2', row=8)[0]['average'] - random:+.1f} points ({tag}-SD against random weights, Table 2 rows 8 and 1)"
    if finding_id == "synthetic_outperforms_real_under_shift":
        real = paper_rows("table1", train=train, data="real")[0]
        clones = paper_rows("table1", train=train, data="synthetic", scale=1)
        parts = []
        for column, name in (("in_sketch_top1", "Sketch"), ("in_r_top1", "R")):
            best = max(clones, key=lambda r: r[column])
            wins = sum(r[column] > real[column] for r in clones)
            parts.append(f"{name} {best[column] - real[column]:+.1f} (best: row {best['row']}; {wins} of {len(clones)} clones above real)")
        return f"{'; '.join(parts)} points ({tag}, Table 1)"
    if finding_id == "gap_narrows_in_transfer":
        t1r, t1s = paper_rows("table1", row=13)[0]["in_val_top1"], paper_rows("table1", row=17)[0]["in_val_top1"]
        t2r, t2s = paper_rows("table2", row=4)[0]["average"], paper_rows("table2", row=8)[0]["average"]
        return (f"IN-1K: val top-1 gap {t1r - t1s:+.1f}, transfer gap {t2r - t2s:+.1f} points (Tables 1-2 rows 13/17, 4/8)")
    return "not reported for this training set"
