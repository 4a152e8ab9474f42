"""Table 2, Fig. 1 and the domain-shift page put the variance of drawing a clone inside their errors: a clone's
draws (generation seeds), each trained with the page's seeds, probed in transfer (Table 2, Fig. 1) or scored on the
shifted test (domain shift). Each interval is recomputed here by hand from the same numbers, so dropping the draws
(or scoring them on another metric) fails the test."""

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps

from fakeit_lib.chapters import domain_shift, fig1_spider
from fakeit_lib.chapters import tab2_transfer as ch
from fakeit_lib.experiments import comparison
from fakeit_lib.experiments import stages as ex
from fakeit_lib.experiments.table1 import Table1Params

SEEDS = 3
REAL_T = [40.0, 41.0, 40.5]  # transfer averages per seed
CLONE_T = [38.0, 39.5, 38.0]
DRAWS_T = [CLONE_T, [40.0, 41.0, 39.5], [36.5, 38.0, 37.0], [39.0, 40.5, 38.5]]  # the clone itself first
RANDOM_T = [20.0, 21.0, 19.0]


def by_hand(a, b, draws=None, b_drawn=False):
    """The 95% half-width of mean(a) - mean(b), a drawn: the blocked residual of the two models, each model's share
    of it (a drawn one's beyond the draws' own seed noise) over the seeds, plus the variance of a draw's mean over
    the draws, with Welch-Satterthwaite degrees of freedom (4 draws)."""
    y = np.asarray([a, b], dtype=float)
    m, s = y.shape
    resid = y - y.mean(1, keepdims=True) - y.mean(0, keepdims=True) + y.mean()
    own = (resid**2).sum(1) / (s - 1) * m / (m - 1)
    if draws is None:
        se = math.sqrt(own.sum() / s)
        return se, sps.t.ppf(0.975, (s - 1) * (m - 1)) * se
    d = np.asarray(draws, dtype=float)
    draw_var = d.mean(1).var(ddof=1)
    r = d - d.mean(1, keepdims=True) - d.mean(0, keepdims=True) + d.mean()
    draw_seed = (r**2).sum() / ((len(d) - 1) * (s - 1))
    terms = [max(own[0] - draw_seed, 0.0) / s, (max(own[1] - draw_seed, 0.0) if b_drawn else own[1]) / s]
    share = (s - 1) * (m - 1) / m
    seed_part = sum(terms)
    seed_df = seed_part**2 / sum(t * t / share for t in terms if t > 0)
    draw_part = draw_var * (2 if b_drawn else 1)
    df = (seed_part + draw_part) ** 2 / (seed_part**2 / seed_df + draw_part**2 / (len(d) - 1))
    se = math.sqrt(seed_part + draw_part)
    return se, sps.t.ppf(0.975, df) * se


def runs(label, data, top1, seed_tests=None):
    result = lambda i, t: {"datasets": {"test": {"top1": t / 100, "top5": 0.99}, **(seed_tests or {}).get(i, {})}}
    return ex.ModelRuns(label, data, "c_dc" if data == "synthetic" else None, 2.0 if data == "synthetic" else None,
                        1.0, Path(f"/x/{label}"), 500, list(range(SEEDS)), [Path(f"/c/{label}/{s}") for s in range(SEEDS)],
                        [result(i, t) for i, t in enumerate(top1)])


def params(**kw):
    return comparison.ComparisonParams(scale="mini", class_set="fashion-mnist", best_multiplier=1.0,
                                       train_seeds=list(range(SEEDS)), **kw)


def ours():
    return {"real": [{"average": v} for v in REAL_T], "1x": [{"average": v} for v in CLONE_T],
            ch.RANDOM: [{"average": v} for v in RANDOM_T]}


def table2_verdicts(draws):
    real, clone = runs("real", "real", [80.0] * SEEDS), runs("1x", "synthetic", [70.0] * SEEDS)
    per_draw = [[{"average": v} for v in d] for d in draws]
    return {v.id: v for v in ch.transfer_findings(params(draws=max(1, len(draws))), real, clone, ours(), per_draw)}


def test_table2_parity_interval_holds_the_draws_measured_in_transfer():
    v = table2_verdicts(DRAWS_T)["synthetic_beats_real_transfer"]
    se, half = by_hand(CLONE_T, REAL_T, DRAWS_T)
    assert v.estimate["se"] == pytest.approx(se) and v.estimate["high"] - v.estimate["mean"] == pytest.approx(half)
    assert v.estimate["mean"] == pytest.approx(np.mean(CLONE_T) - np.mean(REAL_T))
    assert "draw variance (4 draws)" in v.estimate["method"]
    assert v.evidence["error"].startswith("the interval includes the variation between clone draws: 4 draws")
    plain_se, _ = by_hand(CLONE_T, REAL_T)
    assert se > 1.5 * plain_se  # these draws spread more than the seeds: leaving them out would be seen


def test_table2_random_weights_contrast_holds_the_draws_too():
    v = table2_verdicts(DRAWS_T)["trained_beats_random_transfer"]
    se, half = by_hand(CLONE_T, RANDOM_T, DRAWS_T)
    assert v.estimate["se"] == pytest.approx(se) and v.estimate["high"] - v.estimate["mean"] == pytest.approx(half)


def test_table2_without_draws_says_the_error_is_seed_error_alone():
    v = table2_verdicts([])["synthetic_beats_real_transfer"]
    se, half = by_hand(CLONE_T, REAL_T)
    assert v.estimate["se"] == pytest.approx(se) and "draw" not in v.estimate["method"]
    assert v.evidence["error"].startswith("no draw of a clone was measured (draws 1)")


def test_draw_probes_probe_the_clone_drawn_again_with_the_next_generation_seeds(monkeypatch):
    clone = runs("1x", "synthetic", [70.0] * SEEDS)
    asked = []

    def many(p, specs):
        asked.extend(specs)
        return [runs(f"draw {s[4]}", "synthetic", [70.0] * SEEDS) for s in specs]

    monkeypatch.setattr(comparison, "model_runs_many", many)
    monkeypatch.setattr(ch, "transfer_scores_many", lambda p, models, *a, **k: [[{"average": float(i)}] * SEEDS
                                                                               for i, _ in enumerate(models)])
    assert len(ch.draw_probes(params(draws=4, seed=5), clone)) == 4
    assert asked == [("c_dc", 2.0, 1.0, {}, 6), ("c_dc", 2.0, 1.0, {}, 7), ("c_dc", 2.0, 1.0, {}, 8)]
    assert ch.draw_probes(params(draws=1), clone) == []


def test_fig1_gaps_hold_the_draws_on_their_own_metric(monkeypatch):
    real_in, clone_in = [80.0, 80.5, 79.0], [70.0, 71.5, 70.5]
    draws_in = [clone_in, [72.0, 72.5, 71.0], [68.0, 70.0, 69.5], [71.0, 71.0, 70.0]]
    real, clone = runs("real", "real", real_in), runs("1x", "synthetic", clone_in)
    extra = [runs(f"draw {i}", "synthetic", d) for i, d in enumerate(draws_in[1:], 2)]
    monkeypatch.setattr(comparison, "model_runs_many", lambda p, specs: extra)
    transfer = {"real": REAL_T, "1x": CLONE_T, **{f"draw {i}": d for i, d in enumerate(DRAWS_T[1:], 2)}}
    monkeypatch.setattr(ex, "transfer_scores_many",
                        lambda p, models, *a, **k: [[{"average": v} for v in transfer[m.label]] for m in models])
    (v,) = fig1_spider.gap_findings(params(draws=4), real, clone)
    gap_in = v.evidence["gap on the training classes"]["estimate"]
    _, half = by_hand(clone_in, real_in, draws_in)
    assert gap_in["high"] - gap_in["mean"] == pytest.approx(half)
    side = lambda ind, tr: [i / 2 - t for i, t in zip(ind, tr)]
    narrows = v.evidence["transfer gap at most half of it"]["estimate"]
    se, half = by_hand(side(clone_in, CLONE_T), side(real_in, REAL_T),
                       [side(i, t) for i, t in zip(draws_in, DRAWS_T)])
    gaps = [(r - s) / 2 - (rt - st) for r, s, rt, st in zip(real_in, clone_in, REAL_T, CLONE_T)]
    assert narrows["mean"] == pytest.approx(np.mean(gaps)) and narrows["se"] == pytest.approx(se)
    assert narrows["high"] - narrows["mean"] == pytest.approx(half)
    assert "variation between clone draws: 4 draws" in v.evidence["error"]


def test_v2_agrees_holds_the_draws_scored_on_imagenet_v2(monkeypatch):
    v2 = {("c", 7.5): [60.0, 61.0, 60.5], ("c", 2.0): [64.0, 64.5, 63.0], ("c_dc", 7.5): [61.0, 61.5, 60.0],
          ("c_dc", 2.0): [66.0, 67.5, 65.5], "real": [70.0, 70.5, 69.0]}
    draws_v2 = [v2[("c_dc", 2.0)], [63.0, 64.0, 62.5], [67.0, 68.5, 67.0], [64.5, 65.0, 64.0]]
    with_v2 = lambda label, data, vals: runs(label, data, [50.0] * SEEDS,
                                               {i: {"v2": {"top1": x / 100, "top5": 0.9}} for i, x in enumerate(vals)})
    table = {k: with_v2(str(k), "real" if k == "real" else "synthetic", vals) for k, vals in v2.items()}
    extra = {k: with_v2(k, "synthetic", d) for k, d in zip(["second draw", "draw 3", "draw 4"], draws_v2[1:])}
    monkeypatch.setattr(domain_shift, "table1_runs", lambda p: {**table, **extra})
    p = Table1Params(scale="paper", class_set="imagenet100", variants=["c", "c_dc"], guidances=[7.5, 2.0],
                     train_seeds=list(range(SEEDS)), draws=4)
    v = domain_shift.v2_agrees(p, table, "imagenet100")
    # by hand: (c 2.0 + c_dc 2.0)/2 - (c 7.5 + c_dc 7.5)/2, all four drawn; the blocked residual over the five models
    keys = list(v2)
    y = np.asarray([v2[k] for k in keys])
    w = np.asarray([-0.5, 0.5, -0.5, 0.5, 0.0])
    m, s = y.shape
    resid = y - y.mean(1, keepdims=True) - y.mean(0, keepdims=True) + y.mean()
    own = (resid**2).sum(1) / (s - 1) * m / (m - 1)
    d = np.asarray(draws_v2)
    r = d - d.mean(1, keepdims=True) - d.mean(0, keepdims=True) + d.mean()
    draw_seed = (r**2).sum() / ((len(d) - 1) * (s - 1))
    terms = w**2 * np.clip(own - draw_seed, 0, None) / s
    seed_part = terms.sum()
    share = (s - 1) * (m - 1) / m
    seed_df = seed_part**2 / sum(t * t / share for t in terms if t > 0)
    draw_part = (w**2).sum() * d.mean(1).var(ddof=1)
    df = (seed_part + draw_part) ** 2 / (seed_part**2 / seed_df + draw_part**2 / 3)
    se = math.sqrt(seed_part + draw_part)
    assert v.estimate["mean"] == pytest.approx(w @ y.mean(1)) and v.estimate["se"] == pytest.approx(se)
    assert v.estimate["high"] - v.estimate["mean"] == pytest.approx(sps.t.ppf(0.975, df) * se)
    assert "variation between clone draws: 4 draws" in v.evidence["error"]
    p1 = Table1Params(scale="paper", class_set="imagenet100", variants=["c", "c_dc"], guidances=[7.5, 2.0],
                      train_seeds=list(range(SEEDS)), draws=1)
    plain = domain_shift.v2_agrees(p1, table, "imagenet100")
    assert "draw" not in plain.estimate["method"] and plain.evidence["error"].startswith("no draw of a clone")


def contrast_by_hand(y, w, drawn, draws):
    """The half-width of w . model means: the blocked residual's per-model shares (a drawn model's beyond the draws'
    seed noise) over the seeds, plus sum of the drawn weights squared times the draws' variance of a mean."""
    y, w, d = np.asarray(y, dtype=float), np.asarray(w, dtype=float), np.asarray(draws, dtype=float)
    m, s = y.shape
    resid = y - y.mean(1, keepdims=True) - y.mean(0, keepdims=True) + y.mean()
    own = (resid**2).sum(1) / (s - 1) * m / (m - 1)
    r = d - d.mean(1, keepdims=True) - d.mean(0, keepdims=True) + d.mean()
    draw_seed = (r**2).sum() / ((len(d) - 1) * (s - 1))
    terms = w**2 * np.where(drawn, np.clip(own - draw_seed, 0, None), own) / s
    seed_part = terms.sum()
    draw_part = (w[np.asarray(drawn)] ** 2).sum() * d.mean(1).var(ddof=1)
    if seed_part == 0:  # the models' seed noise no more than the draws' own: the draws' degrees of freedom alone
        df = len(d) - 1
    else:
        seed_df = seed_part**2 / sum(t * t / ((s - 1) * (m - 1) / m) for t in terms if t > 0)
        df = (seed_part + draw_part) ** 2 / (seed_part**2 / seed_df + draw_part**2 / (len(d) - 1))
    se = math.sqrt(seed_part + draw_part)
    return se, sps.t.ppf(0.975, df) * se


def test_ablations_compare_clones_with_the_draws_and_recipes_on_one_clone_without(monkeypatch):
    from fakeit_lib.chapters import ablations
    from fakeit_lib.generation.quality import generator_quality

    monkeypatch.setattr(generator_quality, "prompt_sensitivity", lambda a, b: {"share": 0.5})
    top1 = {"guidance 1": [60.0, 61.0, 59.5], "guidance 2": [66.0, 67.0, 65.0], "guidance 7.5": [62.0, 62.5, 61.0],
            "with local crops": [69.0, 70.5, 68.0], "clip": [61.0, 61.5, 60.5], "c": [63.0, 64.5, 62.0]}
    draws = [top1["guidance 2"], [68.5, 69.0, 67.0], [64.0, 65.5, 63.5], [67.0, 67.5, 66.5]]
    r = {k: runs(k, "synthetic", v) for k, v in top1.items()}
    t = ablations.Trained({1.0: r["guidance 1"], 2.0: r["guidance 2"], 7.5: r["guidance 7.5"]}, r["guidance 2"],
                          r["with local crops"], r["clip"], r["c"])
    p = ablations.AblationParams(scale="mini", class_set="fashion-mnist", train_seeds=list(range(SEEDS)), draws=4)
    v = {x.id: x for x in ablations.ablation_findings(p, t, None, draws)}
    labels = ["guidance 1", "guidance 2", "guidance 7.5", "with local crops", "clip", "c"]  # the family's order
    y = [top1[k] for k in labels]
    est = v["name_beats_clip_template"].estimate
    se, half = contrast_by_hand(y, [0, 0, 0, 0, -1, 1], [True] * 6, draws)
    assert est["se"] == pytest.approx(se) and est["high"] - est["mean"] == pytest.approx(half)
    part = v["guidance_two_best"].evidence["2.0 minus 7.5"]["estimate"]
    _, half = contrast_by_hand(y, [0, 1, -1, 0, 0, 0], [True] * 6, draws)
    assert part["high"] - part["mean"] == pytest.approx(half)
    assert "variation between clone draws: 4 draws" in v["name_beats_clip_template"].evidence["error"]
    crops = v["multicrop_helps"].estimate  # two recipes on one clone: the seed error alone
    assert "draw" not in crops["method"]


def test_matched_backgrounds_effect_holds_table1s_draws(monkeypatch):
    from fakeit_lib.chapters import matched_backgrounds as mb

    top1 = {("c_hc_inside_b", 7.5): [52.0, 53.0, 52.5], ("c_hc_inside_b_matched", 7.5): [55.0, 56.5, 55.0],
            ("c_hc_inside_b", 2.0): [63.0, 62.5, 64.0], ("c_hc_inside_b_matched", 2.0): [66.0, 65.0, 66.5]}
    draws = [[62.0, 63.0, 61.5], [64.5, 65.0, 63.0], [60.5, 62.0, 61.0], [63.5, 63.0, 62.5]]
    table = {k: runs(str(k), "synthetic", v) for k, v in top1.items()}
    asked = []
    monkeypatch.setattr(mb, "model_runs_many", lambda p, specs: asked.extend(specs) or
                        [runs(f"draw {i}", "synthetic", d) for i, d in enumerate(draws)])
    p = mb.MatchedParams(scale="paper", class_set="imagenet100", real_root="/in100", train_seeds=list(range(SEEDS)),
                         draws=4)
    measured = mb.draw_scores(p, table)
    assert measured == draws and [s[4] for s in asked] == [0, 1, 2, 3] and {s[:2] for s in asked} == {("c_dc", 2.0)}
    (v,) = mb.matched_findings(p, table, measured)
    se, half = contrast_by_hand(list(top1.values()), [-0.5, 0.5, -0.5, 0.5], [True] * 4, draws)
    assert v.estimate["se"] == pytest.approx(se) and v.estimate["high"] - v.estimate["mean"] == pytest.approx(half)
    assert "variation between clone draws: 4 draws" in v.evidence["error"]
    assert mb.draw_scores(p, {}) == [] and mb.draws_text(0, trained=False).startswith("no clone is trained")
