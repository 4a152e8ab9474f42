"""Chapter fig1_spider (paper Fig. 1): real against synthetic at a glance, axes grouped as the paper groups them.

The paper's panel: top-5 on the five ImageNet test sets (in-domain: val; domain-shifted: v2, Sketch, R, A) and
average top-1 of two transfer groups computed from Table 2 (eight small-scale datasets, two long-tail iNaturalist
sets); its CoG axes are not given as numbers and are left out. This run's panel follows the same grouping with its
own test sets: the in-domain test, the domain-shifted tests (one axis each), and one axis per transfer group.

The groups are declared in `data/paper_results.yaml` (fig1). The CoG levels' values are not in the paper's text:
they come back as None, and a figure shows that axis without the paper's point rather than an estimate.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..datasets.minidata import TRANSFER_GROUPS
from ..evaluation.shifts import SHIFTS
from ..experiments.stages import ModelRuns, evaluations, transfers
from ..paper import claims
from ..paper import findings as fd
from ..paper.results import TEST_SETS, paper_results, paper_rows, train_set_of
from ..experiments.comparison import ComparisonParams, draw_runs, equal_size_runs
from ..paper.stats import Family
from ..paper.tables import PAPER, run_label
from .tab2_transfer import draws_text, drawn_family
from .words import label_in_words

AXIS_LABELS = {prefix: label for prefix, label in TEST_SETS.values()}  # "in_val" -> "IN-val", ...
# a transfer group's axis: its name, what it holds and the measure, in one bracket (short: a static copy's labels
# stick out of the polar plot, and "small-scale (8 datasets) (avg top-1)" ran past the image's edge)
GROUP_LABELS = {"small_scale": "small-scale (8 sets, avg top-1)", "long_tail": "long-tail (iNat 2018-19, avg top-1)",
                "cog": "ImageNet-CoG (5 levels, avg top-1)"}


def _paper() -> dict:
    return paper_results()


def _row(table: str, number: int) -> dict:
    t = _paper()[table]
    row = next(r for r in t["rows"] if r["row"] == number)
    return dict(zip(t["columns"], row["values"]))


def fig1_axes() -> list[str]:
    """The eight axes of Fig. 1, in the paper's order: five ImageNet test sets (top-5), three transfer groups."""
    return [f"{AXIS_LABELS[a]} (top-5)" for a in _paper()["fig1"]["imagenet_axes"]] + [
        GROUP_LABELS[g] for g in _paper()["fig1"]["groups"]]


def paper_fig1_groups() -> dict[str, dict[str, float | None]]:
    """The paper's Fig. 1 values per model: {model: {axis: value (%) or None where the text gives none}}, the
    transfer groups averaged over Table 2's columns (rounded to 0.1 as the paper's tables)."""
    fig = _paper()["fig1"]
    out = {}
    for model in fig["models"]:
        t1, t2 = _row("table1", model["table1_row"]), _row("table2", model["table2_row"])
        axes = {f"{AXIS_LABELS[a]} (top-5)": t1[f"{a}_top5"] for a in fig["imagenet_axes"]}
        for group, names in fig["groups"].items():
            values = [t2[n] for n in names if n in t2]
            axes[GROUP_LABELS[group]] = round(sum(values) / len(values), 1) if len(values) == len(names) else model.get(group)
        out[model["label"]] = axes
    return out


def run_fig1_groups(evaluation: dict, transfer: dict) -> dict[str, float | None]:
    """The same axes for one model of a run: top-5 (%) per ImageNet test set it was scored on, and each transfer
    group's average top-1 (%) over the group's datasets it was probed on (None when it has none of them)."""
    names = {key: prefix for key, (prefix, _) in TEST_SETS.items()}
    axes = {f"{AXIS_LABELS[names[k]]} (top-5)": round(100 * v["top5"], 1) for k, v in evaluation.get("datasets", {}).items() if k in names}
    probed = {k: 100 * v["top1"] for k, v in transfer.get("datasets", {}).items()}
    for group, members in _paper()["fig1"]["groups"].items():
        values = [probed[n] for n in members if n in probed]
        axes[GROUP_LABELS[group]] = round(sum(values) / len(values), 1) if values else None
    return axes


def paper_spider() -> dict[str, dict[str, float]]:
    """Fig. 1's values from the paper's tables (paper_fig1_groups): top-5 on the ImageNet test sets (Table 1 rows 13, 14, 17)
    and the transfer groups' average top-1 (Table 2 rows 4, 5, 8); the CoG axes, not given as numbers, left out. Each
    model named in words (the data file's `(c, d_c, guidance 2.0)` as `(class name + definition, guidance 2.0)`)."""
    return {label_in_words(model): {a: v for a, v in axes.items() if v is not None}
            for model, axes in paper_fig1_groups().items()}


def axes_per_seed(p: ComparisonParams, runs: ModelRuns) -> list[dict[str, float]]:
    """Per seed, this run's axes. Paper scale: the paper's axes (run_fig1_groups). Mini scale: in-domain
    top-1, each constructed shift's top-1 (top-5 of ten classes is near 100%), each transfer group's mean top-1."""
    out = []
    probes = transfers(p, runs.checkpoints, p.transfer_suite, p.transfer_roots)
    shifts = evaluations(p, runs.checkpoints, "mini-shifts") if p.eval_suite == "mini" else [None] * len(probes)
    for result, transfer, shifted_result in zip(runs.results, probes, shifts):
        if p.eval_suite != "mini":
            out.append({k: v for k, v in run_fig1_groups(result, transfer).items() if v is not None})
            continue
        first = next(iter(result["datasets"]))  # the mini suite's one test set: the real Fashion-MNIST test split
        axes = {"real test images (in-domain)": 100 * result["datasets"][first]["top1"]}
        shifted = shifted_result["datasets"]
        axes.update({f"{SHIFTS[k].title} (shifted)": 100 * v["top1"] for k, v in shifted.items()})
        probed = {k: 100 * v["top1"] for k, v in transfer["datasets"].items()}
        for group, names in TRANSFER_GROUPS.items():
            present = [probed[n] for n in names if n in probed]
            if present:
                axes[f"transfer: {group}"] = float(np.mean(present))
        out.append(axes)
    return out


def panels(p: ComparisonParams, real: ModelRuns, synthetic: ModelRuns) -> dict[str, dict[str, dict[str, float]]]:
    """The figure's two panels: the paper's values, and this run's (each model's axes averaged over seeds), labelled
    with the run's scale (the hash of its parameters is in the page's provenance line)."""
    run = {"real" if real.label == "real" else f"real: {real.label}": mean_axes(axes_per_seed(p, real)),
           f"synthetic: {synthetic.label}": mean_axes(axes_per_seed(p, synthetic))}
    return {PAPER: paper_spider(), run_label(p.scale): run}


def mean_axes(per_seed: list[dict[str, float]]) -> dict[str, float]:
    """The mean over seeds of every axis."""
    return {k: float(np.mean([s[k] for s in per_seed])) for k in per_seed[0]}


def spider_frame(panels: dict[str, dict[str, dict[str, float]]]) -> pd.DataFrame:
    """Rows (panel, axis) in drawing order, one column per model."""
    long = pd.DataFrame([{"panel": p, "model": m, "axis": a, "value": round(v, 1)}
                         for p, models in panels.items() for m, axes in models.items() for a, v in axes.items()])
    index = pd.MultiIndex.from_frame(long[["panel", "axis"]].drop_duplicates())
    return long.pivot(index=["panel", "axis"], columns="model", values="value").reindex(index)[list(long.model.unique())]


def spider_tables(panels: dict[str, dict[str, dict[str, float]]]) -> list:
    """One table per panel (its title as the caption): a row per axis in drawing order, a column per model of that
    panel, values to 0.1 (the paper's panel and this run's share no axis, so one table would be mostly dashes)."""
    out = []
    for title, models in panels.items():
        axes = list(dict.fromkeys(a for values in models.values() for a in values))
        table = pd.DataFrame({"axis": axes, **{m: [values.get(a) for a in axes] for m, values in models.items()}})
        out.append(table.style.hide(axis="index").format("{:.1f}", subset=list(models), na_rep="–").set_caption(title))
    return out


def show_tables(panels: dict[str, dict[str, dict[str, float]]]) -> None:
    """Display `spider_tables`, one after the other."""
    from IPython.display import display

    for table in spider_tables(panels):
        display(table)


def radar_clone_text(synthetic: ModelRuns) -> str:
    """Which clone the radar plot above shows, against the 1x clone this finding compares (from the run's models)."""
    if synthetic.multiplier == 1.0:
        return "the radar above shows this very clone"
    return f"the radar above shows the preset's compared clone, {synthetic.multiplier:g} times the real set's size"


REAL_COLOURS, SYNTHETIC_COLOUR = ("#1f77b4", "#17becf"), "#d62728"


def is_synthetic(model: str) -> bool:
    """A model trained on a synthetic clone: this run's `synthetic ...` or the paper's `ImageNet-1K-SD (...)`."""
    return "synthetic" in model.lower() or "-SD" in model


def model_colours(models: list[str]) -> list[str]:
    """One colour rule for both copies of the plot: synthetic in red, the real-trained models in two blues in turn."""
    reals = iter(REAL_COLOURS * len(models))
    return [SYNTHETIC_COLOUR if is_synthetic(m) else next(reals) for m in models]


def spider_figure(panels: dict[str, dict[str, dict[str, float]]]):
    """An interactive plotly radar plot, one polar panel per {panel: {model: {axis: value}}} entry, stacked."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    n = len(panels)
    fig = make_subplots(rows=n, cols=1, specs=[[{"type": "polar"}]] * n, subplot_titles=list(panels), vertical_spacing=0.16)
    for i, (title, models) in enumerate(panels.items(), 1):
        for model, axes, colour in zip(models, models.values(), model_colours(list(models))):
            names = list(axes) + [next(iter(axes))]  # closed polygon
            fig.add_trace(go.Scatterpolar(r=[axes[a] for a in names], theta=[_wrap(a) for a in names], name=model,
                                          fill="toself", opacity=0.55,
                                          line_color=colour,
                                          legendgroup=f"p{i}", legendgrouptitle_text=title), row=i, col=1)
        n_axes = len(next(iter(models.values())))
        # the axes turned by half a step: none points straight up, so the radial scale (drawn upwards) and the panel's
        # title above it cross no axis label
        fig.update_layout({f"polar{'' if i == 1 else i}": dict(radialaxis=dict(range=[0, 100], angle=90, tickfont_size=10),
                                                               angularaxis=dict(tickfont_size=11, rotation=90 + 180 / n_axes))})
    fig.for_each_annotation(lambda a: a.update(yshift=30, font_size=14))
    # side margins hold the axis labels that stick out left and right (a phone's panel is the screen's width)
    fig.update_layout(height=520 * n, margin=dict(t=100, l=80, r=80), legend=dict(orientation="h", y=-0.04))
    return fig


def _wrap(axis: str, newline: str = "<br>", width: int = 14) -> str:
    """An axis name on short lines, its bracket on lines of its own and no word split at a hyphen (`real test images
    (in-domain)` -> `real test`, `images`, `(in-domain)`), so that it fits a narrow screen."""
    import textwrap

    if len(axis) <= width:
        return axis
    head, bracket, rest = axis.partition(" (")
    parts = [head] + ([f"({rest}"] if bracket else [])
    return newline.join(line for part in parts for line in textwrap.wrap(part, width, break_on_hyphens=False))


def spider_static(panels: dict[str, dict[str, dict[str, float]]]):
    """The same radar plot as a static matplotlib figure (for print, or a reader without JavaScript)."""
    import matplotlib.pyplot as plt

    # panels stacked, 6.5 inches wide: drawn about as wide as the page's column, its 10-point labels stay readable
    fig, axes = plt.subplots(len(panels), 1, figsize=(6.5, 7 * len(panels)), subplot_kw={"projection": "polar"}, squeeze=False)
    for ax, (title, models) in zip(axes[:, 0], panels.items()):
        for (model, values), colour in zip(models.items(), model_colours(list(models))):
            names = list(values)
            theta = np.linspace(0, 2 * np.pi, len(names), endpoint=False).tolist()
            r = [values[a] for a in names]
            ax.plot(theta + theta[:1], r + r[:1], label=model, color=colour)
            ax.fill(theta + theta[:1], r + r[:1], alpha=0.2, color=colour)
            ax.set_xticks(theta, [_wrap(n, "\n") for n in names], fontsize=10)
        ax.set_ylim(0, 100)
        offset = np.pi / 2 + np.pi / len(names)
        ax.set_theta_offset(offset)  # as the interactive plot: no axis straight up
        # each label outside the circle: padded outwards and anchored on its inner side (a label on the right starts at
        # its axis' end, one on the left ends there), so no label crosses the outer circle or a polygon
        ax.tick_params(axis="x", pad=6)
        for label, angle in zip(ax.get_xticklabels(), theta):
            x, y = np.cos(angle + offset), np.sin(angle + offset)
            label.set_horizontalalignment("left" if x > 0.2 else "right" if x < -0.2 else "center")
            label.set_verticalalignment("bottom" if y > 0.2 else "top" if y < -0.2 else "center")
        ax.set_rlabel_position(-180 / len(names))  # the scale straight up, between two axes
        ax.tick_params(axis="y", labelsize=10)
        ax.set_title(title, pad=34, fontsize=13)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), fontsize=10)
    fig.tight_layout()
    return fig


def show_static(fig) -> None:
    """Show the static copy as a PNG cropped to everything drawn (`bbox_inches="tight"`: tight_layout leaves the polar
    plot's axis labels out of its sums, and they ran past the image's edge), then close it so it is shown once."""
    import io

    import matplotlib.pyplot as plt
    from IPython.display import Image, display

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight", pad_inches=0.15)
    plt.close(fig)
    display(Image(buf.getvalue()))


def gap_findings(p: ComparisonParams, real: ModelRuns, synthetic: ModelRuns) -> list[fd.Verdict]:
    """Verdict on a clone of the real set's size (1x, as in the paper's Fig. 1): a real-minus-synthetic gap on the
    training classes (above 0), and a gap left in transfer at most half of it ("much less"), seed by seed (the two metrics' gaps of
    one seed are paired). With draws of the 1x clone (`comparison.draw_runs`, probed in transfer as on the Table 2
    page), each gap's error holds the variance of a clone's draw on its own metric (the second's: a draw's half
    in-domain top-1 minus its transfer average, measured per draw and seed)."""
    from ..experiments.stages import transfer_scores_many

    same = equal_size_runs(p, synthetic)
    draws = draw_runs(p, same)
    real_t, syn_t, *draws_t = ([t["average"] for t in per_seed] for per_seed in
                               transfer_scores_many(p, [real, same, *draws], p.transfer_suite, p.transfer_roots))
    test = next(iter(real.results[0]["datasets"]))
    sesoi = claims.finding("gap_narrows_in_transfer").sesoi
    gap_in = drawn_family("real and 1x clone, in-domain", {"real": real.scores(), "1x": same.scores()},
                          [d.scores() for d in draws], {"1x"}).difference("real", "1x")
    # "much less": the transfer gap at most half the in-domain gap, seed by seed; a negative gap is kept (no floor).
    # Per seed, (real_in / 2 - real_t) - (clone_in / 2 - clone_t): the blocked difference of these two models
    gaps = [(ri - si) / 2 - (rt - st) for ri, si, rt, st in zip(real.scores(), same.scores(), real_t, syn_t)]
    side = lambda ind, tr: [i / 2 - t for i, t in zip(ind, tr)]
    narrows = (drawn_family("real and 1x clone, half the in-domain minus the transfer top-1",
                            {"real": side(real.scores(), real_t), "1x": side(same.scores(), syn_t)},
                            [side(d.scores(), t) for d, t in zip(draws, draws_t)], {"1x"}).difference("real", "1x")
               if len(draws) >= 2 else fd.paired(gaps, [0.0] * len(gaps)))
    parts = [fd.Part("gap on the training classes", gap_in, "greater", sesoi),
             fd.Part("transfer gap at most half of it", narrows, "greater", sesoi,
                     evidence={"half the in-domain gap minus the transfer gap, per seed": gaps})]
    return [fd.check_parts("gap_narrows_in_transfer", parts, p.scale,
                           {"in-domain gap": f"real minus synthetic top-1 on {test}",
                            "transfer gap": "real minus synthetic transfer average",
                            "real saw": real.saw(p.class_set), "synthetic saw": same.saw(p.class_set),
                            "error": draws_text(len(draws))},
                           claims.paper_value("gap_narrows_in_transfer", train_set_of(p.class_set)))]

