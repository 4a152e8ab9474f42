"""Chapter imagenet1k (Table 1 rows 13-17, Table 2 rows 4-8, the poster's ImageNet-1K-SD vs RSB-A1): the paper's
ImageNet-1K numbers from `data/paper_results.yaml`, and beside them whatever a `paper-1k` run has finished here,
found through the library's plan without computing anything. The page's prose names the run in words (the
ImageNet-1K run at the paper scale); the preset's name appears only in the command that runs it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..core.errors import FakeitError
from ..experiments.params import shared
from ..experiments.plan import plan
from ..experiments.presets import load_preset, project_root
from ..paper.results import TEST_SETS, TRANSFER_NAMES, paper_columns, paper_results, paper_rows, variant_name
from .words import label_in_words

SET = "test set or dataset"  # the poster table's column of what each row measures on
GROUP_NAMES = {"small_scale": "small-scale (8 sets)", "long_tail": "long-tail (2 sets)", "cog": "ImageNet-CoG (5 levels)"}


@dataclass
class ImageNet1KParams:
    """Parameters of the ImageNet-1K chapter: which preset's finished outputs to show beside the paper."""

    scale: str = shared("scale")  # label of the preset this ran with: smoke, mini or paper
    imagenet1k_preset: str = "paper-1k"  # preset whose finished stages are shown (nothing is computed); paper: paper-1k

    def validate(self) -> None:
        if not self.imagenet1k_preset:
            raise FakeitError("parameter imagenet1k_preset is empty; give a preset name (paper-1k) or a preset YAML file")


def _model(row: dict) -> str:
    """A paper row's model in words: `ImageNet-1K-SD, class name + definition, guidance 2.0`."""
    if row["data"] == "real":
        return f"{row['model']} (real ImageNet-1K)"
    return f"ImageNet-1K-SD, {variant_name(row['variant'])}, guidance {row['guidance']:.1f}"


def table1_frame() -> pd.DataFrame:
    """Table 1 rows 13-17 as the paper reports them: top-1 and top-5 on all five ImageNet test sets (%)."""
    rows = []
    for r in paper_rows("table1", train="imagenet1k"):
        row = {"row": r["row"], "model": _model(r)}
        for prefix, name in TEST_SETS.values():
            row[f"{name} top-1"], row[f"{name} top-5"] = r[f"{prefix}_top1"], r[f"{prefix}_top5"]
        rows.append(row)
    return pd.DataFrame(rows)


def table2_frame() -> pd.DataFrame:
    """Table 2 rows 4-8 as the paper reports them: linear-probe top-1 on the ten transfer datasets (%)."""
    return pd.DataFrame([{"row": r["row"], "model": _model(r), **{TRANSFER_NAMES[c]: r[c] for c in paper_columns("table2")}}
                         for r in paper_rows("table2", train="imagenet1k")])


def poster_frame() -> pd.DataFrame:
    """The poster's comparison, test set by test set and dataset by dataset: ImageNet-1K-SD against RSB-A1 (Tables 1-2 rows 17/14 and 8/5)."""
    spec = paper_results()["poster"]["imagenet1k_vs_rsb_a1"]
    groups = paper_results()["fig1"]["groups"]
    syn1, real1 = (paper_rows("table1", row=spec[k]["table1_row"])[0] for k in ("synthetic", "real"))
    syn2, real2 = (paper_rows("table2", row=spec[k]["table2_row"])[0] for k in ("synthetic", "real"))
    rows = []
    for prefix, name in TEST_SETS.values():
        for k in ("top1", "top5"):
            rows.append({"group": "ImageNet test sets", SET: f"{name} {k[:3]}-{k[3]}", "rsb": real1[f"{prefix}_{k}"],
                         "sd": syn1[f"{prefix}_{k}"], "source": f"Table 1 rows {spec['real']['table1_row']}, {spec['synthetic']['table1_row']}"})
    for group in spec["transfer_groups"]:
        for d in groups[group]:
            known = d in real2
            rows.append({"group": GROUP_NAMES[group], SET: TRANSFER_NAMES.get(d, d.replace("cog_l", "CoG level ")),
                         "rsb": real2[d] if known else None, "sd": syn2[d] if known else None,
                         "source": f"Table 2 rows {spec['real']['table2_row']}, {spec['synthetic']['table2_row']}" if known
                         else "supplementary material (not in the text)"})
    df = pd.DataFrame(rows)
    df["difference"] = df["sd"] - df["rsb"]
    return df.rename(columns={"rsb": label_in_words(spec["real"]["label"]), "sd": label_in_words(spec["synthetic"]["label"]),
                              "difference": "synthetic minus real (points)"})


def poster_figure():
    """Horizontal bars: ImageNet-1K-SD minus RSB-A1 per test set and transfer dataset of the poster, coloured by group
    (paper values), one labelled row each, top to bottom in the table's order."""
    import plotly.express as px

    df = poster_frame().dropna(subset=["synthetic minus real (points)"])
    # bars laid along the y axis: every row's name stays readable on a phone (an x axis of 20 names drops every
    # other one at 420 px); the first row of the table at the top
    fig = px.bar(df, y=SET, x="synthetic minus real (points)", color="group", orientation="h",
                 title="Paper (reported): ImageNet-1K-SD minus<br>RSB-A1, per test set and transfer dataset")
    fig.update_yaxes(title_text="", autorange="reversed", categoryorder="array", categoryarray=list(df[SET]),
                     dtick=1, tickfont_size=11, automargin=True)
    # the legend in a row under the bars: at the side it would take half a phone's width; the two-line title in a
    # top margin the book's renderer makes tall enough for it
    fig.update_layout(height=40 + 22 * len(df) + 200, xaxis_title="points (synthetic minus real)",
                      legend=dict(orientation="h", x=0, y=-0.08, yanchor="top", title_text=""),
                      margin=dict(t=90, b=60, l=10, r=10))
    return fig


def linear_probe_text() -> str:
    """The ImageNet-1K linear probe of Sec. 5.3, from the data file."""
    return f"{paper_results()['text']['best_imagenet1k_cog_linear_top1']:.1f}%"


# ---------------------------------------------------------------------------------------------------------------
# The paper-1k run, if there is one: its plan's finished stages


def preset_stages(p: ImageNet1KParams) -> list:
    """Every stage of the preset, with whether its output exists (the library's plan: nothing is computed)."""
    named = not p.imagenet1k_preset.endswith((".yaml", ".yml"))  # a preset of the project, not a YAML file
    return plan(load_preset(p.imagenet1k_preset, project_root() if named else Path.cwd()))


def finished(stages: list) -> list[tuple]:
    """(stage, results) of every evaluate or transfer stage whose results are on disk."""
    out = []
    for s in stages:
        if s.step in ("evaluate", "transfer") and s.done and s.output is not None and (Path(s.output) / "results.json").is_file():
            out.append((s, json.loads((Path(s.output) / "results.json").read_text())))
    return out


def run_frame(done: list[tuple]) -> pd.DataFrame:
    """One row per finished stage: what it scored, top-1 (and top-5 for test sets) in %, beside its paper row."""
    rows = []
    for stage, res in done:
        row = {"stage": stage.step, "model": stage.what, "paper rows": stage.paper}
        for name, d in res["datasets"].items():
            label = TEST_SETS[name][1] if name in TEST_SETS else TRANSFER_NAMES.get(name, name)
            row[f"{label} top-1"] = round(100 * d["top1"], 1)
            if stage.step == "evaluate" and "top5" in d:
                row[f"{label} top-5"] = round(100 * d["top5"], 1)
        rows.append(row)
    return pd.DataFrame(rows)


def run_status(p: ImageNet1KParams, stages: list, done: list[tuple]) -> str:
    """What this build holds of the ImageNet-1K run, in one or two sentences, with the command that makes it."""
    command = f"`make book PRESET={p.imagenet1k_preset}`"
    todo = sum(s.done is not True for s in stages)
    if not done:
        return (f"This build did not run ImageNet-1K: none of the {len(stages)} stages of the ImageNet-1K run at the "
                f"paper scale has a finished result here, so only the paper's numbers are shown. To run it on your "
                f"GPUs, with ImageNet-1K and the test and transfer sets on disk: {command}.")
    return (f"The ImageNet-1K run at the paper scale: {len(done)} evaluate or transfer {'stage' if len(done) == 1 else 'stages'} finished here, shown below; "
            f"{todo} of its {len(stages)} stages are still to run ({command} runs what is missing). These are this "
            f"run's numbers at the paper scale, one training seed each, beside the paper's rows named in each line.")


# ---------------------------------------------------------------------------------------------------------------
# The paper's ImageNet-1K transfer findings (Table 2 rows 5, 6, 8), decided on the paper-1k run's finished probes


def transfer_averages(done: list[tuple], row: int) -> list[float]:
    """Per finished transfer stage serving Table 2 row `row` (one a training seed): its linear-probe top-1 (%)
    averaged over Table 2's ten datasets it probed (the in1k and CoG probes are not Table 2's)."""
    columns = [c for c in paper_columns("table2") if c != "average"]
    out = []
    for stage, res in done:
        if stage.step == "transfer" and re.search(rf"\bT2 r{row}\b", stage.paper):
            values = [100 * res["datasets"][c]["top1"] for c in columns if c in res["datasets"]]
            if values:
                out.append(sum(values) / len(values))
    return out


def probe_scores(done: list[tuple], row: int, dataset: str = "in1k") -> list[float]:
    """Per finished transfer stage serving Table 2 row `row` (one a training seed), its linear-probe top-1 (%) on
    `dataset` (default ImageNet-1K's, Sec. 5.3's 70.4%), where it probed it."""
    return [100 * res["datasets"][dataset]["top1"] for stage, res in done
            if stage.step == "transfer" and re.search(rf"\bT2 r{row}\b", stage.paper) and dataset in res["datasets"]]


def first_line(p: ImageNet1KParams, done: list[tuple]) -> str:
    """The page's opening sentence: what this build ran for the page (at a smaller scale, nothing: every number is the
    paper's), so a reader knows it before the tables."""
    if not done:
        return (f"Nothing on this page is trained at the {p.scale} scale: every number is the paper's (reported), "
                "read from its tables, and no finding of the paper is decided here.")
    shown = f"{len(done)} finished {'stage' if len(done) == 1 else 'stages'} of this project's ImageNet-1K run"
    if p.scale != "paper":
        return (f"Nothing on this page is trained at the {p.scale} scale: every number is the paper's (reported), "
                f"except the last section's {shown}, shown beside them and deciding none of the paper's findings.")
    return (f"Every number before the last section is the paper's (reported); the last section shows {shown} and "
            "decides the paper's ImageNet-1K findings on them.")


def shown_not_decided(p: ImageNet1KParams, done: list[tuple]) -> str:
    """Why a smaller build leaves an ImageNet-1K finding untested, and what it shows instead, in words."""
    run = "of the ImageNet-1K run at the paper scale"
    if not done:
        have = f"this build holds no finished model {run}"
    elif len(done) == 1:
        have = f"the finished model {run} is shown beside the paper's"
    else:
        have = f"the {len(done)} finished models {run} are shown beside the paper's"
    return f"{have}, and a {p.scale} build never decides the paper's findings on them"


def probe_level(p: ImageNet1KParams, done: list[tuple]):
    """Sec. 5.3's 70.4%: the 2.0 clone's ImageNet-1K linear probe within the stated tolerance of it, at the paper
    scale only."""
    from ..paper import claims
    from ..paper import findings as fd

    fid = "paper_level_in1k_probe"
    paper = claims.paper_value(fid, "imagenet1k")
    ours = probe_scores(done, 8)
    if p.scale != "paper" or not ours:
        why = (f"the claim is ImageNet-1K's at the paper scale; {shown_not_decided(p, done)}" if p.scale != "paper" else
               "the ImageNet-1K run has not finished the ImageNet-1K linear probe of the 2.0 clone (Table 2 row 8)")
        return fd.cannot_test(fid, p.scale, why, paper)
    reported = paper_results()["text"]["best_imagenet1k_cog_linear_top1"]
    part = fd.level_part(f"the 2.0 clone's probe ({reported:.1f})", ours, reported, claims.finding(fid).sesoi)
    return fd.check_parts(fid, [part], p.scale, {"probe": "in1k"}, paper)


def imagenet1k_findings(p: ImageNet1KParams, done: list[tuple]) -> list:
    """Table 2's ImageNet-1K findings: the 2.0 clone (row 8) transfers better than the 7.5 one (row 6, paired by
    training seed) and than the published RSB-A1 (row 5, one model: a constant). Decided only in a paper-scale build,
    on the paper-1k run's finished probes; a smaller build shows them, never decides the paper's findings on them."""
    from ..paper import claims
    from ..paper import findings as fd
    from ..paper.stats import estimate_from_values

    out = []
    syn = transfer_averages(done, 8)
    clone = variant_name("c_dc")
    for fid, row, what in (("in1k_transfer_low_guidance_better", 6, f"the 7.5 clone ({clone})"),
                           ("in1k_transfer_beats_rsb_a1", 5, "RSB-A1")):
        paper = claims.paper_value(fid, "imagenet1k")
        other = transfer_averages(done, row)
        if p.scale != "paper":
            out.append(fd.cannot_test(fid, p.scale, f"the claim is ImageNet-1K's at the paper scale; "
                                      f"{shown_not_decided(p, done)}", paper))
            continue
        if not syn or not other:
            missing = [f"the probes of {w} (Table 2 row {r})" for w, r, v in ((f"the 2.0 clone ({clone})", 8, syn), (what, row, other)) if not v]
            out.append(fd.cannot_test(fid, p.scale, f"the ImageNet-1K run has not finished {' and '.join(missing)}", paper))
            continue
        ev = {"transfer average over": "the Table 2 datasets each probe scored", "2.0 clone per seed": syn, f"{what} per seed": other}
        if row == 5:  # one published model: its number is a constant, its own seed noise is not in the interval
            est = estimate_from_values([x - other[0] for x in syn], "seeds")
            note = "RSB-A1 is one published model: its average enters as a constant (its own seed noise is not in the interval)"
        else:
            n = min(len(syn), len(other))
            est, note = fd.paired(syn[:n], other[:n]), "paired by training seed"
        out.append(fd.check(fid, est, p.scale, ev, paper, note if est.low is not None else f"one seed gives no interval; {note}"))
    return out + [probe_level(p, done)]
