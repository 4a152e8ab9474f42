"""Fig. 4's errors carry the variance of drawing a clone: the draws of the 1x clone (Table 1's drawn clone) join the
in-domain family as they are and the transfer family as their own probes measured them; without draws the page says
so."""

import math
from pathlib import Path

import numpy as np
import pytest

from fakeit_lib.chapters import fig4_scaling as ch
from fakeit_lib.core.errors import FakeitError
from fakeit_lib.core.params import from_dict
from fakeit_lib.experiments import stages as ex
from fakeit_lib.paper.stats import Family, slope_weights, t_quantile, satterthwaite

SIZES = [0.2, 1.0, 2.0, 10.0]
IN_DOMAIN = {"real": [75.0, 75.5, 74.5], 0.2: [50.0, 51.0, 49.5], 1.0: [60.0, 61.5, 59.0], 2.0: [63.0, 63.5, 62.0],
             10.0: [68.0, 69.5, 67.0]}
TRANSFER = {"real": [40.0, 41.0, 40.5], 0.2: [38.0, 38.5, 37.0], 1.0: [40.0, 40.5, 39.0], 2.0: [41.0, 42.0, 40.5],
            10.0: [43.0, 44.5, 42.0]}
DRAWS = [IN_DOMAIN[1.0], [62.0, 63.0, 61.5], [58.5, 60.0, 58.0], [61.0, 61.5, 60.0]]
DRAWS_TRANSFER = [TRANSFER[1.0], [41.5, 42.0, 40.0], [39.0, 39.5, 38.5], [40.5, 41.5, 40.0]]  # the draws' own probes


def runs(label, data, top1, multiplier=1.0):
    result = lambda t: {"datasets": {"fashion-mnist-test": {"top1": t / 100, "top5": 0.99}}}
    return ex.ModelRuns(label, data, "c_dc" if data == "synthetic" else None, 2.0 if data == "synthetic" else None,
                        multiplier, Path(f"/x/{label}"), 500, [0, 1, 2], [Path(f"/c/{label}/{s}") for s in range(3)],
                        [result(t) for t in top1])


def scaling(draws=DRAWS):
    clones = [runs(f"{m:g}x", "synthetic", IN_DOMAIN[m], m) for m in SIZES]
    drawn = [clones[1]] + [runs(f"draw {i}", "synthetic", d) for i, d in enumerate(draws[1:], 2)]
    return ch.Scaling(runs("real", "real", IN_DOMAIN["real"]), clones, [{"average": v} for v in TRANSFER["real"]],
                      [[{"average": v} for v in TRANSFER[m]] for m in SIZES], drawn if len(draws) >= 2 else [],
                      [[{"average": v} for v in d] for d in DRAWS_TRANSFER] if len(draws) >= 2 else [])


def params(**kw):
    return ch.ScalingParams(scale="mini", class_set="fashion-mnist", recipe="mini", train_seeds=[0, 1, 2],
                            multipliers=SIZES, **kw)


def test_the_trend_carries_the_draw_variance_computed_by_hand():
    v = next(v for v in ch.scaling_findings(params(draws=4), scaling()) if v.id == "more_images_help")
    y = np.asarray([IN_DOMAIN[k] for k in ["real", *SIZES]])  # models x seeds
    m, s = y.shape
    resid = y - y.mean(1, keepdims=True) - y.mean(0, keepdims=True) + y.mean()
    own = (resid**2).sum(1) / (s - 1) * m / (m - 1)  # each model's share of the residual
    d = np.asarray(DRAWS)
    draw_var = d.mean(1).var(ddof=1)
    r = d - d.mean(1, keepdims=True) - d.mean(0, keepdims=True) + d.mean()
    draw_seed = (r**2).sum() / ((len(d) - 1) * (s - 1))
    w = np.asarray(slope_weights([math.log2(x) for x in SIZES[1:]]))
    terms = w**2 * np.clip(own[2:] - draw_seed, 0, None) / s  # 1x, 2x, 10x: drawn, their seed noise beyond the draws'
    seed_part, draw_part = terms.sum(), (w**2).sum() * draw_var
    df = satterthwaite([(seed_part, satterthwaite([(t, (s - 1) * (m - 1) / m) for t in terms])), (draw_part, 3)])
    est = v.estimate
    assert est["se"] == pytest.approx(math.sqrt(seed_part + draw_part)) and est["df"] == pytest.approx(df)
    assert est["high"] - est["mean"] == pytest.approx(t_quantile(df) * math.sqrt(seed_part + draw_part))
    assert "draw variance (4 draws)" in est["method"] and "from 4 draws of the 1x clone" in v.reason


def test_in_transfer_the_draw_variance_is_the_draws_own_probes():
    s = scaling()
    in_domain, across = ch.scaling_families(s)
    assert across.draw_var == pytest.approx(np.asarray(DRAWS_TRANSFER).mean(1).var(ddof=1)) and across.draw_df == 3
    assert in_domain.draw_var == pytest.approx(np.asarray(DRAWS).mean(1).var(ddof=1))
    assert across.drawn == {"0.2x", "1x", "2x", "10x"}
    t = next(v for v in ch.scaling_findings(params(draws=4), s) if v.id == "more_images_transfer_better")
    part = t.evidence["10x minus real"]["estimate"]
    assert "draw variance (4 draws)" in part["method"] and "measured on the draws' own probes" in t.reason
    plain = Family("t", {k: TRANSFER[k] for k in TRANSFER})
    assert part["se"] > plain.difference(10.0, "real").se  # the draw widens it


def test_without_draws_the_page_says_the_errors_hold_seed_noise_alone():
    v = next(v for v in ch.scaling_findings(params(draws=1), scaling([])) if v.id == "more_images_help")
    assert "no draw of a clone was measured" in v.reason and "draw" not in v.estimate["method"]


def test_bad_draws_are_refused():
    with pytest.raises(FakeitError, match="parameter draws=0 must be at least 1"):
        from_dict(ch.ScalingParams, {"draws": 0})
