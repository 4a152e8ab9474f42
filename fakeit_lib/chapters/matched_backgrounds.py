"""Chapter matched_backgrounds (beyond the paper, its Sec. 4.3 future work): scenes matched to each class against
scenes drawn from all 365, at Table 1's guidance scales, one model per clone and training seed."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..core.errors import FakeitError
from ..datasets.classes import class_set_name, load_class_set, sample_classes
from ..experiments.params import PipelineParams, shared
from ..experiments.stages import DRAW_SETTING, model_runs_many
from ..experiments.table1 import test_set_name
from ..paper import findings as fd
from ..paper.results import VARIANT_NAMES, table1_row, train_set_of
from ..paper.stats import Family
from ..paper.tables import PAPER, interval_cell, interval_columns, seeds_note
from ..prompts.backgrounds import MATCHED_K, matched_frame
from ..prompts.variants import MATCHED
from ..experiments.table1 import NO_SCENES

RANDOM = "c_hc_inside_b"  # the paper's backgrounds: every image's scene from all 365, in turn
COMPARED = (RANDOM, MATCHED)
PAPER_VALUE = "not tested in the paper (named as future work in Sec. 4.3)"


@dataclass
class MatchedParams(PipelineParams):
    """Parameters of the matched-backgrounds chapter: the two background variants at Table 1's guidance scales."""

    guidances: list[float] = shared("guidances")  # as Table 1: 7.5 (default) and 2.0
    draws: int = shared("draws")  # draws of Table 1's drawn clone (c_dc at 2.0) measuring the variance of a draw; mini: 4

    def validate(self) -> None:
        super().validate()
        if not self.guidances or any(g < 0 for g in self.guidances):
            raise FakeitError(f"parameter guidances={self.guidances} must be non-empty, every scale >= 0")


def untestable_reason(p: MatchedParams) -> str | None:
    """Why this class set cannot show what a scene does (no background in its images), or None."""
    return NO_SCENES if p.class_set == "fashion-mnist" else None


def scene_table(p: MatchedParams, shown: int = 5, sample: int = 10) -> pd.DataFrame:
    """For a seeded sample of `sample` classes of the run's class set, the text each is matched by and its best
    `shown` scenes."""
    return matched_frame(sample_classes(load_class_set(p.class_set), sample, p.seed), shown)


def matched_runs(p: MatchedParams) -> dict:
    """Per (variant, guidance): the random- and the matched-background clone, trained per seed and evaluated; none
    when the class set cannot show a background (nothing is generated or trained then)."""
    if untestable_reason(p):
        return {}
    keys = [(v, float(g)) for g in p.guidances for v in COMPARED]
    return dict(zip(keys, model_runs_many(p, [(v, g, 1.0, {}) for v, g in keys])))


def draw_scores(p: MatchedParams, runs: dict) -> list[list[float]]:
    """Per draw of Table 1's drawn clone (c, d_c at 2.0, 1x; generation seeds seed, seed + 1, ...), its per-seed
    in-domain top-1: loaded from Table 1's models, not retrained. [] with draws 1 or when no clone was trained here
    (a class set without backgrounds)."""
    if p.draws < 2 or not runs:
        return []
    variant, guidance = DRAW_SETTING
    return [r.scores() for r in model_runs_many(p, [(variant, guidance, 1.0, {}, p.seed + d) for d in range(p.draws)])]


def draws_text(n: int, trained: bool = True) -> str:
    """What the error of the matched-minus-random effect holds, in one sentence (n: draws measured; `trained`: whether
    this run trained the page's clones at all)."""
    if not trained:
        return "no clone is trained for this class set, so there is no interval"
    if n >= 2:
        return (f"the interval includes the variation between clone draws: {n} draws of Table 1's drawn clone "
                "(generation seeds differ), each trained with the page's seeds, assumed the same for these clones")
    return ("no draw of a clone was measured (draws 1): the error is the seed error alone and covers less than 95% "
            "(each clone is one draw of its generator)")


def matched_frame_of_runs(p: MatchedParams, runs: dict) -> pd.DataFrame:
    """One row per clone: the paper's Table 1 value where it has one (random scenes only) beside this run's."""
    train = train_set_of(p.class_set)
    rows = []
    for (v, g), r in runs.items():
        paper = table1_row(train, "synthetic", v, g)
        test = next(iter(r.results[0]["datasets"]))
        rows.append({"backgrounds": "matched to the class" if v == MATCHED else "all 365 scenes, in turn",
                     "prompt": VARIANT_NAMES[v], "guidance": f"{g:g}", "paper row": paper["row"] if paper else "-",
                     f"{PAPER} IN-val top-1": paper["in_val_top1"] if paper else None,
                     f"this run: {test_set_name(test)} top-1": interval_cell(r.scores()), "seeds": len(r.seeds)})
    return pd.DataFrame(rows)


def show_runs(p: MatchedParams, runs: dict) -> None:
    """Display what the page trained: the table of clones and their figure, or, where nothing was trained at this
    scale, one line saying so (the section is never left without output)."""
    from IPython.display import Markdown, display

    if not runs:
        display(Markdown(f"Not trained at the {p.scale} scale: {untestable_reason(p) or 'no clone was trained'}."))
        return
    display(matched_frame_of_runs(p, runs).style.hide(axis="index"))
    matched_figure(p, runs).show()


def matched_figure(p: MatchedParams, runs: dict):
    """Bars of in-domain top-1 per guidance, random against matched scenes, with 95% error bars over seeds."""
    import plotly.express as px

    df = pd.DataFrame([{"backgrounds": "matched" if v == MATCHED else "random", "guidance": f"{g:g}",
                        **interval_columns(r.scores(), "top-1")} for (v, g), r in runs.items()])
    err = (df["top-1 high"] - df["top-1"]).fillna(0.0)
    fig = px.bar(df.assign(err=err), x="guidance", y="top-1", color="backgrounds", barmode="group", error_y="err",
                 labels={"top-1": f"top-1 on real test images (%), {p.scale} scale"},
                 title=f"Matched against random backgrounds at {p.scale} scale ({class_set_name(p.class_set)})")
    fig.update_layout(height=420)
    return fig


def matched_findings(p: MatchedParams, runs: dict, draws: list[list[float]] | None = None) -> list[fd.Verdict]:
    """The verdict of `matched_backgrounds_help` on this run's seeds (or why it cannot be tested); with `draws`
    (`draw_scores`, two or more), every clone's error carries the variance of a clone's draw."""
    reason = untestable_reason(p)
    if reason:
        return [fd.cannot_test("matched_backgrounds_help", p.scale, reason, PAPER_VALUE)]
    scales = [float(g) for g in p.guidances if (RANDOM, float(g)) in runs and (MATCHED, float(g)) in runs]
    if not scales:
        return [fd.cannot_test("matched_backgrounds_help", p.scale, "no guidance scale has both a matched and a random "
                               "background clone (guidances)", PAPER_VALUE)]
    label = lambda v, g: f"{'matched' if v == MATCHED else 'random'}@{g:g}"
    fam = Family("the page's clones", {label(v, g): r.scores() for (v, g), r in runs.items()})
    draws = draws or []
    if len(draws) >= 2:
        fam.add_draws(draws, set(fam.values))
    est = fam.mean_difference([label(MATCHED, g) for g in scales], [label(RANDOM, g) for g in scales])
    first = runs[(MATCHED, scales[0])]
    evidence = {"guidances": scales, "test": next(iter(first.results[0]["datasets"])),
                "a saw": f"{first.images} images a clone, each class's {MATCHED_K} matched scenes",
                "b saw": f"{runs[(RANDOM, scales[0])].images} images a clone, scenes from all 365 in turn",
                "error": draws_text(len(draws))}
    return [fd.check("matched_backgrounds_help", est, p.scale, evidence, PAPER_VALUE)]


def runs_note(p: MatchedParams, runs: dict) -> str:
    """What this page trained, in one sentence."""
    if not runs:
        return (f"Nothing was generated or trained for the {class_set_name(p.class_set)} classes: {untestable_reason(p)}; the verdict "
                "below says so instead of comparing models that cannot differ.")
    return (f"This run: {len(runs)} clones of the {class_set_name(p.class_set)} classes, {seeds_note(p.train_seeds)}, at the {p.scale} "
            "scale; the paper's column holds Table 1's random-scene rows where the class set is the paper's.")
