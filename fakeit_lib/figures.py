"""Tables and figures of the book's result chapters (paper Fig. 1, Fig. 2, Table 2, supplementary representations).

Each chapter's parameters are one dataclass here; the functions turn cached stage outputs (synthetic datasets,
evaluation and transfer results) into pandas tables, matplotlib image grids and plotly figures, always with the
paper's reported numbers beside this run's, labelled by the run's scale and config hash.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import FakeitError
from .experiments import CloneChoice, PipelineParams, paper_rows
from .prompts import PAPER_EXAMPLES, check_variant

PAPER = "paper (reported)"
TEST_SETS = {"val": "IN-val", "v2": "IN-v2", "sketch": "IN-Sketch", "r": "IN-R", "a": "IN-A"}
TRANSFER_AXIS = "transfer (avg top-1)"
# the four representation metrics: what they measure, and the direction that the works introducing them associate
# with better transfer (Wang et al., CVPR 2022; t-ReX, ICLR 2023)
METRICS = {
    "sparsity": ("share of (numerically) zero feature values of post-ReLU penultimate features", "lower"),
    "intra_class_distance": ("mean distance between L2-normalised features of the same class", "higher"),
    "feature_redundancy": ("mean absolute correlation between pairs of feature dimensions, in [1/d, 1]", "lower"),
    "coding_length": ("bits to code the L2-normalised features up to distortion 0.5 (lossy coding length)", "higher"),
}


def _check_clone_fields(variant: str, guidance: float, multiplier: float) -> None:
    check_variant(variant)
    if guidance <= 0 or multiplier <= 0:
        raise FakeitError(f"guidance ({guidance}) and multiplier ({multiplier}) must be positive")


@dataclass
class QualitativeParams:
    """Parameters of the fig2_qualitative chapter (paper Fig. 2): real images beside each clone's images."""

    scale: str = "paper"  # label of the preset this ran with: smoke, mini or paper
    class_set: str = "imagenet100"  # classes of the clones; paper: imagenet100; mini: fashion-mnist
    generator: str = "CompVis/stable-diffusion-v1-4"  # diffusers model (hub id or folder) or "mini"; paper: SD v1.4
    steps: int = 50  # denoising steps; paper: 50
    gen_batch_size: int = 8  # images per generator call (part of a dataset's identity: fixed batches)
    images_per_class: int | str = "match"  # synthetic images per class: N, or "match" (the real set's counts); paper: match
    real_root: str = ""  # real training set (wnid folders) whose images are shown; "" at mini: Fashion-MNIST train
    variants: list[str] = field(default_factory=lambda: ["c", "c_hc", "c_dc", "c_hc_inside_b"])  # prompt variants; paper: all four
    guidances: list[float] = field(default_factory=lambda: [7.5, 2.0])  # guidance scales; paper: 7.5 and 2.0
    example_wnids: list[str] = field(default_factory=lambda: list(PAPER_EXAMPLES))  # classes shown (absent ones: evenly spaced classes of the set)
    images_shown: int = 8  # images per row of the grids
    seed: int = 0  # seeds generation

    def validate(self) -> None:
        self.pipeline()  # checks the shared fields
        for v in self.variants:
            check_variant(v)
        if not self.variants or not self.guidances or min(self.guidances) <= 0:
            raise FakeitError(f"variants ({self.variants}) and guidances ({self.guidances}) must be non-empty, guidances > 0")
        if self.images_shown < 1 or not self.example_wnids:
            raise FakeitError(f"images_shown={self.images_shown} must be >= 1 and example_wnids non-empty")

    def pipeline(self) -> PipelineParams:
        """The shared pipeline settings (so the clones are the very folders Table 1 uses)."""
        names = {f.name for f in fields(PipelineParams)}
        p = PipelineParams(**{k: getattr(self, k) for k in names if hasattr(self, k)})
        p.validate()
        return p


@dataclass
class ComparisonParams(PipelineParams):
    """Parameters of the real-vs-synthetic chapters (Table 2, Fig. 1, representations): one model pair, shared."""

    best_variant: str = "c_dc"  # prompt variant of the compared clone; paper (IN-100, Table 2 row 3): c_dc
    best_guidance: float = 2.0  # guidance scale of the compared clone; paper: 2.0
    best_multiplier: float = 50.0  # its size relative to the real set; paper (IN-100): 50x
    transfer_suite: str = "paper"  # paper (ten datasets from transfer_roots) or mini (digits, Fashion-MNIST; offline)
    transfer_roots: dict = field(default_factory=dict)  # paper suite: {aircraft: root, cars: root, ...}

    def validate(self) -> None:
        super().validate()
        _check_clone_fields(self.best_variant, self.best_guidance, self.best_multiplier)
        if self.transfer_suite not in ("paper", "mini"):
            raise FakeitError(f"parameter transfer_suite={self.transfer_suite!r} is not valid; valid: paper, mini")

    def clone(self) -> CloneChoice:
        """The compared clone's choice."""
        return CloneChoice(self.best_variant, self.best_guidance, self.best_multiplier)


def run_label(scale: str, config_hash: str) -> str:
    """How this run's rows are labelled beside the paper's: `this run (scale, config hash)`."""
    return f"this run ({scale}, {config_hash})"


# ---------------------------------------------------------------------------------------------- Fig. 2


def shown_classes(class_set, wnids: list[str]) -> list:
    """The classes of `class_set` with these wnids; if none is in the set, as many evenly spaced classes of it."""
    present = [c for c in class_set if c.wnid in set(wnids)]
    if present:
        return sorted(present, key=lambda c: wnids.index(c.wnid))
    n = min(len(wnids), len(class_set))
    picks = np.linspace(0, len(class_set) - 1, n).round().astype(int)
    return [class_set.classes[i] for i in picks]


def real_images(p: QualitativeParams | PipelineParams, info, n: int) -> list:
    """The first `n` real training images of a class: Fashion-MNIST train (mini) or files of `real_root/<folder>`."""
    from PIL import Image

    if not p.real_root:
        if p.class_set != "fashion-mnist":
            return []
        from .realdata import fashion_mnist

        ds = fashion_mnist("train")
        idx = (ds.targets == info.index).nonzero().flatten()[:n].tolist()
        return [Image.fromarray(ds.data[i].numpy()) for i in idx]
    folder = Path(p.real_root).expanduser() / info.folder
    if not folder.is_dir():
        raise FakeitError(f"real_root {p.real_root} has no folder {info.folder} for class {info.name}")
    files = sorted(f for f in folder.iterdir() if f.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp", ".bmp"))[:n]
    return [Image.open(f).convert("RGB") for f in files]


def synthetic_images(folder: Path, class_index: int, n: int | None = None) -> list:
    """The first `n` (all: None) images of a class in a synthetic dataset, in manifest order."""
    from PIL import Image

    from .datasets import read_manifest

    rows = [r for r in read_manifest(folder) if r["class_index"] == class_index][:n]
    return [Image.open(Path(folder) / r["path"]).copy() for r in rows]


def image_grid(rows: list[tuple[str, list]], title: str = "", cell: float = 1.1):
    """A matplotlib figure with one labelled row of images per (label, images) pair."""
    import matplotlib.pyplot as plt

    n_cols = max([len(ims) for _, ims in rows] + [1])
    fig, axes = plt.subplots(len(rows), n_cols, figsize=(1.6 + cell * n_cols, cell * len(rows) + 0.4), squeeze=False)
    for r, (label, ims) in enumerate(rows):
        for c in range(n_cols):
            ax = axes[r, c]
            ax.set_xticks([]), ax.set_yticks([])
            for side in ax.spines.values():
                side.set_visible(False)
            if c < len(ims):
                im = np.asarray(ims[c])
                ax.imshow(im, cmap="gray" if im.ndim == 2 else None, vmin=0, vmax=255)
            if c == 0:
                ax.set_ylabel(label if ims else f"{label}\n(none)", rotation=0, ha="right", va="center", fontsize=9)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def clone_label(variant: str, guidance: float) -> str:
    """Row label of a clone in grids and tables."""
    return f"{variant}, gs {guidance:g}"


def paper_table1_top1(class_set: str, variant: str, guidance: float) -> float | None:
    """The paper's IN-val top-1 (Table 1) of a model trained on a 1x clone with this variant and guidance, if reported."""
    train = "imagenet1k" if class_set == "imagenet1k" else "imagenet100"
    rows = paper_rows("table1", train=train, data="synthetic", variant=variant, guidance=float(guidance), scale=1)
    return rows[0]["in_val_top1"] if rows else None


def judge_scores(judge, clones: dict[tuple[str, float], Path]) -> pd.DataFrame:
    """Fidelity and diversity (fakeit_lib.judge) of each Fashion-MNIST clone, and of as many real train images per class."""
    from .datasets import read_manifest
    from .judge import score_images
    from .realdata import fashion_mnist

    out, per_class = [], 1
    for (variant, guidance), folder in clones.items():
        rows = read_manifest(folder)
        per_class = max(per_class, len(rows) // len({r["class_index"] for r in rows}))
        images = [np.asarray(_open_grey(Path(folder) / r["path"])) for r in rows]
        s = score_images(judge, np.stack(images), [r["class_index"] for r in rows])
        out.append({"images": clone_label(variant, guidance), "variant": variant, "guidance": float(guidance),
                    "count": s["images"], "fidelity": s["fidelity"], "diversity": s["diversity"],
                    PAPER + ": IN-100 val top-1": paper_table1_top1("imagenet100", variant, guidance)})
    ds = fashion_mnist("train")
    idx = first_per_label(ds.targets, per_class)
    s = score_images(judge, ds.data[idx].numpy(), ds.targets[idx].tolist())
    out.append({"images": "real (Fashion-MNIST train)", "variant": "real", "guidance": float("nan"), "count": s["images"],
                "fidelity": s["fidelity"], "diversity": s["diversity"], PAPER + ": IN-100 val top-1": paper_rows("table1", row=1)[0]["in_val_top1"]})
    return pd.DataFrame(out)


def _open_grey(path: Path):
    from PIL import Image

    with Image.open(path) as im:
        return im.convert("L").copy()


def first_per_label(targets, n: int) -> list[int]:
    """Indices of the first `n` items of each label in `targets` (label order, then dataset order)."""
    import torch

    t = torch.as_tensor(targets)
    return [i for c in torch.unique(t).tolist() for i in (t == c).nonzero().flatten()[:n].tolist()]


def clone_scores(class_set: str, clones: dict[tuple[str, float], Path]) -> tuple[float, pd.DataFrame | None]:
    """(judge's real test accuracy, judge_scores table) for Fashion-MNIST clones; (nan, None) for other class sets,
    which have no judge."""
    if class_set != "fashion-mnist":
        return float("nan"), None
    from .judge import load_judge

    judge, accuracy = load_judge(progress=False)
    return accuracy, judge_scores(judge, clones)


def guidance_summary(scores: pd.DataFrame | None, guidances: list[float]) -> dict[str, str]:
    """Text for the prose: mean fidelity/diversity at the highest (`*_hi`) and lowest (`*_lo`) guidance scale."""
    means = guidance_means(scores) if scores is not None else {}
    hi, lo = max(guidances), min(guidances)
    out = {"gs_hi": f"{hi:g}", "gs_lo": f"{lo:g}"}
    for tag, g in (("hi", hi), ("lo", lo)):
        for key in ("fidelity", "diversity"):
            out[f"{key[:3]}_{tag}"] = f"{means[g][key]:.3f}" if g in means else "not measured"
    if hi in means and lo in means and hi != lo:
        if means[lo]["diversity"] > means[hi]["diversity"]:
            out["diversity_verdict"] = f"holds in this run: guidance {lo:g} gives more diverse images than {hi:g}"
        else:
            out["diversity_verdict"] = f"does not hold in this run: guidance {lo:g} gives less diverse images than {hi:g}"
    else:
        out["diversity_verdict"] = "cannot be checked in this run (fewer than two guidance scales measured)"
    return out


def guidance_means(scores: pd.DataFrame) -> dict[float, dict[str, float]]:
    """Mean fidelity and diversity over prompt variants, per guidance scale (real images left out)."""
    g = scores.dropna(subset=["guidance"]).groupby("guidance")[["fidelity", "diversity"]].mean()
    return {float(k): {"fidelity": float(v["fidelity"]), "diversity": float(v["diversity"])} for k, v in g.iterrows()}


def paper_guidance_means(class_set: str = "imagenet100") -> dict[float, float]:
    """The paper's IN-val top-1 (Table 1) averaged over the four prompt variants at 1x, per guidance scale."""
    train = "imagenet1k" if class_set == "imagenet1k" else "imagenet100"
    rows = paper_rows("table1", train=train, data="synthetic", scale=1)
    return {g: round(float(np.mean([r["in_val_top1"] for r in rows if r["guidance"] == g])), 1)
            for g in sorted({r["guidance"] for r in rows}, reverse=True)}


def fidelity_diversity_figure(scores: pd.DataFrame):
    """A plotly scatter of fidelity against diversity, one point per clone plus the real images."""
    import plotly.express as px

    df = scores.assign(guidance=scores["guidance"].map(lambda g: "real" if pd.isna(g) else f"{g:g}"))
    fig = px.scatter(df, x="diversity", y="fidelity", color="guidance", symbol="variant", hover_data=["images", "count"],
                     title="Fidelity (judge accuracy) vs diversity (within-class feature spread)")
    fig.update_traces(marker_size=12)
    fig.update_layout(height=420)
    return fig


# ---------------------------------------------------------------------------------------------- Table 2


def model_labels(p: ComparisonParams) -> tuple[str, str]:
    """Names of the real-trained and the synthetic-trained model of a comparison."""
    clone = f"{p.class_set} synthetic ({clone_label(p.best_variant, p.best_guidance)}, {p.best_multiplier:g}x)"
    return f"{p.class_set} real", clone


def compared_models(p: ComparisonParams) -> dict[str, Path]:
    """Checkpoints of the encoder trained on real data and of the one trained on the chosen clone (cached stages)."""
    from .experiments import real_training_set, synthetic_clone, trained_checkpoint

    real, synthetic = model_labels(p)
    clone = synthetic_clone(p, p.best_variant, p.best_guidance, p.best_multiplier)
    return {real: trained_checkpoint(p, real_training_set(p)), synthetic: trained_checkpoint(p, clone)}


def transfer_top1(results: dict) -> dict[str, float]:
    """Linear-probe top-1 (%) per dataset of a transfer result, plus their `average`."""
    values = {name: 100 * d["top1"] for name, d in results["datasets"].items()}
    if not values:
        raise FakeitError("transfer results hold no dataset")
    return {**values, "average": float(np.mean(list(values.values())))}


def paper_training_label(row: dict) -> str:
    """How a paper table row's training data is named in tables: `IN-100 real (Baseline)`, `IN-1K-SD (c_dc, gs 2, 1x)`."""
    train = {"imagenet100": "IN-100", "imagenet1k": "IN-1K", "none": "-"}[row["train"]]
    if row["data"] == "synthetic":
        return f"{train}-SD ({clone_label(row['variant'], row['guidance'])}, {row['scale']:g}x)"
    return f"{train} real ({row['model']})" if row["data"] == "real" else row["model"]


def table2_frame(paper: list[dict], ours: dict[str, dict[str, float]], label: str) -> pd.DataFrame:
    """Paper Table 2 rows and this run's rows (training data -> dataset -> top-1) in one table, one column per dataset."""
    cols = paper_results_columns("table2")
    records = [{"source": PAPER, "trained on": paper_training_label(r), **{c: r[c] for c in cols}} for r in paper]
    records += [{"source": label, "trained on": name, **vals} for name, vals in ours.items()]
    df = pd.DataFrame(records)
    ordered = ["source", "trained on"] + [c for c in df.columns if c not in ("source", "trained on", "average")] + ["average"]
    return df[ordered].set_index(["source", "trained on"])


def paper_results_columns(table: str) -> list[str]:
    """The columns of a paper table."""
    from .experiments import paper_results

    return list(paper_results()[table]["columns"])


def synthetic_minus_real(real: float, synthetic: float) -> float:
    """Synthetic-trained minus real-trained score, in points (positive: synthetic better)."""
    return round(float(synthetic) - float(real), 1)


def average_rows(ours: dict[str, dict[str, float]], label: str, paper_row_ids=(2, 3, 4, 8)) -> list[dict]:
    """Rows {source, trained on, average} of some paper Table 2 rows (default: real and synthetic, IN-100 and
    IN-1K) and of this run's models."""
    rows = [{"source": PAPER, "trained on": paper_training_label(r), "average": r["average"]}
            for r in paper_rows("table2") if r["row"] in paper_row_ids]
    return rows + [{"source": label, "trained on": name, "average": v["average"]} for name, v in ours.items()]


def transfer_gaps(ours: dict[str, dict[str, float]], real: str, synthetic: str) -> dict[str, str]:
    """Text for the prose: paper and run averages and synthetic-minus-real differences, in points."""
    in100 = {r["row"]: r["average"] for r in paper_rows("table2", train="imagenet100")}
    in1k = {r["row"]: r["average"] for r in paper_rows("table2", train="imagenet1k")}
    gap = synthetic_minus_real(ours[real]["average"], ours[synthetic]["average"])  # rounded to 0.1 point
    if gap > 0:
        verdict = "holds in this run: the synthetic-trained encoder transfers better than the real-trained one"
    elif gap == 0:
        verdict = "holds in this run: the synthetic-trained encoder transfers as well as the real-trained one"
    else:
        verdict = f"does not hold in this run: the synthetic-trained encoder trails the real-trained one by {-gap:.1f} points"
    return {
        "paper_gap_in100": f"{synthetic_minus_real(in100[2], in100[3]):+.1f}",
        "paper_gap_in1k": f"{synthetic_minus_real(in1k[4], in1k[8]):+.1f}",
        "run_real_avg": f"{ours[real]['average']:.1f}",
        "run_synthetic_avg": f"{ours[synthetic]['average']:.1f}",
        "run_gap": f"{gap:+.1f}",
        "run_verdict": verdict,
    }


def averages_figure(rows: list[dict]):
    """A plotly bar chart of average transfer top-1: rows {source, trained on, average}, grouped by source."""
    import plotly.express as px

    fig = px.bar(pd.DataFrame(rows), x="source", y="average", color="trained on", barmode="group", text_auto=".1f",
                 title="Average linear-probe top-1 on the transfer datasets")
    fig.update_layout(height=420, yaxis_title="top-1 (%)", xaxis_title="")
    return fig


# ---------------------------------------------------------------------------------------------- Fig. 1


def paper_spider() -> dict[str, dict[str, float]]:
    """Fig. 1's values from the paper's tables: top-5 on the ImageNet test sets (Table 1 rows 13, 14, 17) and
    average transfer top-1 (Table 2 rows 4, 5, 8), per model."""
    out = {}
    for t1, t2, name in ((13, 4, "IN-1K real (PyTorch ResNet-50)"), (14, 5, "IN-1K real (RSB-A1 ResNet-50)"),
                         (17, 8, "IN-1K-SD synthetic (c_dc, gs 2)")):
        r1, r2 = paper_rows("table1", row=t1)[0], paper_rows("table2", row=t2)[0]
        out[name] = {**{axis: r1[f"in_{k}_top5"] for k, axis in TEST_SETS.items()}, TRANSFER_AXIS: r2["average"]}
    return out


def run_spider(evaluation: dict, transfer: dict) -> dict[str, float]:
    """One model's axes for this run: top-5 (%) per real test set, and average transfer top-1; with fewer than three
    axes (the mini suite), each transfer dataset's top-1 is added so the polygon is drawable."""
    axes = {TEST_SETS.get(name, f"{name} (top-5)"): 100 * d["top5"] for name, d in evaluation["datasets"].items()}
    top1 = transfer_top1(transfer)
    if len(axes) + 1 < 3:
        axes.update({f"{name} (transfer top-1)": v for name, v in top1.items() if name != "average"})
    axes[TRANSFER_AXIS] = top1["average"]
    return axes


def spider_gaps(paper: dict[str, dict[str, float]], run: dict[str, dict[str, float]]) -> dict[str, str]:
    """Text for the prose: first axis and transfer axis, real vs synthetic, in the paper's panel and in this run's
    (the paper's real model: the PyTorch ResNet-50; a run model is synthetic when its name says so)."""
    p_real, p_syn = paper["IN-1K real (PyTorch ResNet-50)"], paper["IN-1K-SD synthetic (c_dc, gs 2)"]
    r_real = next(v for k, v in run.items() if "synthetic" not in k)
    r_syn = next(v for k, v in run.items() if "synthetic" in k)
    first = next(iter(r_real))
    return {
        "paper_real_first": f"{p_real['IN-val']:.1f}", "paper_syn_first": f"{p_syn['IN-val']:.1f}",
        "paper_real_transfer": f"{p_real[TRANSFER_AXIS]:.1f}", "paper_syn_transfer": f"{p_syn[TRANSFER_AXIS]:.1f}",
        "run_first_axis": first, "run_real_first": f"{r_real[first]:.1f}", "run_syn_first": f"{r_syn[first]:.1f}",
        "run_real_transfer": f"{r_real[TRANSFER_AXIS]:.1f}", "run_syn_transfer": f"{r_syn[TRANSFER_AXIS]:.1f}",
    }


def spider_frame(panels: dict[str, dict[str, dict[str, float]]]) -> pd.DataFrame:
    """Long table (panel, model, axis, value) of spider panels {panel: {model: {axis: value}}}."""
    return pd.DataFrame([{"panel": p, "model": m, "axis": a, "value": round(v, 1)}
                         for p, models in panels.items() for m, axes in models.items() for a, v in axes.items()])


def spider_table(panels: dict[str, dict[str, dict[str, float]]]) -> pd.DataFrame:
    """Rows (panel, axis) in drawing order, one column per model (NaN where a model has no such axis)."""
    long = spider_frame(panels)
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
    fig.update_layout(height=480 * n, margin=dict(t=60, l=150, r=150), legend=dict(orientation="h", y=-0.04))
    return fig


def spider_static(panels: dict[str, dict[str, dict[str, float]]]):
    """The same radar plot as a static matplotlib figure (fallback for readers without JavaScript, and PNG export)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 5.5), subplot_kw={"projection": "polar"}, squeeze=False)
    for ax, (title, models) in zip(axes[0], panels.items()):
        for model, values in models.items():
            names = list(values)
            theta = np.linspace(0, 2 * np.pi, len(names), endpoint=False).tolist()
            r = [values[a] for a in names]
            colour = "#d62728" if "synthetic" in model.lower() else None
            ax.plot(theta + theta[:1], r + r[:1], label=model, color=colour)
            ax.fill(theta + theta[:1], r + r[:1], alpha=0.2, color=colour)
            ax.set_xticks(theta, names, fontsize=8)
        ax.set_ylim(0, 100)
        ax.set_title(title, pad=18)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), fontsize=8)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------- representations


def repmetrics_frame(results: dict[str, dict]) -> pd.DataFrame:
    """One row per (model, dataset, metric) from transfer results' `repmetrics_test`, {model label: results}."""
    rows = []
    for model, res in results.items():
        for dataset, d in res["datasets"].items():
            if "repmetrics_test" not in d:
                raise FakeitError(f"transfer results of {model} on {dataset} carry no repmetrics_test")
            for metric, value in d["repmetrics_test"].items():
                rows.append({"model": model, "dataset": dataset, "metric": metric, "value": float(value),
                             "better (t-ReX)": METRICS[metric][1] if metric in METRICS else "?"})
    return pd.DataFrame(rows)


def repmetrics_wide(long: pd.DataFrame) -> pd.DataFrame:
    """Metrics (with the direction associated with better transfer) as rows, (dataset, model) as columns."""
    return long.pivot_table(index=["metric", "better (t-ReX)"], columns=["dataset", "model"], values="value")


def agreement_with_direction(long: pd.DataFrame, synthetic: str, real: str) -> pd.DataFrame:
    """Per dataset and metric: does the synthetic-trained encoder sit on the 'better transfer' side of the real one?"""
    rows = []
    for (dataset, metric), g in long.groupby(["dataset", "metric"]):
        vals = dict(zip(g["model"], g["value"]))
        if synthetic not in vals or real not in vals or metric not in METRICS:
            continue
        better = METRICS[metric][1]
        diff = vals[synthetic] - vals[real]
        rows.append({"dataset": dataset, "metric": metric, "synthetic - real": diff, "better": better,
                     "synthetic on the better side": bool(diff > 0) if better == "higher" else bool(diff < 0)})
    return pd.DataFrame(rows)


def repmetrics_figure(long: pd.DataFrame):
    """A plotly bar chart, one panel per metric (own y axis), datasets on x, one bar per model."""
    import plotly.express as px

    fig = px.bar(long, x="dataset", y="value", color="model", barmode="group", facet_col="metric", facet_col_wrap=2,
                 title="Representation metrics of the penultimate features on each test split")
    fig.update_yaxes(matches=None, showticklabels=True)
    fig.update_layout(height=620)
    return fig


def metrics_explained() -> pd.DataFrame:
    """The four metrics, what they measure and which direction goes with better transfer."""
    return pd.DataFrame([{"metric": k, "measures": v[0], "better transfer": v[1]} for k, v in METRICS.items()])
