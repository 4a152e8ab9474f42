"""Chapter fig4_scaling (paper Fig. 4, Table 1 rows 8, 10-12): clones of growing size, in-domain and in transfer."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from ..core.errors import FakeitError
from ..datasets.classes import class_set_name
from ..experiments.params import PipelineParams, ScalingLadderParams, TransferParams, shared
from ..experiments.stages import ModelRuns, clone_ladder, model_runs_many, transfer_scores_many
from ..experiments.table1 import test_set_words
from ..paper import claims
from ..paper import findings as fd
from ..paper.results import paper_rows, table1_row, train_set_of, variant_name
from ..paper.stats import Family, mean_interval
from ..prompts.variants import check_variant


BUDGETS = ("epochs", "steps")
# the authors' released training code as a reader knows it: its paper, not its repository's name
AUTHORS_CODE = "the authors' released code, that of t-ReX (Sariyildiz et al., 2023b),"


def budget_overrides(p: "ScalingParams", multiplier: float) -> dict:
    """The training recipe's overrides for a clone `multiplier` times the 1x size: none under the epochs budget (or
    at 1x, so the 1x model is Table 1's); under the steps budget, epochs and warm-up divided by the multiplier."""
    if p.scaling_budget == "epochs" or multiplier == 1.0:
        return {}
    from ..training.train import make_config

    recipe = make_config(p.recipe, data="-")
    return {"epochs": max(1, round(recipe.epochs / multiplier)), "warmup_epochs": recipe.warmup_epochs / multiplier}


def budget_text(p: "ScalingParams") -> str:
    """How the clones of growing size are trained, in one sentence (what the Fig. 4 page says)."""
    from ..training.train import make_config

    recipe = make_config(p.recipe, data="-")
    if p.scaling_budget == "epochs":
        return (f"every clone trains the recipe's {recipe.epochs} epochs whatever its size, as {AUTHORS_CODE} does "
                "(100 epochs; the paper's main text does not say), so a 10x clone costs ten times "
                "the 1x one")
    sizes = ", ".join(f"{m:g}x: {budget_overrides(p, m).get('epochs', recipe.epochs)} epochs" for m in sorted(p.multipliers))
    return (f"every clone trains as many optimiser steps as the 1x clone ({recipe.epochs} epochs of the 1x set): a "
            f"fixed training budget, so a larger clone shows more distinct images, each fewer times ({sizes}); the "
            f"paper's main text does not say how its larger clones were trained, and {AUTHORS_CODE} trains 100 epochs "
            "whatever the size; at the mini scale a 10x clone at the recipe's epochs would cost ten 1x models, past the "
            "book's time budget, and a fixed budget compares data, not compute")


@dataclass
class ScalingParams(TransferParams, ScalingLadderParams, PipelineParams):
    """Parameters of Fig. 4: clones from 1/10x to 50x the real set's size, on real test images and in transfer."""

    draws: int = shared("draws")  # draws of the 1x clone (Table 1's when it is Table 1's drawn one) measuring the variance of a draw; mini: 4

    def validate(self) -> None:
        super().validate()
        check_variant(self.scaling_variant)
        if self.scaling_budget not in BUDGETS:
            raise FakeitError(f"parameter scaling_budget={self.scaling_budget!r} is not valid; valid: {', '.join(BUDGETS)}")
        if not self.multipliers or min(self.multipliers) <= 0 or len(set(self.multipliers)) != len(self.multipliers):
            raise FakeitError(f"parameter multipliers={self.multipliers} must hold distinct numbers > 0, at least one")
        if self.draws < 1:
            raise FakeitError(f"parameter draws={self.draws} must be at least 1 (1: no draw measured)")
        if self.transfer_suite not in ("paper", "mini"):
            raise FakeitError(f"parameter transfer_suite={self.transfer_suite!r} is not valid; valid: paper, mini")


@dataclass
class Scaling:
    """The real baseline and one clone per size, each with per-seed in-domain top-1 and transfer averages."""

    real: ModelRuns
    clones: list[ModelRuns]  # in the order of the multipliers
    real_transfer: list[dict[str, float]]  # per seed
    clones_transfer: list[list[dict[str, float]]]  # per clone, per seed
    draws: list[ModelRuns] = field(default_factory=list)  # the 1x clone drawn with generation seeds seed, seed + 1, ...
    draws_transfer: list[list[dict[str, float]]] = field(default_factory=list)  # per draw, per seed: its probes


# the reasons beside the verdicts: short clauses without brackets (the verdict's text puts the reason in brackets)
DRAWN = ("each clone's error holds the variance of a draw, measured from {n} draws of the 1x clone and assumed the same "
         "at every size")
IN_TRANSFER = "; in transfer that variance is measured on the draws' own probes"


def scaling_runs(p: ScalingParams) -> Scaling:
    """Train (or load) every model of the figure per seed, evaluate it and probe it on the transfer suite."""
    clone_ladder(p, p.scaling_variant, p.scaling_guidance, sorted(p.multipliers))  # the largest drawn once
    specs = [(None, None, 1.0, {})] + [(p.scaling_variant, p.scaling_guidance, m, budget_overrides(p, m))
                                       for m in sorted(p.multipliers)]
    has_1x = 1.0 in [float(m) for m in p.multipliers]  # the 1x clone is the first draw (its models trained once)
    extra = [(p.scaling_variant, p.scaling_guidance, 1.0, {}, p.seed + d)
             for d in range(1 if has_1x else 0, p.draws if p.draws >= 2 else 0)]
    real, *models = model_runs_many(p, specs + extra)  # the draws are Table 1's models where it drew this clone
    clones, draws = models[:len(specs) - 1], models[len(specs) - 1:]
    if draws and has_1x:
        draws = [next(c for c in clones if c.multiplier == 1.0)] + draws
    extra_draws = draws[1:] if draws and has_1x else draws
    real_t, *rest = transfer_scores_many(p, [real, *clones, *extra_draws], p.transfer_suite, p.transfer_roots)
    clones_t = rest[:len(clones)]
    draws_t = rest[len(clones):]
    if draws and has_1x:
        draws_t = [clones_t[[c.multiplier for c in clones].index(1.0)]] + draws_t
    return Scaling(real, clones, real_t, clones_t, draws, draws_t)


def scaling_frame(s: Scaling) -> pd.DataFrame:
    """One row per model: images, in-domain top-1 and transfer average, each mean and 95% bounds over seeds."""
    rows = []
    for r, t in [(s.real, s.real_transfer)] + list(zip(s.clones, s.clones_transfer)):
        ind, tr = mean_interval(r.scores()), mean_interval([x["average"] for x in t])
        rows.append({"training data": r.label, "multiplier": None if r.data == "real" else r.multiplier,
                     "images": r.images, "in-domain top-1": ind.mean, "in-domain low": ind.low, "in-domain high": ind.high,
                     "transfer top-1": tr.mean, "transfer low": tr.low, "transfer high": tr.high, "seeds": ind.n})
    return pd.DataFrame(rows)


def scaling_table(s: Scaling) -> pd.DataFrame:
    """The page's table of `scaling_frame`: one row per model, each top-1 as `mean [low, high]` (95% over seeds)."""
    df = scaling_frame(s)

    def cell(row, name):
        low, high = row[f"{name} low"], row[f"{name} high"]
        bounds = f" [{low:.1f}, {high:.1f}]" if pd.notna(low) and pd.notna(high) else ""
        return f"{row[f'{name} top-1']:.1f}{bounds}"

    return pd.DataFrame({"training data": df["training data"], "images": df["images"],
                         "in-domain top-1 (%) [95% interval]": [cell(r, "in-domain") for _, r in df.iterrows()],
                         "transfer top-1 (%) [95% interval]": [cell(r, "transfer") for _, r in df.iterrows()],
                         "seeds": df["seeds"]})


def interval_note(seeds: list[int]) -> str:
    """What the table's cells are, in the table's own form (`mean [low, high]`): one sentence."""
    if len(seeds) == 1:
        return f"Each value is this run's one training seed ({seeds[0]}): no interval."
    return (f"Each value is this run's mean over {len(seeds)} training seeds ({', '.join(map(str, seeds))}), with its "
            "95% Student-t interval over them in brackets.")


def paper_points(class_set: str) -> pd.DataFrame:
    """Fig. 4's values that the paper gives as numbers: val top-1 (Table 1 rows 8, 10-12) and transfer (Table 2)."""
    train = train_set_of(class_set)
    points = [{"multiplier": float(r["scale"]), "metric": "in-domain top-1", "value": r["in_val_top1"],
               "source": f"Table 1 row {r['row']}"}
              for r in paper_rows("table1", train=train, data="synthetic", variant="c_dc", guidance=2.0)]
    points += [{"multiplier": float(r["scale"]), "metric": "transfer top-1", "value": r["average"],
                "source": f"Table 2 row {r['row']}"} for r in paper_rows("table2", train=train, data="synthetic")]
    real1, real2 = paper_rows("table1", train=train, data="real")[0], paper_rows("table2", train=train, data="real")[0]
    points += [{"multiplier": None, "metric": "in-domain top-1", "value": real1["in_val_top1"], "source": f"Table 1 row {real1['row']} (real)"},
               {"multiplier": None, "metric": "transfer top-1", "value": real2["average"], "source": f"Table 2 row {real2['row']} (real)"}]
    return pd.DataFrame(points)


def scaling_figure(p: ScalingParams, s: Scaling):
    """Two panels: the paper's points (ImageNet) and this run's, with 95% error bars over seeds; dashes: real data."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    paper, ours = paper_points(p.class_set), scaling_frame(s)
    # titles on two short lines: on a phone each panel is under 200 px wide and one line would run into the other's
    fig = make_subplots(rows=1, cols=2, subplot_titles=(f"paper (reported),<br>{class_set_name(train_set_of(p.class_set))}",
                                                        f"this run,<br>{p.scale} scale"),
                        horizontal_spacing=0.14)
    colours = {"in-domain top-1": "#1f77b4", "transfer top-1": "#d62728"}
    span = {1: sorted(float(m) for m in paper.multiplier.dropna()), 2: sorted(float(m) for m in ours.multiplier.dropna())}

    def real_line(y: float, col: int, name: str, colour: str):
        """The real model's value as a dashed line across the panel, a trace of its own so the legend names it."""
        xs = span[col] or [1.0]
        fig.add_trace(go.Scatter(x=[xs[0], xs[-1]], y=[y, y], mode="lines", line=dict(dash="dash", color=colour),
                                 name=name, hovertemplate=f"{name}: %{{y:.1f}}<extra></extra>"), 1, col)

    for metric, colour in colours.items():
        pts = paper[(paper.metric == metric) & paper.multiplier.notna()]
        fig.add_trace(go.Scatter(x=pts.multiplier, y=pts.value, mode="lines+markers", name=f"paper: synthetic, {metric}",
                                 line_color=colour, text=pts.source), 1, 1)
        real_line(float(paper[(paper.metric == metric) & paper.multiplier.isna()].value.iloc[0]), 1,
                  f"paper: real, {metric}", colour)
    synth, real = ours[ours.multiplier.notna()], ours[ours.multiplier.isna()].iloc[0]
    for prefix, colour in (("in-domain", colours["in-domain top-1"]), ("transfer", colours["transfer top-1"])):
        col = f"{prefix} top-1"
        err = (synth[f"{prefix} high"] - synth[col]).fillna(0)
        fig.add_trace(go.Scatter(x=synth.multiplier, y=synth[col], mode="lines+markers", name=f"this run: synthetic, {col}",
                                 line_color=colour, error_y=dict(type="data", array=err.tolist(), visible=True),
                                 text=synth.images.map(lambda n: f"{n} images")), 1, 2)
        real_line(float(real[col]), 2, f"this run: real, {col}", colour)
    # ticks at the sizes drawn, level and as bare numbers (the axis title gives the unit): on a phone's 150 px panel
    # slanted "10x" and "20x" ran into each other
    for col, sizes in ((1, paper.multiplier.dropna()), (2, synth.multiplier)):
        ticks = sorted(set(float(m) for m in sizes))
        fig.update_xaxes(type="log", title_text="clone size<br>(× the real set)", tickvals=ticks,
                         ticktext=[f"{m:g}" for m in ticks], tickangle=0, tickfont_size=11, row=1, col=col)
    # each panel's range leaves room above its highest value (the paper's real 87.4 is not drawn on the edge)
    for col, values in ((1, paper.value.tolist()), (2, ours[["in-domain top-1", "transfer top-1", "in-domain high",
                                                             "transfer high", "in-domain low", "transfer low"]].stack().tolist())):
        lo, hi = min(values), max(values)
        pad = max(2.0, (hi - lo) * 0.12)
        fig.update_yaxes(range=[max(0.0, lo - pad), hi + pad], row=1, col=col)
    # one y title, on the left (both panels are top-1 in %): the right one's ran into the left panel on a phone
    fig.update_yaxes(title_text="top-1 (%)", row=1, col=1)
    fig.update_layout(height=580, legend=dict(orientation="h", y=-0.42, yanchor="top"), margin=dict(l=60, r=20, b=40))
    return fig


def scaling_families(s: Scaling):
    """(in-domain, transfer) families of the page's models, labelled `real` and `<m>x`; with measured draws of the 1x
    clone, every clone's error carries the variance of a draw, in transfer from the draws' own probes."""
    labels = ["real"] + [f"{c.multiplier:g}x" for c in s.clones]
    models = [s.real, *s.clones]
    transfer = [s.real_transfer, *s.clones_transfer]
    in_domain = Family("Fig. 4's models, in-domain", {k: m.scores() for k, m in zip(labels, models)})
    across = Family("Fig. 4's models, transfer", {k: [t["average"] for t in per_seed] for k, per_seed in zip(labels, transfer)})
    if len(s.draws) >= 2:
        draws, drawn = [d.scores() for d in s.draws], set(labels[1:])
        in_domain.add_draws(draws, drawn)
        across.add_draws([[t["average"] for t in per_seed] for per_seed in s.draws_transfer], drawn)
    return in_domain, across


def scaling_findings(p: ScalingParams, s: Scaling) -> list[fd.Verdict]:
    """Verdicts: more images help in-domain (a trend over the sizes from 1x up), and in transfer a 10x clone
    outperforms the real model with gains growing with size; every effect with the seed error pooled over the
    page's models."""
    train = train_set_of(p.class_set)
    test = next(iter(s.real.results[0]["datasets"]))
    in_domain, across = scaling_families(s)
    upward = {f"{c.multiplier:g}x": c.multiplier for c in s.clones if c.multiplier >= 1.0}  # the paper's range: 1x up
    base = {"test": test, "budget": budget_text(p), "clones": {f"{c.multiplier:g}x": c.saw(p.class_set) for c in s.clones}}
    drawn = (DRAWN.format(n=len(s.draws)) if len(s.draws) >= 2 else
             "no draw of a clone was measured, so the errors hold the seed noise alone and cover less than 95%")
    out = []
    tells = ("every size trains the same number of steps, so this compares data at equal compute"
             if p.scaling_budget == "steps" else "every size trains the recipe's epochs, so compute grows with the size")
    paper = claims.paper_value("more_images_help", train)
    if len(upward) >= 2:
        span = f"sizes 1x to {max(upward.values()):g}x, where the paper's go to 50x; {tells}; {drawn}"
        out.append(fd.check("more_images_help", in_domain.trend(upward), p.scale, base, paper, span))
    else:
        out.append(fd.cannot_test("more_images_help", p.scale, "fewer than two clone sizes of 1x or more were trained", paper))
    paper = claims.paper_value("more_images_transfer_better", train)
    ten = [k for k, m in upward.items() if m >= 10.0]
    if not ten:
        out.append(fd.cannot_test("more_images_transfer_better", p.scale,
                                  f"the clones stop at {max([c.multiplier for c in s.clones]):g}x: the paper's claim is "
                                  "at 10x and above", paper))
    else:  # "the gains increase as we generate up to 50x": a slope over the sizes from 10x up, where two are trained
        sesoi = claims.finding("more_images_transfer_better").sesoi
        parts = [fd.Part(f"{ten[0]} minus real", across.difference(ten[0], "real"), "greater", sesoi)]
        if len(ten) >= 2:
            parts.append(fd.Part("slope per doubling from 10x up", across.trend({k: upward[k] for k in ten}), "greater",
                                 0.3, "points per doubling"))
        reached = ("both clauses are tested" if len(ten) >= 2 else f"only the 10x clause is tested, as the clones stop at "
                   f"{ten[0]} and growing gains need two sizes of 10x or more")
        out.append(fd.check_parts("more_images_transfer_better", parts, p.scale,
                                  {**base, "transfer datasets": [k for k in s.real_transfer[0] if k != "average"]}, paper,
                                  f"{reached}; {tells}; {drawn}{IN_TRANSFER if len(s.draws) >= 2 else ''}"))
    out.append(rivals_on_a(p, s, train, drawn))
    out.append(scaling_levels(p, s, train, test, base))
    return out


RIVAL_SIZE = 50.0  # Sec. 5.2's "best Imagenet-100-SD model, i.e. the one trained with 50x images"


def rivals_on_a(p: ScalingParams, s: Scaling, train: str, drawn: str) -> fd.Verdict:
    """Sec. 5.2: the 50x ImageNet-100 clone rivals the real-trained model on ImageNet-A (parity on its top-1), with the
    seed error pooled over the page's models there and, where measured, the variance of a draw on that test."""
    fid = "in100_50x_rivals_real_on_a"
    paper = claims.paper_value(fid, train)
    largest = max(c.multiplier for c in s.clones)
    tests = list(s.real.results[0]["datasets"])
    if train != "imagenet100":
        return fd.cannot_test(fid, p.scale, f"the claim is ImageNet-100's 50x model; this run is on {p.class_set} with clones "
                              f"up to {largest:g}x", paper)
    lacks = [] if largest >= RIVAL_SIZE else [f"the run's clones stop at {largest:g}x (the claim is the 50x model's)"]
    if "a" not in tests:
        if p.eval_suite == "mini":
            from ..evaluation.shifts import SHIFTS

            stands = sorted({sh.analogue for sh in SHIFTS.values()})
            lacks.append(f"the run has no test standing for ImageNet-A: the constructed shifts stand for {', '.join(stands)}, none for "
                         "ImageNet-A's natural images filtered to fool a real-trained ResNet-50")
        else:
            lacks.append(f"the run's test sets ({', '.join(tests)}) hold no ImageNet-A (the preset's eval_roots: a)")
    if lacks:
        return fd.cannot_test(fid, p.scale, "; ".join(lacks), paper)
    big = next(c for c in s.clones if c.multiplier == largest)
    labels = ["real"] + [f"{c.multiplier:g}x" for c in s.clones]
    fam = Family("Fig. 4's models on ImageNet-A", {k: m.scores(test="a") for k, m in zip(labels, [s.real, *s.clones])})
    if len(s.draws) >= 2:
        fam.add_draws([d.scores(test="a") for d in s.draws], set(labels[1:]))
    return fd.check(fid, fam.difference(f"{largest:g}x", "real"), p.scale,
                    {"test": "a", "a saw": big.saw(p.class_set), "b saw": s.real.saw(p.class_set)}, paper, drawn)


def scaling_levels(p: ScalingParams, s: Scaling, train: str, test: str, base: dict) -> fd.Verdict:
    """Table 1 rows 10-12 at the paper scale: each larger clone's val top-1 within the stated tolerance of the
    paper's (an equivalence per size); never at a miniature scale."""
    fid = "paper_levels_scaling"
    paper = claims.paper_value(fid, train)
    why = fd.paper_scale_levels(p.scale, p.class_set, test, class_set_name(p.class_set), test_set_words(test))
    rows = {c.multiplier: table1_row(train, "synthetic", p.scaling_variant, p.scaling_guidance, c.multiplier)
            for c in s.clones if c.multiplier > 1}
    rows = {m: r for m, r in rows.items() if r is not None}
    if why or not rows:
        return fd.cannot_test(fid, p.scale, why or f"none of the run's sizes above 1x ({', '.join(f'{c.multiplier:g}x' for c in s.clones)}) "
                              f"has a Table 1 row (10x, 20x, 50x of {variant_name('c_dc')} at 2.0)", paper)
    tol = claims.finding(fid).sesoi
    parts = [fd.level_part(f"{c.multiplier:g}x (row {rows[c.multiplier]['row']}, {rows[c.multiplier]['in_val_top1']:.1f})",
                           c.scores(), rows[c.multiplier]["in_val_top1"], tol) for c in s.clones if c.multiplier in rows]
    return fd.check_parts(fid, parts, p.scale, base, paper)
