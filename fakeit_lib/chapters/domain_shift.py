"""Chapter domain_shift (paper Sec. 5.2, Table 1's shifted test sets): the same classes, other-looking images.

The paper tests its ImageNet-100 models on ImageNet-v2, -Sketch, -R and -A besides the validation set: several
synthetic-trained models beat the real-trained one on Sketch and R although they trail it on val. At the mini scale
the shifted tests are constructed from the real Fashion-MNIST test split (fakeit_lib.evaluation.minidata.SHIFTS: edge-map
sketches, inverted renditions, noise, blur, low contrast), deterministically, and labelled as constructed. The
models are Table 1's, per seed; "holding up" is the share of in-domain top-1 kept under shift.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..experiments.stages import ModelRuns, evaluations
from ..paper import findings as fd
from ..paper.results import TEST_SETS, VARIANT_LABELS, paper_rows, train_set_of
from ..paper.tables import interval_cell
from .tab1_prompts import Table1Params

PAPER_SHIFTS = ("sketch", "r", "a")  # Sec. 5.2's domain shifts; ImageNet-v2 is Sec. 5.1's second in-domain test


def shift_names(p: Table1Params, runs: dict) -> list[str]:
    """The shifted test sets of this run: the constructed mini shifts, or the ImageNet sets other than val."""
    if p.eval_suite == "mini":
        from ..evaluation.shifts import SHIFTS

        return list(SHIFTS)
    return [t for t in runs["real"].results[0]["datasets"] if t in PAPER_SHIFTS]


def shifted_scores(p: Table1Params, runs: dict) -> dict:
    """Per model key and seed: {test: top-1 (%)} on the in-domain test (key "in-domain") and each shifted test."""
    out = {}
    names = shift_names(p, runs)
    checkpoints = [c for r in runs.values() for c in r.checkpoints]
    shifted_all = iter(evaluations(p, checkpoints, "mini-shifts") if p.eval_suite == "mini" else [None] * len(checkpoints))
    for key, r in runs.items():
        per_seed = []
        for result in r.results:
            first = next(iter(result["datasets"]))
            scores = {"in-domain": 100 * result["datasets"][first]["top1"]}
            extra = next(shifted_all)
            shifted = extra["datasets"] if extra is not None else result["datasets"]
            scores.update({k: 100 * v["top1"] for k, v in shifted.items() if k in names})
            per_seed.append(scores)
        out[key] = per_seed
    return out


def retention(scores: dict[str, float]) -> float:
    """The share of in-domain top-1 a model keeps under shift: mean over shifted tests of shifted / in-domain."""
    shifted = [v for k, v in scores.items() if k != "in-domain"]
    return float(np.mean(shifted) / scores["in-domain"]) if scores["in-domain"] > 0 else 0.0


def shift_frame(runs: dict, scores: dict) -> pd.DataFrame:
    """One row per model: in-domain and shifted top-1 and the share kept, mean ± 95% interval over seeds."""
    rows = []
    for key, r in runs.items():
        per_seed = scores[key]
        row = {"training data": r.label if r.data == "real" else "synthetic",
               "prompt": VARIANT_LABELS.get(r.variant, "-") if r.variant else "-",
               "guidance": f"{r.guidance:g}" if r.guidance is not None else "-"}
        for test in per_seed[0]:
            row[f"{test} top-1"] = interval_cell([s[test] for s in per_seed])
        row["share kept under shift"] = interval_cell([retention(s) for s in per_seed], 3)
        rows.append(row)
    return pd.DataFrame(rows)


def paper_frame(class_set: str) -> pd.DataFrame:
    """The paper's Table 1 with all five test sets, top-1 and top-5, for the run's training set (from the data file)."""
    train = train_set_of(class_set)
    rows = []
    for r in paper_rows("table1", train=train):
        row = {"row": r["row"], "training data": r["data"] if r["data"] == "real" else f"synthetic ({r['scale']:g}x)",
               "prompt": VARIANT_LABELS.get(r.get("variant"), "-"), "guidance": r.get("guidance", "-")}
        for key, (prefix, label) in TEST_SETS.items():
            row[f"{label} top-1"] = r[f"{prefix}_top1"]
            row[f"{label} top-5"] = r[f"{prefix}_top5"]
        rows.append(row)
    return pd.DataFrame(rows)


def retention_figure(runs: dict, scores: dict, scale: str):
    """Bars of top-1 per test set (in-domain first) for the real model and every clone, with 95% error bars."""
    import plotly.express as px

    from ..paper.stats import mean_interval

    rows = []
    for key, r in runs.items():
        for test in scores[key][0]:
            est = mean_interval([s[test] for s in scores[key]])
            rows.append({"model": r.label, "test": test, "top-1": est.mean,
                         "err": (est.high - est.mean) if est.high is not None else 0.0})
    fig = px.bar(pd.DataFrame(rows), x="test", y="top-1", color="model", barmode="group", error_y="err",
                 title=f"Top-1 on the in-domain and shifted tests, {scale} scale")
    fig.update_layout(height=460, yaxis_title="top-1 (%)", xaxis_title="")
    return fig


def paper_retention(train: str = "imagenet100") -> str:
    """The paper's value for the finding: share kept under shift (Sketch, R, A over val), best 1x clone minus real."""
    real = paper_rows("table1", train=train, data="real")[0]
    clones = paper_rows("table1", train=train, data="synthetic", scale=1)
    best = max(clones, key=lambda r: r["in_val_top1"])
    kept = lambda r: np.mean([r[f"{TEST_SETS[t][0]}_top1"] for t in PAPER_SHIFTS]) / r["in_val_top1"]
    return (f"{kept(best) - kept(real):+.3f} ({'IN-100' if train == 'imagenet100' else 'IN-1K'}, Table 1 row {best['row']} "
            f"against row {real['row']}: {kept(best):.3f} against {kept(real):.3f} of val top-1 kept)")


def shift_findings(p: Table1Params, runs: dict, scores: dict) -> list[fd.Verdict]:
    """Verdict: the best 1x clone keeps more of its in-domain accuracy under shift than the real-trained model."""
    clones = [k for k, r in runs.items() if r.data == "synthetic" and r.multiplier == 1]
    if not clones or len(scores["real"][0]) < 2:
        return []
    best = max(clones, key=lambda k: sum(runs[k].scores()))
    a = [retention(s) for s in scores[best]]
    b = [retention(s) for s in scores["real"]]
    return [fd.check_greater("synthetic_holds_up_under_shift", a, b, p.scale,
                             {"a saw": runs[best].saw(p.class_set), "b saw": runs["real"].saw(p.class_set),
                              "best clone": runs[best].label, "shifted tests": shift_names(p, runs)},
                             paper_retention(train_set_of(p.class_set)))]


def runs_of(p: Table1Params) -> dict[object, ModelRuns]:
    """Table 1's models (the same cached stages)."""
    from .tab1_prompts import table1_runs

    return table1_runs(p)


def shift_table(p: Table1Params) -> pd.DataFrame | None:
    """The constructed shifts of the mini scale: name, the ImageNet set each stands in for, the rule (None otherwise)."""
    if p.eval_suite != "mini":
        return None
    from ..evaluation.shifts import SHIFT_PER_CLASS, SHIFTS

    return pd.DataFrame([{"test": s.name, "what": s.title, "stands in for": s.analogue, "rule": s.rule,
                          "images": 10 * SHIFT_PER_CLASS} for s in SHIFTS.values()])
