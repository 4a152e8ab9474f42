"""Chapter tab2_transfer (paper Table 2): linear probes of the two encoders on datasets of other classes."""

from __future__ import annotations

import pandas as pd

from ..datasets.minidata import TRANSFER_SETS, content_sha256, transfer_split
from ..experiments.stages import ModelRuns, transfer_scores_many
from ..paper import claims
from ..paper import findings as fd
from ..paper.results import TRANSFER_NAMES, paper_columns, paper_rows, train_set_of, variant_name
from ..paper.stats import Family, mean_interval
from ..paper.tables import PAPER, interval_cell
from ..experiments.comparison import ComparisonParams, draw_runs, equal_size_runs
from ..paper.draws import draws_text as clone_draws_text
from .words import transfer_name


def paper_training_label(row: dict) -> str:
    """How a paper table row's training data is named in tables: `IN-100 real (Baseline)`, `IN-1K-SD (class name + definition, guidance 2, 1x)`."""
    train = {"imagenet100": "IN-100", "imagenet1k": "IN-1K", "none": "-"}[row["train"]]
    if row["data"] == "synthetic":
        return f"{train}-SD ({variant_name(row['variant'])}, guidance {row['guidance']:g}, {row['scale']:g}x)"
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


def draw_probes(p: ComparisonParams, synthetic: ModelRuns) -> list[list[dict[str, float]]]:
    """Per draw of the 1x compared clone (`comparison.draw_runs`: the clone itself first), per seed: its probes on the
    transfer suite, as `probes` gives them. The variance of a draw measured in transfer itself, not carried over
    from the training classes; [] with draws 1. The draws' models exist already (Table 1's): only probes run."""
    draws = draw_runs(p, equal_size_runs(p, synthetic))
    return transfer_scores_many(p, draws, p.transfer_suite, p.transfer_roots) if draws else []


def drawn_family(name: str, models: dict[str, list[float]], draws: list[list[float]], drawn: set[str]) -> Family:
    """A family of per-seed values whose `drawn` models (trained on a clone) carry the variance of a clone's draw
    measured from `draws` (per draw, per seed, on the same metric) inside their error; as it is without two draws."""
    fam = Family(name, models)
    if len(draws) >= 2:
        fam.add_draws(draws, drawn & set(models))
    return fam


def table2_frame() -> pd.DataFrame:
    """The paper's Table 2: one row per encoder, top-1 (%) of its linear probe on each of the ten transfer datasets
    and their average."""
    cols = [c for c in paper_columns("table2") if c != "average"] + ["average"]
    return pd.DataFrame([{"trained on": paper_training_label(r), **{TRANSFER_NAMES[c]: f"{r[c]:.1f}" for c in cols}}
                         for r in paper_rows("table2")])


def run_frame(ours: dict[str, list[dict[str, float]]]) -> pd.DataFrame:
    """This run's Table 2 on its own transfer datasets: one row per encoder, mean ± 95% interval over seeds; a
    dataset's column named in words (`Font letters`, not the results' `letters`)."""
    records = []
    for name, seeds in ours.items():
        datasets = [k for k in seeds[0] if k != "average"] + ["average"]
        records.append({"trained on": name, **{transfer_name(d): interval_cell([s[d] for s in seeds]) for d in datasets}})
    return pd.DataFrame(records).fillna("–")


def averages_frame(ours: dict[str, list[dict[str, float]]], label: str, paper_row_ids=(1, 2, 3, 4, 8)) -> pd.DataFrame:
    """Average transfer top-1 of some paper rows (IN-100 and IN-1K, real and synthetic) and of this run's models."""
    rows = [{"source": PAPER, "trained on": paper_training_label(r), "average": r["average"], "err": 0.0, "row": r["row"]}
            for r in paper_rows("table2") if r["row"] in paper_row_ids]
    for name, seeds in ours.items():
        est = mean_interval([s["average"] for s in seeds])
        rows.append({"source": label, "trained on": name, "average": est.mean,
                     "err": (est.high - est.mean) if est.high is not None else 0.0, "row": None})
    return pd.DataFrame(rows)


def row_span(rows: list[int]) -> str:
    """Row numbers as a reader writes them: consecutive runs joined (`1-4 and 8`)."""
    rows, spans = sorted(set(rows)), []
    for r in rows:
        if spans and r == spans[-1][1] + 1:
            spans[-1][1] = r
        else:
            spans.append([r, r])
    words = [f"{a}" if a == b else f"{a}-{b}" for a, b in spans]
    return " and ".join([", ".join(words[:-1]), words[-1]]) if len(words) > 1 else "".join(words)


def averaged_datasets(ours: dict[str, list[dict[str, float]]], label: str) -> dict[str, str]:
    """What each source's average is over, in words (the paper's ten datasets; this run's own, by their names)."""
    cols = [c for c in paper_columns("table2") if c != "average"]
    mine = [transfer_name(k) for k in next(iter(ours.values()))[0] if k != "average"]
    return {PAPER: f"its {len(cols)} transfer datasets", label: ", ".join(mine)}


def averages_figure(df: pd.DataFrame, datasets: dict[str, str] | None = None):
    """Horizontal bars of average transfer top-1 per model, one panel per source, each with its own axis: the paper
    and this run average different transfer datasets (`datasets`: source -> which, in words), so their bars are
    never set side by side on one scale. This run's bars carry 95% error bars."""
    import textwrap

    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    sources = list(dict.fromkeys(df["source"]))

    def which_rows(source: str) -> list[str]:
        """The paper's panel names the rows of Table 2 it shows (not all of them): `Table 2 rows 1-4 and 8 (of 8)`."""
        rows = [int(r) for r in df[df.source == source].get("row", pd.Series(dtype=float)).dropna()]
        return [f"Table 2 rows {row_span(rows)} (of {len(paper_rows('table2'))})"] if rows else []

    # short lines: plotly never wraps a subplot title, and a phone's panel holds about 30 characters of one
    titles = ["<br>".join([f"{s}:", *which_rows(s),
                           *textwrap.wrap(f"average over {(datasets or {}).get(s, 'its transfer datasets')}", 30)])
              for s in sources]
    heights = [max(1, int((df.source == s).sum())) for s in sources]
    fig = make_subplots(rows=len(sources), cols=1, subplot_titles=titles, row_heights=heights, vertical_spacing=0.26)
    for i, source in enumerate(sources, 1):
        d = df[df.source == source].iloc[::-1]  # the first row on top
        names = ["<br>".join(textwrap.wrap(n, 26)) for n in d["trained on"]]  # short lines fit a phone's width
        fig.add_trace(go.Bar(x=d["average"], y=names, orientation="h", name=source, showlegend=False,
                             error_x=dict(array=d["err"].tolist(), visible=bool((d["err"] > 0).any())),
                             text=[f"{v:.1f}" for v in d["average"]], textposition="inside", insidetextanchor="start",
                             textfont=dict(size=12, color="white"), marker_color="#7f7f7f" if i == 1 else "#d62728"),
                      row=i, col=1)
        fig.update_xaxes(title_text="average linear-probe top-1 (%)", rangemode="tozero", row=i, col=1)
        fig.update_yaxes(automargin=True, tickfont_size=11, row=i, col=1)
    fig.update_layout(height=180 + 64 * sum(heights), margin=dict(l=10, r=10, t=80, b=40))
    return fig


def transfer_sets_frame(suite: str) -> pd.DataFrame | None:
    """The mini suite's datasets: what they hold, their classes and sizes (None for the paper suite)."""
    if suite != "mini":
        return None
    return pd.DataFrame([{"dataset": transfer_name(s.name), "what": s.title, "group": s.group, "classes": ", ".join(s.classes),
                          "train / test images": f"{len(transfer_split(s.name, 'train'))} / {len(transfer_split(s.name, 'test'))}"}
                         for s in TRANSFER_SETS.values()])


def transfer_sources_frame(suite: str) -> pd.DataFrame | None:
    """Where the mini suite's datasets come from: split, source, licence and the first digits of their content hash,
    by which two builds' data can be compared (None for the paper suite)."""
    if suite != "mini":
        return None
    plain = lambda text: text.replace("`", "")  # a table cell shows text as it is: no Markdown marks
    return pd.DataFrame([{"dataset": transfer_name(s.name), "split": plain(s.split), "source": plain(s.source), "licence": plain(s.licence),
                          "content sha256": content_sha256(s.name)[:16]} for s in TRANSFER_SETS.values()])


def sources_note(suite: str):
    """The sources table for developers, collapsed under a "For developers" summary (split, source, licence and the
    content hash by which two builds' data are compared): a reader sees the datasets above, in words; None for the
    paper suite."""
    from IPython.display import HTML

    sources = transfer_sources_frame(suite)
    if sources is None:
        return None
    table = sources.style.hide(axis="index").to_html()
    return HTML("<details class=\"fakeit-developers\"><summary>For developers: where each dataset comes from (split, "
                f"source, licence, content hash)</summary>\n{table}\n</details>")


def gaps_text(p: ComparisonParams, real: ModelRuns, synthetic: ModelRuns, ours: dict[str, list[dict[str, float]]]) -> str:
    """This run's two gaps in one sentence, from its results: real minus the 1x clone on the training classes' test
    and in transfer (means over seeds), to be read beside the paper's (transfer closes and reverses its gap)."""
    from ..experiments.table1 import test_set_words

    same = equal_size_runs(p, synthetic)
    test = next(iter(real.results[0]["datasets"]))
    mean = lambda xs: sum(xs) / len(xs)
    in_domain = mean(real.scores()) - mean(same.scores())
    transfer = mean([s["average"] for s in ours[real.label]]) - mean([s["average"] for s in ours[same.label]])

    def side(gap: float) -> str:
        return f"{abs(gap):.1f} points {'above' if gap >= 0 else 'below'}"

    n = len(real.scores())
    return (f"In this run the real-trained encoder is {side(in_domain)} the clone of the same size (1x) on the training "
            f"classes ({test_set_words(test)}, top-1) and {side(transfer)} it in transfer (the average over its "
            f"transfer datasets), means over {n} training seed{'s' if n != 1 else ''}.")


def transfer_findings(p: ComparisonParams, real: ModelRuns, synthetic: ModelRuns,
                      ours: dict[str, list[dict[str, float]]],
                      draws: list[list[dict[str, float]]] | None = None) -> list[fd.Verdict]:
    """Verdicts: an encoder trained on a clone of the real set's size (1x) transfers on par with the real-trained one
    (the suite's average; a larger clone against real is Fig. 4's finding, not counted twice), and far better than
    the same network at its initialisation. With `draws` (`draw_probes`, two or more), every clone's error holds the
    variance of a clone's draw measured in transfer (a larger compared clone assumed to vary as the 1x one)."""
    train = train_set_of(p.class_set)
    same = equal_size_runs(p, synthetic)
    a_t = ours[same.label]
    datasets = [transfer_name(k) for k in ours[real.label][0] if k != "average"]
    models = {"real": [s["average"] for s in ours[real.label]], "1x": [s["average"] for s in a_t]}
    if synthetic.label != same.label:
        models["compared"] = [s["average"] for s in ours[synthetic.label]]
    per_draw = [[s["average"] for s in d] for d in (draws or [])]
    fam = drawn_family("Table 2's trained encoders, transfer average", models, per_draw, {"1x", "compared"})
    errors = draws_text(len(per_draw))
    evidence = {"a saw": same.saw(p.class_set), "b saw": real.saw(p.class_set), "transfer datasets": datasets,
                "error": errors}
    out = [fd.check("synthetic_beats_real_transfer", fam.difference("1x", "real"), p.scale, evidence,
                    claims.paper_value("synthetic_beats_real_transfer", train))]
    random = [s["average"] for s in ours[RANDOM]]
    # the same network at its initialisation, seed by seed: the blocked difference of two models is the paired one
    est = (drawn_family("1x clone and its initialisation, transfer average", {"1x": models["1x"], "random": random},
                        per_draw, {"1x"}).difference("1x", "random") if len(per_draw) >= 2 else fd.paired(models["1x"], random))
    out.append(fd.check("trained_beats_random_transfer", est, p.scale,
                        {"a saw": same.saw(p.class_set), "b": "the same network at its initialisation, seed by seed",
                         "random-weights top-1 per seed": random, "transfer datasets": datasets, "error": errors},
                        claims.paper_value("trained_beats_random_transfer", train)))
    return out


def draws_text(n: int) -> str:
    """What the error of a clone's effect holds, in one sentence (n: draws measured)."""
    return clone_draws_text(n, "the 1x clone (generation seeds differ), each trained with the page's seeds and probed on the transfer suite")
