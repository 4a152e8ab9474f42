"""Chapter representations (supplementary, after t-ReX): four measures of the two encoders' penultimate features.

The measures are taken on the test split of each transfer dataset, from the features the probes of Table 2 already
extracted (`repmetrics_test` in the transfer results), for every seed of both encoders.
"""

from __future__ import annotations

import math

import pandas as pd

from ..core.errors import FakeitError
from ..experiments.stages import ModelRuns, transfer_results
from ..paper.stats import mean_interval
from ..experiments.comparison import ComparisonParams
from .words import transfer_name

# what each measure is, and the direction that the works introducing them associate with better transfer
# (Wang et al., CVPR 2022; Sariyildiz et al., t-ReX, ICLR 2023)
METRICS = {  # by name in words; the transfer results store them with underscores (`intra_class_distance`)
    "sparsity": ("share of (numerically) zero feature values of post-ReLU penultimate features", "lower"),
    "intra-class distance": ("mean distance between L2-normalised features of the same class", "higher"),
    "feature redundancy": ("mean absolute correlation between pairs of feature dimensions, in [1/d, 1]", "lower"),
    "coding length": ("bits to code the L2-normalised features up to distortion 0.5 (lossy coding length)", "higher"),
}


METRIC_NAMES = {"sparsity": "sparsity", "intra_class_distance": "intra-class distance",  # as the results store them
                "feature_redundancy": "feature redundancy", "coding_length": "coding length"}


BETTER = "better transfer"  # the column naming each measure's direction, in every table of the page
DIFFERENCE = "synthetic − real"  # with a minus sign, not a hyphen
DECIMALS = {"sparsity": 3, "intra-class distance": 3, "feature redundancy": 3, "coding length": 0}


def metrics_explained() -> pd.DataFrame:
    """The four measures, what they measure and which direction goes with better transfer."""
    return pd.DataFrame([{"metric": k, "measures": v[0], BETTER: v[1]} for k, v in METRICS.items()])


def repmetrics_frame(p: ComparisonParams, models: list[ModelRuns]) -> pd.DataFrame:
    """One row per (model, seed, dataset, metric) from the transfer results' `repmetrics_test`; the dataset in words
    (`UCI digits`, not the results' `digits`), as every table and panel of the page shows it."""
    rows = []
    for m in models:
        for seed, checkpoint in zip(m.seeds, m.checkpoints):
            res = transfer_results(p, checkpoint, p.transfer_suite, p.transfer_roots)
            for dataset, d in res["datasets"].items():
                if "repmetrics_test" not in d:
                    raise FakeitError(f"transfer results of {m.label} on {dataset} carry no repmetrics_test")
                for metric, value in d["repmetrics_test"].items():
                    rows.append({"model": m.label, "seed": seed, "dataset": transfer_name(dataset),
                                 "metric": METRIC_NAMES.get(metric, metric), "value": float(value)})
    return pd.DataFrame(rows)


def repmetrics_summary(long: pd.DataFrame) -> pd.DataFrame:
    """Mean over seeds of each (metric, dataset, model): one row per measure and dataset, with the measure's 'better
    transfer' direction, one column per model (a table as narrow as the page)."""
    mean = long.groupby(["metric", "dataset", "model"], sort=False)["value"].mean().reset_index()
    wide = mean.pivot_table(index=["metric", "dataset"], columns="model", values="value", sort=False).reset_index()
    wide.insert(1, BETTER, wide.metric.map(lambda m: METRICS.get(m, ("", "?"))[1]))
    wide.columns.name = None
    return wide


def measure_value(metric: str, value, signed: bool = False) -> str:
    """A measure's value as a reader reads it: the measure's own fixed decimals in every table (0.320 beside 0.366,
    not 0.3203), thousands written out (18,250, not 1.825e+04), a sign on differences."""
    if value is None or value != value:
        return "–"
    return f"{value:{'+' if signed else ''},.{DECIMALS.get(metric, 3)}f}"


def summary_table(long: pd.DataFrame):
    """`repmetrics_summary` for the page: each model's mean at its measure's decimals, the index hidden."""
    wide = repmetrics_summary(long)
    models = [c for c in wide.columns if c not in ("metric", BETTER, "dataset")]
    for m in models:
        wide[m] = [measure_value(metric, v) for metric, v in zip(wide.metric, wide[m])]
    return wide.style.hide(axis="index")


def agreement_table(agree: pd.DataFrame):
    """`agreement_with_direction` for the page: differences and bounds signed, at each measure's decimals."""
    shown = agree.copy()
    for col in (DIFFERENCE, "95% low", "95% high"):
        shown[col] = [measure_value(metric, v, signed=True) for metric, v in zip(shown.metric, shown[col])]
    return shown.style.hide(axis="index")


def agreement_with_direction(long: pd.DataFrame, synthetic: str, real: str) -> pd.DataFrame:
    """Per dataset and metric: the synthetic-minus-real difference over seeds (mean, 95% interval) and whether it sits
    on the side the measure associates with better transfer, clearly (interval excludes 0) or not."""
    rows = []
    for (dataset, metric), g in long.groupby(["dataset", "metric"], sort=False):
        if metric not in METRICS:
            continue
        syn = g[g.model == synthetic].sort_values("seed")["value"].tolist()
        real_v = g[g.model == real].sort_values("seed")["value"].tolist()
        if not syn or len(syn) != len(real_v):
            continue
        est = mean_interval([a - b for a, b in zip(syn, real_v)])
        better = METRICS[metric][1]
        above, below = (est.low is not None and est.low > 0), (est.high is not None and est.high < 0)
        if est.low is None:
            side = "one seed: no interval"
        elif (better == "higher" and above) or (better == "lower" and below):
            side = "better side"
        elif (better == "higher" and below) or (better == "lower" and above):
            side = "worse side"
        else:
            side = "unclear (interval spans 0)"
        rows.append({"dataset": dataset, "metric": metric, DIFFERENCE: est.mean, "95% low": est.low,
                     "95% high": est.high, BETTER: better, "synthetic is on the": side})
    return pd.DataFrame(rows)


def agreement_text(agree: pd.DataFrame) -> str:
    """The agreement table in one sentence: on how many of its pairs of a data set and a measure the interval puts the
    synthetic-trained encoder on the side that goes with better transfer, and where the others fall."""
    if agree.empty:
        return "No pair of a data set and a measure was compared in this build."
    sides = agree["synthetic is on the"]
    n, better = len(agree), int((sides == "better side").sum())
    rest = [f"{k} {what}" for what, k in (("on the worse side", int((sides == "worse side").sum())),
                                          ("unclear, their interval spanning 0", int(sides.str.startswith("unclear").sum())),
                                          ("with one seed and no interval", int(sides.str.startswith("one seed").sum()))) if k]
    count = "none" if better == 0 else "all" if better == n else str(better)
    return (f"In {count} of the {n} pairs of a data set and a measure does the interval over seeds put the "
            "synthetic-trained encoder on the side that the measure associates with better transfer"
            + (f" ({', '.join(rest)})." if rest and better < n else "."))


PANEL_UNITS = {"sparsity": "share of zeros", "coding length": "bits"}  # the two measures with a unit to name
BOUNDS = {"sparsity": (0.0, 1.0)}  # a share: its error bars stop at the values it can take


def panel_title(metric: str) -> str:
    """A panel's title: the metric and, where it has one, its unit ("coding length (bits)")."""
    return f"{metric} ({PANEL_UNITS[metric]})" if metric in PANEL_UNITS else metric


def repmetrics_figure(long: pd.DataFrame):
    """Bars per metric (own y axis): datasets on x, one bar per model, mean over seeds with 95% error bars."""
    import plotly.express as px

    rows = []
    for (model, dataset, metric), g in long.groupby(["model", "dataset", "metric"], sort=False):
        est = mean_interval(g["value"].tolist())
        low, high = BOUNDS.get(metric, (-math.inf, math.inf))
        up = min(est.high, high) - est.mean if est.high is not None else 0.0
        down = est.mean - max(est.low, low) if est.low is not None else 0.0
        rows.append({"model": model, "dataset": dataset, "metric": metric, "value": est.mean, "err": up,
                     "err_minus": down})
    fig = px.bar(pd.DataFrame(rows), x="dataset", y="value", color="model", barmode="group", facet_col="metric",
                 facet_col_wrap=1, facet_row_spacing=0.09, error_y="err", error_y_minus="err_minus",
                 title="Feature measures, transfer test splits")  # one line on a phone
    fig.update_yaxes(matches=None, showticklabels=True, title_text="")
    fig.update_xaxes(title_text="")
    # "metric=sparsity" -> "sparsity (share of zeros)": each panel titled with its metric and the unit it is in
    fig.for_each_annotation(lambda a: a.update(text=panel_title(a.text.split("=", 1)[-1])))
    # one panel under another: side by side, a phone ran each panel's title and ticks into its neighbour's
    fig.update_layout(height=1100, legend=dict(orientation="h", y=-0.08, title_text=""), margin=dict(t=90))
    return fig
