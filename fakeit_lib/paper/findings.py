"""The engine that decides the registry's findings (`claims`): a chapter estimates an effect with its 95% interval
(`stats`: the seed error pooled over the chapter's models where they share a recipe) and calls the finding's rule,
which returns a `Verdict`:
- **holds**: the interval lies above 0 (above the smallest effect of interest for a claim of a *large* effect);
- **holds, below the smallest effect of interest**: above 0 and below that bound at once (an effect, too small to
  matter), counted apart from both;
- **does not hold**: the interval lies below the smallest effect of interest: any effect is too small to matter,
  or reversed (for a claim that an effect stays *small*, `at_most`: the interval lies above it);
- **inconclusive** otherwise, with how many seeds would decide it at the observed effect and deviations (at the
  level the introduction's count needs), or that no number of training seeds can (the draw of a clone);
- **cannot be tested** at that scale, with the reason (e.g. the generator barely reacts to the prompt difference
  compared: `testability`).
Each verdict records its p-value for the decision it reached or came closest to, so that the introduction's count
can control the family-wise error over the paper's findings (Holm, `summary`). The pages' wording comes from
`Verdict.sentence()`. How often each rule errs is measured by simulation (`calibration`).
"""

from __future__ import annotations

import re

from dataclasses import asdict, dataclass, field

import numpy as np

from ..core.errors import FakeitError
from .claims import FINDINGS, PAPER_GROUP, RULES_SHORT, SETS, Finding, finding
from .stats import ALPHA, Estimate, correlation, estimate_from_values, paired_differences

HOLDS, FAILS, INCONCLUSIVE, UNTESTABLE = "holds", "does not hold", "inconclusive", "cannot be tested"
SMALL = "holds, below the smallest effect of interest"  # an effect above 0 whose whole interval is too small to matter
VERDICTS = (HOLDS, SMALL, FAILS, INCONCLUSIVE, UNTESTABLE)
VERB = {HOLDS: "**holds**", SMALL: "**holds, below the smallest effect of interest**", FAILS: "**does not hold**", INCONCLUSIVE: "is **inconclusive**", UNTESTABLE: "**cannot be tested**"}
# A prompt (or background) comparison is read beside the generator's measured reaction to it: the same-seed pixel
# distance between the compared prompts' images as a share of the distance between two seeds of one prompt. Below
# this share the prompt changes an image less than a tenth of what a new seed does: the verdict is still computed
# where both clones' models are trained, and a null there speaks of this generator, not of the paper's.
SENSITIVITY_MIN = 0.10


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
    p: float | None = None  # two-sided p-value of the decision reached or nearest: 2 x the smaller one-sided p (Holm's)
    p_hold: float | None = None  # one-sided p of holding (Holm keeps whichever direction survives)
    p_fail: float | None = None  # one-sided p of failing
    seeds_to_decide: int | None = None  # when inconclusive: seeds that would decide it at this effect and deviation
    seeds_cannot_decide: bool = False  # when inconclusive: the draw variance alone keeps it so, whatever the seeds
    df: float | None = None
    method: str = ""  # how the error was estimated (stats)
    group: str = PAPER_GROUP  # the paper's own claims (Holm's family over them), or beyond the paper
    made_for: str = ""  # the training set(s) the paper makes the claim for (its value above is from that row)

    def to_dict(self) -> dict:
        """The verdict as a plain dict (what `_build/findings.json` holds)."""
        return asdict(self)

    def sentence(self) -> str:
        """The page's wording: the claim, its verdict at this scale, and what the verdict rests on."""
        first = self.claim.split(" ", 1)[0]  # lower-cased as a sentence's inside, unless a name ("ImageNet-v2", "CLIP")
        claim = (self.claim[0].lower() + self.claim[1:] if first[1:] == first[1:].lower() else self.claim).rstrip(".")
        if self.made_for:  # the training set(s) the paper makes it for
            claim += f" (the paper: {self.made_for})"
        if self.verdict == UNTESTABLE:
            return f"The paper's finding that {claim} {VERB[UNTESTABLE]} at the {self.scale} scale: {self.reason.rstrip('.')}."
        est = self.estimate
        plain = self.to_dict()
        part, unit, least = shown_measure(plain)  # a composite shows one part, in that part's unit
        n_unit = replicates(plain)  # seeds, or image samples
        d = digits(unit)
        detail = f"{self.comparison}: " + (f"{part} " if part else "") + f"{est['mean']:+.{d}f} {unit}"
        if est.get("low") is not None:
            detail += f", 95% interval [{est['low']:+.{d}f}, {est['high']:+.{d}f}]"
        df = round(self.df, 1) if self.df else None  # a Satterthwaite df (0.801665) read as 0.8
        detail += f", {self.n_seeds} {n_unit}" + (
            f", {df:g} degree{'' if df == 1 else 's'} of freedom ({method_words(self.method)})" if df else "")
        detail += f"; smallest effect of interest {amount(least, unit)}"
        if self.reason:
            detail += f"; {self.reason}"
        if self.verdict == INCONCLUSIVE:
            detail += "; " + seeds_text(self.seeds_to_decide, self.seeds_cannot_decide, self.group, n_unit)
        rule = RULES_SHORT[self.rule].format(d=f"{self.sesoi:g}")
        return f"The paper's finding that {claim} {VERB[self.verdict]} at the {self.scale} scale ({detail}; {rule})."


def method_words(method: str) -> str:
    """How an error was estimated, for a sentence without brackets in brackets: `blocked + draw variance (4 draws)` ->
    `blocked, plus the variance between 4 draws`; `noncentral chi-square variance (blocked error)` -> `noncentral
    chi-square variance; its error blocked` (findings.json keeps the method as the statistics named it)."""
    method = re.sub(r" \+ draw variance \((\d+) draws\)", r", plus the variance between \1 draws", method)
    return re.sub(r"^(noncentral chi-square variance) \((.+) error\)$", r"\1; its error \2", method)


def replicates(verdict: dict) -> str:
    """What a verdict's n counts, in words: "image samples" where it was measured on disjoint samples of generated
    images (the judge's fidelity and diversity, which train no model), else "seeds" (one trained model each)."""
    return "image samples" if "samples" in (verdict.get("evidence") or {}) else "seeds"


def seeds_text(needed: int | None, floor: bool, group: str = PAPER_GROUP, unit: str = "seeds") -> str:
    """What more training seeds (or image samples: `unit`) could do for an inconclusive verdict, in words (at the
    level its decision needs: the paper's findings after Holm's correction over them, one beyond the paper at 95% on
    its own)."""
    if floor:
        return ("more training seeds would not decide this, since the variance of drawing each clone stays in its "
                "error; more draws of each clone would")
    if needed:
        level = ("at the level Holm's correction over the paper's findings needs" if group == PAPER_GROUP else
                 "at 95%, the level of a finding beyond the paper")
        return f"about {needed} {unit} would decide it at this effect and deviation, {level}"
    return f"no practical number of {unit} would decide it at this effect"


def digits(unit: str) -> int:
    """Decimals a value in `unit` is shown with: points 1, judge units and points² 2, shares ("of ...") 3."""
    return 3 if unit.startswith("of ") else 2 if unit.startswith("judge") or unit == "points²" else 1


def amount(value: float, unit: str) -> str:
    """`value unit` as a sentence says it: `1 point`, `1 point per doubling`, `2 points`, `0.3 judge units`."""
    if value == 1 and unit.startswith("points"):
        unit = "point" + unit[len("points"):]
    return f"{value:g} {unit}"


def shown_measure(verdict: dict) -> tuple[str, str, float | None]:
    """(name, unit, smallest effect of interest) of the estimate a verdict's dict shows: a composite finding shows
    one of its parts (`evidence["shown part"]`), in that part's unit and with its smallest effect; the part is named
    where its unit is not the finding's (a fidelity share under a finding in judge units), else the name is ""."""
    part = (verdict.get("evidence") or {}).get("shown part")
    if part:
        named = part["name"] if part["unit"] != verdict.get("unit", "") else ""
        return named, part["unit"], part["smallest effect of interest"]
    return "", verdict.get("unit", ""), verdict.get("sesoi")


def estimate_text(verdict: dict) -> str:
    """`mean [low, high] unit` of a verdict's dict (as in findings.json), or a dash when it was not tested; a
    composite finding's shown part in its own unit, named where that unit is not the finding's
    (`fidelity: +0.037 [+0.015, +0.058] of images`)."""
    est = verdict.get("estimate")
    if not est:
        return "–"
    name, unit, _ = shown_measure(verdict)
    d = digits(unit)
    text = f"{est['mean']:+.{d}f}"
    if est.get("low") is not None:
        text += f" [{est['low']:+.{d}f}, {est['high']:+.{d}f}]"
    return f"{name}: {text} {unit}" if name else f"{text} {unit}"


def thresholds(rule: str, sesoi: float) -> tuple[float, float]:
    """(bound the interval must clear upwards to hold, bound it must stay under to fail) of a one-part rule."""
    if rule in ("greater", "trend"):
        return 0.0, sesoi
    if rule == "large":
        return sesoi, sesoi
    if rule == "not_worse":
        return -sesoi, -sesoi
    raise FakeitError(f"rule {rule!r} has no thresholds of its own")


def one_sided(rule: str, est: Estimate, sesoi: float) -> tuple[float, float]:
    """(one-sided p of holding, of failing) of a one-part rule: the chance of an interval this far on either side if
    the effect sat exactly at the bound it must clear."""
    if rule == "at_most":  # the claim: the effect stays below the smallest effect of interest
        return est.p_below(sesoi), est.p_above(sesoi)
    hold_at, fail_at = thresholds(rule, sesoi)
    return est.p_above(hold_at), est.p_below(fail_at)


def verdict_of(holds: bool, fails: bool) -> str:
    """The verdict of one-sided decisions: both (an effect above 0 and below the smallest of interest) is its own."""
    return SMALL if holds and fails else HOLDS if holds else FAILS if fails else INCONCLUSIVE


def family_level(tested: int | None = None) -> float:
    """The one-sided level the introduction decides each finding at after Holm, at worst (its first step, a
    Bonferroni share of the paper's `tested` findings; a page, before the build's count is known, assumes every paper
    finding tested, and the count recomputes it: `summary.with_holm`): what seeds-to-decide counts at."""
    return ALPHA / 2 / (tested or sum(f.group == PAPER_GROUP for f in FINDINGS.values()))


def seeds_level(f: Finding) -> float:
    """The one-sided level a finding's seeds-to-decide counts at: the paper's findings at the family's (Holm over
    them), a finding beyond the paper at its own 95% (it is tested apart, outside that family)."""
    return family_level() if f.group == PAPER_GROUP else ALPHA / 2


def seeds_needed(rule: str, est: Estimate, sesoi: float, level: float) -> tuple[int | None, bool]:
    """(seeds that would decide the rule at one-sided `level` at the observed effect and deviations, whether no
    number of training seeds can: the draw variance is the floor)."""
    above, below = (sesoi, sesoi) if rule == "at_most" else thresholds(rule, sesoi)
    return est.seeds_to_decide(above, below, level), est.seeds_cannot_decide(above, below, level)


def decide(rule: str, est: Estimate, sesoi: float, seeds: bool = True,
           level: float | None = None) -> tuple[str, float, int | None]:
    """(verdict, two-sided p of the decision reached or nearest, seeds that would decide it at one-sided `level`
    (default the introduction's), when `seeds`) of a one-part rule."""
    if est.low is None:
        return INCONCLUSIVE, 1.0, None
    p_hold, p_fail = one_sided(rule, est, sesoi)
    verdict = verdict_of(p_hold < ALPHA / 2, p_fail < ALPHA / 2)
    p = min(1.0, 2 * min(p_hold, p_fail))
    level = family_level() if level is None else level
    needed = seeds_needed(rule, est, sesoi, level)[0] if seeds and verdict == INCONCLUSIVE else None
    return verdict, p, needed


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
            verdict, p_hold, p_fail, needed, shown = combine(self.rule, self.parts, seeds=False)
            self.estimate = shown.estimate
            return verdict, min(1.0, 2 * min(p_hold, p_fail)), needed, p_hold, p_fail
        if self.estimate is None:
            raise FakeitError(f"part {self.name!r} has no estimate: a composite finding decides on measured parts only; "
                              "leave the part out, or report the finding as one that cannot be tested, saying why")
        verdict, p, needed = decide(self.rule, self.estimate, self.sesoi, seeds=False)
        if self.estimate.low is None:
            return verdict, p, needed, 1.0, 1.0
        return (verdict, p, needed) + one_sided(self.rule, self.estimate, self.sesoi)

    def needed(self, level: float) -> tuple[int | None, bool]:
        """(seeds that would decide this part at one-sided `level`, whether the draw variance forbids it)."""
        if self.parts is not None:
            return combine(self.rule, self.parts, level)[3], False
        if self.estimate is None or self.estimate.low is None:
            return None, False
        return seeds_needed(self.rule, self.estimate, self.sesoi, level)

    def to_dict(self, verdict: str) -> dict:
        """What findings.json records of the part."""
        out = {"verdict": verdict, "rule": self.rule, "estimate": self.estimate.to_dict() if self.estimate else None,
               "smallest effect of interest": self.sesoi, "unit": self.unit, **self.evidence}
        if self.parts is not None:
            out["parts"] = {q.name: q.to_dict(q.decision()[0]) for q in self.parts}
        return out


def combine(rule: str, parts: list[Part], level: float | None = None,
            seeds: bool = True) -> tuple[str, float, float, int | None, Part]:
    """(verdict, one-sided p of holding, of failing, seeds to decide at one-sided `level` (default the
    introduction's; None unless `seeds`), the part whose estimate is shown) of parts under rule `both` (every part
    must hold at 95% each, intersection-union; it fails when one part fails at alpha / 2k, Bonferroni over the k
    parts) or `any` (some part must hold, at alpha / 2k: Holm's first step; it fails when every part fails at 95%)."""
    if not parts:
        raise FakeitError(f"rule {rule} needs at least one part")
    level = family_level() if level is None else level
    decisions = [q.decision() for q in parts]
    k = len(parts)
    p_holds, p_fails = [d[3] for d in decisions], [d[4] for d in decisions]
    if rule == "both":
        p_hold, p_fail = max(p_holds), min(1.0, k * min(p_fails))
        verdict = verdict_of(p_hold < ALPHA / 2, p_fail < ALPHA / 2)
        weakest = int(np.argmax(p_holds))
        shown = parts[int(np.argmin(p_fails))] if verdict in (FAILS, SMALL) else parts[weakest]
        needed = [q.needed(level) for q in parts if q.decision()[0] != HOLDS] if seeds else []  # each must reach its own
        count = None if not needed or any(n is None for n, _ in needed) else max(n for n, _ in needed)
    elif rule == "any":
        strongest = int(np.argmin(p_holds))
        p_hold, p_fail = min(1.0, k * p_holds[strongest]), max(p_fails)
        verdict = verdict_of(p_hold < ALPHA / 2, p_fail < ALPHA / 2)
        shown = parts[strongest]
        count = parts[strongest].needed(level / k)[0] if seeds else None  # the strongest part alone decides it
    else:
        raise FakeitError(f"rule {rule!r} is not a composite one; valid: both, any")
    return verdict, p_hold, p_fail, count if verdict == INCONCLUSIVE else None, shown


def _verdict(f: Finding, verdict: str, scale: str, est: Estimate | None, evidence: dict, reason: str = "",
             paper: str = "", p: float | None = None, needed: int | None = None, floor: bool = False,
             sides: tuple[float, float] | None = None) -> Verdict:
    return Verdict(f.id, f.claim, f.source, f.chapter, f.metric, f.comparison, f.rule, verdict, scale,
                   est.n if est else 0, est.to_dict() if est else None, evidence, reason, paper, f.unit, f.sesoi,
                   f.sesoi_reason, p, *(sides if p is not None and sides else (None, None)), needed, floor,
                   est.df if est else None, est.method if est else "", f.group, SETS[f.made_for])


def check(finding_id: str, est: Estimate, scale: str, evidence: dict | None = None, paper: str = "",
          reason: str = "") -> Verdict:
    """The verdict of a one-part finding (rules greater, large, trend, at_most) on an estimated effect."""
    f = finding(finding_id)
    verdict, p, needed = decide(f.rule, est, f.sesoi, level=seeds_level(f))
    if est.low is None and not reason:
        reason = "one seed gives no interval"
    floor = verdict == INCONCLUSIVE and est.low is not None and seeds_needed(f.rule, est, f.sesoi, seeds_level(f))[1]
    return _verdict(f, verdict, scale, est, evidence or {}, reason, paper, p if est.low is not None else None, needed,
                    floor, one_sided(f.rule, est, f.sesoi) if est.low is not None else None)


def check_parts(finding_id: str, parts: list[Part], scale: str, evidence: dict | None = None, paper: str = "",
                note: str = "") -> Verdict:
    """The verdict of a composite finding: rule `both` (every part must hold) or `any` (some part must hold, Holm's
    correction over the parts); parts may be composites themselves."""
    f = finding(finding_id)
    verdict, p_hold, p_fail, needed, shown = combine(f.rule, parts, seeds_level(f))
    verdicts = [q.decision()[0] for q in parts]
    has_interval = all(q.estimate is not None and q.estimate.low is not None for q in parts)
    reason = "; ".join(_part_text(q, v, q is shown) for q, v in zip(parts, verdicts))
    reason += f"; {note}" if note else ""
    ev = {q.name: q.to_dict(v) for q, v in zip(parts, verdicts)}
    ev["shown part"] = {"name": shown.name, "smallest effect of interest": shown.sesoi, "unit": shown.unit}
    p = min(1.0, 2 * min(p_hold, p_fail)) if has_interval else None
    floor = verdict == INCONCLUSIVE and needed is None and any(
        q.needed(seeds_level(f))[1] for q, v in zip(parts, verdicts) if v != HOLDS)
    return _verdict(f, verdict, scale, shown.estimate, {**ev, **(evidence or {})}, reason, paper, p, needed, floor,
                    (p_hold, p_fail))


def _part_text(part: Part, verdict: str, shown: bool) -> str:
    """A composite's part in its reason: its verdict and its interval as the headline writes one (`mean [low, high]
    unit`), or, for the part the headline already shows, its verdict alone."""
    if shown:
        return f"{part.name}: {verdict}, its interval as above"
    e, d = part.estimate, digits(part.unit)
    interval = f" [{e.low:+.{d}f}, {e.high:+.{d}f}]" if e.low is not None else f" (n = {e.n}, no interval)"
    return f"{part.name}: {verdict}, {e.mean:+.{d}f}{interval} {part.unit}"


def cannot_test(finding_id: str, scale: str, reason: str, paper: str = "", evidence: dict | None = None) -> Verdict:
    """The verdict of a finding the run cannot test, with the reason."""
    return _verdict(finding(finding_id), UNTESTABLE, scale, None, evidence or {}, reason, paper)


def paired(a: list[float], b: list[float]) -> Estimate:
    """a - b per seed (or per image sample), with a Student-t interval and the two arms' correlation."""
    return estimate_from_values(paired_differences(a, b), "paired", correlation(a, b))


def sensitivity_note(share: float, what: str) -> str:
    """What the generator's measured reaction to a prompt change says about a verdict on it: shown beside every
    prompt verdict; below SENSITIVITY_MIN a null (inconclusive or does not hold) says this generator ignores the
    words, not that the paper's generator would."""
    note = f"measured: {what} moves the same-seed images by {100 * share:.0f}% of a seed change"
    if share >= SENSITIVITY_MIN:
        return note
    return (note + f", below {100 * SENSITIVITY_MIN:.0f}%: this generator barely reacts to the words, so a null here "
            "speaks of the generator, not of the prompt with Stable Diffusion")



def level_part(name: str, values: list[float], reported: float, tolerance: float, unit: str = "points") -> Part:
    """An equivalence with a reported level: our per-seed values minus the paper's `reported` number, within
    `tolerance` either side (two one-sided parts, both must hold: not below -tolerance, at most +tolerance). The
    paper's number is one run with no spread: it enters as a constant."""
    est = estimate_from_values([float(v) - reported for v in values], "seeds")
    ev = {"reported": reported, "ours per seed": [float(v) for v in values]}
    return Part(name, None, "both", tolerance, unit, ev, parts=[
        Part(f"{name}: above the paper's minus {tolerance:g}", est, "not_worse", tolerance, unit),
        Part(f"{name}: at most the paper's plus {tolerance:g}", est, "at_most", tolerance, unit)])


def paper_scale_levels(scale: str, class_set: str, test: str, class_name: str = "", test_name: str = "") -> str | None:
    """Why the paper's absolute levels cannot be compared with a run's, or None when they can: only a run at the
    paper scale on the paper's ImageNet training set, scored on ImageNet-val. The sentence names the class set and
    the test set in words when given (`Fashion-MNIST`, `its test split`)."""
    if scale == "paper" and class_set in ("imagenet100", "imagenet1k") and test == "val":
        return None
    return (f"the paper's levels are ImageNet accuracies under its recipe and this run trains on "
            f"{class_name or class_set} at the {scale} scale, tested on {test_name or test}; its numbers are not the "
            "paper's and are never compared with them")
