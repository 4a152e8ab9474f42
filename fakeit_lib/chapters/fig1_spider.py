"""Chapter fig1_spider (paper Fig. 1): real against synthetic at a glance, axes grouped as the paper groups them.

The paper's panel: top-5 on the five ImageNet test sets (in-domain: val; domain-shifted: v2, Sketch, R, A) and
average top-1 of two transfer groups computed from Table 2 (eight small-scale datasets, two long-tail iNaturalist
sets); its CoG axes are not given as numbers and are left out. This run's panel follows the same grouping with its
own test sets: the in-domain test, the domain-shifted tests (one axis each), and one axis per transfer group.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import findings as fd
from ..experiments import ModelRuns, evaluation, transfer_scores
from ..paper import TEST_SETS, paper_rows
from ..stats import mean_interval
from .comparison import ComparisonParams

SMALL_SCALE = ("aircraft", "cars", "dtd", "eurosat", "flowers", "pets", "food101", "sun397")
LONG_TAIL = ("inat2018", "inat2019")


def paper_spider() -> dict[str, dict[str, float]]:
    """Fig. 1's values from the paper's tables: top-5 on the ImageNet test sets (Table 1 rows 13, 14, 17) and the
    average top-1 of the small-scale and long-tail transfer groups (Table 2 rows 4, 5, 8)."""
    out = {}
    for t1, t2, name in ((13, 4, "IN-1K real (PyTorch ResNet-50)"), (14, 5, "IN-1K real (RSB-A1 ResNet-50)"),
                         (17, 8, "IN-1K-SD synthetic (c_dc, gs 2)")):
        r1, r2 = paper_rows("table1", row=t1)[0], paper_rows("table2", row=t2)[0]
        axes = {f"{label} (top-5)": r1[f"{prefix}_top5"] for prefix, label in TEST_SETS.values()}
        axes["transfer: small-scale (8 sets)"] = float(np.mean([r2[d] for d in SMALL_SCALE]))
        axes["transfer: long-tail (iNat)"] = float(np.mean([r2[d] for d in LONG_TAIL]))
        out[name] = axes
    return out


def axes_per_seed(p: ComparisonParams, runs: ModelRuns) -> list[dict[str, float]]:
    """Per seed, this run's axes: in-domain top-1, each domain-shifted test's top-1, each transfer group's mean top-1."""
    from ..minidata import SHIFTS, TRANSFER_GROUPS

    transfer = transfer_scores(p, runs, p.transfer_suite, p.transfer_roots)
    out = []
    for checkpoint, result, tr in zip(runs.checkpoints, runs.results, transfer):
        first = next(iter(result["datasets"]))
        axes = {f"{first} (in-domain)": 100 * result["datasets"][first]["top1"]}
        if p.eval_suite == "mini":
            shifted = evaluation(p, checkpoint, "mini-shifts")["datasets"]
            axes.update({f"{SHIFTS[k].title} (shifted)": 100 * v["top1"] for k, v in shifted.items()})
            groups = TRANSFER_GROUPS
        else:
            axes.update({f"{TEST_SETS[k][1]} (shifted)": 100 * v["top1"] for k, v in result["datasets"].items() if k != first})
            groups = {"small-scale (8 sets)": SMALL_SCALE, "long-tail (iNat)": LONG_TAIL}
        for group, names in groups.items():
            present = [tr[n] for n in names if n in tr]
            if present:
                axes[f"transfer: {group}"] = float(np.mean(present))
        out.append(axes)
    return out


def mean_axes(per_seed: list[dict[str, float]]) -> dict[str, float]:
    """The mean over seeds of every axis."""
    return {k: float(np.mean([s[k] for s in per_seed])) for k in per_seed[0]}


def spider_frame(panels: dict[str, dict[str, dict[str, float]]]) -> pd.DataFrame:
    """Rows (panel, axis) in drawing order, one column per model."""
    long = pd.DataFrame([{"panel": p, "model": m, "axis": a, "value": round(v, 1)}
                         for p, models in panels.items() for m, axes in models.items() for a, v in axes.items()])
    index = pd.MultiIndex.from_frame(long[["panel", "axis"]].drop_duplicates())
    return long.pivot(index=["panel", "axis"], columns="model", values="value").reindex(index)[list(long.model.unique())]


def spider_figure(panels: dict[str, dict[str, dict[str, float]]]):
    """An interactive plotly radar plot, one polar panel per {panel: {model: {axis: value}}} entry, stacked."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    n = len(panels)
    fig = make_subplots(rows=n, cols=1, specs=[[{"type": "polar"}]] * n, subplot_titles=list(panels), vertical_spacing=0.12)
    colours = ["#1f77b4", "#17becf", "#d62728"]
    for i, (title, models) in enumerate(panels.items(), 1):
        for j, (model, axes) in enumerate(models.items()):
            names = list(axes) + [next(iter(axes))]  # closed polygon
            fig.add_trace(go.Scatterpolar(r=[axes[a] for a in names], theta=names, name=model, fill="toself", opacity=0.55,
                                          line_color=colours[-1] if "synthetic" in model.lower() else colours[j % 2],
                                          legendgroup=f"p{i}", legendgrouptitle_text=title), row=i, col=1)
        fig.update_layout({f"polar{'' if i == 1 else i}": dict(radialaxis=dict(range=[0, 100], angle=90, tickfont_size=9))})
    fig.update_layout(height=500 * n, margin=dict(t=60, l=170, r=170), legend=dict(orientation="h", y=-0.04))
    return fig


def spider_static(panels: dict[str, dict[str, dict[str, float]]]):
    """The same radar plot as a static matplotlib figure (for print, or a reader without JavaScript)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 6), subplot_kw={"projection": "polar"}, squeeze=False)
    for ax, (title, models) in zip(axes[0], panels.items()):
        for model, values in models.items():
            names = list(values)
            theta = np.linspace(0, 2 * np.pi, len(names), endpoint=False).tolist()
            r = [values[a] for a in names]
            colour = "#d62728" if "synthetic" in model.lower() else None
            ax.plot(theta + theta[:1], r + r[:1], label=model, color=colour)
            ax.fill(theta + theta[:1], r + r[:1], alpha=0.2, color=colour)
            ax.set_xticks(theta, [n.replace(" (", "\n(") for n in names], fontsize=7)
        ax.set_ylim(0, 100)
        ax.set_title(title, pad=18)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), fontsize=8)
    fig.tight_layout()
    return fig


def gap_findings(p: ComparisonParams, real_axes: list[dict], syn_axes: list[dict], real: ModelRuns,
                 synthetic: ModelRuns) -> list[fd.Verdict]:
    """Verdict: the real-minus-synthetic gap is narrower in transfer (mean of the transfer axes) than in-domain."""
    first = next(iter(real_axes[0]))
    transfer = [k for k in real_axes[0] if k.startswith("transfer")]
    if not transfer:
        return []
    gap_in = [r[first] - s[first] for r, s in zip(real_axes, syn_axes)]
    gap_tr = [np.mean([r[k] for k in transfer]) - np.mean([s[k] for k in transfer]) for r, s in zip(real_axes, syn_axes)]
    return [fd.check_greater("gap_narrows_in_transfer", gap_in, [float(g) for g in gap_tr], p.scale,
                             {"a": "real minus synthetic on " + first, "b": "real minus synthetic, mean of " + ", ".join(transfer),
                              "real saw": real.saw(p.class_set), "synthetic saw": synthetic.saw(p.class_set),
                              "in-domain gap": mean_interval(gap_in).to_dict()},
                             fd.paper_value("gap_narrows_in_transfer"))]
