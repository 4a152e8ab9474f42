"""Chapter tab2_transfer (paper Table 2): linear probes of the two encoders on datasets of other classes."""

from __future__ import annotations

import pandas as pd

from ..experiments.stages import ModelRuns, transfer_scores_many
from ..paper import claims
from ..paper import findings as fd
from ..paper.results import paper_columns, paper_rows, train_set_of
from ..paper.stats import mean_interval
from ..paper.tables import PAPER, interval_cell
from .comparison import ComparisonParams, equal_size_runs


def paper_training_label(row: dict) -> str:
    """How a paper table row's training data is named in tables: `IN-100 real (Baseline)`, `IN-1K-SD (c_dc, gs 2, 1x)`."""
    train = {"imagenet100": "IN-100", "imagenet1k": "IN-1K", "none": "-"}[row["train"]]
    if row["data"] == "synthetic":
        return f"{train}-SD ({row['variant']}, gs {row['guidance']:g}, {row['scale']:g}x)"
    return f"{train} real ({row['model']})" if row["data"] == "real" else row["model"]


RANDOM = "random weights (the 1x clone's network at its initialisation)"


def probes(p: ComparisonParams, real: ModelRuns, synthetic: ModelRuns) -> dict[str, list[dict[str, float]]]:
    """Per model and seed: linear-probe top-1 (%) on each transfer dataset and their out-of-domain average; the last
    row, the 1x clone's network at its own initialisation (Table 2 row 1's random weights, paired by seed)."""
    same = equal_size_runs(p, synthetic)
    models = list({m.label: m for m in (real, synthetic, same)}.values())
    scores = transfer_scores_many(p, models, p.transfer_suite, p.transfer_roots)
    random = transfer_scores_many(p, [same], p.transfer_suite, p.transfer_roots, random_init=True)[0]
    return {**{m.label: t for m, t in zip(models, scores)}, RANDOM: random}


def table2_frame(ours: dict[str, list[dict[str, float]]], label: str) -> pd.DataFrame:
    """The paper's Table 2 rows, then this run's rows (mean ± 95% interval over seeds), one column per dataset."""
    cols = paper_columns("table2")
    records = [{"source": PAPER, "trained on": paper_training_label(r), **{c: f"{r[c]:.1f}" for c in cols}}
               for r in paper_rows("table2")]
    for name, seeds in ours.items():
        datasets = [k for k in seeds[0] if k != "average"] + ["average"]
        records.append({"source": label, "trained on": name,
                        **{d: interval_cell([s[d] for s in seeds]) for d in datasets}})
    df = pd.DataFrame(records).fillna("–")
    ordered = ["source", "trained on"] + [c for c in df.columns if c not in ("source", "trained on", "average")] + ["average"]
    return df[ordered]


def averages_frame(ours: dict[str, list[dict[str, float]]], label: str, paper_row_ids=(1, 2, 3, 4, 8)) -> pd.DataFrame:
    """Average transfer top-1 of some paper rows (IN-100 and IN-1K, real and synthetic) and of this run's models."""
    rows = [{"source": PAPER, "trained on": paper_training_label(r), "average": r["average"], "err": 0.0}
            for r in paper_rows("table2") if r["row"] in paper_row_ids]
    for name, seeds in ours.items():
        est = mean_interval([s["average"] for s in seeds])
        rows.append({"source": label, "trained on": name, "average": est.mean,
                     "err": (est.high - est.mean) if est.high is not None else 0.0})
    return pd.DataFrame(rows)


def averages_figure(df: pd.DataFrame):
    """Bars of average transfer top-1 per source and model, with 95% error bars for this run."""
    import plotly.express as px

    fig = px.bar(df, x="source", y="average", color="trained on", barmode="group", error_y="err", text_auto=".1f",
                 title="Average linear-probe top-1 on the transfer datasets")
    fig.update_layout(height=440, yaxis_title="top-1 (%)", xaxis_title="")
    return fig


def transfer_sets_frame(suite: str) -> pd.DataFrame | None:
    """The mini suite's datasets with their classes, source, licence and split (None for the paper suite)."""
    if suite != "mini":
        return None
    from ..evaluation.minidata import TRANSFER_SETS, content_sha256, transfer_split

    return pd.DataFrame([{"dataset": s.name, "what": s.title, "group": s.group, "classes": ", ".join(s.classes),
                          "train / test images": f"{len(transfer_split(s.name, 'train'))} / {len(transfer_split(s.name, 'test'))}",
                          "split": s.split, "source": s.source, "licence": s.licence,
                          "content sha256": content_sha256(s.name)[:16]} for s in TRANSFER_SETS.values()])


def transfer_findings(p: ComparisonParams, real: ModelRuns, synthetic: ModelRuns,
                      ours: dict[str, list[dict[str, float]]]) -> list[fd.Verdict]:
    """Verdicts: an encoder trained on a clone of the real set's size (1x) transfers on par with the real-trained one
    (the suite's average; a larger clone against real is Fig. 4's finding, not counted twice), and far better than
    the same network at its initialisation."""
    from ..paper.stats import Family

    train = train_set_of(p.class_set)
    same = equal_size_runs(p, synthetic)
    a_t = ours[same.label]
    datasets = [k for k in ours[real.label][0] if k != "average"]
    models = {"real": [s["average"] for s in ours[real.label]], "1x": [s["average"] for s in a_t]}
    if synthetic.label != same.label:
        models["compared"] = [s["average"] for s in ours[synthetic.label]]
    fam = Family("Table 2's trained encoders, transfer average", models)
    evidence = {"a saw": same.saw(p.class_set), "b saw": real.saw(p.class_set), "transfer datasets": datasets}
    out = [fd.check("synthetic_beats_real_transfer", fam.difference("1x", "real"), p.scale, evidence,
                    claims.paper_value("synthetic_beats_real_transfer", train))]
    random = ours[RANDOM]
    est = fd.paired([s["average"] for s in a_t], [s["average"] for s in random])
    out.append(fd.check("trained_beats_random_transfer", est, p.scale,
                        {"a saw": same.saw(p.class_set), "b": "the same network at its initialisation, seed by seed",
                         "random-weights top-1 per seed": [s["average"] for s in random], "transfer datasets": datasets},
                        claims.paper_value("trained_beats_random_transfer", train)))
    return out
