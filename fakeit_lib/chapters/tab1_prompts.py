"""Chapter tab1_prompts (paper Table 1): one model per prompt variant x guidance scale, plus real data, per seed."""

from __future__ import annotations

import pandas as pd

from ..datasets.classes import class_set_name, load_class_set
from ..experiments.stages import family
from ..experiments.table1 import (
    NO_SCENES, Table1Params, draw_keys, draw_setting, key_label, table_runs, test_set_name, test_set_words,
)
from ..paper import claims
from ..paper import findings as fd
from ..paper.results import TEST_SETS, VARIANT_LABELS, VARIANT_NAMES, paper_rows, table1_row, train_set_of, variant_name
from ..paper.spreads import spread_difference
from ..paper.stats import mean_interval
from ..paper.tables import PAPER, interval_cell, interval_columns
from ..prompts.variants import build_prompts


LEARNER = "the recipe's model trained on the real images"  # how the yardstick's table names the real model


def learner_baselines(p: Table1Params, runs: dict) -> dict | None:
    """The simple learners a reviewer tries first (evaluation.baselines: logistic regression and an RBF support-vector
    machine on pixels, a textbook small CNN per training seed), trained on the real model's own training images and
    scored on the same real test images, each a cached stage; None where they do not apply (they take the mini
    scale's 28-pixel grey images)."""
    from ..evaluation.baselines import baseline_results

    if p.class_set != "fashion-mnist":
        return None
    return baseline_results(runs["real"].dataset, p.train_seeds, p.eval_max_images or None)


def learner_frame(p: Table1Params, runs: dict, baselines: dict | None) -> pd.DataFrame:
    """The real model beside the simple learners on the same training and test images: top-1 (mean ± 95% interval
    over seeds, one value for a learner without a seed)."""
    real = runs["real"]
    column = f"top-1 on real test images (%), {p.scale} scale"
    rows = [{"learner": f"{LEARNER} ({p.recipe} recipe)", column: interval_cell(real.scores()),
             "models": len(real.seeds)}]
    for results in (baselines or {}).values():
        rows.append({"learner": results[0]["name"], column: interval_cell([r["top1"] for r in results]),
                     "models": len(results)})
    return pd.DataFrame(rows)


def learner_text(p: Table1Params, runs: dict, baselines: dict | None) -> str:
    """How the recipe's real model compares with the best simple learner, in one or two sentences (computed)."""
    real = runs["real"]
    mine = mean_interval(real.scores())
    if not baselines:
        return (f"The simple pixel learners are defined for the mini scale's 28-pixel grey images; at the {p.scale} "
                f"scale the real model's yardstick is the paper's own real baseline, the first row of the table below.")
    means = {k: mean_interval([r["top1"] for r in v]) for k, v in baselines.items()}
    best = max(means, key=lambda k: means[k].mean)
    other = means[best]
    half = sum((e.high - e.low) / 2 for e in (mine, other) if e.low is not None)
    diff = mine.mean - other.mean
    if mine.low is None and other.low is None:
        verdict = f"{'ahead of' if diff >= 0 else 'behind'} it by {abs(diff):.1f} points (one seed: no interval)"
    elif diff - half > 0:
        verdict = f"ahead of it by {diff:.1f} points, more than the seeds' noise (±{half:.1f})"
    elif diff + half < 0:
        verdict = f"behind it by {-diff:.1f} points, more than the seeds' noise (±{half:.1f})"
    else:
        verdict = f"level with it within the seeds' noise ({diff:+.1f} points, ±{half:.1f})"
    name = baselines[best][0]["name"]
    return (f"Trained on the same {real.images} real images and scored on the same real test images, the "
            f"{p.recipe} recipe's real model reaches {mine.mean:.1f} top-1 ({p.scale} scale); the best of the simple "
            f"learners, the {name}, reaches {other.mean:.1f}: the recipe is {verdict}.")


def recipe_changes() -> dict:
    """The measurements behind the mini recipe's choices (`data/mini_recipe.yaml`: per-seed top-1 of each step)."""
    import importlib.resources

    import yaml

    return yaml.safe_load((importlib.resources.files("fakeit_lib") / "data" / "mini_recipe.yaml").read_text())


def recipe_changes_frame(measured: dict | None = None) -> pd.DataFrame:
    """What each change of the mini recipe bought: one row a step (cumulative, from the paper's recipe shrunk to 28
    pixels to the mini recipe), top-1 on the real test split as mean ± 95% interval over seeds, and its cost."""
    measured = measured or recipe_changes()
    column = "top-1 on all 10,000 real test images (%), mini scale"
    rows = []
    for step in measured["steps"]:
        rows.append({"step": step["change"], "the paper's recipe": step["paper"], column: interval_cell(step["top1"]),
                     "seeds": len(step["top1"]), "CPU seconds a model": f"{step['cpu_seconds']:.0f}"})
    return pd.DataFrame(rows)


def test_names(runs: dict) -> list[str]:
    """The test sets the models were evaluated on (the first is the in-domain one)."""
    return list(runs["real"].results[0]["datasets"])


TRAIN_TAGS = {"imagenet100": "IN-100", "imagenet1k": "IN-1K"}  # as the findings' paper values name the sets


def set_label(test: str, train: str) -> str:
    """A test set as this page's tables name it: the paper's ImageNet validation set as its findings do (`IN-100 val`,
    the training set's classes), the other sets by their short names (`IN-Sketch`, `Fashion-MNIST test`)."""
    return f"{TRAIN_TAGS[train]} val" if test == "val" else test_set_name(test)


def table1_frame(p: Table1Params, runs: dict) -> pd.DataFrame:
    """One row per model: the paper's Table 1 values beside this run's mean ± 95% interval over seeds."""
    train = train_set_of(p.class_set)
    rows = []
    for key, r in table_runs(runs).items():
        paper = table1_row(train, r.data, r.variant, r.guidance, r.multiplier)
        row = {"training data": r.label if r.data == "real" else "synthetic",
               "prompt": VARIANT_LABELS.get(r.variant, "-") if r.variant else "-",
               "guidance": f"{r.guidance:g}" if r.guidance is not None else "-",
               "paper row": paper["row"] if paper else "-"}
        shown = [t for t in test_names(runs) if t in TEST_SETS] or ["val"]
        for t in shown:
            prefix = TEST_SETS[t][0]
            value = paper[f"{prefix}_top1"] if paper else None
            row[f"{PAPER} {set_label(t, train)} top-1"] = f"{value:.1f}" if value is not None else "-"
        for t in test_names(runs):  # the test set named as the paper's columns are, not by its code
            row[f"this run: {set_label(t, train)} top-1"] = interval_cell(r.scores("top1", t))
        row["seeds"] = len(r.seeds)
        rows.append(row)
    return pd.DataFrame(rows)


def prompt_tick(variant: str) -> str:
    """A prompt variant as a figure names it: in words, on short lines (a phone's width), the paper's template below
    (`class name +<br>hypernym<br>(c, h_c)`), which links the bar to the table's notation."""
    return f"{variant_name(variant).replace(' + ', ' +<br>')}<br>({VARIANT_LABELS[variant]})"


def table1_plot_frame(runs: dict) -> pd.DataFrame:
    """Long table for the bar chart: one row per clone with mean and 95% bounds of in-domain top-1."""
    rows = []
    for key, r in table_runs(runs).items():
        if r.data == "real":
            continue
        rows.append({"prompt": prompt_tick(r.variant), "guidance": f"{r.guidance:g}", **interval_columns(r.scores(), "top-1")})
    return pd.DataFrame(rows)


def table1_figure(p: Table1Params, runs: dict):
    """Bars of in-domain top-1 per prompt and guidance with 95% error bars over seeds; real data as a band."""
    import plotly.express as px

    df = table1_plot_frame(runs)
    err = df.apply(lambda r: (r["top-1 high"] - r["top-1"]) if pd.notna(r["top-1 high"]) else 0.0, axis=1)
    fig = px.bar(df.assign(err=err), x="prompt", y="top-1", color="guidance", barmode="group", error_y="err",
                 labels={"top-1": f"top-1 on real test images (%), {p.scale} scale"},
                 title=f"Table 1 at {p.scale} scale: models trained on synthetic clones, tested on real images")
    real = interval_columns(runs["real"].scores(), "real")
    fig.add_hline(y=real["real"], line_dash="dash", annotation_text=f"real data {real['real']:.1f}")
    if real["real low"] is not None:
        fig.add_hrect(y0=real["real low"], y1=real["real high"], opacity=0.15, line_width=0)
    fig.update_layout(height=480, legend=dict(orientation="h", y=-0.28, title_text="guidance"))  # below: fits a phone
    return fig


def table1_family(runs: dict, test: str | None = None, draw=None):
    """Every model of the page on one test set (default: in-domain) as one family: the seed error of each comparison
    is pooled over all of them; with `draw` (draw_variance's result) the measured draws of one clone give the error of
    every synthetic arm (paper.stats.Family.add_draws)."""
    fam = family("Table 1's models", {key_label(k): r for k, r in table_runs(runs).items()}, test)
    if draw:
        fam.add_draws(draw["draws"], {key_label(k) for k, r in table_runs(runs).items() if r.data == "synthetic"})
    return fam


def prompt_testability(p: Table1Params, variants: list[str]) -> str | None:
    """Why prompt variants cannot be compared with this generator (it was trained on them as captions), or None."""
    from ..generation.mini.captions import generator_captions

    captions = generator_captions(p.generator)
    if captions is None:
        return None
    seen = sorted(set(variants) & set(captions.get("prompt_variants_as_captions", [])))
    if seen:
        return (f"the {p.generator} generator was trained with the prompt variants {', '.join(seen)} themselves as "
                "captions, so every variant is a caption it learnt and the comparison is flat by construction")
    return None


def sensitivity(runs: dict, a: str, b: str, guidance: float) -> dict:
    """How much the generator's images change from prompt `a` to prompt `b` at one guidance scale (same seeds)
    against a change of seed (generation.quality.generator_quality.prompt_sensitivity), on the two clones of the page."""
    from ..generation.quality.generator_quality import prompt_sensitivity

    return prompt_sensitivity(runs[(a, guidance)].dataset, runs[(b, guidance)].dataset)


def prompt_note(p: Table1Params, runs: dict, a: str, b: str, guidance: float) -> tuple[str, dict]:
    """(what the generator's measured reaction to the change from prompt `a` to `b` at this guidance says about a
    verdict on it, shown beside the verdict; the measured sensitivity)."""
    sens = sensitivity(runs, a, b, guidance)
    note = fd.sensitivity_note(sens["share"], f"the change from {variant_name(a)} to {variant_name(b)} at guidance {guidance:g}")
    caption = prompt_testability(p, [a, b])
    return (f"{note}; {caption}" if caption else note), sens


def draw_variance(p: Table1Params, runs: dict) -> dict:
    """The variance of a model's mean score that comes from drawing its clone (one generation seed), beside the seed
    variance: from the draws of one setting, each trained with the same seeds. Always part of the verdicts' error
    (with draws - 1 degrees of freedom), never judged by its size first: a threshold would leave it out exactly when
    a small estimate hides a large one."""
    import numpy as np

    first = runs[draw_setting(p)]
    seed_var = table1_family(runs).error(True)[0]
    draws = [list(first.scores())] + [list(runs[k].scores()) for k in draw_keys(p)]
    means = np.asarray(draws).mean(1)
    s = len(draws[0])
    between = float(means.var(ddof=1))  # the variance of one draw's mean over draws (its seed noise included)
    draw_var = max(0.0, between - (seed_var or 0.0) / s)
    return {"setting": first.label, "draws": draws, "draw_var": draw_var, "seed_var": seed_var, "seeds": s,
            "means": [float(m) for m in means], "ratio": draw_var / seed_var if seed_var else None}


def draw_text(d: dict) -> str:
    """What the draw of a clone adds to the error, in one sentence."""
    n = len(d["means"])
    return (f"Drawing the clone anew ({d['setting']}, {n} generation seeds) moved its mean top-1 between "
            f"{min(d['means']):.1f} and {max(d['means']):.1f}: a draw variance of {d['draw_var']:.2f} points² against a "
            f"seed variance of {d['seed_var']:.2f} points² per model and seed ({d['seeds']} seeds). Every verdict "
            f"that compares a clone includes it, measured with {n - 1} degree{'s' if n > 2 else ''} of freedom: "
            "no number of training seeds removes it, only more draws.")


def no_clone(variants: list[str], guidance: float) -> str:
    """Why a comparison cannot be made, naming only the clones the run lacks (in words): `the run has no clone of
    class name + hypernym + background at guidance 7.5`."""
    return f"the run has no clone of {' or of '.join(variant_name(v) for v in variants)} at guidance {guidance:g}"


def sensitivity_notes(notes: dict, guidance: float) -> str:
    """The generator's measured reactions to several prompt changes from the class name, in one clause: the largest
    first, so that the caveat for a reaction below findings.SENSITIVITY_MIN follows the smallest
    (`measured: at guidance 7.5, the change from class name to class name + definition moves the same-seed images by
    42% of a seed change, and the change to class name + hypernym by 6%, below 10%: ...`)."""
    if len(notes) < 2:
        return "; ".join(n for n, _ in notes.values())
    order = sorted(notes, key=lambda v: -notes[v][1]["share"])
    pct = {v: f"{100 * notes[v][1]['share']:.0f}%" for v in order}
    last = fd.sensitivity_note(notes[order[-1]][1]["share"], "x")
    caveat = last.split(" of a seed change", 1)[1]  # "" or ", below 10%: this generator barely reacts ..."
    others = [f"the change to {variant_name(v)} by {pct[v]}" for v in order[1:]]
    more = ", ".join(others[:-1] + [f"and {others[-1]}"]) if len(others) > 1 else f"and {others[0]}"
    return (f"measured: at guidance {guidance:g}, the change from {variant_name('c')} to {variant_name(order[0])} moves "
            f"the same-seed images by {pct[order[0]]} of a seed change, {more}{caveat}")


def table1_findings(p: Table1Params, runs: dict, draw: dict | None = None) -> list[fd.Verdict]:
    """The verdicts of Table 1's findings: every effect a contrast of the page's models, its seed error pooled over
    all of them (paper.stats.Family); prompt comparisons only where the generator reacts to the prompts."""
    train = train_set_of(p.class_set)
    test = test_names(runs)[0]
    fam = table1_family(runs, draw=draw)
    runs = table_runs(runs)
    out = []
    g_hi, g_lo = (7.5, 2.0)
    has = lambda v, g: (v, g) in runs
    saw = {k: r.saw(p.class_set) for k, r in runs.items() if r.data == "synthetic"}
    base = {"test": test, "family": f"{len(runs)} models, {fam.seeds} seeds", "draw variance": draw or {}}

    variants_both = [v for v in p.variants if has(v, g_hi) and has(v, g_lo)]
    paper = claims.paper_value("low_guidance_better", train, variants_both or None)
    if variants_both:
        est = fam.mean_difference([key_label((v, g_lo)) for v in variants_both], [key_label((v, g_hi)) for v in variants_both])
        out.append(fd.check("low_guidance_better", est, p.scale, {**base, "variants": variants_both}, paper))
    else:
        out.append(fd.cannot_test("low_guidance_better", p.scale, "no prompt variant was drawn at both 7.5 and 2.0", paper))

    for fid, variant in (("definition_beats_name", "c_dc"), ("hypernym_beats_name", "c_hc")):
        paper = claims.paper_value(fid, train)
        if not (has("c", g_hi) and has(variant, g_hi)):  # the paper's claim is at 7.5 (Sec. 5.1 (b))
            lacks = [v for v in ("c", variant) if not has(v, g_hi)]
            out.append(fd.cannot_test(fid, p.scale, no_clone(lacks, g_hi), paper))
            continue
        note, sens = prompt_note(p, runs, "c", variant, g_hi)  # both clones' models are trained: decided, the
        ev = {**base, "a saw": saw[(variant, g_hi)], "b saw": saw[("c", g_hi)], "prompt sensitivity": sens}  # note beside
        out.append(fd.check(fid, fam.difference(key_label((variant, g_hi)), key_label(("c", g_hi))), p.scale, ev, paper,
                            note))

    paper = claims.paper_value("prompt_matters_less_low_guidance", train, variants_both or None)
    notes = {v: prompt_note(p, runs, "c", v, g_hi) for v in variants_both if v != "c" and "c" in variants_both}
    note = sensitivity_notes(notes, g_hi)
    if len(variants_both) >= 2:
        est = spread_difference(fam, [key_label((v, g_hi)) for v in variants_both], [key_label((v, g_lo)) for v in variants_both],
                                     claims.finding("prompt_matters_less_low_guidance").sesoi)
        out.append(fd.check("prompt_matters_less_low_guidance", est, p.scale,
                            {**base, "variants": variants_both, "prompt sensitivity": {v: s for v, (_, s) in notes.items()}},
                            paper, note))
    else:
        out.append(fd.cannot_test("prompt_matters_less_low_guidance", p.scale, "fewer than two prompt variants were "
                                  f"drawn at both 7.5 and 2.0 ({', '.join(variants_both) or 'none'})", paper))
    out.append(prompts_alike(p, fam, variants_both, g_lo, base, train))

    paper = claims.paper_value("backgrounds_help_high_guidance", train)
    if has("c_hc_inside_b", g_hi) and has("c_hc", g_hi):  # trained: decided, the generator's measured reaction beside
        note, sens = prompt_note(p, runs, "c_hc", "c_hc_inside_b", g_hi)
        best = key_label(("c_hc_inside_b", g_hi))  # "the best": above every other prompt at this guidance
        parts = [fd.Part(f"{variant_name('c_hc_inside_b')} minus {variant_name(v)}", fam.difference(best, key_label((v, g_hi))), "greater",
                         claims.finding("backgrounds_help_high_guidance").sesoi)
                 for v in p.variants if v != "c_hc_inside_b" and has(v, g_hi)]
        out.append(fd.check_parts("backgrounds_help_high_guidance", parts, p.scale,
                                  {**base, "prompt sensitivity": sens}, paper, note))
    else:
        why = no_clone([v for v in ("c_hc", "c_hc_inside_b") if not has(v, g_hi)], g_hi)
        out.append(fd.cannot_test("backgrounds_help_high_guidance", p.scale,
                                  f"{why}: {NO_SCENES}" if p.class_set == "fashion-mnist" else why, paper))
    out.append(closes_gap(p, fam, runs, base, train))
    out.append(backgrounds_in1k(p, fam, runs, base, train))
    out.append(levels(p, runs, base, train, test))

    clones = [k for k, r in runs.items() if r.data == "synthetic" and r.multiplier == 1]
    paper = claims.paper_value("synthetic_trails_real", train)
    if clones:
        parts = [fd.Part(runs[k].label, fam.difference("real", key_label(k)), "greater", claims.finding("synthetic_trails_real").sesoi)
                 for k in clones]
        out.append(fd.check_parts("synthetic_trails_real", parts, p.scale,
                                  {**base, "real saw": runs["real"].saw(p.class_set)}, paper))
    else:
        out.append(fd.cannot_test("synthetic_trails_real", p.scale, "the run drew no 1x clone", paper))
    return out


def prompts_alike(p: Table1Params, fam, variants: list[str], g_lo: float, base: dict, train: str) -> fd.Verdict:
    """Sec. 5.1 (e)'s second clause, an equivalence: at guidance 2.0 every pair of prompt variants within the smallest
    effect of interest either way (two one-sided parts a pair, each must hold), the generator's reaction beside it."""
    fid = "prompts_alike_low_guidance"
    paper = claims.paper_value(fid, train, variants or None)
    if len(variants) < 2:
        return fd.cannot_test(fid, p.scale, f"fewer than two prompt variants drawn at guidance {g_lo:g} and 7.5 "
                              f"({', '.join(variants) or 'none'})", paper)
    sesoi = claims.finding(fid).sesoi
    L = VARIANT_NAMES  # the parts' names are read in the page's prose: variants in words
    pairs = [(a, b) for i, a in enumerate(variants) for b in variants[i + 1:]]
    within = f"within {sesoi:g} point{'' if sesoi == 1 else 's'}"  # the unit of top-1 differences
    parts = [fd.Part(f"{L[a]} and {L[b]} {within}", None, "both", sesoi, parts=[
        fd.Part(f"{L[a]} minus {L[b]}", fam.difference(key_label((a, g_lo)), key_label((b, g_lo))), "at_most", sesoi),
        fd.Part(f"{L[b]} minus {L[a]}", fam.difference(key_label((b, g_lo)), key_label((a, g_lo))), "at_most", sesoi)])
        for a, b in pairs]
    return fd.check_parts(fid, parts, p.scale, {**base, "variants": variants, "guidance": g_lo}, paper)


def closes_gap(p: Table1Params, fam, runs: dict, base: dict, train: str) -> fd.Verdict:
    """The abstract's "close a large part of the gap": from the plain clone (c at 7.5) to the paper's best 1x clone
    (c, d_c at 2.0, named in advance), at least a third of the plain clone's gap to real closed (a zero-sum contrast)."""
    fid = "prompt_engineering_closes_gap"
    paper = claims.paper_value(fid, train)
    plain, best = ("c", 7.5), ("c_dc", 2.0)
    if plain not in runs or best not in runs:
        return fd.cannot_test(fid, p.scale, f"the run needs the clones of {variant_name('c')} at guidance 7.5 and {variant_name('c_dc')} at 2.0",
                              paper)
    est = fam.contrast({key_label(best): 1.0, key_label(plain): -2 / 3, "real": -1 / 3})
    return fd.check(fid, est, p.scale, {**base, "best": runs[best].label, "plain": runs[plain].label,
                                        "weights": {"best": 1.0, "plain": -2 / 3, "real": -1 / 3}}, paper)


def backgrounds_in1k(p: Table1Params, fam, runs: dict, base: dict, train: str) -> fd.Verdict:
    """Table 1 rows 15-16: on ImageNet-1K at 7.5, c, h_c inside b above c, d_c; only an ImageNet-1K run tests it."""
    fid = "backgrounds_help_in1k"
    paper = claims.paper_value(fid, train)
    a, b = ("c_hc_inside_b", 7.5), ("c_dc", 7.5)
    if train != "imagenet1k" or a not in runs or b not in runs:
        lacks = [v for v, g in (a, b) if (v, g) not in runs]
        why = (no_clone(lacks, 7.5) if lacks else
               f"the run's classes are {class_set_name(p.class_set)}'s")
        return fd.cannot_test(fid, p.scale, f"the claim is ImageNet-1K's; {why}" if train != "imagenet1k" else why, paper)
    note, sens = prompt_note(p, runs, "c_dc", "c_hc_inside_b", 7.5)
    return fd.check(fid, fam.difference(key_label(a), key_label(b)), p.scale, {**base, "prompt sensitivity": sens},
                    paper, note)


def generator_text(p: Table1Params) -> tuple[str, pd.DataFrame | None]:
    """What the generator's training text was, in one sentence, and per variant: was it a training caption, and
    what share of its words the captions held (None when the project did not train the generator)."""
    from ..generation.mini.captions import generator_captions, prompt_word_shares

    captions = generator_captions(p.generator)
    if captions is None:
        return (f"The generator {p.generator} was not trained by this project; its training captions (for Stable "
                "Diffusion v1.4, LAION-5B image alt-texts) are not listed here.", None)
    shares = prompt_word_shares(captions, p.class_set, p.variants)
    as_captions = set(captions.get("prompt_variants_as_captions", []))
    example = build_prompts(load_class_set(p.class_set), p.variants[0])[0].text
    rows = [{"variant": variant_name(v), "template": VARIANT_LABELS[v], "used as a training caption": "yes" if v in as_captions else "no",
             "share of its words seen in training captions": f"{100 * shares[v]:.0f}%"} for v in p.variants]
    from ..generation.mini.captions import caption_source

    sentence = (f"The {p.generator} generator's training captions: {caption_source(captions)} "
                f"({len(captions.get('vocabulary', []))} distinct words; e.g. a prompt {variant_name(p.variants[0])} reads "
                f"\"{example}\").")
    return sentence, pd.DataFrame(rows)


def levels(p: Table1Params, runs: dict, base: dict, train: str, test: str) -> fd.Verdict:
    """Table 1's absolute levels at the paper scale: each trained row's val top-1 within the stated tolerance of the
    paper's (an equivalence per row, every row must hold); never at a miniature scale."""
    fid = "paper_levels_table1"
    paper = claims.paper_value(fid, train)
    why = fd.paper_scale_levels(p.scale, p.class_set, test, class_set_name(p.class_set), test_set_words(test))
    if why:
        return fd.cannot_test(fid, p.scale, why, paper)
    tol = claims.finding(fid).sesoi
    parts = []
    for k, r in runs.items():
        row = (paper_rows("table1", train=train, data="real")[0] if r.data == "real"
               else table1_row(train, "synthetic", r.variant, r.guidance, 1.0))
        if row is not None:
            parts.append(fd.level_part(f"{r.label} (row {row['row']}, {row['in_val_top1']:.1f})", r.scores(),
                                       row["in_val_top1"], tol))
    return fd.check_parts(fid, parts, p.scale, base, paper)
